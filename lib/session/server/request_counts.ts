/**
 * Requests answered, by method and status code: what the metrics export as
 * one labelled counter. The labels stay few whatever clients send: a method
 * the server does not know counts as "other", and statuses are the server's
 * own (a bounded table). One map update per request, nothing per packet.
 *
 * @module
 */

/** How many requests of one method got one status. */
export interface RequestCount {
  /** A method the server knows, or "other". */
  method: string;
  /** The status code answered. */
  status: number;
  /** Requests so far. */
  count: number;
}

/** The label of a method no counter is kept for. */
export const OTHER_METHOD = "other";

/** Counts answers by method and status code. */
export class RequestCounts {
  readonly #methods: ReadonlySet<string>;
  /** Counts by method, then status. */
  readonly #counts = new Map<string, Map<number, number>>();

  /** @param methods The methods counted by name; any other counts as "other". */
  constructor(methods: readonly string[]) {
    this.#methods = new Set(methods);
  }

  /** Count one answer; `method` undefined when the request did not parse that far. */
  count(method: string | undefined, status: number): void {
    const label = method !== undefined && this.#methods.has(method) ? method : OTHER_METHOD;
    let byStatus = this.#counts.get(label);
    if (!byStatus) this.#counts.set(label, byStatus = new Map());
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  /** Every count so far, by method (code point order) then status. */
  entries(): RequestCount[] {
    const entries: RequestCount[] = [];
    for (const [method, byStatus] of this.#counts) {
      for (const [status, count] of byStatus) entries.push({ method, status, count });
    }
    // By code point: the methods (upper case) first, then "other".
    return entries.sort((a, b) =>
      a.method < b.method ? -1 : a.method > b.method ? 1 : a.status - b.status
    );
  }

  /** Answers counted so far. */
  get total(): number {
    let total = 0;
    for (const byStatus of this.#counts.values()) {
      for (const count of byStatus.values()) total += count;
    }
    return total;
  }
}
