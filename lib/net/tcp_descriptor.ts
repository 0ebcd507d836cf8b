/**
 * The kernel's file descriptor behind a Deno TCP connection, and a
 * synchronous `send(2)` on it through FFI (Linux).
 *
 * Deno writes to a connection with an asynchronous operation: a promise, a
 * turn of the event loop and its bookkeeping per write. For RTP interleaved
 * on RTSP connections (RFC 2326 §10.12) that is one write per connection per
 * frame. Deno does not hand out the descriptor, but the kernel tells which
 * one it is: the socket whose `getsockname(2)` and `getpeername(2)` are the
 * connection's two addresses. A {@linkcode TcpDescriptors} finds them for
 * many connections with one pass over the process's descriptors (through
 * FFI: Deno's own file API refuses /proc without --allow-all), and
 * {@linkcode TcpDescriptors.send} writes without blocking; what the kernel
 * does not take is left to Deno's own write.
 *
 * Only plain IPv4 connections are looked up (a TLS connection's bytes must
 * go through TLS). A descriptor must be given up before its connection is
 * closed, since the number is reused by the next socket the process opens.
 *
 * @module
 */

const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const AF_INET = 2;
const F_GETFD = 1;
/** Consecutive closed descriptors after which the pass stops (descriptors are dense). */
const CLOSED_RUN_END = 1024;

const SYMBOLS = {
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** How long lookups are gathered before one pass over the descriptors answers them all, ms. */
const LOOKUP_DELAY_MS = 20;

/** "a.b.c.d:port" of an IPv4 address, or undefined for anything else. */
export function ipv4Key(addr: Deno.NetAddr): string | undefined {
  const parts = addr.hostname.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map(Number);
  if (bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) return undefined;
  return `${bytes.join(".")}:${addr.port}`;
}

/** "a.b.c.d:port" of a `struct sockaddr_in`, or undefined when it is not AF_INET. */
export function sockaddrKey(sockaddr: Uint8Array): string | undefined {
  if ((sockaddr[0] | (sockaddr[1] << 8)) !== AF_INET) return undefined;
  const port = (sockaddr[2] << 8) | sockaddr[3];
  return `${sockaddr[4]}.${sockaddr[5]}.${sockaddr[6]}.${sockaddr[7]}:${port}`;
}

interface Lookup {
  key: string;
  resolve(fd: number | undefined): void;
}

/** Finds and writes to the descriptors of TCP connections. */
export class TcpDescriptors {
  readonly #libc: Libc;
  #pending: Lookup[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** struct sockaddr_storage, and its length (socklen_t). */
  readonly #sockaddr = new Uint8Array(128);
  readonly #length = new Uint32Array(1);
  readonly #lengthBytes = new Uint8Array(this.#length.buffer);

  private constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** One for this process, or undefined where it cannot work: not Linux, or no ffi permission. */
  static open(): TcpDescriptors | undefined {
    try {
      if (Deno.build.os !== "linux") return undefined;
      if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
      return new TcpDescriptors(Deno.dlopen("libc.so.6", SYMBOLS).symbols);
    } catch {
      return undefined;
    }
  }

  /**
   * The descriptor of `conn`, or undefined when it is not found (IPv6, or
   * closed meanwhile). Lookups made within a few ms of each other share one
   * pass over the descriptors.
   */
  lookup(conn: Deno.Conn): Promise<number | undefined> {
    const local = ipv4Key(conn.localAddr as Deno.NetAddr);
    const remote = ipv4Key(conn.remoteAddr as Deno.NetAddr);
    if (!local || !remote || conn.localAddr.transport !== "tcp") return Promise.resolve(undefined);
    const { promise, resolve } = Promise.withResolvers<number | undefined>();
    this.#pending.push({ key: `${local} ${remote}`, resolve });
    this.#timer ??= setTimeout(this.#answer, LOOKUP_DELAY_MS);
    return promise;
  }

  /** The "local remote" key of descriptor `fd` when it is a connected IPv4 socket. */
  #keyOf(fd: number): string | undefined {
    const libc = this.#libc;
    this.#length[0] = this.#sockaddr.length;
    if (libc.getpeername(fd, this.#sockaddr, this.#lengthBytes) !== 0) return undefined;
    const remote = sockaddrKey(this.#sockaddr);
    if (!remote) return undefined;
    this.#length[0] = this.#sockaddr.length;
    if (libc.getsockname(fd, this.#sockaddr, this.#lengthBytes) !== 0) return undefined;
    const local = sockaddrKey(this.#sockaddr);
    return local && `${local} ${remote}`;
  }

  #answer = (): void => {
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = [];
    const wanted = new Map<string, Lookup[]>();
    for (const lookup of pending) wanted.set(lookup.key, [...wanted.get(lookup.key) ?? [], lookup]);
    let closedRun = 0;
    for (let fd = 0; wanted.size > 0 && closedRun < CLOSED_RUN_END && fd < 1 << 22; fd++) {
      if (this.#libc.fcntl(fd, F_GETFD, 0) < 0) {
        closedRun++;
        continue;
      }
      closedRun = 0;
      const key = this.#keyOf(fd);
      const found = key === undefined ? undefined : wanted.get(key);
      if (!found) continue;
      for (const lookup of found) lookup.resolve(fd);
      wanted.delete(key!);
    }
    for (const lookups of wanted.values()) for (const lookup of lookups) lookup.resolve(undefined);
  };

  /**
   * Write what the kernel takes of `bytes` to `fd` now, without blocking:
   * the count written, or -1 when it took nothing (the socket buffer is
   * full, or an error that the caller's asynchronous write then meets and
   * reports).
   */
  send(fd: number, bytes: Uint8Array): number {
    return Number(this.#libc.send(fd, bytes, BigInt(bytes.length), MSG_DONTWAIT | MSG_NOSIGNAL));
  }

  /** Stop the pending lookups (they resolve to undefined). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const lookup of this.#pending) lookup.resolve(undefined);
    this.#pending = [];
  }
}
