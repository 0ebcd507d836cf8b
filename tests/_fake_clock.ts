/**
 * A fake {@linkcode Clock} for the session-layer tests (not a test file
 * itself): time only moves when the test calls {@linkcode FakeClock.advance},
 * and due timers then run in order of due time (ties in the order they were
 * set), each seeing `now()` equal to the time it fires.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../lib/net/clock.ts";

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Most timers one {@linkcode FakeClock.advance} runs before it gives up (a runaway loop). */
const MAX_TIMERS_PER_ADVANCE = 1_000_000;

/** A clock whose time moves only when told to. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();
  /** Extra delay every timer fires with, in ms, to play a late OS timer. */
  lateness = 0;
  /** Timers set so far. */
  timersSet = 0;
  /** Most timers pending at once so far. */
  maxPending = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.set(id, { id, due: this.#now + delay + this.lateness, fn });
    this.timersSet++;
    this.maxPending = Math.max(this.maxPending, this.#timers.size);
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }

  /** Timers set and neither run nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  get nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /** Move time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance a fake clock by ${ms} ms`);
    this.advanceTo(this.#now + ms);
  }

  /** Move time forward to `time`, running every timer due by then. */
  advanceTo(time: number): void {
    for (let ran = 0;; ran++) {
      if (ran >= MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`FakeClock: more than ${MAX_TIMERS_PER_ADVANCE} timers in one advance`);
      }
      const timer = this.#earliest();
      if (!timer || timer.due > time) break;
      this.#timers.delete(timer.id);
      this.#now = Math.max(this.#now, timer.due);
      timer.fn();
    }
    this.#now = Math.max(this.#now, time);
  }

  #earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) {
        best = timer;
      }
    }
    return best;
  }
}
