import assert from "node:assert/strict";
import { FrameNumberer } from "../lib/session/client/frame_numberer.ts";

/** RTP clock ticks per frame at 20 fps. */
const STEP = 90000 / 20;

Deno.test("FrameNumberer numbers frames as the file does, from the PLAY reply's Range and RTP-Info", () => {
  const numberer = new FrameNumberer(20);
  numberer.addPlay({ sequence: 1000, rtptime: 123_456, startSec: 5 });
  assert.equal(numberer.frameNumber(1000, 123_456), 101, "npt 5.000 is frame 101");
  assert.equal(numberer.frameNumber(1008, 123_456 + STEP), 102);
  assert.equal(numberer.frameNumber(1312, 123_456 + 39 * STEP), 140);
});

Deno.test("FrameNumberer follows timestamps across their wrap at 2^32", () => {
  const numberer = new FrameNumberer(20);
  const rtptime = 2 ** 32 - STEP;
  numberer.addPlay({ sequence: 7, rtptime, startSec: 0 });
  assert.equal(numberer.frameNumber(7, rtptime), 1);
  assert.equal(numberer.frameNumber(15, 0), 2);
  assert.equal(numberer.frameNumber(23, STEP), 3);
});

Deno.test("FrameNumberer keeps the earlier mapping for a packet sent before a seek and completed after it", () => {
  const numberer = new FrameNumberer(20);
  numberer.addPlay({ sequence: 0, rtptime: 1000, startSec: 0 });
  numberer.addPlay({ sequence: 50, rtptime: 3_000_000_000, startSec: 2 }); // seek 2
  assert.equal(numberer.frameNumber(50, 3_000_000_000), 41);
  assert.equal(numberer.frameNumber(58, 3_000_000_000 + STEP), 42);
  // Frame 10's last packet (49) arrives after the seek's first ones.
  assert.equal(numberer.frameNumber(49, 1000 + 9 * STEP), 10);
  // Read by the seek's mapping it would have been a frame far away.
  assert.notEqual(numberer.frameNumber(50, 1000 + 9 * STEP), 10);
});

Deno.test("FrameNumberer handles a seek backwards (timestamps before the mapping's)", () => {
  const numberer = new FrameNumberer(20);
  numberer.addPlay({ sequence: 0, rtptime: 500_000, startSec: 4 });
  numberer.addPlay({ sequence: 100, rtptime: 500_000 - 80 * STEP, startSec: 0 });
  assert.equal(numberer.frameNumber(99, 500_000 + 12 * STEP), 93);
  assert.equal(numberer.frameNumber(100, 500_000 - 80 * STEP), 1);
});

Deno.test("FrameNumberer.addPlay() keeps mappings in sequence order and replaces one for the same packet", () => {
  const numberer = new FrameNumberer(20);
  numberer.addPlay({ sequence: 100, rtptime: 0, startSec: 5 });
  numberer.addPlay({ sequence: 10, rtptime: 0, startSec: 1 }); // added late, sorted in
  numberer.addPlay({ sequence: 100, rtptime: 0, startSec: 6 }); // replaces the first
  assert.equal(numberer.frameNumber(50, 0), 21);
  assert.equal(numberer.frameNumber(100, 0), 121);
});

Deno.test("FrameNumberer without RTP-Info numbers from the first timestamp", () => {
  const numberer = new FrameNumberer(20);
  numberer.firstTimestamp = 2 ** 32 - STEP;
  assert.equal(numberer.frameNumber(1, 2 ** 32 - STEP), 1);
  assert.equal(numberer.frameNumber(9, STEP), 3, "across the wrap");
});

Deno.test("FrameNumberer without a frame rate counts frames as they come", () => {
  const numberer = new FrameNumberer(undefined);
  numberer.addPlay({ sequence: 0, rtptime: 0, startSec: 5 });
  assert.deepEqual([0, 90_000, 45].map((ts, i) => numberer.frameNumber(i, ts)), [1, 2, 3]);
});

Deno.test("FrameNumberer at 25 fps", () => {
  const numberer = new FrameNumberer(25);
  numberer.addPlay({ sequence: 0, rtptime: 42, startSec: 4.04 });
  assert.equal(numberer.frameNumber(0, 42), 102);
  assert.equal(numberer.frameNumber(9, 42 + 3600), 103);
});
