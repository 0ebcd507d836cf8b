/**
 * The per-second series and the packet timeline that ReceptionStats keeps
 * beside its totals (lib/session/client/reception_series.ts): seconds from
 * the first packet, every second present, sums equal to the summary, and a
 * timeline that stays within its bound.
 */
import assert from "node:assert/strict";
import { ReceptionStats } from "../lib/session/client/reception_stats.ts";
import type { PerSecondSeries } from "../lib/session/client/reception_series.ts";

/** Feed packets `[seq, arrivalMs, bytes?]`, 20 fps timestamps paced with arrival. */
function feed(stats: ReceptionStats, packets: [number, number, number?][]): void {
  for (const [seq, at, bytes] of packets) stats.onPacket(seq, at * 90, at, bytes ?? 100);
}

const sum = (values: (number | null)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0);

/** Each series summed equals the summary's count. */
function assertSumsMatch(stats: ReceptionStats, series: PerSecondSeries): void {
  const s = stats.summary();
  assert.equal(sum(series.packets), s.packetsReceived, "packets");
  assert.equal(sum(series.lost), s.packetsLost, "lost");
  assert.equal(sum(series.duplicates), s.duplicates, "duplicates");
  assert.equal(sum(series.outOfOrder), s.outOfOrder, "outOfOrder");
  assert.equal(sum(series.bytes), s.bytes, "bytes");
  assert.equal(sum(series.frames), s.framesReceived, "frames");
  assert.equal(sum(series.framesIncomplete), s.framesIncomplete, "framesIncomplete");
  assert.equal(sum(series.framesDamaged), s.framesDamaged, "framesDamaged");
  const n = series.second.length;
  for (const [name, values] of Object.entries(series)) assert.equal(values.length, n, name);
}

Deno.test("ReceptionSeries: an empty session has no seconds and no timeline", () => {
  const stats = new ReceptionStats();
  const series = stats.series.perSecond();
  assert.deepEqual(series.second, []);
  assert.deepEqual(series.jitterMs, []);
  const timeline = stats.series.timeline();
  assert.deepEqual(timeline.entries, []);
  assert.equal(timeline.leftOut, 0);
  stats.countFrame("received"); // before any packet: counted in the total only
  assert.equal(stats.framesReceived, 1);
  assert.deepEqual(stats.series.perSecond().frames, []);
});

Deno.test("ReceptionSeries: counts per second from the first packet, with every second present", () => {
  const stats = new ReceptionStats();
  // Second 0: 3 packets; second 1: none (a pause); second 2: 2 packets, 250 bytes.
  feed(stats, [[10, 5000], [11, 5400], [12, 5999], [13, 7000, 150], [14, 7500]]);
  stats.countFrame("received");
  stats.countFrame("incomplete");
  const series = stats.series.perSecond();
  assert.deepEqual(series.second, [0, 1, 2]);
  assert.deepEqual(series.packets, [3, 0, 2]);
  assert.deepEqual(series.bytes, [300, 0, 250]);
  assert.deepEqual(series.kbitPerSec, [2.4, 0, 2]);
  assert.deepEqual(series.lost, [0, 0, 0]);
  assert.deepEqual(series.frames, [0, 0, 1]);
  assert.deepEqual(series.framesIncomplete, [0, 0, 1]);
  assert.equal(series.jitterMs[1], null, "no packet, no jitter");
  assert.equal(typeof series.jitterMs[0], "number");
  assert.equal(typeof series.jitterMs[2], "number");
  assertSumsMatch(stats, series);
});

Deno.test("ReceptionSeries: loss counts in the second the gap shows, and a late packet counts back", () => {
  const stats = new ReceptionStats();
  // 100, 101, then 104: 102 and 103 are missing in second 0. 102 arrives in second 1.
  feed(stats, [[100, 0], [101, 100], [104, 200], [105, 1100], [102, 1200], [106, 1300]]);
  const series = stats.series.perSecond();
  assert.deepEqual(series.lost, [2, -1]);
  assert.deepEqual(series.outOfOrder, [0, 1]);
  assert.equal(stats.summary().packetsLost, 1);
  assertSumsMatch(stats, series);
  const events = stats.series.timeline().entries.filter((e) => e.kind !== "packet");
  assert.deepEqual(events, [
    { t: 0.2, seq: 102, kind: "gap", count: 2 },
    { t: 1.2, seq: 102, kind: "reordered" },
  ]);
});

Deno.test("ReceptionSeries: duplicates count apart from packets and bytes", () => {
  const stats = new ReceptionStats();
  feed(stats, [[1, 0], [2, 10], [2, 20], [3, 30]]);
  const series = stats.series.perSecond();
  assert.deepEqual(series.packets, [3]);
  assert.deepEqual(series.duplicates, [1]);
  assert.deepEqual(series.bytes, [300]);
  assertSumsMatch(stats, series);
  const kinds = stats.series.timeline().entries.map((e) => e.kind);
  assert.deepEqual(kinds, ["packet", "packet", "duplicate", "packet"]);
});

Deno.test("ReceptionSeries: a new segment (a seek) is not a gap", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(1000);
  feed(stats, [[1000, 0], [1001, 50]]);
  stats.beginSegment(5000); // the PLAY reply's RTP-Info seq after a seek
  feed(stats, [[5000, 100], [5002, 150]]); // 5001 lost
  const timeline = stats.series.timeline();
  const gaps = timeline.entries.filter((e) => e.kind === "gap");
  assert.deepEqual(gaps, [{ t: 0.15, seq: 5001, kind: "gap", count: 1 }]);
  assert.deepEqual(stats.series.perSecond().lost, [1]);
  assertSumsMatch(stats, stats.series.perSecond());
});

Deno.test("ReceptionSeries: a segment's first packet after its announced base is a gap", () => {
  const stats = new ReceptionStats();
  stats.beginSegment(200);
  feed(stats, [[203, 0], [204, 50]]);
  const gaps = stats.series.timeline().entries.filter((e) => e.kind === "gap");
  assert.deepEqual(gaps, [{ t: 0, seq: 200, kind: "gap", count: 3 }]);
  assert.equal(stats.summary().packetsLost, 3);
});

Deno.test("ReceptionSeries: the timeline keeps the first packets, then only events, up to its limit", () => {
  const stats = new ReceptionStats(undefined, { timelinePackets: 5, timelineLimit: 8 });
  const packets: [number, number][] = [];
  for (let seq = 0; seq < 20; seq++) packets.push([seq, seq * 10]);
  feed(stats, packets.filter(([seq]) => seq !== 12 && seq !== 15 && seq !== 18)); // 3 gaps
  feed(stats, [[19, 300], [19, 310]]); // 2 duplicates
  const timeline = stats.series.timeline();
  assert.equal(timeline.firstPackets, 5);
  assert.equal(timeline.limit, 8);
  assert.deepEqual(
    timeline.entries.map((e) => `${e.kind} ${e.seq}`),
    [
      "packet 0",
      "packet 1",
      "packet 2",
      "packet 3",
      "packet 4",
      "gap 12",
      "gap 15",
      "gap 18",
    ],
  );
  assert.equal(timeline.leftOut, 2, "the two duplicates came after the limit");
});

Deno.test("ReceptionSeries: a long pause adds empty seconds, and the open second is reported so far", () => {
  const stats = new ReceptionStats();
  feed(stats, [[1, 0], [2, 10]]);
  assert.deepEqual(stats.series.perSecond().packets, [2]);
  feed(stats, [[3, 60_500]]);
  const series = stats.series.perSecond();
  assert.equal(series.second.length, 61);
  assert.equal(series.packets[60], 1);
  assert.equal(sum(series.packets.slice(1, 60)), 0);
  assert.ok(series.jitterMs.slice(1, 60).every((j) => j === null));
  assertSumsMatch(stats, series);
});

Deno.test("ReceptionSeries: the per-second sums match the summary under random loss, reordering and duplication", () => {
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const stats = new ReceptionStats();
  let at = 0;
  const order: number[] = [];
  for (let seq = 0; seq < 3000; seq++) {
    if (random() < 0.03) continue; // lost
    order.push(seq);
    if (random() < 0.02) order.push(seq); // duplicated
  }
  for (let i = 0; i + 1 < order.length; i++) {
    if (random() < 0.03) [order[i], order[i + 1]] = [order[i + 1], order[i]];
  }
  for (const seq of order) {
    at += random() * 5;
    stats.onPacket(seq & 0xffff, seq * 450, at, 1000);
    if (random() < 0.1) stats.countFrame(random() < 0.8 ? "received" : "damaged");
  }
  assertSumsMatch(stats, stats.series.perSecond());
  const timeline = stats.series.timeline();
  assert.ok(timeline.entries.length <= timeline.limit);
});
