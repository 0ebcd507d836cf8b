/**
 * Receiver statistics: RFC 3550 Appendix A.1/A.3 sequence accounting
 * (extended sequence numbers, expected, lost), A.8 interarrival jitter, plus
 * duplicates, reordering and frame-level counts.
 *
 * A session that pauses and seeks is counted in segments, one per PLAY:
 * packets are expected per segment, the jitter's transit starts afresh in
 * each, and the time spent playing is the sum of their spans. Counted over
 * the whole session instead, a 1 s pause inflates the jitter (a 1 s jump in
 * transit time) and cuts the frame rate (a 20 fps stream with a 1 s pause
 * reported 14.4 frames/s), and a seek to a server that restarts its
 * sequence numbers would show as loss.
 *
 * The same counts per second of the run, and a timeline of the packets, are
 * kept beside them in {@linkcode ReceptionStats.series} (`reception_series.ts`).
 *
 * @module
 */
import { VIDEO_CLOCK_RATE } from "../../wire/rtp_packet.ts";
import type { ReportBlock } from "../../wire/rtcp_packet.ts";
import { ReceptionSeries, type ReceptionSeriesOptions } from "./reception_series.ts";

/** The kinds of frame {@linkcode ReceptionStats.countFrame} counts. */
export type FrameOutcome = "received" | "incomplete" | "damaged";

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
  /**
   * Packets expected from the sequence numbers seen (RFC 3550 A.3), summed
   * over the segments, so that a seek is never counted as loss.
   */
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
  /** Segments that brought packets: one per PLAY (a start, a resume after PAUSE, a seek). */
  segments: number;
  /** Seconds spent playing: for each segment, from its first packet to its last. */
  durationSec: number;
  /** Frames per second over that time (each segment's frames span one interval fewer). */
  framesPerSec: number;
  /** Payload bit rate over that time, in kbit/s. */
  kbitPerSec: number;
  /** Interarrival jitter (RFC 3550 §6.4.1), in milliseconds. */
  jitterMs: number;
  /** The same in RTP timestamp units (90 kHz). */
  jitterRtp: number;
  /** Milliseconds from sending PLAY to the first packet, when known. */
  firstFrameMs: number | null;
  /** Where the stream started, seconds of normal play time (the first PLAY reply's Range), when known. */
  startSec: number | null;
}

/** How many recent sequence numbers are remembered to recognise duplicates (a power of 2). */
const SEEN_WINDOW = 4096;

/**
 * The packets of one PLAY. Its sequence numbers start at `base` (the
 * RTP-Info seq of its PLAY reply, else its first packet) and packets are
 * assigned to the last segment whose base is at or below their extended
 * sequence number, so a packet sent before a seek and received after it
 * still counts for the segment it was sent in.
 */
interface Segment {
  /** First extended sequence number; `undefined` until the next packet sets it. */
  base: number | undefined;
  /** Highest extended sequence number received. */
  max: number;
  received: number;
  /** Arrival of its first and last packets, in ms. */
  firstAt: number;
  lastAt: number;
  /** Relative transit time of its last packet (RFC 3550 A.8), in timestamp units. */
  lastTransit: number | undefined;
}

function newSegment(base: number | undefined): Segment {
  return { base, max: -Infinity, received: 0, firstAt: NaN, lastAt: NaN, lastTransit: undefined };
}

/**
 * Accumulates reception statistics for one SSRC, over one or more segments
 * (each PLAY starts one; see {@linkcode ReceptionStats.beginSegment}).
 */
export class ReceptionStats {
  readonly #clockRate: number;
  #started = false;
  #maxExtended = 0;
  #received = 0;
  #duplicates = 0;
  #outOfOrder = 0;
  #bytes = 0;
  #jitter = 0;
  readonly #segments: Segment[] = [];
  /**
   * For duplicate detection: the extended sequence number last seen in each
   * slot (number mod the window), so a number is a duplicate when its slot
   * holds it; O(1) per packet and nothing allocated.
   */
  readonly #seen = new Float64Array(SEEN_WINDOW).fill(NaN);
  #firstAt: number | undefined;
  /** When PLAY was sent, for time to first frame. */
  playSentAt: number | undefined;
  /** Where the stream started (the first PLAY reply's Range), in seconds of normal play time. */
  startSec: number | undefined;
  /** Complete, verified frames received. */
  framesReceived = 0;
  /** Frames that arrived damaged (not a complete JPEG). */
  framesDamaged = 0;
  /** Frames that could not be reassembled (a fragment was lost). */
  framesIncomplete = 0;
  /** Datagrams that were not valid RTP. */
  malformed = 0;
  /** The same counts per second of the run, and the packet timeline. */
  readonly series: ReceptionSeries;

  /**
   * Statistics of a stream whose RTP clock runs at `clockRate` Hz.
   *
   * @param series Bounds of the packet timeline.
   */
  constructor(clockRate = VIDEO_CLOCK_RATE, series: ReceptionSeriesOptions = {}) {
    this.#clockRate = clockRate;
    this.series = new ReceptionSeries({
      lost: () => this.#expected() - this.#received,
      jitterMs: () => this.#jitter * 1000 / this.#clockRate,
    }, series);
  }

  /** Count a frame: complete and verified, incomplete (a fragment lost), or damaged. */
  countFrame(outcome: FrameOutcome): void {
    if (outcome === "received") this.framesReceived++;
    else if (outcome === "incomplete") this.framesIncomplete++;
    else this.framesDamaged++;
    this.series.onFrame(outcome);
  }

  /**
   * The extension of a 16-bit sequence number closest to the highest seen
   * (RFC 3550 A.1); before the first packet, closest to the base a PLAY
   * reply announced, else the number itself.
   */
  extend(sequenceNumber: number): number {
    const reference = this.#started
      ? this.#maxExtended
      : this.#segments.findLast((s) => s.base !== undefined)?.base ?? sequenceNumber;
    let extended = reference - (reference & 0xffff) + sequenceNumber;
    if (extended - reference > 0x8000) extended -= 0x10000;
    else if (reference - extended > 0x8000) extended += 0x10000;
    return extended;
  }

  /**
   * Start a segment: a PLAY (the first, a resume after PAUSE, or a seek)
   * whose packets start at `sequenceNumber` (its reply's RTP-Info seq), or,
   * when that is unknown, at the next packet. Packets are expected per
   * segment, so a jump in sequence numbers between segments is not loss,
   * and the jitter's transit starts afresh, so the time between segments
   * (a pause) or a jump in timestamps (a seek) is not jitter. A segment
   * that has received nothing yet is replaced.
   *
   * @param sequenceNumber 16-bit sequence number of the segment's first packet, when known.
   */
  beginSegment(sequenceNumber?: number): void {
    const base = sequenceNumber === undefined ? undefined : this.extend(sequenceNumber);
    const last = this.#segments.at(-1);
    if (last && last.received === 0) last.base = base;
    else this.#segments.push(newSegment(base));
  }

  /** The segment a packet belongs to; the first packet of a segment without a base sets it. */
  #segmentOf(extended: number): Segment {
    const segments = this.#segments;
    if (segments.length === 0) segments.push(newSegment(undefined));
    const last = segments[segments.length - 1];
    if (last.base === undefined) {
      last.base = extended;
      return last;
    }
    for (let i = segments.length - 1; i >= 0; i--) {
      if (segments[i].base! <= extended) return segments[i];
    }
    // Before every segment: an early packet of the first one, overtaken by a later one.
    segments[0].base = extended;
    return segments[0];
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
    const extended = this.extend(sequenceNumber);
    this.series.advance(arrivalMs);
    const slot = extended & (SEEN_WINDOW - 1);
    if (this.#seen[slot] === extended) {
      this.#duplicates++;
      this.series.onPacket(arrivalMs, extended, "duplicate", payloadBytes);
      return { extended, duplicate: true };
    }
    this.#seen[slot] = extended;
    let reordered = false;
    if (!this.#started) {
      this.#started = true;
      this.#maxExtended = extended;
      this.#firstAt = arrivalMs;
    } else if (extended > this.#maxExtended) this.#maxExtended = extended;
    else if (extended < this.#maxExtended) {
      this.#outOfOrder++;
      reordered = true;
    }
    this.#received++;
    this.#bytes += payloadBytes;
    const segment = this.#segmentOf(extended);
    // The sequence numbers this packet skipped in its segment (from its base, for the first).
    const before = segment.received === 0 ? segment.base! - 1 : segment.max;
    const gap = Math.max(0, extended - before - 1);
    this.series.onPacket(
      arrivalMs,
      extended,
      reordered ? "reordered" : "packet",
      payloadBytes,
      gap,
    );
    if (segment.received === 0) segment.firstAt = arrivalMs;
    segment.received++;
    segment.lastAt = arrivalMs;
    if (extended > segment.max) segment.max = extended;
    // RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units, between packets of one segment.
    const arrival = arrivalMs * this.#clockRate / 1000;
    const transit = arrival - timestamp;
    if (segment.lastTransit !== undefined) {
      let d = Math.abs(transit - segment.lastTransit);
      if (d > 0x80000000) d = Math.abs(d - 0x100000000); // timestamp wrapped
      this.#jitter += (d - this.#jitter) / 16;
    }
    segment.lastTransit = transit;
    return { extended, duplicate: false };
  }

  /** Packets expected (RFC 3550 A.3), summed over the segments that received any. */
  #expected(): number {
    let expected = 0;
    for (const s of this.#segments) if (s.received > 0) expected += s.max - s.base! + 1;
    return expected;
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
    const expected = this.#expected();
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

  /**
   * Time spent playing, in ms: each segment's first to last arrival (a
   * straggler of a segment that arrives after the next one began does not
   * stretch it past that start); and how many segments brought packets.
   */
  #playing(): { ms: number; segments: number } {
    const active = this.#segments.filter((s) => s.received > 0);
    let ms = 0;
    for (const [i, s] of active.entries()) {
      const until = i + 1 < active.length ? Math.min(s.lastAt, active[i + 1].firstAt) : s.lastAt;
      ms += Math.max(0, until - s.firstAt);
    }
    return { ms, segments: active.length };
  }

  /** A snapshot of the statistics. */
  summary(): ReceptionSummary {
    const expected = this.#expected();
    const lost = Math.max(0, expected - this.#received);
    const playing = this.#playing();
    const durationSec = playing.ms / 1000;
    const round = (x: number, digits = 3) => Number(x.toFixed(digits));
    // n frames of a segment span n-1 intervals.
    const intervals = Math.max(0, this.framesReceived - playing.segments);
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
      segments: playing.segments,
      durationSec: round(durationSec),
      framesPerSec: durationSec > 0 ? round(intervals / durationSec) : 0,
      kbitPerSec: durationSec > 0 ? round(this.#bytes * 8 / durationSec / 1000, 1) : 0,
      jitterMs: round(this.#jitter * 1000 / this.#clockRate),
      jitterRtp: round(this.#jitter, 1),
      firstFrameMs: this.playSentAt !== undefined && this.#firstAt !== undefined
        ? round(this.#firstAt - this.playSentAt, 1)
        : null,
      startSec: this.startSec ?? null,
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
    `started at        ${s.startSec === null ? "-" : `npt ${s.startSec.toFixed(3)} s`}`,
  ].join("\n");
}
