/**
 * RTP for one RTSP connection's interleaved sessions (RFC 2326 §10.12),
 * gathered over one turn of the event loop and written as one buffer: a
 * TCP write per packet costs far more than the packet, and every packet of
 * a pacer wake-up is due at the same moment anyway. The buffer is the
 * connection's own and is reused once its write is done, so a frame costs
 * no allocation (and no garbage) per packet or per write.
 *
 * @module
 */

/** Something to write bytes to, with a count of writes still pending. */
export interface InterleavedSink {
  write(bytes: Uint8Array): Promise<void>;
  readonly pendingWrites: number;
}

/** Size of a batch's first buffer; it doubles when a turn needs more. */
const INITIAL_BYTES = 16 * 1024;

/** Gathers `$`-framed RTP packets and writes them at the end of the turn. */
export class InterleavedBatch {
  readonly #sink: InterleavedSink;
  readonly #maxPendingWrites: number;
  /** The framed packets of this turn, from 0 to #length. */
  #out = new Uint8Array(INITIAL_BYTES);
  #length = 0;
  /** Whether #out is still being written (then the next turn takes a new one). */
  #inFlight = false;
  /** Packets dropped because the connection had too many writes pending. */
  dropped = 0;

  /**
   * @param maxPendingWrites packets are dropped (and counted) while the sink
   * has more writes than this pending: a client that does not read.
   */
  constructor(sink: InterleavedSink, maxPendingWrites: number) {
    this.#sink = sink;
    this.#maxPendingWrites = maxPendingWrites;
  }

  /** Queue one RTP (or RTCP) packet on `channel`, copying `header` and `payload` now. */
  add(channel: number, header: Uint8Array, payload: Uint8Array): void {
    if (this.#sink.pendingWrites > this.#maxPendingWrites) {
      this.dropped++;
      return;
    }
    const length = header.length + payload.length;
    if (length > 0xffff || channel < 0 || channel > 255) {
      throw new RangeError(`Cannot frame ${length} bytes on channel ${channel}`);
    }
    if (this.#length === 0) {
      if (this.#inFlight) {
        this.#out = new Uint8Array(this.#out.length);
        this.#inFlight = false;
      }
      queueMicrotask(this.#flush);
    }
    const end = this.#length + 4 + length;
    if (end > this.#out.length) {
      const grown = new Uint8Array(Math.max(end, this.#out.length * 2));
      grown.set(this.#out.subarray(0, this.#length));
      this.#out = grown;
    }
    const out = this.#out;
    let at = this.#length;
    out[at] = 0x24;
    out[at + 1] = channel;
    out[at + 2] = length >> 8;
    out[at + 3] = length & 0xff;
    at += 4;
    out.set(header, at);
    out.set(payload, at + header.length);
    this.#length = end;
  }

  #flush = (): void => {
    const out = this.#out;
    const bytes = out.subarray(0, this.#length);
    this.#length = 0;
    this.#inFlight = true;
    this.#sink.write(bytes).then(
      () => {
        if (this.#out === out) this.#inFlight = false;
      },
      () => {}, // a closed connection ends its sessions elsewhere
    );
  };
}
