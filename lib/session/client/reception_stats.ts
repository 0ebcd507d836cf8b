/**
 * Receiver statistics: RFC 3550 Appendix A.1/A.3 sequence accounting
 * (extended sequence numbers, expected, lost), A.8 interarrival jitter, plus
 * duplicates, reordering and frame-level counts.
 *
 * @module
 */
import { VIDEO_CLOCK_RATE } from "../../wire/rtp_packet.ts";
import type { ReportBlock } from "../../wire/rtcp_packet.ts";

/** A summary of what was received, as printed and written to JSON. */
export interface ReceptionSummary {
  /** Complete, verified frames received (and written, when there is an output directory). */
  framesReceived: number;
  /** Frames that arrived damaged (not a complete JPEG) and were not written. */
  framesDamaged: number;
  /** Frames that could not be reassembled (a fragment was lost) and were not written. */
  framesIncomplete: number;
  /** RTP packets received (duplicates excluded). */
  packetsReceived: number;
  /** Packets expected from the sequence numbers seen (RFC 3550 A.3). */
  packetsExpected: number;
  /** Expected minus received: the sequence gaps never filled. */
  packetsLost: number;
  /** Percent of expected packets lost. */
  lossPercent: number;
  /** Packets whose sequence number was already received. */
  duplicates: number;
  /** Packets that arrived after a later sequence number. */
  outOfOrder: number;
  /** Datagrams that were not valid RTP. */
  malformed: number;
  /** RTP payload bytes received. */
  bytes: number;
  /** Seconds from the first to the last packet. */
  durationSec: number;
  /** Frames per second over that time. */
  framesPerSec: number;
  /** Payload bit rate over that time, in kbit/s. */
  kbitPerSec: number;
  /** Interarrival jitter (RFC 3550 §6.4.1), in milliseconds. */
  jitterMs: number;
  /** The same in RTP timestamp units (90 kHz). */
  jitterRtp: number;
  /** Milliseconds from sending PLAY to the first packet, when known. */
  firstFrameMs: number | null;
}

/** How many recent sequence numbers are remembered to recognise duplicates (a power of 2). */
const SEEN_WINDOW = 4096;

/** Accumulates reception statistics for one SSRC. */
export class ReceptionStats {
  readonly #clockRate: number;
  #started = false;
  #baseSeq = 0;
  #maxExtended = 0;
  #received = 0;
  #duplicates = 0;
  #outOfOrder = 0;
  #bytes = 0;
  #jitter = 0;
  #lastTransit: number | undefined;
  /**
   * For duplicate detection: the extended sequence number last seen in each
   * slot (number mod the window), so a number is a duplicate when its slot
   * holds it; O(1) per packet and nothing allocated.
   */
  readonly #seen = new Float64Array(SEEN_WINDOW).fill(NaN);
  #firstAt: number | undefined;
  #lastAt: number | undefined;
  /** When PLAY was sent, for time to first frame. */
  playSentAt: number | undefined;
  framesReceived = 0;
  framesDamaged = 0;
  framesIncomplete = 0;
  malformed = 0;

  /** @param clockRate RTP clock rate of the stream. */
  constructor(clockRate = VIDEO_CLOCK_RATE) {
    this.#clockRate = clockRate;
  }

  /**
   * Account for one packet.
   *
   * @param sequenceNumber 16-bit RTP sequence number.
   * @param timestamp RTP timestamp.
   * @param arrivalMs Arrival time in ms on any monotonic clock.
   * @param payloadBytes Payload size.
   * @returns The extended sequence number, and whether the packet is a duplicate.
   */
  onPacket(
    sequenceNumber: number,
    timestamp: number,
    arrivalMs: number,
    payloadBytes: number,
  ): { extended: number; duplicate: boolean } {
    let extended: number;
    if (!this.#started) {
      this.#started = true;
      this.#baseSeq = sequenceNumber;
      this.#maxExtended = sequenceNumber;
      extended = sequenceNumber;
      this.#firstAt = arrivalMs;
    } else {
      // Pick the extension of the 16-bit number closest to the highest seen.
      const cycle = this.#maxExtended - (this.#maxExtended & 0xffff);
      extended = cycle + sequenceNumber;
      if (extended - this.#maxExtended > 0x8000) extended -= 0x10000;
      else if (this.#maxExtended - extended > 0x8000) extended += 0x10000;
    }
    const slot = extended & (SEEN_WINDOW - 1);
    if (this.#seen[slot] === extended) {
      this.#duplicates++;
      return { extended, duplicate: true };
    }
    this.#seen[slot] = extended;
    if (extended > this.#maxExtended) this.#maxExtended = extended;
    else if (extended < this.#maxExtended) this.#outOfOrder++;
    this.#received++;
    this.#bytes += payloadBytes;
    this.#lastAt = arrivalMs;
    // RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units.
    const arrival = arrivalMs * this.#clockRate / 1000;
    const transit = arrival - timestamp;
    if (this.#lastTransit !== undefined) {
      let d = Math.abs(transit - this.#lastTransit);
      if (d > 0x80000000) d = Math.abs(d - 0x100000000); // timestamp wrapped
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
    return { extended, duplicate: false };
  }

  #expectedPrior = 0;
  #receivedPrior = 0;

  /**
   * An RTCP report block about this source (RFC 3550 §6.4.1, A.3): the
   * fraction lost since the previous block, cumulative loss, the highest
   * sequence number, jitter, and LSR/DLSR from the last sender report.
   *
   * @param lastSr Middle 32 bits of the last SR's NTP time and when it arrived (ms).
   */
  reportBlock(ssrc: number, now: number, lastSr?: { ntpMiddle: number; at: number }): ReportBlock {
    const expected = this.#started ? this.#maxExtended - this.#baseSeq + 1 : 0;
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    const lostInterval = expectedInterval - receivedInterval;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.#received));
    return {
      ssrc,
      fractionLost: expectedInterval === 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)),
      cumulativeLost: lost,
      extendedHighestSequence: this.#maxExtended >>> 0,
      jitter: Math.floor(this.#jitter) >>> 0,
      lastSr: lastSr?.ntpMiddle ?? 0,
      delaySinceLastSr: lastSr ? Math.floor((now - lastSr.at) * 65536 / 1000) >>> 0 : 0,
    };
  }

  /** Whether any packet has been received. */
  get started(): boolean {
    return this.#started;
  }

  /** A snapshot of the statistics. */
  summary(): ReceptionSummary {
    const expected = this.#started ? this.#maxExtended - this.#baseSeq + 1 : 0;
    const lost = Math.max(0, expected - this.#received);
    const durationSec = this.#firstAt !== undefined && this.#lastAt !== undefined
      ? (this.#lastAt - this.#firstAt) / 1000
      : 0;
    const round = (x: number, digits = 3) => Number(x.toFixed(digits));
    return {
      framesReceived: this.framesReceived,
      framesDamaged: this.framesDamaged,
      framesIncomplete: this.framesIncomplete,
      packetsReceived: this.#received,
      packetsExpected: expected,
      packetsLost: lost,
      lossPercent: expected > 0 ? round(100 * lost / expected) : 0,
      duplicates: this.#duplicates,
      outOfOrder: this.#outOfOrder,
      malformed: this.malformed,
      bytes: this.#bytes,
      durationSec: round(durationSec),
      // n frames span n-1 intervals.
      framesPerSec: durationSec > 0 ? round((this.framesReceived - 1) / durationSec) : 0,
      kbitPerSec: durationSec > 0 ? round(this.#bytes * 8 / durationSec / 1000, 1) : 0,
      jitterMs: round(this.#jitter * 1000 / this.#clockRate),
      jitterRtp: round(this.#jitter, 1),
      firstFrameMs: this.playSentAt !== undefined && this.#firstAt !== undefined
        ? round(this.#firstAt - this.playSentAt, 1)
        : null,
    };
  }
}

/** Human-readable lines for a summary, as the client prints them. */
export function formatSummary(s: ReceptionSummary): string {
  return [
    `frames received   ${s.framesReceived} complete; not written: ${s.framesIncomplete} incomplete (lost fragments), ${s.framesDamaged} damaged`,
    `packets           ${s.packetsReceived} received of ${s.packetsExpected} expected, ${s.packetsLost} lost (${s.lossPercent}%), ${s.duplicates} duplicate, ${s.outOfOrder} out of order, ${s.malformed} malformed`,
    `bytes             ${s.bytes} payload bytes`,
    `duration          ${s.durationSec} s, ${s.framesPerSec} frames/s, ${s.kbitPerSec} kbit/s`,
    `jitter            ${s.jitterMs} ms (${s.jitterRtp} RTP units, RFC 3550 6.4.1)`,
    `first frame after ${s.firstFrameMs === null ? "-" : `${s.firstFrameMs} ms`} (from PLAY)`,
  ].join("\n");
}
