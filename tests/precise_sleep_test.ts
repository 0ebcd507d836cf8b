/**
 * The FFI sleep the pacer wakes with: it sleeps, it can be cut short, and it
 * never leaves a call behind after close(). (How precise it is is measured
 * by `deno task bench`, not asserted here.)
 */
import assert from "node:assert/strict";
import { PreciseSleep, preciseSleepSupport } from "../lib/net/precise_sleep.ts";

function available(name: string): boolean {
  const support = preciseSleepSupport();
  if (support.available) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${name}: PreciseSleep must work in CI: ${support.reason}`);
  }
  console.log(`SKIPPED ${name}: ${support.reason}`);
  return false;
}

Deno.test("PreciseSleep sleeps at least the time asked and reports that it was not cut short", async () => {
  if (!available("PreciseSleep sleeps")) return;
  const sleeper = new PreciseSleep();
  try {
    for (const ms of [0, 0.3, 2, 5]) {
      const start = performance.now();
      assert.equal(await sleeper.sleep(ms), true);
      assert.ok(performance.now() - start >= ms - 0.01, `slept at least ${ms} ms`);
    }
  } finally {
    await sleeper.close();
  }
});

Deno.test("PreciseSleep.interrupt() ends a long sleep at once, or the next one", async () => {
  if (!available("PreciseSleep.interrupt")) return;
  const sleeper = new PreciseSleep();
  try {
    const long = sleeper.sleep(60_000);
    setTimeout(() => sleeper.interrupt(), 5);
    assert.equal(await long, false, "cut short");
    sleeper.interrupt(); // nobody sleeping: the next sleep ends at once
    assert.equal(await sleeper.sleep(60_000), false);
    assert.equal(await sleeper.sleep(1), true, "the interrupt was used up");
    await assert.rejects(
      Promise.all([sleeper.sleep(50), sleeper.sleep(50)]),
      /already running/,
    );
  } finally {
    await sleeper.close();
  }
});

Deno.test("PreciseSleep.close() ends a running sleep and leaves no call behind", async () => {
  if (!available("PreciseSleep.close")) return;
  const sleeper = new PreciseSleep();
  const long = sleeper.sleep(60_000);
  await sleeper.close();
  assert.equal(await long, false);
  await sleeper.close(); // idempotent
  await assert.rejects(sleeper.sleep(1), /closed/);
});
