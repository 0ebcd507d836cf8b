/**
 * RTP for one RTSP connection's interleaved sessions (RFC 2326 §10.12),
 * gathered over one turn of the event loop and written as one buffer: a
 * TCP write per packet costs far more than the packet, and every packet of
 * a pacer wake-up is due at the same moment anyway.
 *
 * @module
 */

/** Something to write bytes to, with a count of writes still pending. */
export interface InterleavedSink {
  write(bytes: Uint8Array): Promise<void>;
  readonly pendingWrites: number;
}

/** Gathers `$`-framed RTP packets and writes them at the end of the turn. */
export class InterleavedBatch {
  readonly #sink: InterleavedSink;
  readonly #maxPendingWrites: number;
  /** Per packet: the 4-byte frame prefix and the 12-byte header, copied; then the payload. */
  #heads: Uint8Array[] = [];
  #payloads: Uint8Array[] = [];
  #bytes = 0;
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

  /**
   * Queue one RTP packet on `channel`. The header is copied now; the
   * payload is referenced and must not change before the end of the turn.
   */
  add(channel: number, header: Uint8Array, payload: Uint8Array): void {
    if (this.#sink.pendingWrites > this.#maxPendingWrites) {
      this.dropped++;
      return;
    }
    const length = header.length + payload.length;
    if (length > 0xffff || channel < 0 || channel > 255) {
      throw new RangeError(`Cannot frame ${length} bytes on channel ${channel}`);
    }
    const head = new Uint8Array(4 + header.length);
    head[0] = 0x24;
    head[1] = channel;
    head[2] = length >> 8;
    head[3] = length & 0xff;
    head.set(header, 4);
    if (this.#heads.length === 0) queueMicrotask(this.#flush);
    this.#heads.push(head);
    this.#payloads.push(payload);
    this.#bytes += head.length + payload.length;
  }

  #flush = (): void => {
    const heads = this.#heads;
    const payloads = this.#payloads;
    const out = new Uint8Array(this.#bytes);
    let offset = 0;
    for (let i = 0; i < heads.length; i++) {
      out.set(heads[i], offset);
      offset += heads[i].length;
      out.set(payloads[i], offset);
      offset += payloads[i].length;
    }
    this.#heads = [];
    this.#payloads = [];
    this.#bytes = 0;
    this.#sink.write(out).catch(() => {}); // a closed connection ends its sessions elsewhere
  };
}
