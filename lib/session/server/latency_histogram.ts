/**
 * A fixed-size histogram of delays in ms (0.05 ms buckets up to 250 ms, and
 * an overflow bucket), for percentiles without keeping every sample: the
 * pacer records how late each wake-up ran its tasks against their schedule.
 *
 * Two views of the same counts: since the last {@linkcode LatencyHistogram.reset}
 * (what SIGUSR2 prints, then starts afresh) and since the start (what the
 * status and the Prometheus histogram show, which must never go down). A
 * reset copies the counts as a baseline rather than clearing them, so
 * recording a sample costs the same as before either view existed.
 *
 * @module
 */

/** Bucket width, ms. */
const RESOLUTION_MS = 0.05;
/** Delays at or above this go to the overflow bucket (their maximum is still kept). */
const RANGE_MS = 250;
const BUCKETS = Math.round(RANGE_MS / RESOLUTION_MS);

/** Percentiles of the delays recorded, in ms. */
export interface LatencySummary {
  /** Samples recorded. */
  count: number;
  /** Median, ms. */
  p50: number;
  /** 99th percentile, ms. */
  p99: number;
  /** 99.9th percentile, ms. */
  p999: number;
  /** Largest sample, ms. */
  max: number;
}

/** Cumulative bucket counts since the start, as a Prometheus histogram has them. */
export interface LatencyBuckets {
  /** Upper bounds, ms (each a multiple of 0.05 ms), ascending; `+Inf` is implied. */
  boundsMs: number[];
  /** Samples below each bound, index for index. */
  counts: number[];
  /** Every sample. */
  count: number;
  /**
   * Sum of the samples, ms, estimated from the buckets: each sample at the
   * middle of its 0.05 ms bucket, one beyond 250 ms at 250 ms (so within
   * 0.025 ms a sample of the exact sum, except beyond the range).
   */
  sumMs: number;
}

/** Counts delays in 0.05 ms buckets. */
export class LatencyHistogram {
  /** Since the start: float64 counts stay exact far beyond 2^32 samples. */
  readonly #counts = new Float64Array(BUCKETS + 1);
  #count = 0;
  /** Largest sample since the last reset. */
  #max = 0;
  /** The counts at the last reset (undefined: never reset). */
  #base: Float64Array | undefined;
  #baseCount = 0;
  /** Largest sample before the last reset. */
  #maxBefore = 0;

  /** Record one delay (negative delays count as 0). */
  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const bucket = Math.min(BUCKETS, Math.floor(value / RESOLUTION_MS));
    this.#counts[bucket]++;
    this.#count++;
    if (value > this.#max) this.#max = value;
  }

  /** Delays recorded since the last reset. */
  get count(): number {
    return this.#count - this.#baseCount;
  }

  /**
   * The delay below which a fraction `q` of the samples since the last
   * reset fall (the upper edge of its bucket, so never under the true value
   * by more than 0.05 ms; the maximum beyond the histogram's range). 0 when
   * empty.
   */
  quantile(q: number): number {
    return this.#quantile(q, this.#base, this.count, this.#max);
  }

  /** Count, p50, p99, p99.9 and maximum since the last reset. */
  summary(): LatencySummary {
    return this.#summary(this.#base, this.count, this.#max);
  }

  /** Count, p50, p99, p99.9 and maximum since the start (resets do not matter). */
  summarySinceStart(): LatencySummary {
    return this.#summary(undefined, this.#count, Math.max(this.#max, this.#maxBefore));
  }

  /**
   * Cumulative counts since the start below each of `boundsMs` (rounded to
   * the 0.05 ms grid), the count and the estimated sum.
   */
  buckets(boundsMs: readonly number[]): LatencyBuckets {
    const edges = boundsMs.map((bound) =>
      Math.min(BUCKETS, Math.max(0, Math.round(bound / RESOLUTION_MS)))
    );
    const counts: number[] = [];
    let below = 0;
    let sumMs = 0;
    let next = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      while (next < edges.length && edges[next] <= i) counts[next++] = below;
      const n = this.#counts[i];
      below += n;
      sumMs += n * (i < BUCKETS ? (i + 0.5) * RESOLUTION_MS : RANGE_MS);
    }
    while (next < edges.length) counts[next++] = below;
    return {
      boundsMs: edges.map((edge) => edge * RESOLUTION_MS),
      counts,
      count: this.#count,
      sumMs,
    };
  }

  /** Start the view since the last reset afresh (the view since the start keeps everything). */
  reset(): void {
    this.#base = this.#counts.slice();
    this.#baseCount = this.#count;
    this.#maxBefore = Math.max(this.#maxBefore, this.#max);
    this.#max = 0;
  }

  #summary(base: Float64Array | undefined, count: number, max: number): LatencySummary {
    return {
      count,
      p50: this.#quantile(0.5, base, count, max),
      p99: this.#quantile(0.99, base, count, max),
      p999: this.#quantile(0.999, base, count, max),
      max,
    };
  }

  #quantile(q: number, base: Float64Array | undefined, count: number, max: number): number {
    if (count === 0) return 0;
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] - (base?.[i] ?? 0);
      if (seen >= rank) return Math.min(max, (i + 1) * RESOLUTION_MS);
    }
    return max;
  }
}
