/**
 * What happened when, for plotting: per-second series of one client
 * session (packets, loss, bytes, frames, jitter) and a bounded timeline of
 * its packets (gaps, reorderings, duplicates). {@linkcode ReceptionStats}
 * feeds it; the `--stats` JSON and the `--report` page show it.
 *
 * Seconds are wall-clock seconds of the run, counted from the arrival of the
 * first packet: second k covers arrivals from k to k + 1 s after it. Every
 * second is there, a second without packets (a pause) too, so index k of
 * each array is second k; the last second is usually partial. Summed over
 * the seconds, each count equals the summary's (`packets` is
 * `packetsReceived`, `lost` is `packetsLost`, `frames` is `framesReceived`,
 * ...). Loss is counted as RFC 3550 A.3 counts it, expected minus received:
 * a gap counts in the second it shows, and a packet that fills it later
 * (reordered across a second's end) counts back in its own second, which
 * can then be negative.
 *
 * Memory: one entry per second for the series (a day is 86,400), and at
 * most {@linkcode TIMELINE_DEFAULTS}`.limit` timeline entries, whatever the
 * run's length.
 *
 * @module
 */

/** Per second of the run: one array per quantity, all of the same length. */
export interface PerSecondSeries {
  /** The second: 0, 1, 2, ... after the first packet arrived. */
  second: number[];
  /** RTP packets received in it (duplicates excluded). */
  packets: number[];
  /** Change of the packets lost (expected minus received, RFC 3550 A.3) during it. */
  lost: number[];
  /** Packets whose sequence number was already received. */
  duplicates: number[];
  /** Packets that arrived after a later sequence number. */
  outOfOrder: number[];
  /** RTP payload bytes received (duplicates excluded). */
  bytes: number[];
  /** The same as a bit rate, in kbit/s. */
  kbitPerSec: number[];
  /** Complete, verified frames. */
  frames: number[];
  /** Frames that could not be reassembled (a fragment was lost). */
  framesIncomplete: number[];
  /** Frames that arrived damaged (not a complete JPEG). */
  framesDamaged: number[];
  /**
   * Interarrival jitter (RFC 3550 §6.4.1) after the second's last packet, in
   * ms; `null` for a second without packets.
   */
  jitterMs: (number | null)[];
}

/**
 * What a timeline entry records: an RTP packet (in order, `reordered` after
 * a later one, or a `duplicate`), or a `gap`, the sequence numbers skipped
 * when a packet came after a gap (`count` of them, from `seq`).
 */
export type TimelineKind = "packet" | "reordered" | "duplicate" | "gap";

/** One entry of the {@linkcode PacketTimeline}. */
export interface TimelineEntry {
  /** Arrival, in seconds after the first packet (to 0.1 ms). */
  t: number;
  /** Extended sequence number (RFC 3550 A.1): of the packet, or the first one missing. */
  seq: number;
  /** What arrived, or the gap it revealed. */
  kind: TimelineKind;
  /** For a gap: how many sequence numbers are missing. */
  count?: number;
}

/**
 * The packet timeline: every packet among the first `firstPackets`, and
 * after them every gap, reordering and duplicate, until there are `limit`
 * entries; what comes after that is only counted in `leftOut`.
 */
export interface PacketTimeline {
  /** The first this many packets are all recorded. */
  firstPackets: number;
  /** Most entries kept. */
  limit: number;
  /** In the order of arrival. */
  entries: TimelineEntry[];
  /** Entries not kept because the limit was reached. */
  leftOut: number;
}

/** The timeline's bounds. */
export const TIMELINE_DEFAULTS = { firstPackets: 1000, limit: 4000 } as const;

/** Where {@linkcode ReceptionSeries} reads the running totals when a second ends. */
export interface ReceptionTotals {
  /** Packets lost so far (expected minus received). */
  lost(): number;
  /** The interarrival jitter now, in ms. */
  jitterMs(): number;
}

/** Options for {@linkcode ReceptionSeries}. */
export interface ReceptionSeriesOptions {
  /** Every packet among the first this many goes on the timeline. @default {1000} */
  timelinePackets?: number;
  /** Most timeline entries. @default {4000} */
  timelineLimit?: number;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Collects the per-second series and the packet timeline of one session. */
export class ReceptionSeries {
  readonly #totals: ReceptionTotals;
  readonly #timelinePackets: number;
  readonly #timelineLimit: number;
  /** Arrival of the first packet, in ms; the origin of seconds. */
  #origin: number | undefined;
  /** Per second; the last one is open. */
  readonly #packets: number[] = [];
  readonly #lost: number[] = [];
  readonly #duplicates: number[] = [];
  readonly #outOfOrder: number[] = [];
  readonly #bytes: number[] = [];
  readonly #frames: number[] = [];
  readonly #incomplete: number[] = [];
  readonly #damaged: number[] = [];
  readonly #jitter: (number | null)[] = [];
  /** Packets lost up to the end of the last closed second. */
  #lostBefore = 0;
  readonly #entries: TimelineEntry[] = [];
  #timelineSeen = 0;
  #leftOut = 0;

  /**
   * An empty series; the first packet starts second 0.
   *
   * @param totals Where the loss and the jitter are read when a second ends.
   * @param options Bounds of the timeline.
   */
  constructor(totals: ReceptionTotals, options: ReceptionSeriesOptions = {}) {
    this.#totals = totals;
    this.#timelinePackets = options.timelinePackets ?? TIMELINE_DEFAULTS.firstPackets;
    this.#timelineLimit = options.timelineLimit ?? TIMELINE_DEFAULTS.limit;
  }

  /**
   * A packet arrives at `arrivalMs`: close the seconds before it, reading
   * the totals as they were before it is counted. Call before accounting it.
   */
  advance(arrivalMs: number): void {
    if (this.#origin === undefined) {
      this.#origin = arrivalMs;
      this.#open();
      return;
    }
    const second = Math.floor((arrivalMs - this.#origin) / 1000);
    if (second < this.#packets.length) return; // this second, or (out of order in time) before
    this.#close();
    while (this.#packets.length <= second) {
      this.#open();
      if (this.#packets.length <= second) this.#close();
    }
  }

  /** Start a second with nothing in it. */
  #open(): void {
    for (
      const series of [
        this.#packets,
        this.#lost,
        this.#duplicates,
        this.#outOfOrder,
        this.#bytes,
        this.#frames,
        this.#incomplete,
        this.#damaged,
      ]
    ) series.push(0);
    this.#jitter.push(null);
  }

  /** Close the open second: its loss and its jitter are final. */
  #close(): void {
    const last = this.#packets.length - 1;
    const lost = this.#totals.lost();
    this.#lost[last] = lost - this.#lostBefore;
    this.#lostBefore = lost;
    if (this.#packets[last] + this.#duplicates[last] > 0) {
      this.#jitter[last] = round(this.#totals.jitterMs(), 3);
    }
  }

  /**
   * Count a packet in the open second and put it on the timeline.
   *
   * @param gap How many sequence numbers it skipped (0 when it follows the last).
   */
  onPacket(
    arrivalMs: number,
    extended: number,
    kind: Exclude<TimelineKind, "gap">,
    payloadBytes: number,
    gap = 0,
  ): void {
    const i = this.#packets.length - 1;
    if (i < 0) return; // advance() not called
    if (kind === "duplicate") this.#duplicates[i]++;
    else {
      this.#packets[i]++;
      this.#bytes[i] += payloadBytes;
      if (kind === "reordered") this.#outOfOrder[i]++;
    }
    const t = round((arrivalMs - this.#origin!) / 1000, 4);
    const early = this.#timelineSeen++ < this.#timelinePackets;
    if (gap > 0) this.#note({ t, seq: extended - gap, kind: "gap", count: gap });
    if (early || kind !== "packet") this.#note({ t, seq: extended, kind });
  }

  #note(entry: TimelineEntry): void {
    if (this.#entries.length < this.#timelineLimit) this.#entries.push(entry);
    else this.#leftOut++;
  }

  /** Count a frame in the open second. */
  onFrame(kind: "received" | "incomplete" | "damaged"): void {
    const i = this.#packets.length - 1;
    if (i < 0) return;
    const series = kind === "received"
      ? this.#frames
      : kind === "incomplete"
      ? this.#incomplete
      : this.#damaged;
    series[i]++;
  }

  /** The series so far (the open second with its loss and jitter up to now). */
  perSecond(): PerSecondSeries {
    const n = this.#packets.length;
    const lost = [...this.#lost];
    const jitterMs = [...this.#jitter];
    if (n > 0) {
      lost[n - 1] = this.#totals.lost() - this.#lostBefore;
      if (this.#packets[n - 1] + this.#duplicates[n - 1] > 0) {
        jitterMs[n - 1] = round(this.#totals.jitterMs(), 3);
      }
    }
    return {
      second: Array.from({ length: n }, (_, i) => i),
      packets: [...this.#packets],
      lost,
      duplicates: [...this.#duplicates],
      outOfOrder: [...this.#outOfOrder],
      bytes: [...this.#bytes],
      kbitPerSec: this.#bytes.map((b) => round(b * 8 / 1000, 1)),
      frames: [...this.#frames],
      framesIncomplete: [...this.#incomplete],
      framesDamaged: [...this.#damaged],
      jitterMs,
    };
  }

  /** The packet timeline so far. */
  timeline(): PacketTimeline {
    return {
      firstPackets: this.#timelinePackets,
      limit: this.#timelineLimit,
      entries: this.#entries.map((e) => ({ ...e })),
      leftOut: this.#leftOut,
    };
  }
}
