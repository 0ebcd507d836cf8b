/**
 * One timer for every stream: a min-heap of due times, so a thousand sessions
 * cost one wake-up per distinct due time rather than a timer each.
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "../../net/clock.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import type { PreciseSleep } from "../../net/precise_sleep.ts";

/** Sessions a wake-up should carry, at most, for {@linkcode autoGridMs}. */
export const AUTO_GRID_SESSIONS_PER_WAKE = 50;

/**
 * The pacing grid for `sessions` playing frames `periodMs` apart at spread
 * phases: period / k for the smallest whole k that puts at most
 * {@linkcode AUTO_GRID_SESSIONS_PER_WAKE} sessions in a wake-up. The grid
 * divides the period, so sessions share phases. Measured on Deno, a
 * wake-up costs 0.2–0.35 ms of CPU whatever it carries (`bench:wake`), so
 * a few sessions share one wake-up per frame (the whole period: a first
 * frame up to one period after PLAY), and more spread over a few. No grid
 * for a lone session, which gains nothing from waiting, or where the step
 * would be under 2 ms (thousands of sessions fill their wake-ups anyway).
 */
export function autoGridMs(sessions: number, periodMs: number): number {
  if (sessions < 2 || !(periodMs > 0)) return 0;
  const grid = periodMs / Math.ceil(sessions / AUTO_GRID_SESSIONS_PER_WAKE);
  return grid < 2 ? 0 : grid;
}

/**
 * Tasks a wake-up runs between two calls of `afterWake` (its batched sends),
 * by default: a wake-up that carries a backlog of many sessions hands their
 * packets to the kernel in chunks, so the first sessions' packets do not
 * wait for the last sessions' work (about 250 packets of a 20 fps file).
 */
export const PACER_FLUSH_EVERY = 32;

/** Options for {@linkcode Pacer}. */
export interface PacerOptions {
  /**
   * Wake up through this sleeper rather than the clock's `setTimeout`
   * (which in Deno runs 1–2 ms late): within ~0.2 ms of the due time. Only
   * with the real clock, whose `now()` it is measured against.
   */
  sleeper?: PreciseSleep;
  /**
   * Run tasks due up to this many ms after a wake-up in that wake-up, so
   * sessions due close together share one wake-up (and one batched send)
   * instead of each waking the process. @default {0}
   */
  slackMs?: number;
  /**
   * Called at the end of each wake-up, after its tasks ran: where a batched
   * sender hands their packets to the kernel, so lateness is measured after
   * the sends, not before. Also called after every `flushEvery` tasks.
   */
  afterWake?: () => void;
  /**
   * Call `afterWake` after this many tasks of a wake-up, and at its end.
   * @default {PACER_FLUSH_EVERY}
   */
  flushEvery?: number;
}

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
   * How far from its due time each task's work left (late, or early within
   * the slack), measured at the end of its wake-up, after every task due in
   * it ran and `afterWake` made the sends they queued.
   */
  readonly lateness: LatencyHistogram = new LatencyHistogram();

  readonly #sleeper: PreciseSleep | undefined;
  readonly #slack: number;
  readonly #afterWake: (() => void) | undefined;
  readonly #flushEvery: number;
  /** Precise wake-ups: the time the loop below sleeps until, and the loop. */
  #preciseDue = Infinity;
  #preciseLoop: Promise<void> | undefined;
  #preciseSleeping = false;

  constructor(clock: Clock = realClock, options: PacerOptions = {}) {
    this.#clock = clock;
    this.#sleeper = options.sleeper;
    this.#slack = options.slackMs ?? 0;
    this.#afterWake = options.afterWake;
    this.#flushEvery = Math.max(1, options.flushEvery ?? PACER_FLUSH_EVERY);
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
    // Everything due within the slack runs in this wake-up, seeing the end of
    // the slack as "now": a little early, to save a wake-up of its own.
    const now = this.#clock.now() + this.#slack;
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
      if (this.#ranDue.length >= this.#flushEvery) this.#flushRan();
      if (this.#generations.get(entry.task) !== entry.generation) continue; // rescheduled inside
      if (next === undefined) this.#generations.delete(entry.task);
      else if (next <= now) {
        again.push({ due: next, task: entry.task, generation: entry.generation });
      } else this.#push({ due: next, task: entry.task, generation: entry.generation });
    }
    for (const entry of again) this.#push(entry);
    if (this.#ranDue.length > 0) this.#flushRan();
    this.#arm();
  };

  /** Make the sends of the tasks run since the last flush, and record their lateness. */
  #flushRan(): void {
    try {
      this.#afterWake?.();
    } catch (error) {
      console.error("pacer: afterWake failed:", error);
    }
    const end = this.#clock.now(); // once their sends are made
    for (const due of this.#ranDue) this.lateness.record(Math.abs(end - due));
    this.#ranDue.length = 0;
  }

  #arm(): void {
    while (
      this.#heap.length > 0 &&
      this.#generations.get(this.#heap[0].task) !== this.#heap[0].generation
    ) this.#pop();
    if (this.#heap.length === 0) return this.#disarm();
    const due = this.#heap[0].due;
    if (this.#sleeper) return this.#armPrecise(this.#sleeper, due);
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    this.#disarm();
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, due - this.#clock.now()));
  }

  #armPrecise(sleeper: PreciseSleep, due: number): void {
    if (due >= this.#preciseDue && this.#preciseLoop) return;
    this.#preciseDue = due;
    if (!this.#preciseLoop) this.#preciseLoop = this.#runPrecise(sleeper);
    else if (this.#preciseSleeping) sleeper.interrupt();
  }

  /**
   * Sleep until the earliest due time, fire, repeat; every wake-up follows an
   * await, so the event loop (sockets) runs between two of them. Ends when
   * nothing is scheduled.
   */
  async #runPrecise(sleeper: PreciseSleep): Promise<void> {
    try {
      while (this.#preciseDue !== Infinity) {
        this.#preciseSleeping = true;
        let elapsed: boolean;
        try {
          elapsed = await sleeper.sleep(Math.max(0, this.#preciseDue - this.#clock.now()));
        } catch {
          return; // the sleeper was closed
        } finally {
          this.#preciseSleeping = false;
        }
        // Moved, or woke before the due time less the slack.
        if (!elapsed || this.#clock.now() + this.#slack < this.#preciseDue) continue;
        this.#preciseDue = Infinity;
        this.#fire(); // re-arms #preciseDue when more is scheduled
      }
    } finally {
      this.#preciseLoop = undefined;
    }
  }

  /** Resolves once no wake-up is pending (after {@linkcode close}). */
  async idle(): Promise<void> {
    await this.#preciseLoop;
  }

  #disarm(): void {
    if (this.#preciseDue !== Infinity) {
      this.#preciseDue = Infinity;
      if (this.#preciseSleeping) this.#sleeper?.interrupt();
    }
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
