import assert from "node:assert/strict";
import { formatSummary, ReceptionStats } from "../lib/session/client/reception_stats.ts";

/** Feed packets `[seq, timestamp, arrivalMs, bytes?]`; returns what onPacket said. */
function feed(stats: ReceptionStats, packets: [number, number, number, number?][]) {
  return packets.map(([seq, ts, at, bytes]) => stats.onPacket(seq, ts, at, bytes ?? 100));
}

/** Perfectly paced packets: sequence numbers `seqs`, 20 fps (4500 RTP units, 50 ms). */
function paced(seqs: number[], start = 1000): [number, number, number][] {
  return seqs.map((seq, i) => [seq, i * 4500, start + i * 50]);
}

Deno.test("ReceptionStats: an empty summary", () => {
  const stats = new ReceptionStats();
  assert.equal(stats.started, false);
  const s = stats.summary();
  assert.equal(s.packetsReceived, 0);
  assert.equal(s.packetsExpected, 0);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.lossPercent, 0);
  assert.equal(s.jitterMs, 0);
  assert.equal(s.durationSec, 0);
  assert.equal(s.framesPerSec, 0);
  assert.equal(s.firstFrameMs, null);
});

Deno.test("ReceptionStats: packets in order", () => {
  const stats = new ReceptionStats();
  const results = feed(stats, paced([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]));
  assert.deepEqual(results.map((r) => r.extended), Array.from({ length: 10 }, (_, i) => 100 + i));
  assert.ok(results.every((r) => !r.duplicate));
  assert.equal(stats.started, true);
  const s = stats.summary();
  assert.equal(s.packetsReceived, 10);
  assert.equal(s.packetsExpected, 10);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.duplicates, 0);
  assert.equal(s.outOfOrder, 0);
  assert.equal(s.bytes, 1000);
  assert.equal(s.durationSec, 0.45);
});

Deno.test("ReceptionStats: gaps in the sequence are counted as lost", () => {
  const stats = new ReceptionStats();
  feed(stats, paced([1, 2, 4, 5, 8]));
  const s = stats.summary();
  assert.equal(s.packetsReceived, 5);
  assert.equal(s.packetsExpected, 8);
  assert.equal(s.packetsLost, 3);
  assert.equal(s.lossPercent, 37.5);
  assert.equal(s.outOfOrder, 0);
});

Deno.test("ReceptionStats: duplicates are flagged and not counted as received", () => {
  const stats = new ReceptionStats();
  const results = feed(stats, [
    [1, 0, 0, 10],
    [2, 4500, 50, 20],
    [2, 4500, 51, 20], // duplicate
    [3, 9000, 100, 30],
    [1, 0, 101, 10], // duplicate, late
  ]);
  assert.deepEqual(results.map((r) => r.duplicate), [false, false, true, false, true]);
  const s = stats.summary();
  assert.equal(s.duplicates, 2);
  assert.equal(s.packetsReceived, 3);
  assert.equal(s.packetsExpected, 3);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.bytes, 60, "duplicate payloads are not counted");
  assert.equal(s.durationSec, 0.1, "duplicates do not extend the duration");
});

Deno.test("ReceptionStats: out of order packets are counted and fill their gap", () => {
  const stats = new ReceptionStats();
  feed(stats, paced([1, 3, 2, 4, 6, 5]));
  const s = stats.summary();
  assert.equal(s.outOfOrder, 2);
  assert.equal(s.packetsReceived, 6);
  assert.equal(s.packetsExpected, 6);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.duplicates, 0);
});

Deno.test("ReceptionStats: the sequence number wraps from 65535 to 0", () => {
  const stats = new ReceptionStats();
  const results = feed(stats, paced([65533, 65534, 65535, 0, 1, 2]));
  assert.deepEqual(results.map((r) => r.extended), [65533, 65534, 65535, 65536, 65537, 65538]);
  const s = stats.summary();
  assert.equal(s.packetsExpected, 6);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.outOfOrder, 0);
  assert.equal(s.duplicates, 0);
});

Deno.test("ReceptionStats: loss and reordering across the wrap", () => {
  const stats = new ReceptionStats();
  const results = feed(stats, paced([65534, 1, 65535, 3]));
  assert.deepEqual(results.map((r) => r.extended), [65534, 65537, 65535, 65539]);
  const s = stats.summary();
  assert.equal(s.packetsExpected, 6); // 65534 .. 65539
  assert.equal(s.packetsReceived, 4);
  assert.equal(s.packetsLost, 2); // 0 and 2
  assert.equal(s.outOfOrder, 1); // 65535 after 1
});

Deno.test("ReceptionStats: a duplicate across the wrap is still a duplicate", () => {
  const stats = new ReceptionStats();
  const results = feed(stats, paced([65535, 0, 65535, 0]));
  assert.deepEqual(results.map((r) => r.duplicate), [false, false, true, true]);
  assert.equal(stats.summary().duplicates, 2);
  assert.equal(stats.summary().packetsExpected, 2);
});

Deno.test("ReceptionStats: jitter is zero for perfectly paced arrivals", () => {
  const stats = new ReceptionStats();
  feed(stats, paced(Array.from({ length: 100 }, (_, i) => i), 123_456));
  const s = stats.summary();
  assert.equal(s.jitterRtp, 0);
  assert.equal(s.jitterMs, 0);
});

Deno.test("ReceptionStats: jitter is zero for perfect pacing across a timestamp wrap", () => {
  const stats = new ReceptionStats();
  const base = 0xffff_0000;
  feed(
    stats,
    Array.from(
      { length: 40 },
      (_, i): [number, number, number] => [i, (base + i * 4500) >>> 0, 500 + i * 50],
    ),
  );
  assert.equal(stats.summary().jitterRtp, 0);
});

Deno.test("ReceptionStats: jitter follows RFC 3550 A.8 for a jittery sequence", () => {
  // 20 fps: timestamps 4500 apart (50 ms); arrivals off by +5, -5, +10, 0 ms.
  const arrivals = [0, 55, 95, 160, 200];
  const stats = new ReceptionStats();
  feed(stats, arrivals.map((at, i): [number, number, number] => [i, i * 4500, 1000 + at]));

  // By hand, D(i-1,i) = |(R_i - R_{i-1}) - (S_i - S_{i-1})| in 90 kHz units, J += (|D| - J) / 16:
  //   D = |55 - 50| ms * 90 = 450    J = 450 / 16                  = 28.125
  //   D = |40 - 50| ms * 90 = 900    J = 28.125 + (900 - 28.125) / 16 = 82.6171875
  //   D = |65 - 50| ms * 90 = 1350   J = 82.6171875 + (1350 - 82.6171875) / 16 = 161.82861328125
  //   D = |40 - 50| ms * 90 = 900    J = 161.82861328125 + (900 - 161.82861328125) / 16
  //                                    = 207.964324951171875
  const expected = 207.964324951171875;
  let j = 0;
  for (const d of [450, 900, 1350, 900]) j += (d - j) / 16;
  assert.ok(Math.abs(j - expected) < 1e-9, "the hand computation agrees with itself");

  const s = stats.summary();
  assert.ok(s.jitterRtp > 0);
  assert.equal(s.jitterRtp, 208); // rounded to 0.1 RTP units
  assert.equal(s.jitterMs, Number((expected / 90).toFixed(3))); // 2.311 ms
  assert.equal(s.jitterMs, 2.311);
});

Deno.test("ReceptionStats: jitter after only the first packet is still zero", () => {
  const stats = new ReceptionStats();
  stats.onPacket(7, 123, 456, 10);
  assert.equal(stats.summary().jitterRtp, 0);
});

Deno.test("ReceptionStats: duplicates do not disturb the jitter", () => {
  const stats = new ReceptionStats();
  feed(stats, [[0, 0, 1000], [1, 4500, 1050], [1, 4500, 1077], [2, 9000, 1100]]);
  assert.equal(stats.summary().jitterRtp, 0);
});

Deno.test("ReceptionStats: time to first frame, frame rate and bit rate", () => {
  const stats = new ReceptionStats();
  stats.playSentAt = 950;
  feed(stats, paced([1, 2, 3, 4, 5], 1000).map(([s, t, a]) => [s, t, a, 1000]));
  stats.framesReceived = 5;
  const s = stats.summary();
  assert.equal(s.firstFrameMs, 50);
  assert.equal(s.durationSec, 0.2);
  assert.equal(s.framesPerSec, 20, "5 frames span 4 intervals of 50 ms");
  assert.equal(s.kbitPerSec, 200, "5000 bytes in 0.2 s");
  assert.equal(s.framesReceived, 5);
});

Deno.test("formatSummary() names every figure", () => {
  const stats = new ReceptionStats();
  feed(stats, paced([1, 2, 4]));
  stats.framesReceived = 3;
  const text = formatSummary(stats.summary());
  assert.match(
    text,
    /frames received\s+3 complete; not written: 0 incomplete \(lost fragments\), 0 damaged/,
  );
  assert.match(text, /3 received of 4 expected, 1 lost \(25%\)/);
  assert.match(text, /jitter/);
  assert.match(text, /first frame after -/);
});

// Segments: one per PLAY (a start, a resume after PAUSE, a seek).

/** Packets `seqs` paced at 20 fps from `at` ms, timestamps from `ts` (4500 units, 50 ms apart). */
function pacedFrom(seqs: number[], ts: number, at: number): [number, number, number][] {
  return seqs.map((seq, i) => [seq & 0xffff, (ts + i * 4500) >>> 0, at + i * 50]);
}

/** 0..n-1 shifted by `from`. */
function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

Deno.test("ReceptionStats: a pause is neither loss, jitter nor time spent playing", async (t) => {
  // Ten packets (one per frame), PAUSE, a second of silence, PLAY, ten more.
  const play = pacedFrom(range(100, 10), 0, 1000);
  const resume = pacedFrom(range(110, 10), 10 * 4500, 2500);
  await t.step("in two segments", () => {
    const stats = new ReceptionStats();
    stats.beginSegment(100);
    feed(stats, play);
    stats.beginSegment(110);
    feed(stats, resume);
    stats.framesReceived = 20;
    const s = stats.summary();
    assert.equal(s.segments, 2);
    assert.equal(s.packetsExpected, 20);
    assert.equal(s.packetsLost, 0);
    assert.equal(s.jitterRtp, 0, "the transit starts afresh after the pause");
    assert.equal(s.durationSec, 0.9, "two spans of 0.45 s; the pause is not playing time");
    assert.equal(s.framesPerSec, 20, "(20 frames - 2 segments) / 0.9 s");
  });
  await t.step("counted as one (what a pause used to do)", () => {
    const stats = new ReceptionStats();
    feed(stats, [...play, ...resume]);
    stats.framesReceived = 20;
    const s = stats.summary();
    // D = 1 s of transit = 90000 units at the resume: J = 5625, then 9 decays by 15/16.
    assert.equal(s.jitterRtp, Number((5625 * (15 / 16) ** 9).toFixed(1)));
    assert.equal(s.durationSec, 1.95);
    assert.ok(s.framesPerSec < 10, `${s.framesPerSec} frames/s`);
  });
});

Deno.test("ReceptionStats: a seek that restarts sequence numbers and timestamps is not loss", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(1000);
  feed(stats, pacedFrom(range(1000, 5), 0, 0));
  stats.beginSegment(5000); // another server's seek: new sequence numbers, later media time
  feed(stats, pacedFrom(range(5000, 5), 900_000, 300));
  const s = stats.summary();
  assert.equal(s.packetsExpected, 10);
  assert.equal(s.packetsReceived, 10);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.jitterRtp, 0);
  assert.equal(s.segments, 2);
});

Deno.test("ReceptionStats: a segment's lost first packets count from its RTP-Info seq", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(10);
  feed(stats, pacedFrom([12, 13, 14], 0, 0)); // 10 and 11 lost
  stats.beginSegment(); // no RTP-Info: the segment starts at the next packet
  feed(stats, pacedFrom([20, 21, 22], 90_000, 1000));
  const s = stats.summary();
  assert.equal(s.packetsExpected, 5 + 3);
  assert.equal(s.packetsLost, 2);
  assert.equal(stats.reportBlock(1, 2000).cumulativeLost, 2, "receiver reports agree");
});

Deno.test("ReceptionStats: a packet sent before a seek and received after it counts for its own segment", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(0);
  feed(stats, pacedFrom(range(0, 5), 0, 0)); // arrive at 0..200 ms
  stats.beginSegment(6); // the seek's reply: its packets start at 6; 5 is still on its way
  const results = feed(stats, [
    [6, 900_000, 260],
    [7, 904_500, 310],
    [5, 5 * 4500, 320], // 70 ms late
  ]);
  assert.deepEqual(results.map((r) => r.extended), [6, 7, 5]);
  const s = stats.summary();
  assert.equal(s.packetsExpected, 8);
  assert.equal(s.packetsLost, 0);
  assert.equal(s.outOfOrder, 1);
  assert.equal(s.segments, 2);
  // The first segment ends where the second began (260 ms), not at the straggler (320).
  assert.equal(s.durationSec, 0.26 + 0.05);
  // Its transit is compared with packet 4's (same segment): D = 120 ms * 90 - 4500 = 6300.
  assert.equal(s.jitterRtp, Number((6300 / 16).toFixed(1)));
});

Deno.test("ReceptionStats: segments across the sequence number wrap", async (t) => {
  await t.step("a resume just before the wrap", () => {
    const stats = new ReceptionStats();
    stats.beginSegment(65530);
    feed(stats, pacedFrom(range(65530, 4), 0, 0));
    stats.beginSegment(65534);
    const results = feed(stats, pacedFrom(range(65534, 4), 4 * 4500, 2000));
    assert.deepEqual(results.map((r) => r.extended), [65534, 65535, 65536, 65537]);
    assert.equal(stats.extend(2), 65538);
    assert.equal(stats.summary().packetsExpected, 8);
    assert.equal(stats.summary().packetsLost, 0);
  });
  await t.step("the first packets lost across the wrap", () => {
    const stats = new ReceptionStats();
    stats.beginSegment(65535); // the PLAY reply's seq; 65535 and 0 never arrive
    const [first] = feed(stats, pacedFrom([1], 0, 0));
    assert.equal(first.extended, 65537, "extended from the announced seq, not from 1");
    assert.equal(stats.summary().packetsExpected, 3);
    assert.equal(stats.summary().packetsLost, 2);
  });
});

Deno.test("ReceptionStats: a PLAY that brought nothing leaves no segment", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(10);
  stats.beginSegment(20); // e.g. PLAY, PAUSE at once, PLAY again from elsewhere
  feed(stats, pacedFrom([20, 21], 0, 0));
  const s = stats.summary();
  assert.equal(s.segments, 1);
  assert.equal(s.packetsExpected, 2);
  assert.equal(s.packetsLost, 0);
});

Deno.test("formatSummary() says where the stream started", () => {
  const stats = new ReceptionStats();
  assert.equal(stats.summary().startSec, null);
  assert.match(formatSummary(stats.summary()), /^started at {8}-$/m);
  stats.startSec = 5;
  assert.equal(stats.summary().startSec, 5);
  assert.match(formatSummary(stats.summary()), /^started at {8}npt 5\.000 s$/m);
});
