/**
 * RTP and RTCP interleaved on the RTSP connection (RFC 2326 §10.12): each
 * packet framed with `$`, its channel and its length, in the connection's
 * {@linkcode InterleavedBatch} (one write per event-loop turn).
 *
 * @module
 */
import type { TransportSpec } from "../../wire/transport_header.ts";
import type { InterleavedBatch } from "./interleaved_batch.ts";
import type { MediaTransport } from "./media_transport.ts";

const NO_BYTES = new Uint8Array(0);

/** A session's RTP on two channels of its RTSP connection. */
export class InterleavedTransport implements MediaTransport {
  readonly kind = "tcp";
  readonly description: string;
  readonly channels: readonly [number, number];
  readonly reply: TransportSpec;
  readonly #batch: InterleavedBatch;
  readonly #onDropped: (count: number) => void;

  /**
   * @param batch The connection's batch, shared by all its sessions.
   * @param onDropped Told how many RTP packets the batch dropped because the client lags.
   */
  constructor(
    batch: InterleavedBatch,
    channels: readonly [number, number],
    onDropped: (count: number) => void,
  ) {
    this.#batch = batch;
    this.channels = channels;
    this.#onDropped = onDropped;
    this.description = `tcp channels ${channels[0]}-${channels[1]}`;
    this.reply = {
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "TCP",
      unicast: true,
      interleaved: { start: channels[0], end: channels[1] },
      extra: [],
    };
  }

  sendRtp(header: Uint8Array, payload: Uint8Array): void {
    const dropped = this.#batch.dropped;
    this.#batch.add(this.channels[0], header, payload);
    if (this.#batch.dropped !== dropped) this.#onDropped(this.#batch.dropped - dropped);
  }

  /** RTCP in the same batch, so a report or BYE never overtakes the RTP it follows. */
  sendRtcp(packet: Uint8Array): void {
    this.#batch.add(this.channels[1], packet, NO_BYTES);
  }
}
