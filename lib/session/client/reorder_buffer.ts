/**
 * A small reordering window for packets that arrive over UDP out of order:
 * hands packets on in sequence order, waiting for a missing one only while
 * fewer than `window` later packets are held.
 *
 * @module
 */

/** Puts items keyed by extended sequence number back in order. */
export class ReorderBuffer<T> {
  readonly #window: number;
  readonly #held = new Map<number, T>();
  #next: number | undefined;

  /** @param window Most packets held while waiting for a missing one. @default {16} */
  constructor(window = 16) {
    this.#window = window;
  }

  /** Packets held, waiting for a gap to fill. */
  get held(): number {
    return this.#held.size;
  }

  /**
   * Add the packet with extended sequence number `sequence`; returns the
   * packets now in order. A packet older than one already handed on is
   * dropped (returns nothing).
   */
  push(sequence: number, item: T): T[] {
    this.#next ??= sequence;
    if (sequence < this.#next || this.#held.has(sequence)) return [];
    this.#held.set(sequence, item);
    const out = this.#drain();
    while (this.#held.size > this.#window) {
      this.#next = Math.min(...this.#held.keys()); // give up on the gap
      out.push(...this.#drain());
    }
    return out;
  }

  /** Hand on everything held, in order, skipping gaps. */
  flush(): T[] {
    const out: T[] = [];
    for (const key of [...this.#held.keys()].sort((a, b) => a - b)) {
      out.push(this.#held.get(key)!);
      this.#next = key + 1;
    }
    this.#held.clear();
    return out;
  }

  #drain(): T[] {
    const out: T[] = [];
    while (this.#next !== undefined && this.#held.has(this.#next)) {
      out.push(this.#held.get(this.#next)!);
      this.#held.delete(this.#next);
      this.#next++;
    }
    return out;
  }
}
