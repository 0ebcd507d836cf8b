import assert from "node:assert/strict";
import {
  AUTO_GRID_SESSIONS_PER_WAKE,
  autoGridMs,
  type PacedTask,
  Pacer,
} from "../lib/session/server/pacer.ts";
import { realClock } from "../lib/net/clock.ts";
import { PreciseSleep, preciseSleepSupport } from "../lib/net/precise_sleep.ts";
import { FakeClock } from "./_fake_clock.ts";

/** A task that records when it ran and is due every `period` ms, `runs` times in all. */
class PeriodicTask implements PacedTask {
  readonly times: number[] = [];
  constructor(readonly period: number, readonly runs: number) {}
  onDue(now: number): number | undefined {
    this.times.push(now);
    return this.times.length < this.runs ? now + this.period : undefined;
  }
}

/** A task that records when it ran and runs once. */
function onceTask(log: string[] = [], name = "task"): PacedTask & { times: number[] } {
  const times: number[] = [];
  return {
    times,
    onDue(now) {
      times.push(now);
      log.push(name);
      return undefined;
    },
  };
}

Deno.test("Pacer runs a task at its due time and again at each time it returns", () => {
  const clock = new FakeClock(1000);
  const pacer = new Pacer(clock);
  const task = new PeriodicTask(40, 5);
  pacer.schedule(task, 1010);
  assert.equal(pacer.size, 1);
  assert.equal(clock.pending, 1);
  clock.advance(9);
  assert.deepEqual(task.times, []);
  clock.advance(1);
  assert.deepEqual(task.times, [1010]);
  clock.advance(1000);
  assert.deepEqual(task.times, [1010, 1050, 1090, 1130, 1170]);
  assert.equal(pacer.size, 0, "a task that returns undefined is unscheduled");
  assert.equal(clock.pending, 0, "no timer is left once nothing is scheduled");
  pacer.close();
});

Deno.test("Pacer runs a task due in the past at the next wake-up", () => {
  const clock = new FakeClock(500);
  const pacer = new Pacer(clock);
  const task = onceTask();
  pacer.schedule(task, 100);
  clock.advance(0);
  assert.deepEqual(task.times, [500]);
  pacer.close();
});

Deno.test("Pacer runs tasks in order of due time; equal due times share one wake-up", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const log: string[] = [];
  pacer.schedule(onceTask(log, "c"), 30);
  pacer.schedule(onceTask(log, "a"), 10);
  pacer.schedule(onceTask(log, "b1"), 20);
  pacer.schedule(onceTask(log, "b2"), 20);
  const before = clock.timersSet;
  clock.advance(100);
  assert.deepEqual(log.slice(0, 1), ["a"]);
  assert.deepEqual(new Set(log.slice(1, 3)), new Set(["b1", "b2"]));
  assert.deepEqual(log.slice(3), ["c"]);
  // One wake-up at 10, one at 20 (both b tasks), one at 30.
  assert.equal(clock.timersSet - before, 2, "re-armed for 20 and 30 only");
  pacer.close();
});

Deno.test("Pacer.schedule() replaces the earlier schedule of the same task", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const later = onceTask();
  pacer.schedule(later, 50);
  pacer.schedule(later, 200);
  assert.equal(pacer.size, 1);
  clock.advance(1000);
  assert.deepEqual(later.times, [200]);

  const earlier = onceTask();
  pacer.schedule(earlier, 1500);
  pacer.schedule(earlier, 1100);
  clock.advance(1000);
  assert.deepEqual(earlier.times, [1100], "runs once, at the newer time");
  assert.equal(clock.pending, 0);
  pacer.close();
});

Deno.test("Pacer.cancel() stops a task; the timer is released once nothing is due", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const kept = new PeriodicTask(10, 3);
  const cancelled = new PeriodicTask(10, 100);
  pacer.schedule(kept, 10);
  pacer.schedule(cancelled, 5);
  clock.advance(5);
  assert.deepEqual(cancelled.times, [5]);
  pacer.cancel(cancelled);
  assert.equal(pacer.size, 1);
  clock.advance(100);
  assert.deepEqual(cancelled.times, [5]);
  assert.deepEqual(kept.times, [10, 20, 30]);
  assert.equal(pacer.size, 0);
  assert.equal(clock.pending, 0);
  pacer.close();
});

Deno.test("Pacer.close() cancels everything and clears its timer", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const tasks = Array.from({ length: 10 }, (_, i) => new PeriodicTask(7, 100 + i));
  tasks.forEach((t, i) => pacer.schedule(t, i));
  clock.advance(20);
  pacer.close();
  assert.equal(pacer.size, 0);
  assert.equal(clock.pending, 0);
  const counts = tasks.map((t) => t.times.length);
  clock.advance(1000);
  assert.deepEqual(tasks.map((t) => t.times.length), counts);
});

Deno.test("Pacer: a task rescheduled from inside onDue keeps the new schedule", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const times: number[] = [];
  const task: PacedTask = {
    onDue(now) {
      times.push(now);
      if (times.length === 1) pacer.schedule(task, now + 100);
      return times.length === 1 ? now + 1 : undefined; // now + 1 is ignored: the inside schedule wins
    },
  };
  pacer.schedule(task, 10);
  clock.advance(500);
  assert.deepEqual(times, [10, 110]);
  assert.equal(pacer.size, 0);
  pacer.close();
});

Deno.test("Pacer: a task that throws is stopped and the others go on", () => {
  const clock = new FakeClock();
  const pacer = new Pacer(clock);
  const errors: unknown[][] = [];
  const originalError = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    let failures = 0;
    const failing: PacedTask = {
      onDue() {
        failures++;
        throw new Error("boom");
      },
    };
    const healthy = new PeriodicTask(10, 5);
    pacer.schedule(failing, 10);
    pacer.schedule(healthy, 10);
    clock.advance(100);
    assert.equal(failures, 1);
    assert.deepEqual(healthy.times, [10, 20, 30, 40, 50]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0][0]), /task failed/);
    assert.equal(pacer.size, 0);
  } finally {
    console.error = originalError;
    pacer.close();
  }
});

Deno.test("Pacer: many tasks share one timer and each runs exactly on its schedule", () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(clock);
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const tasks: { task: PeriodicTask; start: number }[] = [];
  for (let i = 0; i < 300; i++) {
    const period = 1000 / (5 + Math.floor(random() * 56)); // 5-60 per second, fractional ms
    const task = new PeriodicTask(period, 10 + Math.floor(random() * 40));
    const start = Math.floor(random() * 500);
    tasks.push({ task, start });
    pacer.schedule(task, start);
    assert.ok(clock.pending <= 1, `${clock.pending} timers pending after ${i + 1} schedules`);
  }
  for (let step = 0; step < 5000 && pacer.size > 0; step++) {
    clock.advance(3);
    assert.ok(clock.pending <= 1, `${clock.pending} timers pending at ${clock.now()} ms`);
  }
  assert.equal(pacer.size, 0, "every task finished");
  assert.equal(clock.maxPending, 1, "never more than one timer at once");
  for (const { task, start } of tasks) {
    assert.equal(task.times.length, task.runs);
    task.times.forEach((t, k) => {
      // Each run returns now + period, so run k is at start + k * period (up to rounding).
      assert.ok(Math.abs(t - (start + k * task.period)) < 1e-6, `run ${k} at ${t}`);
    });
  }
  assert.equal(clock.pending, 0);
  pacer.close();
});

Deno.test("Pacer: a task that asks to run again at once waits for the next wake-up", () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(clock);
  let greedyRuns = 0;
  const greedy: PacedTask = {
    onDue: (now) => ++greedyRuns < 5 ? now : undefined, // "again, immediately"
  };
  const other = onceTask();
  pacer.schedule(greedy, 0);
  pacer.schedule(other, 0);
  const timersBefore = clock.timersSet;
  clock.advance(0);
  assert.equal(greedyRuns, 5);
  assert.deepEqual(other.times, [0]);
  // Each run after the first came from a new timer: a wake-up of its own,
  // with the event loop (sockets, other tasks) free in between.
  assert.equal(clock.timersSet - timersBefore, 4);
  assert.equal(pacer.size, 0);
  pacer.close();
});

Deno.test("Pacer.lateness: how late each run was, measured at the end of its wake-up", () => {
  const clock = new FakeClock(0);
  clock.lateness = 3; // every OS timer fires 3 ms late
  const pacer = new Pacer(clock);
  pacer.schedule(new PeriodicTask(10, 4), 10);
  clock.advance(100);
  const summary = pacer.lateness.summary();
  assert.equal(summary.count, 4);
  assert.ok(summary.p50 >= 3 && summary.p50 <= 3.05, `p50 ${summary.p50}`);
  assert.equal(summary.max, 3);
  pacer.close();
});

Deno.test("Pacer slackMs: tasks due within the slack share the wake-up, seeing its end as now", () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(clock, { slackMs: 0.5 });
  const seen: [string, number][] = [];
  const task = (name: string): PacedTask => ({
    onDue: (now) => void seen.push([name, now]),
  });
  pacer.schedule(task("a"), 10);
  pacer.schedule(task("b"), 10.4); // within 0.5 ms of a: same wake-up
  pacer.schedule(task("c"), 10.6); // beyond: a wake-up of its own
  const before = clock.timersSet;
  clock.advance(20);
  assert.deepEqual(seen, [["a", 10.5], ["b", 10.5], ["c", 11.1]]);
  assert.equal(clock.timersSet - before, 1, "one more timer, for c");
  // Lateness counts distance from the due time either way: a 0, b 0.4 early, c 0.
  assert.ok(Math.abs(pacer.lateness.summary().max - 0.4) < 1e-9);
  pacer.close();
});

Deno.test("Pacer.lateness includes the sends afterWake makes", () => {
  let now = 0;
  const clock = new FakeClock(0);
  const timed = { ...clock, now: () => clock.now() + now } as unknown as FakeClock;
  let flushes = 0;
  // The wake-up's batched flush takes 2 ms.
  const pacer = new Pacer(
    {
      now: timed.now,
      setTimeout: (f, ms) => clock.setTimeout(f, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
    },
    { afterWake: () => void (flushes++, now += 2) },
  );
  pacer.schedule({ onDue: () => undefined }, 10);
  pacer.schedule({ onDue: () => undefined }, 10);
  clock.advance(10);
  assert.equal(flushes, 1, "one flush for the wake-up");
  assert.equal(pacer.lateness.summary().max, 2);
  pacer.close();
});

Deno.test("Pacer: a wake-up with many tasks due flushes every flushEvery tasks, each chunk's lateness after its own sends", () => {
  let now = 0;
  const clock = new FakeClock(0);
  const flushedAfter: number[] = [];
  let ran = 0;
  const pacer = new Pacer(
    {
      now: () => clock.now() + now,
      setTimeout: (f, ms) => clock.setTimeout(f, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
    },
    // Each flush takes 1 ms.
    { flushEvery: 4, afterWake: () => void (flushedAfter.push(ran), now += 1) },
  );
  for (let i = 0; i < 10; i++) pacer.schedule({ onDue: () => void ran++ }, 10);
  clock.advance(10);
  assert.equal(ran, 10, "every task ran");
  assert.deepEqual(flushedAfter, [4, 8, 10], "a flush after each 4 tasks and one at the end");
  // Lateness: 4 tasks at 1 ms, 4 at 2 ms, 2 at 3 ms; one flush at the end would give 10 at 1 ms.
  const summary = pacer.lateness.summary();
  assert.equal(summary.count, 10);
  assert.equal(summary.max, 3);
  pacer.close();
});

Deno.test("Pacer with a PreciseSleep: tasks run in order, none before its time; close() leaves nothing", async () => {
  if (!preciseSleepSupport().available) {
    if (Deno.env.get("CI") === "true") throw new Error("PreciseSleep must work in CI");
    console.log(`SKIPPED Pacer precise: ${preciseSleepSupport().reason}`);
    return;
  }
  const sleeper = new PreciseSleep();
  const pacer = new Pacer(realClock, { sleeper, slackMs: 0.5 });
  const ran: [string, number, number][] = [];
  const done = Promise.withResolvers<void>();
  const task = (name: string, last = false): PacedTask => ({
    onDue: (now) => {
      ran.push([name, now, performance.now()]);
      if (last) done.resolve();
      return undefined;
    },
  });
  const start = performance.now();
  const dues: Record<string, number> = { a: start + 20, b: start + 30, c: start + 45 };
  pacer.schedule(task("c", true), dues.c);
  pacer.schedule(task("a"), dues.a);
  pacer.schedule(task("b"), dues.b);
  const cancelled = task("x");
  pacer.schedule(cancelled, start + 10);
  pacer.cancel(cancelled);
  // An earlier task scheduled while the pacer sleeps towards a later one wakes it sooner.
  await new Promise((resolve) => setTimeout(resolve, 1));
  dues.d = performance.now() + 3;
  pacer.schedule(task("d"), dues.d);
  await done.promise;
  assert.deepEqual(ran.map(([name]) => name), ["d", "a", "b", "c"]);
  for (const [name, , at] of ran) assert.ok(at >= dues[name] - 0.5, `${name} not before its time`);
  pacer.close();
  await pacer.idle();
  await sleeper.close();
});

Deno.test("autoGridMs: the whole period for a few sessions, finer for more, none for a lone one or for thousands; always a divisor of the period", () => {
  assert.equal(autoGridMs(0, 50), 0);
  assert.equal(autoGridMs(1, 50), 0, "a lone session gains nothing from waiting");
  assert.equal(autoGridMs(2, 50), 50, "a few share one wake-up per frame");
  assert.equal(autoGridMs(50, 50), 50);
  assert.equal(autoGridMs(51, 50), 25);
  assert.equal(autoGridMs(100, 50), 25);
  assert.equal(autoGridMs(200, 50), 12.5);
  assert.equal(autoGridMs(1000, 50), 2.5);
  assert.equal(autoGridMs(2000, 50), 0, "under 2 ms: wake-ups are full anyway");
  for (const n of [2, 3, 7, 20, 33, 64, 100, 150, 400, 999]) {
    const grid = autoGridMs(n, 50);
    assert.ok(grid > 0, `${n} sessions have a grid`);
    const k = 50 / grid;
    assert.ok(Math.abs(k - Math.round(k)) < 1e-9, `${grid} divides the period`);
    assert.ok(n / k <= AUTO_GRID_SESSIONS_PER_WAKE, `${n} sessions: ${grid} ms`);
    assert.ok(n / (k - 1) > AUTO_GRID_SESSIONS_PER_WAKE || k === 1, `${n}: the coarsest such grid`);
  }
});
