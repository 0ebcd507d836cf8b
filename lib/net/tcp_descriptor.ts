/**
 * The kernel's file descriptor behind a Deno TCP connection, and a
 * synchronous `send(2)` on it through FFI (Linux).
 *
 * Deno writes to a connection with an asynchronous operation: a promise, a
 * turn of the event loop and its bookkeeping per write. For RTP interleaved
 * on RTSP connections (RFC 2326 §10.12) that is one write per connection per
 * frame, and at a hundred connections the bookkeeping costs more than the
 * kernel's work. Deno does not hand out the descriptor, but Linux tells
 * which one it is: `/proc/self/net/tcp` maps the connection's two addresses
 * to a socket inode, and `/proc/self/fd` maps the inode to a descriptor.
 * A {@linkcode TcpDescriptors} finds them for many connections with one
 * reading of each, and {@linkcode TcpDescriptors.send} writes without
 * blocking; what the kernel does not take is left to Deno's own write.
 *
 * Only plain IPv4 connections are looked up (a TLS connection's bytes must
 * go through TLS). A descriptor must be given up before its connection is
 * closed, since the number is reused by the next socket the process opens.
 *
 * @module
 */

const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

const SYMBOLS = {
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

/** How long lookups are gathered before one reading of /proc answers them all, ms. */
const LOOKUP_DELAY_MS = 20;

/** The hex form /proc/net/tcp gives an IPv4 address and port ("0100007F:1F90"), or undefined. */
export function procTcpAddress(addr: Deno.NetAddr): string | undefined {
  const parts = addr.hostname.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map(Number);
  if (bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) return undefined;
  // The address as the kernel's 32-bit word, printed on a little-endian machine.
  const word = ((bytes[3] << 24) | (bytes[2] << 16) | (bytes[1] << 8) | bytes[0]) >>> 0;
  const hex = (value: number, width: number) =>
    value.toString(16).toUpperCase().padStart(width, "0");
  return `${hex(word, 8)}:${hex(addr.port, 4)}`;
}

/**
 * Socket inodes by "local remote" address pair, from the text of
 * /proc/net/tcp (its header line skipped).
 */
export function parseProcTcp(text: string): Map<string, string> {
  const inodes = new Map<string, string>();
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields.length > 9 && fields[9] !== "0") inodes.set(`${fields[1]} ${fields[2]}`, fields[9]);
  }
  return inodes;
}

interface Lookup {
  key: string;
  resolve(fd: number | undefined): void;
}

/** Finds and writes to the descriptors of TCP connections. */
export class TcpDescriptors {
  readonly #send: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"]["send"];
  #pending: Lookup[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(send: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"]["send"]) {
    this.#send = send;
  }

  /**
   * One for this process, or undefined where it cannot work: not Linux, no
   * ffi or read permission, or no /proc.
   */
  static open(): TcpDescriptors | undefined {
    try {
      if (Deno.build.os !== "linux") return undefined;
      if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
      if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") {
        return undefined;
      }
      Deno.statSync("/proc/self/net/tcp");
      return new TcpDescriptors(Deno.dlopen("libc.so.6", SYMBOLS).symbols.send);
    } catch {
      return undefined;
    }
  }

  /**
   * The descriptor of `conn`, or undefined when it is not found (IPv6, TLS,
   * or closed meanwhile). Lookups made within a few ms of each other share
   * one reading of /proc.
   */
  lookup(conn: Deno.Conn): Promise<number | undefined> {
    const local = procTcpAddress(conn.localAddr as Deno.NetAddr);
    const remote = procTcpAddress(conn.remoteAddr as Deno.NetAddr);
    if (!local || !remote || conn.localAddr.transport !== "tcp") return Promise.resolve(undefined);
    const { promise, resolve } = Promise.withResolvers<number | undefined>();
    this.#pending.push({ key: `${local} ${remote}`, resolve });
    this.#timer ??= setTimeout(this.#answer, LOOKUP_DELAY_MS);
    return promise;
  }

  #answer = (): void => {
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = [];
    let inodes = new Map<string, string>();
    const fds = new Map<string, number>();
    try {
      inodes = parseProcTcp(Deno.readTextFileSync("/proc/self/net/tcp"));
      const wanted = new Set(pending.map((lookup) => `socket:[${inodes.get(lookup.key)}]`));
      for (const entry of Deno.readDirSync("/proc/self/fd")) {
        try {
          const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
          if (wanted.has(target)) fds.set(target, Number(entry.name));
        } catch {
          // closed while we looked
        }
      }
    } catch {
      // /proc went away: every lookup fails, and Deno's writes serve
    }
    for (const lookup of pending) {
      const inode = inodes.get(lookup.key);
      lookup.resolve(inode === undefined ? undefined : fds.get(`socket:[${inode}]`));
    }
  };

  /**
   * Write what the kernel takes of `bytes` to `fd` now, without blocking:
   * the count written, or -1 when it took nothing (the socket buffer is
   * full, or an error that the caller's asynchronous write then meets and
   * reports).
   */
  send(fd: number, bytes: Uint8Array): number {
    return Number(this.#send(fd, bytes, BigInt(bytes.length), MSG_DONTWAIT | MSG_NOSIGNAL));
  }

  /** Stop the pending lookups (they resolve to undefined). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const lookup of this.#pending) lookup.resolve(undefined);
    this.#pending = [];
  }
}
