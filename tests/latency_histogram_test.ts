import assert from "node:assert/strict";
import { LatencyHistogram } from "../lib/session/server/latency_histogram.ts";

Deno.test("LatencyHistogram: percentiles within one 0.05 ms bucket of the exact values", () => {
  const histogram = new LatencyHistogram();
  const samples: number[] = [];
  for (let i = 0; i < 10_000; i++) samples.push((i * 7919 % 10_000) / 1000); // 0 … 9.999 ms
  for (const sample of samples) histogram.record(sample);
  samples.sort((a, b) => a - b);
  const exact = (q: number) => samples[Math.ceil(q * samples.length) - 1];
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const got = histogram.quantile(q);
    assert.ok(got >= exact(q) && got <= exact(q) + 0.05, `q ${q}: ${got} vs ${exact(q)}`);
  }
  assert.equal(histogram.count, 10_000);
  assert.equal(histogram.summary().max, 9.999);
});

Deno.test("LatencyHistogram: empty is all zero, negatives count as 0, overflow keeps the max", () => {
  const histogram = new LatencyHistogram();
  assert.deepEqual(histogram.summary(), { count: 0, p50: 0, p99: 0, p999: 0, max: 0 });
  histogram.record(-3);
  assert.equal(histogram.quantile(1), 0);
  histogram.record(1000); // beyond the 250 ms range
  assert.equal(histogram.quantile(1), 1000);
  assert.equal(histogram.summary().max, 1000);
  histogram.reset();
  assert.equal(histogram.count, 0);
});

Deno.test("LatencyHistogram: reset starts the summary afresh, the view since the start keeps all", () => {
  const histogram = new LatencyHistogram();
  for (let i = 0; i < 100; i++) histogram.record(10); // 10 ms
  histogram.reset();
  for (let i = 0; i < 100; i++) histogram.record(0.5);
  assert.equal(histogram.count, 100);
  assert.ok(histogram.summary().p99 <= 0.55);
  assert.equal(histogram.summary().max, 0.5);
  const total = histogram.summarySinceStart();
  assert.equal(total.count, 200);
  assert.equal(total.max, 10);
  assert.ok(total.p99 >= 10 && total.p99 <= 10.05, `p99 since start ${total.p99}`);
  assert.ok(total.p50 <= 0.55, `p50 since start ${total.p50}`);
});

Deno.test("LatencyHistogram.buckets(): cumulative counts below each bound, since the start", () => {
  const histogram = new LatencyHistogram();
  for (const ms of [0, 0.07, 0.3, 1.2, 1.2, 7, 300]) histogram.record(ms);
  histogram.reset(); // does not matter to the buckets
  histogram.record(0.01);
  const buckets = histogram.buckets([0.1, 0.25, 1, 2, 250]);
  assert.deepEqual(buckets.boundsMs, [0.1, 0.25, 1, 2, 250]);
  assert.deepEqual(buckets.counts, [3, 3, 4, 6, 7]);
  assert.equal(buckets.count, 8);
  // Each sample at its bucket's middle; the one past 250 ms at 250 ms.
  const exact = 0 + 0.07 + 0.3 + 1.2 + 1.2 + 7 + 0.01;
  assert.ok(Math.abs(buckets.sumMs - 250 - exact) <= 7 * 0.025 + 1e-9, `sum ${buckets.sumMs}`);
});
