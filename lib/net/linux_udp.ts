/**
 * A Linux UDP socket driven through Deno's FFI (libc), for sending many
 * datagrams per system call: `sendmmsg(2)`, UDP GSO (a `UDP_SEGMENT` control
 * message: one message the kernel cuts into equal-size datagrams) and, for
 * receivers, `recvmmsg(2)`. IPv4 only.
 *
 * Sending is gathered: {@linkcode LinuxUdpSocket.begin} starts a datagram,
 * {@linkcode LinuxUdpSocket.part} appends bytes to it by reference (an
 * iovec, no copy) and {@linkcode LinuxUdpSocket.flush} hands everything
 * queued to the kernel in as few calls as possible.
 *
 * Design: the socket itself is blocking. Sends pass `MSG_DONTWAIT`, so they
 * never block (a full send buffer drops the rest of the flush and counts it in
 * `sendDropped`); they run synchronously on the main thread, where `errno` can
 * be read right after the call. Receives first look with `MSG_DONTWAIT` on
 * the main thread (no thread hop when datagrams are queued), then call
 * `recvmmsg` with `MSG_WAITFORONE` as a Deno `nonblocking` FFI symbol, i.e. on a blocking
 * thread, in slices of at most 100 ms (`SO_RCVTIMEO`); their `errno` belongs to
 * that thread and is not read (-1 means "nothing yet"). `close()` wakes a
 * waiting receive with `shutdown(SHUT_RDWR)` and closes the descriptor only
 * once that receive has returned, so a reused descriptor number can never be
 * read by a stale call.
 *
 * FFI bypasses Deno's net permission: a program granted `--allow-ffi` can use
 * any socket. Check {@linkcode linuxUdpAvailable} and keep the portable
 * `Deno.listenDatagram` path as the fallback.
 *
 * @module
 */

// Linux constants (x86_64 and aarch64 share these values).
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_WAITFORONE = 0x10000;
const SHUT_RDWR = 2;

const EINTR = 4;
const EAGAIN = 11;
const EADDRINUSE = 98;
/** Errors of a GSO message that sending its datagrams one by one may avoid. */
const GSO_ERRNOS = new Set([5, /* EIO */ 22, /* EINVAL */ 90, /* EMSGSIZE */ 92, 95]);
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  32: "EPIPE",
  88: "ENOTSOCK",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

// Struct sizes (LP64).
/** struct mmsghdr: struct msghdr (56 bytes) + unsigned int msg_len, padded. */
const MMSGHDR_BYTES = 64;
/** struct iovec: void *iov_base; size_t iov_len. */
const IOVEC_BYTES = 16;
/** struct sockaddr_in. */
const SOCKADDR_BYTES = 16;
/** CMSG_SPACE(sizeof(uint16_t)): cmsghdr (16) + 2 bytes of data, aligned to 8. */
const GSO_CMSG_SPACE = 24;
/** CMSG_LEN(sizeof(uint16_t)). */
const GSO_CMSG_LEN = 18;
/** Per message of a send window: its destination, then its UDP_SEGMENT cmsg. */
const AUX_BYTES = SOCKADDR_BYTES + GSO_CMSG_SPACE;
/** Words per queued datagram: ip, port, first iovec, iovec count, bytes. */
const DATAGRAM_WORDS = 5;

/** Most messages per sendmmsg/recvmmsg call (UIO_MAXIOV). */
const MAX_BATCH = 1024;
/** Most iovecs per message (UIO_MAXIOV). */
const MAX_IOV = 1024;
/** Most datagrams per GSO message (the kernel's UDP_MAX_SEGMENTS is 64 or more). */
const MAX_GSO_SEGMENTS = 64;
/** Most payload bytes per GSO message (an IPv4 datagram carries at most 65507). */
const MAX_GSO_BYTES = 65000;
/**
 * Largest datagram sent as a GSO segment: the kernel refuses a segment that
 * does not fit the route's MTU (1500-byte Ethernet less IPv4 and UDP
 * headers); bigger datagrams (whole lab-dialect JPEGs) go out one per message.
 */
const MAX_GSO_SEGMENT_BYTES = 1472;
/** GSO messages refused in a row after which a socket stops using GSO. */
const GSO_STRIKES = 8;
/**
 * Longest a receive waits in the kernel before JavaScript looks again (ms).
 * close() wakes a waiting receive itself (shutdown), so this only bounds how
 * often an idle socket costs a round trip to a blocking thread: the server's
 * RTP port, which almost never receives, wakes once a second, not ten times.
 */
const RECEIVE_SLICE_MS = 1000;
/** Default receive slot size: longer datagrams are truncated. */
const DEFAULT_MAX_DATAGRAM_BYTES = 2048;
/** Parts' buffer addresses remembered, most recent first. */
const ADDRESS_CACHE_SIZE = 8;
const TWO_32 = 4294967296;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "pointer", "u32", "i32"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  recvmmsgNow: {
    name: "recvmmsg",
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
  },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  /** memset(p, 0, 0) writes nothing and returns p: the cheapest way to learn a buffer's address. */
  memset: { parameters: ["buffer", "i32", "usize"], result: "usize" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

interface Loaded {
  libc?: Libc;
  errno?: Deno.UnsafePointerView;
  reason?: string;
}

let loaded: Loaded | undefined;
let gsoProbed: boolean | undefined;
/** Set while the GSO probe binds its own sockets, which must try GSO unconditionally. */
let probing = false;

function load(): Loaded {
  if (loaded) return loaded;
  loaded = tryLoad();
  return loaded;
}

function tryLoad(): Loaded {
  try {
    if (Deno.build.os !== "linux") return { reason: `not Linux (${Deno.build.os})` };
    if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
      return { reason: `unsupported architecture ${Deno.build.arch}` };
    }
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return { reason: "no ffi permission (run with --allow-ffi)" };
    }
    let libc: Libc;
    try {
      libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    } catch (error) {
      return { reason: `libc.so.6 not found (${error instanceof Error ? error.message : error})` };
    }
    const location = libc.__errno_location();
    if (location === null) return { reason: "__errno_location returned NULL" };
    return { libc, errno: new Deno.UnsafePointerView(location) };
  } catch (error) {
    return { reason: `unavailable (${error instanceof Error ? error.message : error})` };
  }
}

function requireLibc(): { libc: Libc; errno: Deno.UnsafePointerView } {
  const { libc, errno, reason } = load();
  if (!libc || !errno) throw new Error(`Linux UDP sockets are not available: ${reason}`);
  return { libc, errno };
}

/**
 * True on Linux x86_64/aarch64 when the ffi permission is granted and
 * libc.so.6 opens. Cached; never throws.
 */
export function linuxUdpAvailable(): boolean {
  return load().libc !== undefined;
}

/** Whether {@linkcode LinuxUdpSocket} can be used here, and why not. */
export interface LinuxUdpSupport {
  available: boolean;
  /** Why not, when not available: "not Linux (darwin)", "no ffi permission (…)", … */
  reason?: string;
  /** Whether the kernel segments UDP_SEGMENT (GSO) messages; only when available. */
  gso?: boolean;
}

/**
 * Whether {@linkcode LinuxUdpSocket} is usable and, if so, whether UDP GSO
 * works (probed once per process with a real two-segment send over
 * loopback), for logs. Never throws.
 */
export function linuxUdpSupport(): LinuxUdpSupport {
  const { libc, reason } = load();
  if (!libc) return { available: false, reason };
  return { available: true, gso: gsoSupported() };
}

/** Set by LinuxUdpSocket's static block: the GSO probe, which uses the class's private members. */
let probeGso: () => boolean = () => false;

function gsoSupported(): boolean {
  gsoProbed ??= probeGso();
  return gsoProbed;
}

/** Options of {@linkcode LinuxUdpSocket.bind}. */
export interface LinuxUdpOptions {
  /** Local IPv4 address as a dotted quad ("127.0.0.1", "0.0.0.0"). */
  hostname: string;
  /** Local port; 0 picks a free one. */
  port: number;
  /** SO_RCVBUF (SO_RCVBUFFORCE is tried first, which only root may use). */
  receiveBufferBytes?: number;
  /** SO_SNDBUF (SO_SNDBUFFORCE is tried first, which only root may use). */
  sendBufferBytes?: number;
  /** Use UDP_SEGMENT when the kernel supports it (probed once per process). Default true. */
  gso?: boolean;
  /** SO_REUSEADDR. Default false. */
  reuseAddress?: boolean;
  /**
   * Size of each receive slot: {@linkcode LinuxUdpSocket.receive} returns
   * longer datagrams truncated to it (and flagged `truncated`). Default 2048.
   */
  maxDatagramBytes?: number;
}

/** Counters of a {@linkcode LinuxUdpSocket}'s traffic. */
export interface LinuxUdpCounters {
  /** Datagrams the kernel accepted (a GSO message of k segments counts k). */
  datagramsSent: number;
  /** Messages the kernel accepted (a GSO message counts 1). */
  messagesSent: number;
  /** sendmmsg system calls made. */
  sendCalls: number;
  /** Datagrams that failed with an errno other than EAGAIN (never thrown). */
  sendErrors: number;
  /** Datagrams dropped because the send buffer was full (EAGAIN). */
  sendDropped: number;
  /** GSO messages the kernel refused and that were sent again datagram by datagram. */
  gsoFallbacks: number;
  /** Datagrams returned by receive(). */
  datagramsReceived: number;
  /** Received datagrams longer than `maxDatagramBytes`, returned truncated. */
  datagramsTruncated: number;
}

/** A datagram returned by {@linkcode LinuxUdpSocket.receive}. */
export interface LinuxUdpDatagram {
  /** The payload: a view into the socket's buffer, valid until the next receive(). */
  data: Uint8Array;
  /** The sender's IPv4 address. */
  hostname: string;
  /** The sender's port. */
  port: number;
  /** True when the datagram was longer than `maxDatagramBytes` and `data` is its start. */
  truncated: boolean;
}

/** Whether `hostname` is an IPv4 dotted quad, the only addresses {@linkcode LinuxUdpSocket} takes. */
export function isIpv4(hostname: string): boolean {
  try {
    parseIpv4(hostname);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 dotted quad as the u32 whose little-endian bytes are the address in network order. */
function parseIpv4(hostname: string): number {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  if (match) {
    const [a, b, c, d] = match.slice(1).map(Number);
    if (a <= 255 && b <= 255 && c <= 255 && d <= 255) {
      return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
    }
  }
  if (hostname.includes(":")) {
    throw new Error(`LinuxUdpSocket supports IPv4 only, not the IPv6 address "${hostname}"`);
  }
  throw new Error(`LinuxUdpSocket needs an IPv4 dotted quad, got "${hostname}"`);
}

function formatIpv4(ip: number): string {
  return `${ip & 0xff}.${(ip >>> 8) & 0xff}.${(ip >>> 16) & 0xff}.${ip >>> 24}`;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid UDP port ${port}`);
  }
}

/** A sockaddr_in for `ip` (see parseIpv4) and `port`. */
function sockaddr(ip: number, port: number): Uint8Array {
  const bytes = new Uint8Array(SOCKADDR_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  view.setUint32(4, ip, true);
  return bytes;
}

/** Write a 64-bit address as two u32 words (little-endian) at `words[index]`. */
function putAddress(words: Uint32Array, index: number, address: number): void {
  words[index] = address >>> 0;
  words[index + 1] = (address / TWO_32) >>> 0;
}

function errnoText(libc: Libc, errno: number): string {
  const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const text = libc.strerror(errno);
  return text === null ? name : `${name} (${Deno.UnsafePointerView.getCString(text)})`;
}

/** A Linux UDP socket (IPv4) sending with sendmmsg and UDP GSO and receiving with recvmmsg. */
export class LinuxUdpSocket {
  /** The local port (from getsockname). */
  readonly localPort: number;
  /** Traffic counters; never reset. */
  readonly counters: LinuxUdpCounters = {
    datagramsSent: 0,
    messagesSent: 0,
    sendCalls: 0,
    sendErrors: 0,
    sendDropped: 0,
    gsoFallbacks: 0,
    datagramsReceived: 0,
    datagramsTruncated: 0,
  };

  readonly #libc: Libc;
  readonly #errno: Deno.UnsafePointerView;
  readonly #fd: number;
  readonly #slotBytes: number;
  #gso: boolean;
  /** GSO messages refused in a row; at GSO_STRIKES the socket stops using GSO. */
  #gsoStrikes = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  // Send queue: DATAGRAM_WORDS words per datagram.
  #datagrams = new Uint32Array(64 * DATAGRAM_WORDS);
  #count = 0;
  // Parts: one iovec each, and the buffer each points into (kept alive until flush returns).
  #iov = new Uint32Array(0);
  #iovAddress = 0;
  #iovKeep: (ArrayBufferLike | undefined)[] = [];
  #iovCount = 0;
  #currentBytes = 0;
  #currentIovs = 0;
  // Send window: mmsghdrs, and per message its sockaddr_in and cmsg.
  #msg = new Uint32Array(0);
  #msgPointer: Deno.PointerObject | null = null;
  #aux = new Uint32Array(0);
  #auxAddress = 0;
  readonly #msgFirst = new Uint32Array(MAX_BATCH);
  readonly #msgCount = new Uint32Array(MAX_BATCH);
  // Addresses of the buffers parts came from.
  readonly #cachedBuffers: (ArrayBufferLike | undefined)[] = new Array(ADDRESS_CACHE_SIZE);
  readonly #cachedBases = new Float64Array(ADDRESS_CACHE_SIZE);
  #cacheNext = 0;
  /** Destinations' addresses by hostname. */
  readonly #hosts = new Map<string, number>();

  // Receive buffers: mmsghdrs, iovecs and sockaddrs in #rx, payload slots in #rxData.
  #rx = new Uint32Array(0);
  #rxPointer: Deno.PointerObject | null = null;
  #rxCapacity = 0;
  #rxData = new ArrayBuffer(0);
  #receiving: Promise<LinuxUdpDatagram[]> | undefined;
  #receiveTimeoutUs = -1;
  readonly #senders = new Map<number, string>();

  private constructor(
    libc: Libc,
    errno: Deno.UnsafePointerView,
    fd: number,
    localPort: number,
    gso: boolean,
    slotBytes: number,
  ) {
    this.#libc = libc;
    this.#errno = errno;
    this.#fd = fd;
    this.localPort = localPort;
    this.#gso = gso;
    this.#slotBytes = slotBytes;
    this.#growIov(128);
  }

  /**
   * Open a UDP socket bound to `options.hostname:options.port`.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken.
   * @throws {Error} naming the errno when another call fails, or when
   *   {@linkcode linuxUdpAvailable} is false, or the hostname is not an IPv4
   *   dotted quad.
   */
  static bind(options: LinuxUdpOptions): LinuxUdpSocket {
    const { libc, errno } = requireLibc();
    const ip = parseIpv4(options.hostname);
    checkPort(options.port);
    const slotBytes = options.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > 65536) {
      throw new RangeError(`Invalid maxDatagramBytes ${slotBytes}`);
    }
    const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket() failed: ${errnoText(libc, errno.getInt32(0))}`);
    let port: number;
    try {
      const int = new Int32Array(1);
      const setInt = (level: number, name: number, value: number): boolean => {
        int[0] = value;
        return libc.setsockopt(fd, level, name, new Uint8Array(int.buffer), 4) === 0;
      };
      if (options.reuseAddress) setInt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.receiveBufferBytes !== undefined) {
        setInt(SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBufferBytes) ||
          setInt(SOL_SOCKET, SO_RCVBUF, options.receiveBufferBytes);
      }
      if (options.sendBufferBytes !== undefined) {
        setInt(SOL_SOCKET, SO_SNDBUFFORCE, options.sendBufferBytes) ||
          setInt(SOL_SOCKET, SO_SNDBUF, options.sendBufferBytes);
      }
      if (libc.bind(fd, sockaddr(ip, options.port), SOCKADDR_BYTES) !== 0) {
        const code = errno.getInt32(0);
        const where = `${options.hostname}:${options.port}`;
        if (code === EADDRINUSE) {
          throw new Deno.errors.AddrInUse(`Cannot bind UDP ${where}: ${errnoText(libc, code)}`);
        }
        throw new Error(`Cannot bind UDP ${where}: ${errnoText(libc, code)}`);
      }
      const name = new Uint8Array(new ArrayBuffer(SOCKADDR_BYTES));
      const length = new Uint32Array([SOCKADDR_BYTES]);
      if (libc.getsockname(fd, name, new Uint8Array(length.buffer)) !== 0) {
        throw new Error(`getsockname() failed: ${errnoText(libc, errno.getInt32(0))}`);
      }
      port = (name[2] << 8) | name[3];
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    const gso = options.gso !== false && (probing || gsoSupported());
    return new LinuxUdpSocket(libc, errno, fd, port, gso, slotBytes);
  }

  static {
    probeGso = () => LinuxUdpSocket.#probeGso();
  }

  /**
   * Whether a UDP_SEGMENT message of two segments sent over loopback arrives
   * as two datagrams. Used once per process.
   */
  static #probeGso(): boolean {
    let receiver: LinuxUdpSocket | undefined;
    let sender: LinuxUdpSocket | undefined;
    try {
      probing = true;
      receiver = LinuxUdpSocket.bind({ hostname: "127.0.0.1", port: 0 });
      sender = LinuxUdpSocket.bind({ hostname: "127.0.0.1", port: 0 });
      probing = false;
      const data = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
      sender.begin("127.0.0.1", receiver.localPort);
      sender.part(data.subarray(0, 8));
      sender.begin("127.0.0.1", receiver.localPort);
      sender.part(data.subarray(8));
      sender.flush();
      const { messagesSent, datagramsSent } = sender.counters;
      if (messagesSent !== 1 || datagramsSent !== 2) return false;
      const got: Uint8Array[] = [];
      const deadline = performance.now() + 500;
      while (got.length < 2 && performance.now() < deadline) {
        for (const d of receiver.#receiveNow(2, 100)) got.push(d.data.slice());
      }
      return got.length === 2 && got[0].length === 8 && got[1].length === 4 &&
        got[0].every((b, i) => b === data[i]) && got[1].every((b, i) => b === data[8 + i]);
    } catch {
      return false;
    } finally {
      probing = false;
      void sender?.close();
      void receiver?.close();
    }
  }

  /**
   * Bytes of the preallocated send buffers (queue, iovecs, message headers).
   * They grow when a flush needs more and are then reused: a steady load does
   * not allocate.
   */
  get arenaBytes(): number {
    return this.#datagrams.byteLength + this.#iov.byteLength + this.#msg.byteLength +
      this.#aux.byteLength;
  }

  /**
   * Whether flush() sends runs of equal-size datagrams as one UDP_SEGMENT
   * message. Turns false for good when the kernel refuses GSO messages 8
   * times in a row (each time they are sent again one by one).
   */
  get gsoEnabled(): boolean {
    return this.#gso;
  }

  /** Datagrams queued since the last flush. */
  get pending(): number {
    return this.#count;
  }

  /**
   * Start a datagram to `hostname:port` (IPv4 dotted quad).
   *
   * @throws {Error} when the socket is closed or `hostname` is not IPv4.
   */
  begin(hostname: string, port: number): void {
    if (this.#closed) throw new Error("LinuxUdpSocket is closed");
    let ip = this.#hosts.get(hostname);
    if (ip === undefined) {
      ip = parseIpv4(hostname);
      if (this.#hosts.size >= 1024) this.#hosts.clear();
      this.#hosts.set(hostname, ip);
    }
    if ((port & 0xffff) !== port) checkPort(port);
    this.#endDatagram();
    const i = this.#count;
    if ((i + 1) * DATAGRAM_WORDS > this.#datagrams.length) this.#growDatagrams();
    const o = i * DATAGRAM_WORDS;
    const queue = this.#datagrams;
    queue[o] = ip;
    queue[o + 1] = port;
    queue[o + 2] = this.#iovCount;
    this.#count = i + 1;
    this.#currentBytes = 0;
    this.#currentIovs = 0;
  }

  /**
   * Append `bytes` to the current datagram by reference (an iovec, no copy):
   * do not change them until flush() returns (the socket holds a reference
   * to their buffer until then, so dropping them is safe). Empty parts are
   * ignored; a datagram of more than 1024 parts fails (EMSGSIZE). Parts from
   * the same few ArrayBuffers are cheapest: the address of each new buffer
   * costs a call into libc. `start` and `end` select a range of `bytes`
   * without the garbage of a subarray per part.
   *
   * @throws {Error} when no datagram was begun.
   * @throws {RangeError} when the range is outside `bytes`.
   */
  part(bytes: Uint8Array, start = 0, end: number = bytes.byteLength): void {
    if (!(start >= 0 && start <= end && end <= bytes.byteLength)) {
      throw new RangeError(`part(${start}, ${end}) is outside ${bytes.byteLength} bytes`);
    }
    const length = end - start;
    if (length === 0) return;
    if (this.#count === 0) throw new Error("LinuxUdpSocket.part() before begin()");
    // Reading .buffer moves a small typed array's bytes out of the V8 heap for good.
    const buffer = bytes.buffer;
    let address = -1;
    const buffers = this.#cachedBuffers;
    for (let i = 0; i < ADDRESS_CACHE_SIZE; i++) {
      if (buffers[i] === buffer) {
        address = this.#cachedBases[i] + bytes.byteOffset + start;
        break;
      }
    }
    if (address < 0) address = this.#learnAddress(bytes, buffer) + start;
    const k = this.#iovCount;
    if (k * 4 === this.#iov.length) this.#growIov(k * 2);
    const iov = this.#iov;
    const w = k * 4;
    iov[w] = address >>> 0;
    iov[w + 1] = (address / TWO_32) >>> 0;
    iov[w + 2] = length;
    iov[w + 3] = 0;
    this.#iovKeep[k] = buffer;
    this.#iovCount = k + 1;
    this.#currentBytes += length;
    this.#currentIovs++;
  }

  /**
   * Send everything queued, with as few sendmmsg calls as possible (at most
   * 1024 messages each). When {@linkcode gsoEnabled}, consecutive datagrams
   * to the same destination, all of one size but the last, which is not
   * larger, go out as one UDP_SEGMENT message (at most 64 datagrams and
   * 65000 bytes; longer runs are split); a GSO message the kernel refuses
   * with EINVAL, EIO, EMSGSIZE, ENOPROTOOPT or EOPNOTSUPP is sent again
   * datagram by datagram. A full send buffer (EAGAIN) drops the rest of the
   * flush (counters.sendDropped); other errors count the message's datagrams
   * in counters.sendErrors and sending goes on. Never throws; synchronous.
   *
   * @returns the number of datagrams the kernel accepted.
   */
  flush(): number {
    this.#endDatagram();
    const n = this.#count;
    if (n === 0 || this.#closed) {
      this.#clearQueue();
      return 0;
    }
    if (this.#msg.length < Math.min(n, MAX_BATCH) * 16) this.#growWindow(Math.min(n, MAX_BATCH));
    const queue = this.#datagrams;
    const first = this.#msgFirst;
    const counts = this.#msgCount;
    const counters = this.counters;
    const libc = this.#libc;
    let sent = 0;
    let d = 0;
    let noGsoBelow = 0;
    plan: while (d < n) {
      // Plan a window of messages starting at datagram d.
      let m = 0;
      while (m < MAX_BATCH && d < n) {
        let e = d + 1;
        let gsoSize = 0;
        const o = d * DATAGRAM_WORDS;
        const size = queue[o + 4];
        if (this.#gso && d >= noGsoBelow && size > 0 && size <= MAX_GSO_SEGMENT_BYTES) {
          const ip = queue[o];
          const port = queue[o + 1];
          let total = size;
          let iovs = queue[o + 3];
          while (e < n && e - d < MAX_GSO_SEGMENTS) {
            const q = e * DATAGRAM_WORDS;
            const s = queue[q + 4];
            if (
              queue[q] !== ip || queue[q + 1] !== port || s > size || s === 0 ||
              total + s > MAX_GSO_BYTES || iovs + queue[q + 3] > MAX_IOV
            ) break;
            total += s;
            iovs += queue[q + 3];
            e++;
            if (s < size) break;
          }
          if (e - d > 1) gsoSize = size;
        }
        this.#writeMessage(m, d, e, gsoSize);
        first[m] = d;
        counts[m] = e - d;
        d = e;
        m++;
      }
      // Send it.
      let k = 0;
      while (k < m) {
        const pointer = k === 0
          ? this.#msgPointer
          : Deno.UnsafePointer.offset(this.#msgPointer!, k * MMSGHDR_BYTES);
        const r = libc.sendmmsg(this.#fd, pointer, m - k, MSG_DONTWAIT);
        counters.sendCalls++;
        if (r > 0) {
          for (let i = k; i < k + r; i++) {
            sent += counts[i];
            if (counts[i] > 1) this.#gsoStrikes = 0;
          }
          counters.messagesSent += r;
          k += r;
          continue;
        }
        const errno = r < 0 ? this.#errno.getInt32(0) : EAGAIN;
        if (errno === EINTR) continue;
        if (errno === EAGAIN) {
          counters.sendDropped += n - first[k];
          break plan;
        }
        if (counts[k] > 1 && GSO_ERRNOS.has(errno)) {
          counters.gsoFallbacks++;
          if (++this.#gsoStrikes >= GSO_STRIKES) this.#gso = false;
          d = first[k];
          noGsoBelow = d + counts[k];
          continue plan;
        }
        counters.sendErrors += counts[k];
        k++;
      }
    }
    counters.datagramsSent += sent;
    this.#clearQueue();
    return sent;
  }

  /**
   * Wait for up to `max` datagrams (1 to 1024), at most `timeoutMs` for the
   * first (0: only what is already queued); recvmmsg with MSG_WAITFORONE on a
   * blocking thread. The views returned point into a buffer the socket owns
   * and stay valid until the next receive(). Resolves to [] on timeout and
   * once the socket is closed.
   *
   * @throws {Error} (rejects) when another receive() is still waiting.
   */
  async receive(max: number, timeoutMs: number): Promise<LinuxUdpDatagram[]> {
    if (this.#receiving) throw new Error("LinuxUdpSocket.receive() is already waiting");
    if (this.#closed) return [];
    max = Math.max(1, Math.min(MAX_BATCH, Math.floor(max)));
    if (!(max > 0)) max = 1;
    const promise = this.#receive(max, timeoutMs);
    this.#receiving = promise;
    try {
      return await promise;
    } finally {
      this.#receiving = undefined;
    }
  }

  /**
   * The datagrams already queued on the socket (up to `max`, 1 to 1024),
   * without waiting: for callers that learn readiness elsewhere (epoll over
   * many sockets). Same views as {@linkcode receive}, valid until the next
   * receive; [] when nothing is queued or the socket is closed.
   *
   * @throws {Error} when a receive() is waiting (the buffers are in use).
   */
  receiveNow(max: number): LinuxUdpDatagram[] {
    if (this.#receiving) throw new Error("LinuxUdpSocket.receive() is already waiting");
    return this.#receiveNow(Math.max(1, Math.min(MAX_BATCH, Math.floor(max) || 1)), 0);
  }

  /**
   * The socket's receive buffer as the kernel reports it (SO_RCVBUF: twice
   * the usable size, for its bookkeeping). Asking for more than
   * `net.core.rmem_max` without CAP_NET_ADMIN gets at most that much.
   */
  get receiveBufferBytes(): number {
    const value = new Int32Array(1);
    const length = new Uint32Array([4]);
    const r = this.#libc.getsockopt(
      this.#fd,
      SOL_SOCKET,
      SO_RCVBUF,
      new Uint8Array(value.buffer),
      new Uint8Array(length.buffer),
    );
    return r === 0 ? value[0] : 0;
  }

  /** The file descriptor, for readiness polling (epoll); do not read, write or close it. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Close the socket: drop what is queued, wake a waiting receive (which
   * resolves to []) and close the descriptor once no call uses it any more.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#clearQueue();
    this.#cachedBuffers.fill(undefined);
    const waiting = this.#receiving;
    if (waiting) this.#libc.shutdown(this.#fd, SHUT_RDWR);
    this.#closing = (async () => {
      if (waiting) await waiting.then(() => {}, () => {});
      this.#libc.close(this.#fd);
    })();
    return this.#closing;
  }

  // ---- sending ----

  /** Record the length and iovec count of the datagram being built. */
  #endDatagram(): void {
    if (this.#count === 0) return;
    const o = (this.#count - 1) * DATAGRAM_WORDS;
    this.#datagrams[o + 3] = this.#currentIovs;
    this.#datagrams[o + 4] = this.#currentBytes;
  }

  #learnAddress(bytes: Uint8Array, buffer: ArrayBufferLike): number {
    const address = Number(this.#libc.memset(bytes, 0, 0n));
    const slot = this.#cacheNext;
    this.#cacheNext = (slot + 1) % ADDRESS_CACHE_SIZE;
    this.#cachedBuffers[slot] = buffer;
    this.#cachedBases[slot] = address - bytes.byteOffset;
    return address;
  }

  #clearQueue(): void {
    this.#count = 0;
    this.#iovKeep.fill(undefined, 0, this.#iovCount);
    this.#iovCount = 0;
    this.#currentBytes = 0;
    this.#currentIovs = 0;
  }

  #growDatagrams(): void {
    const bigger = new Uint32Array(this.#datagrams.length * 2);
    bigger.set(this.#datagrams);
    this.#datagrams = bigger;
  }

  #growIov(capacity: number): void {
    const bigger = new Uint32Array(capacity * 4);
    bigger.set(this.#iov.subarray(0, this.#iovCount * 4));
    this.#iov = bigger;
    this.#iovAddress = this.#addressOf(bigger);
    this.#iovKeep.length = capacity;
  }

  #growWindow(messages: number): void {
    let capacity = Math.max(64, this.#msg.length / 16);
    while (capacity < messages) capacity *= 2;
    capacity = Math.min(capacity, MAX_BATCH);
    this.#msg = new Uint32Array(capacity * (MMSGHDR_BYTES / 4));
    this.#msgPointer = Deno.UnsafePointer.of(this.#msg);
    this.#aux = new Uint32Array(capacity * (AUX_BYTES / 4));
    this.#auxAddress = this.#addressOf(this.#aux);
  }

  #addressOf(array: Uint32Array): number {
    return Number(this.#libc.memset(array, 0, 0n));
  }

  /** Fill message `m` of the window with datagrams [d, e) (a GSO message if gsoSize > 0). */
  #writeMessage(m: number, d: number, e: number, gsoSize: number): void {
    const queue = this.#datagrams;
    const o = d * DATAGRAM_WORDS;
    const last = (e - 1) * DATAGRAM_WORDS;
    const iovStart = queue[o + 2];
    const iovLength = queue[last + 2] + queue[last + 3] - iovStart;
    const port = queue[o + 1];
    // sockaddr_in: family (host order), port (network order), address, zeros.
    const aux = this.#aux;
    const a = m * (AUX_BYTES / 4);
    aux[a] = AF_INET | ((port >>> 8) << 16) | ((port & 0xff) << 24);
    aux[a + 1] = queue[o];
    aux[a + 2] = 0;
    aux[a + 3] = 0;
    const msg = this.#msg;
    const w = m * (MMSGHDR_BYTES / 4);
    const name = this.#auxAddress + m * AUX_BYTES;
    putAddress(msg, w, name); // msg_name
    msg[w + 2] = SOCKADDR_BYTES; // msg_namelen
    msg[w + 3] = 0;
    putAddress(msg, w + 4, this.#iovAddress + iovStart * IOVEC_BYTES); // msg_iov
    msg[w + 6] = iovLength; // msg_iovlen
    msg[w + 7] = 0;
    if (gsoSize > 0) {
      // cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type, then the u16 gso_size.
      aux[a + 4] = GSO_CMSG_LEN;
      aux[a + 5] = 0;
      aux[a + 6] = SOL_UDP;
      aux[a + 7] = UDP_SEGMENT;
      aux[a + 8] = gsoSize;
      aux[a + 9] = 0;
      putAddress(msg, w + 8, name + SOCKADDR_BYTES); // msg_control
      msg[w + 10] = GSO_CMSG_SPACE; // msg_controllen
    } else {
      msg[w + 8] = 0;
      msg[w + 9] = 0;
      msg[w + 10] = 0;
    }
    msg[w + 11] = 0;
    msg[w + 12] = 0; // msg_flags
    msg[w + 13] = 0;
    msg[w + 14] = 0; // msg_len
    msg[w + 15] = 0;
  }

  // ---- receiving ----

  async #receive(max: number, timeoutMs: number): Promise<LinuxUdpDatagram[]> {
    const now = this.#receiveNow(max, 0);
    if (now.length > 0 || !(timeoutMs > 0)) return now;
    const deadline = performance.now() + timeoutMs;
    while (!this.#closed) {
      const remaining = deadline - performance.now();
      if (remaining < 1) break;
      this.#setReceiveTimeout(Math.min(remaining, RECEIVE_SLICE_MS));
      this.#resetNames(max);
      const r = await this.#libc.recvmmsg(this.#fd, this.#rxPointer, max, MSG_WAITFORONE, null);
      // After close()'s shutdown, recvmmsg reports an empty "datagram" (end of file): ignore it.
      if (this.#closed) break;
      if (r > 0) return this.#collect(r);
      // -1: the slice timed out (or a signal interrupted it); errno is the blocking thread's.
    }
    return [];
  }

  /**
   * Receive synchronously on the main thread: what is queued when
   * `timeoutMs` is 0, else wait (blocking the thread) up to `timeoutMs` ≤ 100.
   */
  #receiveNow(max: number, timeoutMs: number): LinuxUdpDatagram[] {
    if (this.#closed) return [];
    this.#prepareReceive(max);
    let flags = MSG_WAITFORONE;
    if (timeoutMs > 0) this.#setReceiveTimeout(timeoutMs);
    else flags |= MSG_DONTWAIT;
    this.#resetNames(max);
    const r = this.#libc.recvmmsgNow(this.#fd, this.#rxPointer, max, flags, null);
    return r > 0 ? this.#collect(r) : [];
  }

  #setReceiveTimeout(ms: number): void {
    const us = Math.max(1000, Math.round(ms * 1000));
    if (us === this.#receiveTimeoutUs) return;
    // struct timeval: tv_sec, tv_usec (two longs).
    const timeval = new BigInt64Array([BigInt(Math.floor(us / 1e6)), BigInt(us % 1e6)]);
    this.#libc.setsockopt(this.#fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(timeval.buffer), 16);
    this.#receiveTimeoutUs = us;
  }

  /** Make room for `max` receive slots (only while no receive is in the kernel). */
  #prepareReceive(max: number): void {
    if (max <= this.#rxCapacity) return;
    let capacity = Math.max(16, this.#rxCapacity);
    while (capacity < max) capacity *= 2;
    capacity = Math.min(capacity, MAX_BATCH);
    const slot = this.#slotBytes;
    const wordsPer = (MMSGHDR_BYTES + IOVEC_BYTES + SOCKADDR_BYTES) / 4;
    const rx = new Uint32Array(capacity * wordsPer);
    const data = new ArrayBuffer(capacity * slot);
    const rxAddress = this.#addressOf(rx);
    const dataAddress = Number(this.#libc.memset(new Uint8Array(data), 0, 0n));
    const iovOffset = capacity * MMSGHDR_BYTES;
    const nameOffset = iovOffset + capacity * IOVEC_BYTES;
    for (let i = 0; i < capacity; i++) {
      const w = i * (MMSGHDR_BYTES / 4);
      putAddress(rx, w, rxAddress + nameOffset + i * SOCKADDR_BYTES); // msg_name
      rx[w + 2] = SOCKADDR_BYTES;
      putAddress(rx, w + 4, rxAddress + iovOffset + i * IOVEC_BYTES); // msg_iov
      rx[w + 6] = 1; // msg_iovlen
      const v = (iovOffset + i * IOVEC_BYTES) / 4;
      putAddress(rx, v, dataAddress + i * slot); // iov_base
      rx[v + 2] = slot; // iov_len
    }
    this.#rx = rx;
    this.#rxData = data;
    this.#rxPointer = Deno.UnsafePointer.of(rx);
    this.#rxCapacity = capacity;
  }

  #resetNames(max: number): void {
    const rx = this.#rx;
    for (let i = 0; i < max; i++) rx[i * (MMSGHDR_BYTES / 4) + 2] = SOCKADDR_BYTES;
  }

  #collect(r: number): LinuxUdpDatagram[] {
    const rx = this.#rx;
    const names = (this.#rxCapacity * (MMSGHDR_BYTES + IOVEC_BYTES)) / 4;
    const slot = this.#slotBytes;
    const out: LinuxUdpDatagram[] = new Array(r);
    let truncated = 0;
    for (let i = 0; i < r; i++) {
      const w = i * (MMSGHDR_BYTES / 4);
      const length = rx[w + 14];
      const isTruncated = (rx[w + 12] & MSG_TRUNC) !== 0;
      if (isTruncated) truncated++;
      const familyPort = rx[names + i * 4];
      const port = ((familyPort >>> 16) & 0xff) << 8 | (familyPort >>> 24);
      const ip = rx[names + i * 4 + 1];
      let hostname = this.#senders.get(ip);
      if (hostname === undefined) {
        hostname = formatIpv4(ip);
        if (this.#senders.size >= 4096) this.#senders.clear();
        this.#senders.set(ip, hostname);
      }
      out[i] = {
        data: new Uint8Array(this.#rxData, i * slot, Math.min(length, slot)),
        hostname,
        port,
        truncated: isTruncated,
      };
    }
    this.counters.datagramsReceived += r;
    this.counters.datagramsTruncated += truncated;
    return out;
  }
}
