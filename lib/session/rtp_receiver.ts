/**
 * A UDP socket that receives RTP with a timeout on each wait, as the lab's
 * client does (0.5 s), without losing a datagram when a wait times out.
 *
 * @module
 */
import { type Clock, realClock, withTimeout } from "./clock.ts";

/** One datagram and when it arrived. */
export interface Datagram {
  data: Uint8Array;
  from: Deno.NetAddr;
  /** Arrival time on the receiver's clock, in ms. */
  at: number;
}

/** Receives datagrams on one port. */
export class RtpReceiver {
  readonly #conn: Deno.DatagramConn;
  readonly #clock: Clock;
  #pending: Promise<[Uint8Array, Deno.Addr] | null> | undefined;
  #closed = false;

  private constructor(conn: Deno.DatagramConn, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  /**
   * Bind `port` on `hostname`.
   *
   * @throws {Error} with a clear message when the port is in use.
   */
  static bind(port: number, hostname = "0.0.0.0", clock: Clock = realClock): RtpReceiver {
    try {
      return new RtpReceiver(Deno.listenDatagram({ port, hostname, transport: "udp" }), clock);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Error(`Cannot receive RTP on UDP port ${port}: it is already in use`);
      }
      throw error;
    }
  }

  /** The bound port. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  /** The next datagram, or `undefined` when none arrives within `timeoutMs` or the socket closes. */
  async receive(timeoutMs: number): Promise<Datagram | undefined> {
    if (this.#closed) return undefined;
    this.#pending ??= this.#conn.receive().catch(() => null);
    const result = await withTimeout(this.#pending, timeoutMs, this.#clock);
    if (result === undefined) return undefined; // timed out; the receive stays pending
    this.#pending = undefined;
    if (result === null) return undefined;
    return { data: result[0], from: result[1] as Deno.NetAddr, at: this.#clock.now() };
  }

  /** Close the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}
