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
