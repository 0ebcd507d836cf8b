/**
 * Where a client's RTP and RTCP arrive: a UDP port (and the one above it
 * for RTCP), or the RTSP connection when the transport is interleaved. Both
 * feed one queue, read with a timeout per wait, as the lab's client does
 * (0.5 s), without losing a datagram when a wait times out.
 *
 * Where the batched Linux socket is available (the ffi permission), RTP is
 * read with `recvmmsg` (many datagrams per system call, on a blocking
 * thread) into a large socket buffer, so bursts of 100,000 packets/s are
 * taken in without loss; elsewhere a Deno socket reads one at a time.
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "../../net/clock.ts";
import { isIpv4, linuxUdpAvailable, LinuxUdpSocket } from "../../net/linux_udp.ts";

/** One packet and when it arrived. */
export interface Datagram {
  /** The datagram's bytes. */
  data: Uint8Array;
  /** Whether it came on the RTCP port or channel. */
  rtcp: boolean;
  /** Arrival time on the receiver's clock, in ms. */
  at: number;
}

/** Options for {@linkcode RtpReceiver.bind}. */
export interface RtpReceiverOptions {
  /** Address to bind. @default {"0.0.0.0"} */
  hostname?: string;
  /** Also bind the port above for RTCP. @default {false} */
  rtcp?: boolean;
  /** Most packets queued before new ones are dropped. @default {65536} */
  maxQueued?: number;
  /**
   * Read RTP with the batched Linux socket (`recvmmsg`) when available
   * (`auto`), always (`batched`, an error where it is not), or with a Deno
   * socket (`portable`). @default {"auto"}
   */
  receiveMode?: "auto" | "batched" | "portable";
  /** Socket receive buffer of a batched socket, in bytes. @default {8 MiB} */
  receiveBufferBytes?: number;
  clock?: Clock;
}

/** A socket the receiver reads: Deno's, or the batched Linux one. */
type Socket = Deno.DatagramConn | LinuxUdpSocket;

/** Receive buffer of a batched socket: half a second of 100,000 packets/s would need 70 MB;
 * 8 MiB holds ~6,000 packets, bursts the reader thread drains long before. */
const BATCHED_RECEIVE_BUFFER = 8 * 1024 * 1024;

/** Datagrams read per recvmmsg call. */
const RECEIVE_BATCH = 32;

function bindUdp(
  hostname: string,
  port: number,
  options: RtpReceiverOptions = {},
): Socket {
  try {
    const mode = options.receiveMode ?? "auto";
    const batchable = isIpv4(hostname) && linuxUdpAvailable();
    if (mode === "batched" && !batchable) {
      throw new Error(`Cannot receive RTP with recvmmsg on ${hostname}: not available here`);
    }
    if (mode !== "portable" && batchable) {
      return LinuxUdpSocket.bind({
        hostname,
        port,
        receiveBufferBytes: options.receiveBufferBytes ?? BATCHED_RECEIVE_BUFFER,
        maxDatagramBytes: 65536, // a lab datagram is a whole JPEG
        gso: false, // it only receives
      });
    }
    return Deno.listenDatagram({ hostname, port, transport: "udp" });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(`Cannot receive RTP on UDP port ${port}: it is already in use`);
    }
    throw error;
  }
}

/** Receives a session's packets. */
export class RtpReceiver {
  readonly #sockets: Socket[];
  readonly #clock: Clock;
  readonly #maxQueued: number;
  /** Queued datagrams: a ring that doubles when full, up to maxQueued. */
  #ring: (Datagram | undefined)[] = new Array(1024);
  #head = 0;
  #count = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #loops: Promise<void>[];
  /** Packets dropped because the queue was full. */
  overflowed = 0;

  private constructor(sockets: Socket[], options: RtpReceiverOptions) {
    this.#sockets = sockets;
    this.#clock = options.clock ?? realClock;
    this.#maxQueued = options.maxQueued ?? 65536;
    this.#loops = sockets.map((socket, i) => this.#pump(socket, i === 1));
  }

  /**
   * Bind `port` (0 picks a free one) and, with `rtcp`, the port above it.
   *
   * @throws {Error} with a clear message when a port is in use.
   */
  static bind(port: number, options: RtpReceiverOptions = {}): RtpReceiver {
    const hostname = options.hostname ?? "0.0.0.0";
    // RTCP (a packet every few seconds) always on a Deno socket.
    const rtcpOptions: RtpReceiverOptions = { ...options, receiveMode: "portable" };
    if (!options.rtcp) return new RtpReceiver([bindUdp(hostname, port, options)], options);
    if (port !== 0) {
      const rtp = bindUdp(hostname, port, options);
      try {
        return new RtpReceiver([rtp, bindUdp(hostname, port + 1, rtcpOptions)], options);
      } catch (error) {
        void rtp.close();
        throw error;
      }
    }
    for (let attempt = 0; attempt < 100; attempt++) { // an even port and the one above
      const rtp = bindUdp(hostname, 0, options);
      const chosen = portOf(rtp);
      if (chosen % 2 === 0 && chosen < 65535) {
        try {
          return new RtpReceiver([rtp, bindUdp(hostname, chosen + 1, rtcpOptions)], options);
        } catch { /* taken: try another */ }
      }
      void rtp.close();
    }
    throw new Error("Cannot find two adjacent free UDP ports for RTP and RTCP");
  }

  /** A receiver without sockets, fed by {@linkcode RtpReceiver.deliver} (TCP interleaving). */
  static interleaved(options: RtpReceiverOptions = {}): RtpReceiver {
    return new RtpReceiver([], options);
  }

  /** The RTP port, or 0 when interleaved. */
  get port(): number {
    return this.#sockets[0] ? portOf(this.#sockets[0]) : 0;
  }

  /** The RTCP port, when one is bound. */
  get rtcpPort(): number | undefined {
    return this.#sockets[1] ? portOf(this.#sockets[1]) : undefined;
  }

  /** The RTP socket's receive buffer as the kernel reports it, when batched; else undefined. */
  get receiveBufferBytes(): number | undefined {
    const rtp = this.#sockets[0];
    return rtp instanceof LinuxUdpSocket ? rtp.receiveBufferBytes : undefined;
  }

  /** How RTP is read: "recvmmsg", "portable", or "interleaved". */
  get receiveMode(): string {
    const rtp = this.#sockets[0];
    return !rtp ? "interleaved" : rtp instanceof LinuxUdpSocket ? "recvmmsg" : "portable";
  }

  /** Queue a packet that arrived another way (interleaved on the RTSP connection). */
  deliver(data: Uint8Array, rtcp: boolean): void {
    this.#enqueue({ data, rtcp, at: this.#clock.now() });
  }

  /** Send an RTCP datagram from the RTCP port (or the RTP port when there is none). */
  sendRtcp(data: Uint8Array, hostname: string, port: number): void {
    const socket = this.#sockets[1] ?? this.#sockets[0];
    if (!socket || this.#closed) return;
    if (socket instanceof LinuxUdpSocket) {
      try {
        socket.begin(hostname, port);
        socket.part(data);
        socket.flush();
      } catch { /* not IPv4: RTCP goes nowhere, as a failed send would */ }
      return;
    }
    socket.send(data, { transport: "udp", hostname, port }).catch(() => {});
  }

  /** Whether {@linkcode RtpReceiver.close} was called: nothing more will arrive. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The next packet, or `undefined` when none arrives within `timeoutMs` or after close. */
  async receive(timeoutMs: number): Promise<Datagram | undefined> {
    if (this.#count === 0 && !this.#closed) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = this.#clock.setTimeout(resolve, timeoutMs);
      });
      this.#wake = undefined;
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    return this.take();
  }

  /** The next packet already queued, without waiting; `undefined` when none is. */
  take(): Datagram | undefined {
    if (this.#count === 0) return undefined;
    const ring = this.#ring;
    const datagram = ring[this.#head];
    ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % ring.length;
    this.#count--;
    return datagram;
  }

  #enqueue(datagram: Datagram): void {
    if (this.#closed) return;
    if (this.#count >= this.#maxQueued) {
      this.overflowed++;
      return;
    }
    let ring = this.#ring;
    if (this.#count === ring.length) {
      const bigger: (Datagram | undefined)[] = new Array(ring.length * 2);
      for (let i = 0; i < this.#count; i++) bigger[i] = ring[(this.#head + i) % ring.length];
      this.#ring = ring = bigger;
      this.#head = 0;
    }
    ring[(this.#head + this.#count) % ring.length] = datagram;
    this.#count++;
    this.#wake?.();
  }

  async #pump(socket: Socket, rtcp: boolean): Promise<void> {
    if (socket instanceof LinuxUdpSocket) return this.#pumpBatched(socket, rtcp);
    for (let failures = 0; !this.#closed && failures < 100;) {
      try {
        const [data] = await socket.receive();
        this.#enqueue({ data, rtcp, at: this.#clock.now() });
        failures = 0;
      } catch {
        failures++; // e.g. an ICMP error reported on the socket; give up only if it persists
      }
    }
  }

  /** Read many datagrams per call; each is copied out of the socket's buffer. */
  async #pumpBatched(socket: LinuxUdpSocket, rtcp: boolean): Promise<void> {
    while (!this.#closed) {
      // 32 slots of 64 KiB: 2 MiB of buffer, datagrams read 32 per system call.
      const datagrams = await socket.receive(RECEIVE_BATCH, 500);
      const at = this.#clock.now();
      for (const datagram of datagrams) {
        this.#enqueue({ data: datagram.data.slice(), rtcp, at });
      }
    }
  }

  /** Close the sockets; a waiting receive returns `undefined`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = this.#sockets.map((socket) => socket.close());
    this.#wake?.();
    await Promise.all([...this.#loops, ...closing]);
  }
}

function portOf(socket: Socket): number {
  return socket instanceof LinuxUdpSocket ? socket.localPort : (socket.addr as Deno.NetAddr).port;
}
