/**
 * FrameLog (lib/session/client/frame_log.ts): evenly spaced thumbnails
 * picked without knowing the frame count, and marks for the frames missing,
 * incomplete or damaged, within bounds.
 */
import assert from "node:assert/strict";
import { FrameLog } from "../lib/session/client/frame_log.ts";

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);

Deno.test("FrameLog: keeps no thumbnail by default", () => {
  const log = new FrameLog();
  for (let f = 1; f <= 10; f++) log.onComplete(f, JPEG);
  const snapshot = log.snapshot();
  assert.deepEqual(snapshot.thumbnails, []);
  assert.equal(snapshot.complete, 10);
  assert.deepEqual(snapshot.marks, []);
});

Deno.test("FrameLog: every Nth complete frame, N the least power of two that keeps the limit", async (t) => {
  // [complete frames, N, thumbnails] with at most 60 thumbnails.
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [60, 1, 60],
    [61, 2, 31],
    [120, 2, 60],
    [121, 4, 31],
    [1000, 32, 32],
  ];
  for (const [count, every, kept] of cases) {
    await t.step(`${count} complete frames`, () => {
      const log = new FrameLog({ thumbnails: 60 });
      for (let f = 1; f <= count; f++) log.onComplete(f, Uint8Array.of(f & 0xff));
      const snapshot = log.snapshot();
      assert.equal(snapshot.every, every);
      assert.equal(snapshot.thumbnails.length, kept);
      assert.equal(kept, Math.ceil(count / every));
      assert.deepEqual(
        snapshot.thumbnails.map((th) => th.frame),
        Array.from({ length: kept }, (_, i) => 1 + i * every),
      );
      if (kept > 1) assert.deepEqual(snapshot.thumbnails[1].jpeg, Uint8Array.of(1 + every));
    });
  }
});

Deno.test("FrameLog: a thumbnail is a copy of the frame's bytes", () => {
  const log = new FrameLog({ thumbnails: 5 });
  const buffer = Uint8Array.of(1, 2, 3);
  log.onComplete(1, buffer);
  buffer[0] = 9;
  assert.deepEqual(log.snapshot().thumbnails[0].jpeg, Uint8Array.of(1, 2, 3));
});

Deno.test("FrameLog: marks missing runs, incomplete and damaged frames by number", () => {
  const log = new FrameLog({ thumbnails: 60 });
  log.onComplete(1, JPEG);
  log.onComplete(2, JPEG);
  log.onIncomplete(3);
  log.onComplete(5, JPEG); // 4 missing
  log.onDamaged(6);
  log.onComplete(10, JPEG); // 7-9 missing
  const snapshot = log.snapshot();
  assert.deepEqual(snapshot.marks, [
    { frame: 3, kind: "incomplete" },
    { frame: 4, kind: "missing" },
    { frame: 6, kind: "damaged" },
    { frame: 7, to: 9, kind: "missing" },
  ]);
  assert.equal(snapshot.thumbnails.length, 4);
  assert.equal(snapshot.complete, 4);
});

Deno.test("FrameLog: a late frame is taken out of the missing ones", () => {
  const log = new FrameLog();
  log.onComplete(1, JPEG);
  log.onComplete(6, JPEG); // 2-5 missing
  log.onComplete(3, JPEG); // late: 2 and 4-5 stay missing
  log.onDamaged(5); // late and damaged
  assert.deepEqual(log.snapshot().marks, [
    { frame: 2, kind: "missing" },
    { frame: 4, kind: "missing" },
    { frame: 5, kind: "damaged" },
  ]);
});

Deno.test("FrameLog: a jump across a PLAY (a seek) is not a loss", () => {
  const log = new FrameLog();
  log.onComplete(1, JPEG);
  log.onComplete(2, JPEG);
  log.beginSegment();
  log.onComplete(101, JPEG);
  log.onComplete(103, JPEG);
  log.beginSegment();
  log.onComplete(40, JPEG); // backwards
  assert.deepEqual(log.snapshot().marks, [{ frame: 102, kind: "missing" }]);
});

Deno.test("FrameLog: marks are bounded; unnumbered incomplete frames are counted", () => {
  const log = new FrameLog({ marks: 3 });
  for (let f = 1; f <= 10; f++) log.onDamaged(f);
  log.onIncomplete(undefined);
  const snapshot = log.snapshot();
  assert.equal(snapshot.marks.length, 3);
  assert.equal(snapshot.marksLeftOut, 7);
  assert.equal(snapshot.unnumbered, 1);
});
