/**
 * One timer for every stream: a min-heap of due times, so a thousand sessions
 * cost one wake-up per distinct due time rather than a timer each.
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "./clock.ts";
import { LatencyHistogram } from "./latency_histogram.ts";

/** Something that has work to do at given times. */
export interface PacedTask {
  /**
   * Do what is due at `now`; return the next due time (ms on the pacer's
   * clock), or `undefined` when there is nothing more to do.
   */
  onDue(now: number): number | undefined;
}

interface Entry {
  due: number;
  task: PacedTask;
  generation: number;
}

/** Schedules {@linkcode PacedTask}s on one shared timer. */
export class Pacer {
  readonly #clock: Clock;
  readonly #heap: Entry[] = [];
  /** Current generation per scheduled task; stale heap entries are skipped. */
  readonly #generations = new Map<PacedTask, number>();
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  #nextGeneration = 1;
  /** Due times of the tasks run in the current wake-up. */
  readonly #ranDue: number[] = [];
  /**
   * How late each task ran against its due time, measured at the end of its
   * wake-up (after every task due in it, just before a batched send flushes).
   */
  readonly lateness = new LatencyHistogram();

  constructor(clock: Clock = realClock) {
    this.#clock = clock;
  }

  /** Number of tasks scheduled. */
  get size(): number {
    return this.#generations.size;
  }

  /** Run `task.onDue` at `due` (replacing any earlier schedule of it). */
  schedule(task: PacedTask, due: number): void {
    const generation = this.#nextGeneration++;
    this.#generations.set(task, generation);
    this.#push({ due, task, generation });
    this.#arm();
  }

  /** Stop running `task`. */
  cancel(task: PacedTask): void {
    this.#generations.delete(task);
  }

  /** Cancel everything and release the timer. */
  close(): void {
    this.#generations.clear();
    this.#heap.length = 0;
    this.#disarm();
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const now = this.#clock.now();
    // Tasks that ask to run again at once wait for the next turn, so one
    // task cannot starve the others or the sockets.
    const again: Entry[] = [];
    while (this.#heap.length > 0 && this.#heap[0].due <= now) {
      const entry = this.#pop()!;
      if (this.#generations.get(entry.task) !== entry.generation) continue;
      let next: number | undefined;
      this.#ranDue.push(entry.due);
      try {
        next = entry.task.onDue(now);
      } catch (error) {
        next = undefined;
        console.error("pacer: a task failed and was stopped:", error);
      }
      if (this.#generations.get(entry.task) !== entry.generation) continue; // rescheduled inside
      if (next === undefined) this.#generations.delete(entry.task);
      else if (next <= now) {
        again.push({ due: next, task: entry.task, generation: entry.generation });
      } else this.#push({ due: next, task: entry.task, generation: entry.generation });
    }
    for (const entry of again) this.#push(entry);
    const end = this.#clock.now();
    for (const due of this.#ranDue) this.lateness.record(end - due);
    this.#ranDue.length = 0;
    this.#arm();
  };

  #arm(): void {
    while (
      this.#heap.length > 0 &&
      this.#generations.get(this.#heap[0].task) !== this.#heap[0].generation
    ) this.#pop();
    if (this.#heap.length === 0) return this.#disarm();
    const due = this.#heap[0].due;
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    this.#disarm();
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, due - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].due <= entry.due) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const child = left + 1 < heap.length && heap[left + 1].due < heap[left].due ? left + 1 : left;
      if (heap[child].due >= last.due) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
