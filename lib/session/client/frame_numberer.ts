/**
 * Numbers the frames of a standard stream as the file numbers them: frame
 * k (from 1) is the one whose media time is (k − 1) / fps.
 *
 * Each PLAY reply says where its packets start: the media time (the Range
 * start) and the RTP time and sequence number of the first packet
 * (RTP-Info, RFC 2326 §12.33). A frame with timestamp ts in that PLAY's
 * packets is then
 *
 * ```
 * frame = round(signed32(ts − rtptime) · fps / 90000 + rangeStart · fps) + 1
 * ```
 *
 * where signed32 takes the difference modulo 2^32 as a signed number, so
 * timestamps may wrap. After a seek the timestamps jump; packets sent
 * before it keep the mapping of their own PLAY, chosen by sequence number.
 *
 * Without RTP-Info (other servers) frames are numbered from the first
 * timestamp received, and without a frame rate in the order they arrive.
 *
 * @module
 */
import { VIDEO_CLOCK_RATE } from "../../wire/rtp_packet.ts";

/** Where one PLAY's packets start, from its reply. */
export interface PlayMapping {
  /** Extended sequence number of the first packet (RTP-Info seq). */
  sequence: number;
  /** RTP timestamp of that packet (RTP-Info rtptime). */
  rtptime: number;
  /** Its media time, in seconds (the Range start). */
  startSec: number;
}

/** Gives each reassembled frame its number in the file. */
export class FrameNumberer {
  readonly #fps: number | undefined;
  readonly #clockRate: number;
  /** Mappings in order of sequence number. */
  readonly #mappings: PlayMapping[] = [];
  #counted = 0;
  /**
   * Timestamp of the first packet received (even if its frame is lost): the
   * origin of frame numbers when no PLAY reply gave a mapping.
   */
  firstTimestamp: number | undefined;

  /**
   * @param fps Frames per second (the SDP's `a=framerate`); without it frames are counted.
   * @param clockRate RTP clock rate.
   */
  constructor(fps: number | undefined, clockRate = VIDEO_CLOCK_RATE) {
    this.#fps = fps;
    this.#clockRate = clockRate;
  }

  /** Whether frames are numbered by their time (there is a frame rate), not counted. */
  get byTime(): boolean {
    return this.#fps !== undefined;
  }

  /** Add the mapping of a PLAY reply; one with the same first packet replaces it. */
  addPlay(mapping: PlayMapping): void {
    const mappings = this.#mappings;
    let i = mappings.length;
    while (i > 0 && mappings[i - 1].sequence >= mapping.sequence) i--;
    const replace = mappings[i]?.sequence === mapping.sequence ? 1 : 0;
    mappings.splice(i, replace, { ...mapping });
  }

  /** The mapping of the PLAY whose packets include `sequence`. */
  #mappingFor(sequence: number): PlayMapping | undefined {
    const mappings = this.#mappings;
    for (let i = mappings.length - 1; i >= 0; i--) {
      if (mappings[i].sequence <= sequence) return mappings[i];
    }
    return mappings[0]; // sent before the first PLAY's first packet: none should be
  }

  /**
   * The number of a frame.
   *
   * @param sequence Extended sequence number of one of its packets (the last).
   * @param timestamp Its RTP timestamp.
   * @returns Its number in the file, from 1.
   */
  frameNumber(sequence: number, timestamp: number): number {
    const fps = this.#fps;
    if (fps === undefined) return ++this.#counted;
    const mapping = this.#mappingFor(sequence);
    if (mapping) {
      const elapsed = ((timestamp - mapping.rtptime) | 0) / this.#clockRate;
      return Math.round(elapsed * fps + mapping.startSec * fps) + 1;
    }
    this.firstTimestamp ??= timestamp;
    const elapsed = ((timestamp - this.firstTimestamp) >>> 0) / this.#clockRate;
    return Math.round(elapsed * fps) + 1;
  }
}
