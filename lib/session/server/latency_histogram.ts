/**
 * A fixed-size histogram of delays in ms (0.05 ms buckets up to 250 ms, and
 * an overflow bucket), for percentiles without keeping every sample: the
 * pacer records how late each wake-up ran its tasks against their schedule.
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

/** Counts delays in 0.05 ms buckets. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS + 1);
  #count = 0;
  #max = 0;

  /** Record one delay (negative delays count as 0). */
  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const bucket = Math.min(BUCKETS, Math.floor(value / RESOLUTION_MS));
    this.#counts[bucket]++;
    this.#count++;
    if (value > this.#max) this.#max = value;
  }

  /** Delays recorded. */
  get count(): number {
    return this.#count;
  }

  /**
   * The delay below which a fraction `q` of the samples fall (the upper edge
   * of its bucket, so never under the true value by more than 0.05 ms; the
   * maximum beyond the histogram's range). 0 when empty.
   */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(this.#max, (i + 1) * RESOLUTION_MS);
    }
    return this.#max;
  }

  /** Count, p50, p99, p99.9 and maximum. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.#max,
    };
  }

  /** Forget every sample. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#max = 0;
  }
}
