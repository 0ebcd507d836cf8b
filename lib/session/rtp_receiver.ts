/**
 * Where a client's RTP and RTCP arrive: a UDP port (and the one above it
 * for RTCP), or the RTSP connection when the transport is interleaved. Both
 * feed one queue, read with a timeout per wait, as the lab's client does
 * (0.5 s), without losing a datagram when a wait times out.
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "./clock.ts";

/** One packet and when it arrived. */
export interface Datagram {
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
  clock?: Clock;
}

function bindUdp(hostname: string, port: number): Deno.DatagramConn {
  try {
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
  readonly #sockets: Deno.DatagramConn[];
  readonly #clock: Clock;
  readonly #maxQueued: number;
  #queue: Datagram[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #loops: Promise<void>[];
  /** Packets dropped because the queue was full. */
  overflowed = 0;

  private constructor(sockets: Deno.DatagramConn[], options: RtpReceiverOptions) {
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
    if (!options.rtcp) return new RtpReceiver([bindUdp(hostname, port)], options);
    if (port !== 0) {
      const rtp = bindUdp(hostname, port);
      try {
        return new RtpReceiver([rtp, bindUdp(hostname, port + 1)], options);
      } catch (error) {
        rtp.close();
        throw error;
      }
    }
    for (let attempt = 0; attempt < 100; attempt++) { // an even port and the one above
      const rtp = bindUdp(hostname, 0);
      const chosen = (rtp.addr as Deno.NetAddr).port;
      if (chosen % 2 === 0 && chosen < 65535) {
        try {
          return new RtpReceiver([rtp, bindUdp(hostname, chosen + 1)], options);
        } catch { /* taken: try another */ }
      }
      rtp.close();
    }
    throw new Error("Cannot find two adjacent free UDP ports for RTP and RTCP");
  }

  /** A receiver without sockets, fed by {@linkcode RtpReceiver.deliver} (TCP interleaving). */
  static interleaved(options: RtpReceiverOptions = {}): RtpReceiver {
    return new RtpReceiver([], options);
  }

  /** The RTP port, or 0 when interleaved. */
  get port(): number {
    return this.#sockets[0] ? (this.#sockets[0].addr as Deno.NetAddr).port : 0;
  }

  /** The RTCP port, when one is bound. */
  get rtcpPort(): number | undefined {
    return this.#sockets[1] ? (this.#sockets[1].addr as Deno.NetAddr).port : undefined;
  }

  /** Queue a packet that arrived another way (interleaved on the RTSP connection). */
  deliver(data: Uint8Array, rtcp: boolean): void {
    this.#enqueue({ data, rtcp, at: this.#clock.now() });
  }

  /** Send an RTCP datagram from the RTCP port (or the RTP port when there is none). */
  sendRtcp(data: Uint8Array, hostname: string, port: number): void {
    const socket = this.#sockets[1] ?? this.#sockets[0];
    if (!socket || this.#closed) return;
    socket.send(data, { transport: "udp", hostname, port }).catch(() => {});
  }

  /** The next packet, or `undefined` when none arrives within `timeoutMs` or after close. */
  async receive(timeoutMs: number): Promise<Datagram | undefined> {
    if (this.#head >= this.#queue.length && !this.#closed) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = this.#clock.setTimeout(resolve, timeoutMs);
      });
      this.#wake = undefined;
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    if (this.#head >= this.#queue.length) return undefined;
    const datagram = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return datagram;
  }

  #enqueue(datagram: Datagram): void {
    if (this.#closed) return;
    if (this.#queue.length - this.#head >= this.#maxQueued) {
      this.overflowed++;
      return;
    }
    this.#queue.push(datagram);
    this.#wake?.();
  }

  async #pump(socket: Deno.DatagramConn, rtcp: boolean): Promise<void> {
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

  /** Close the sockets; a waiting receive returns `undefined`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets) socket.close();
    this.#wake?.();
    await Promise.all(this.#loops);
  }
}
