import assert from "node:assert/strict";
import {
  FrameStream,
  type FrameStreamOptions,
  type TaskScheduler,
} from "../lib/session/server/frame_stream.ts";
import { Pacer } from "../lib/session/server/pacer.ts";
import { InvalidRangeError, type OutgoingFrame } from "../lib/session/server/served_stream.ts";
import { VIDEO_CLOCK_RATE } from "../lib/wire/rtp_packet.ts";
import { FakeClock } from "./_fake_clock.ts";

/** `n` distinct one-byte-tagged frames. */
function makeFrames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => Uint8Array.of(i & 0xff, i >> 8, 0xaa));
}

interface Sent extends OutgoingFrame {
  at: number;
}

/** A stream driven by a pacer on a fake clock, recording what it sends and when. */
function setup(options: Partial<FrameStreamOptions> & { frameCount?: number; start?: number }) {
  const clock = new FakeClock(options.start ?? 0);
  const pacer = new Pacer(clock);
  const sent: Sent[] = [];
  let ends = 0;
  const stream = new FrameStream({
    frames: options.frames ?? makeFrames(options.frameCount ?? 10),
    fps: options.fps ?? 25,
    loop: options.loop,
    timestampBase: options.timestampBase ?? 0,
    maxBurst: options.maxBurst,
    scheduler: pacer,
    send: (frame) => sent.push({ ...frame, at: clock.now() }),
    onEnd: () => ends++,
  });
  return {
    clock,
    pacer,
    stream,
    sent,
    ends: () => ends,
    /** PLAY as the server does it. */
    play: (request: Parameters<FrameStream["play"]>[1] = {}) => stream.play(clock.now(), request),
    /** PAUSE as the server does it. */
    pause: () => stream.pause(),
  };
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;

/** A scheduler for streams driven by hand (onDue called by the test). */
const BY_HAND: TaskScheduler = { schedule: () => {}, cancel: () => {} };

Deno.test("FrameStream rejects a frame rate that is not a positive number", () => {
  for (const fps of [0, -1, NaN, Infinity]) {
    assert.throws(
      () =>
        new FrameStream({
          frames: makeFrames(1),
          fps,
          timestampBase: 0,
          scheduler: BY_HAND,
          send: () => {},
        }),
      RangeError,
      `fps ${fps}`,
    );
  }
});

Deno.test("FrameStream: frame k is due at start + k * period, without drift over 1000 frames", () => {
  const s = setup({ frameCount: 1000, fps: 30, start: 12_345.5 });
  s.play();
  for (let i = 0; i < 2000 && !s.stream.ended; i++) s.clock.advance(17);
  const period = 1000 / 30;
  assert.equal(s.sent.length, 1000);
  s.sent.forEach((frame, k) => {
    assert.equal(frame.index, k);
    assert.equal(frame.frameNumber, k + 1);
    assert.ok(close(frame.at, 12_345.5 + k * period), `frame ${k} at ${frame.at}`);
  });
  assert.equal(s.ends(), 1);
  s.pacer.close();
});

Deno.test("FrameStream: late timer wake-ups do not accumulate (absolute schedule)", () => {
  const s = setup({ frameCount: 1000, fps: 30 });
  s.clock.lateness = 5; // every timer fires 5 ms after it was asked to
  s.play();
  for (let i = 0; i < 3000 && !s.stream.ended; i++) s.clock.advance(13);
  const period = 1000 / 30;
  assert.equal(s.sent.length, 1000);
  // The first frame goes out at play time + 5 ms, later ones at their due time + 5 ms;
  // a relative schedule would be 999 * 5 ms behind by the last frame.
  s.sent.forEach((frame, k) => {
    assert.ok(close(frame.at, k * period + 5), `frame ${k} sent at ${frame.at}`);
  });
  s.pacer.close();
});

Deno.test("FrameStream: RTP timestamps advance by 90000/fps per frame from the base", () => {
  for (const [fps, base] of [[25, 1234], [30, 0], [20, 4_000_000_000], [29.97, 77]]) {
    const s = setup({ frameCount: 50, fps, timestampBase: base });
    assert.equal(s.stream.nextTimestamp, base);
    s.play();
    s.clock.advance(50 * 1000 / fps + 1);
    assert.equal(s.sent.length, 50);
    s.sent.forEach((frame, k) => {
      const expected = (base + Math.round(k * VIDEO_CLOCK_RATE / fps)) >>> 0;
      assert.equal(frame.timestamp, expected, `fps ${fps} frame ${k}`);
    });
    if (fps === 25) assert.equal(s.sent[1].timestamp - s.sent[0].timestamp, 3600);
    s.pacer.close();
  }
});

Deno.test("FrameStream: the RTP timestamp wraps at 2^32", () => {
  const s = setup({ frameCount: 4, fps: 30, timestampBase: 0xffff_f000 });
  s.play();
  s.clock.advance(1000);
  assert.deepEqual(
    s.sent.map((f) => f.timestamp),
    [0xffff_f000, 0xffff_f000 + 3000, (0xffff_f000 + 6000) >>> 0, (0xffff_f000 + 9000) >>> 0],
  );
  assert.equal(s.sent[2].timestamp, 6000 - 0x1000);
  s.pacer.close();
});

Deno.test("FrameStream: pause excludes the paused time and play resumes with the next frame", () => {
  const s = setup({ frameCount: 100, fps: 20, timestampBase: 500 }); // 50 ms period
  s.play();
  s.clock.advance(475); // frames due at 0, 50, ..., 450
  assert.equal(s.sent.length, 10);
  s.pause();
  assert.equal(s.stream.playing, false);
  assert.equal(s.stream.nextFrameNumber, 11);
  s.clock.advance(10_000);
  assert.equal(s.sent.length, 10, "nothing is sent while paused");
  assert.equal(s.clock.pending, 0, "no timer while paused");

  const resumeAt = s.clock.now();
  s.play();
  s.clock.advance(0);
  assert.equal(s.sent.length, 11, "the next frame goes out at once");
  s.clock.advance(10 * 50 - 1);
  assert.equal(s.sent.length, 20);
  const resumed = s.sent.slice(10);
  resumed.forEach((frame, j) => {
    assert.equal(frame.index, 10 + j, "position kept across the pause");
    assert.equal(frame.frameNumber, 11 + j);
    assert.ok(close(frame.at, resumeAt + j * 50), `resumed frame ${j} at ${frame.at}`);
    // Timestamps follow the frame count, not wall time: the pause leaves no gap.
    assert.equal(frame.timestamp, 500 + (10 + j) * 4500);
  });
  s.pacer.close();
});

Deno.test("FrameStream: a second play while playing restarts the schedule but skips nothing", () => {
  const s = setup({ frameCount: 10, fps: 10 });
  s.play();
  s.clock.advance(150); // frames at 0 and 100
  s.play();
  s.clock.advance(1000);
  assert.deepEqual(s.sent.map((f) => f.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  s.pacer.close();
});

Deno.test("FrameStream: the end of the file calls onEnd once and stops", () => {
  const s = setup({ frameCount: 5, fps: 50 });
  s.play();
  s.clock.advance(1000);
  assert.deepEqual(s.sent.map((f) => f.index), [0, 1, 2, 3, 4]);
  assert.equal(s.ends(), 1);
  assert.equal(s.stream.ended, true);
  assert.equal(s.stream.playing, false);
  assert.equal(s.stream.sent, 5);
  assert.equal(s.pacer.size, 0);
  assert.equal(s.clock.pending, 0);

  // Playing again after the end needs a Range: without one there is nothing to play.
  assert.throws(() => s.play(), InvalidRangeError);
  s.clock.advance(1000);
  assert.equal(s.sent.length, 5);
  assert.equal(s.ends(), 1);
  assert.equal(s.stream.onDue(s.clock.now()), undefined);
  assert.equal(s.pacer.size, 0);
  s.pacer.close();
});

Deno.test("FrameStream: onEnd runs after the last frame has been sent", () => {
  const order: string[] = [];
  const stream = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(2),
    fps: 10,
    timestampBase: 0,
    send: (f) => order.push(`send ${f.index}`),
    onEnd: () => order.push("end"),
  });
  stream.play(0);
  assert.equal(stream.onDue(0), 100);
  assert.equal(stream.onDue(100), undefined);
  assert.deepEqual(order, ["send 0", "send 1", "end"]);
});

Deno.test("FrameStream: loop wraps the index while frame numbers keep increasing", () => {
  const s = setup({ frameCount: 3, fps: 100, loop: true, timestampBase: 10 });
  s.play();
  s.clock.advance(95); // frames at 0, 10, ..., 90
  assert.deepEqual(s.sent.map((f) => f.index), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
  assert.deepEqual(s.sent.map((f) => f.frameNumber), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(s.sent.map((f) => f.timestamp), s.sent.map((_, k) => 10 + k * 900));
  assert.equal(s.sent[3].jpeg, s.sent[0].jpeg, "the same frame bytes again");
  assert.equal(s.ends(), 0);
  assert.equal(s.stream.ended, false);
  assert.equal(s.stream.playing, true);
  s.pause();
  s.pacer.close();
});

Deno.test("FrameStream: when far behind it sends at most maxBurst frames and moves the schedule", () => {
  const sent: number[] = [];
  const stream = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(20),
    fps: 10, // 100 ms period
    timestampBase: 0,
    send: (f) => sent.push(f.index),
  });
  stream.play(0);
  // 1 s late: 10 frames are due but only 1 goes out (the default at 10 fps), and
  // the rest follow on a schedule moved by whole periods.
  assert.equal(stream.onDue(1000), 1100);
  assert.deepEqual(sent, [0]);
  assert.equal(stream.onDue(1100), 1200);
  assert.deepEqual(sent, [0, 1], "no frame is skipped");

  const burst: number[] = [];
  const custom = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(20),
    fps: 10,
    timestampBase: 0,
    maxBurst: 2,
    send: (f) => burst.push(f.index),
  });
  custom.play(0);
  custom.onDue(1000);
  assert.deepEqual(burst, [0, 1]);
});

Deno.test("FrameStream: onDue before the due time sends nothing and returns the due time", () => {
  const sent: number[] = [];
  const stream = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(5),
    fps: 4,
    timestampBase: 0,
    send: (f) => sent.push(f.index),
  });
  stream.play(1000);
  assert.equal(stream.onDue(1000), 1250);
  assert.equal(stream.onDue(1100), 1250);
  assert.deepEqual(sent, [0]);
  stream.pause();
  assert.equal(stream.onDue(2000), undefined, "paused: nothing more to do");
  assert.deepEqual(sent, [0]);
});

Deno.test("FrameStream unpaced: a burst per wake-up, due again at once, timestamps at fps", () => {
  const sent: { index: number; timestamp: number }[] = [];
  const stream = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(10),
    fps: 20,
    timestampBase: 1000,
    unpaced: true,
    maxBurst: 4,
    send: (f) => sent.push({ index: f.index, timestamp: f.timestamp }),
  });
  stream.play(0);
  assert.equal(stream.onDue(0), 0, "due again at once");
  assert.deepEqual(sent.map((f) => f.index), [0, 1, 2, 3]);
  assert.equal(stream.onDue(0), 0);
  assert.equal(stream.onDue(0), undefined, "ends with the last frame");
  assert.deepEqual(sent.map((f) => f.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(sent.map((f) => f.timestamp), sent.map((_, i) => 1000 + i * 4500));
  assert.equal(stream.ended, true);
});

Deno.test("FrameStream: at high rates a wake-up may send 5 ms worth of frames", () => {
  const sent: number[] = [];
  const stream = new FrameStream({
    scheduler: BY_HAND,
    frames: makeFrames(200),
    fps: 10_000, // 0.1 ms period: 50 frames in 5 ms
    timestampBase: 0,
    send: (f) => sent.push(f.index),
  });
  stream.play(0);
  stream.onDue(10); // 101 frames due
  assert.equal(sent.length, 50);
});

Deno.test("FrameStream: streams that fall behind together keep their own phase", () => {
  // Two streams 10 ms apart in phase at 20 fps both miss 1 s (a stalled process).
  const streams = [0, 10].map((start) => {
    const stream = new FrameStream({
      scheduler: BY_HAND,
      frames: makeFrames(100),
      fps: 20,
      timestampBase: 0,
      send: () => {},
    });
    stream.play(start);
    return stream;
  });
  const next = streams.map((stream) => stream.onDue(1000));
  assert.ok(next[0]! > 1000 && next[1]! > 1000);
  const phase = ((next[1]! - next[0]!) % 50 + 50) % 50;
  assert.equal(phase, 10, "still 10 ms apart in phase, not in step");
});

// ---------------------------------------------------------------------------
// Seeking, ranges and scale (RFC 2326 §10.5, §12.29, §12.34)

/** Indices of the frames sent. */
const indices = (sent: readonly Sent[]) => sent.map((f) => f.index);

Deno.test("FrameStream.play() from A starts at the first frame at or after A (frame k has time k/fps)", async (t) => {
  const cases: [number, number][] = [[5, 100], [4.99, 100], [5.01, 101], [0, 0], [0.05, 1], [
    9.95,
    199,
  ]];
  for (const [start, first] of cases) {
    await t.step(`${start} s at 20 fps: frame index ${first}`, () => {
      const s = setup({ frameCount: 200, fps: 20, timestampBase: 1000 });
      const started = s.play({ start });
      assert.equal(started.startSec, first / 20);
      assert.equal(started.endSec, 10);
      assert.equal(started.rtptime, 1000 + first * 4500, "RTP time follows the media position");
      assert.equal(s.stream.positionSec, first / 20);
      s.clock.advance(0);
      assert.deepEqual(indices(s.sent), [first], "the first frame leaves at once");
      assert.equal(s.sent[0].timestamp, started.rtptime);
      assert.equal(s.sent[0].frameNumber, 1, "frame numbers count what this session sent");
      s.pacer.close();
    });
  }
});

Deno.test("FrameStream.play() from A to B stops after the last frame before B, once", () => {
  const s = setup({ frameCount: 200, fps: 20 });
  const started = s.play({ start: 5, end: 7 });
  assert.deepEqual([started.startSec, started.endSec], [5, 7]);
  s.clock.advance(5000);
  assert.deepEqual(indices(s.sent), Array.from({ length: 40 }, (_, i) => 100 + i));
  assert.equal(s.ends(), 1);
  assert.equal(s.stream.ended, true);
  assert.equal(s.stream.positionSec, 7);
  assert.equal(s.pacer.size, 0);
  s.pacer.close();
});

Deno.test("FrameStream.play() refuses a range the file does not have, and changes nothing", async (t) => {
  const cases: [string, { start?: number; end?: number }][] = [
    ["a start at the end", { start: 10 }],
    ["a start past the end", { start: 11 }],
    ["an end before the start", { start: 5, end: 2 }],
    ["an end at the start", { start: 5, end: 5 }],
    ["an end before the first frame at or after the start", { start: 5.01, end: 5.04 }],
  ];
  for (const [name, request] of cases) {
    await t.step(name, () => {
      const s = setup({ frameCount: 200, fps: 20 });
      s.play({ start: 1 });
      s.clock.advance(100); // frames 20, 21, 22
      assert.throws(() => s.play(request), InvalidRangeError);
      assert.equal(s.stream.playing, true, "still playing");
      s.clock.advance(100);
      assert.deepEqual(indices(s.sent), [20, 21, 22, 23, 24], "from where it was");
      s.pacer.close();
    });
  }
});

Deno.test("FrameStream: a seek while playing is honoured at once", () => {
  const s = setup({ frameCount: 200, fps: 20, timestampBase: 0 });
  s.play();
  s.clock.advance(120); // frames 0, 1, 2
  const started = s.play({ start: 2 });
  assert.equal(started.rtptime, 40 * 4500);
  s.clock.advance(0);
  s.clock.advance(100);
  assert.deepEqual(indices(s.sent), [0, 1, 2, 40, 41, 42]);
  assert.deepEqual(s.sent.slice(3).map((f) => f.timestamp), [40, 41, 42].map((k) => k * 4500));
  assert.deepEqual(s.sent.map((f) => f.frameNumber), [1, 2, 3, 4, 5, 6]);
  s.pacer.close();
});

Deno.test("FrameStream: pause keeps the position; play without a range resumes from it", () => {
  const s = setup({ frameCount: 200, fps: 20 });
  s.play({ start: 5 });
  s.clock.advance(120); // frames 100, 101, 102
  assert.equal(s.stream.pause(), 103 / 20);
  s.clock.advance(1000);
  const resumed = s.play({ start: "now" });
  assert.equal(resumed.startSec, 103 / 20);
  s.clock.advance(60);
  assert.deepEqual(indices(s.sent), [100, 101, 102, 103, 104]);
  s.pacer.close();
});

Deno.test("FrameStream: play without a range keeps the end of the range being played, then goes on to the end of the file", () => {
  const s = setup({ frameCount: 200, fps: 20 });
  s.play({ start: 5, end: 6 });
  s.clock.advance(120);
  s.pause();
  assert.equal(s.play().endSec, 6, "resuming within the range keeps its end");
  s.clock.advance(2000);
  assert.equal(indices(s.sent).at(-1), 119);
  assert.equal(s.ends(), 1);
  const after = s.play();
  assert.deepEqual(
    [after.startSec, after.endSec],
    [6, 10],
    "past the range: to the end of the file",
  );
  s.clock.advance(0);
  assert.equal(indices(s.sent).at(-1), 120);
  s.pacer.close();
});

Deno.test("FrameStream: Scale 2 sends at twice the rate and keeps media-time RTP timestamps", () => {
  const s = setup({ frameCount: 200, fps: 20, timestampBase: 0 });
  const started = s.play({ start: 1, scale: 2 });
  assert.equal(started.scale, 2);
  s.clock.advance(100); // 25 ms apart: frames at 0, 25, 50, 75, 100
  assert.deepEqual(indices(s.sent), [20, 21, 22, 23, 24]);
  s.sent.forEach((f, i) => {
    assert.ok(close(f.at, i * 25), `frame ${i} at ${f.at}`);
    assert.equal(f.timestamp, (20 + i) * 4500);
  });
  assert.equal(s.stream.rtpTimeAt(s.clock.now() + 12.5), 24.5 * 4500, "RTP time runs at 2x too");
  s.pacer.close();
});

Deno.test("FrameStream.rtpTimeAt() is the media time of the instant, between frames too", () => {
  const s = setup({ frameCount: 200, fps: 20, timestampBase: 7 });
  assert.equal(s.stream.rtpTimeAt(0), 7, "before play: the next frame's");
  s.play({ start: 3 });
  assert.equal(s.stream.rtpTimeAt(0), 7 + 60 * 4500);
  assert.equal(s.stream.rtpTimeAt(12.5), 7 + 60 * 4500 + 1125, "a quarter period later");
  assert.equal(s.stream.rtpTimeAt(1000), 7 + 80 * 4500);
  s.pause();
  assert.equal(s.stream.rtpTimeAt(5000), s.stream.nextTimestamp, "paused: frozen");
  s.pacer.close();
});

Deno.test("FrameStream with loop: a seek is within one pass, and timestamps restart from the position", () => {
  const s = setup({ frameCount: 10, fps: 10, loop: true, timestampBase: 0 });
  s.play();
  s.clock.advance(1450); // 15 frames: one pass and a half
  assert.equal(s.stream.positionSec, 0.5);
  const started = s.play({ start: 0.2 });
  assert.equal(started.endSec, undefined, "a loop has no end");
  assert.equal(started.rtptime, 2 * 9000);
  assert.throws(() => s.play({ start: 1 }), InvalidRangeError, "past one pass");
  s.clock.advance(1000);
  assert.deepEqual(indices(s.sent).slice(15, 26), [2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
  assert.deepEqual(
    s.sent.slice(15, 26).map((f) => f.timestamp / 9000),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    "timestamps keep increasing across the wrap",
  );
  s.pause();
  s.pacer.close();
});

/** Streams on one pacer and fake clock with a grid, each recording what it sends. */
function gridSetup(gridMs: number, fps: number, frameCount: number) {
  const clock = new FakeClock(1000.3);
  const pacer = new Pacer(clock);
  const streams: { stream: FrameStream; sent: Sent[]; playedAt: number }[] = [];
  return {
    clock,
    streams,
    /** A new session's stream, PLAYed now (with `request`). */
    play(request: Parameters<FrameStream["play"]>[1] = {}) {
      const sent: Sent[] = [];
      const stream = new FrameStream({
        frames: makeFrames(frameCount),
        fps,
        timestampBase: 0,
        gridMs,
        scheduler: pacer,
        send: (frame) => sent.push({ ...frame, at: clock.now() }),
      });
      const entry = {
        stream,
        sent,
        playedAt: clock.now(),
        start: stream.play(clock.now(), request),
      };
      streams.push(entry);
      return entry;
    },
  };
}

Deno.test("FrameStream grid: sessions that PLAY at different moments each start at frame 1, within one grid step, and then share due times", async () => {
  const g = gridSetup(10, 20, 100);
  for (let k = 0; k < 7; k++) {
    g.play();
    await g.clock.advance(3.7); // PLAYs spread over ~26 ms
  }
  await g.clock.advance(500);
  const dueTimes = new Set<number>();
  for (const { sent, playedAt } of g.streams) {
    assert.equal(sent[0].index, 0, "starts at the first frame");
    assert.equal(sent[0].frameNumber, 1);
    const delay = sent[0].at - playedAt;
    assert.ok(
      delay >= 0 && delay <= 10 + 1e-6,
      `first frame ${delay} ms after PLAY, within the grid`,
    );
    assert.ok(
      close(sent[0].at % 10, 0) || close(sent[0].at % 10, 10),
      `on the grid: ${sent[0].at}`,
    );
    sent.forEach((f, i) => {
      assert.equal(f.index, i, "consecutive frames");
      assert.equal(
        f.timestamp,
        Math.round(i * VIDEO_CLOCK_RATE / 20),
        "timestamps follow media time",
      );
      assert.ok(close(f.at - sent[0].at, i * 50), "one period apart");
      dueTimes.add(Math.round(f.at * 1000));
    });
  }
  // 7 sessions, ~9 frames each: on a 10 ms grid with a 50 ms period, at most 5 phases.
  const phases = new Set([...dueTimes].map((t) => (t / 1000) % 50));
  assert.ok(phases.size <= 5, `${phases.size} distinct phases`);
});

Deno.test("FrameStream grid: a seek and a PAUSE/resume start on the grid with exact frames and timestamps", async () => {
  const g = gridSetup(25, 20, 200);
  const { stream, sent } = g.play({ start: 2 });
  await g.clock.advance(200);
  assert.equal(sent[0].index, 40, "the seek's first frame");
  assert.equal(sent[0].timestamp, 40 * 4500);
  assert.ok(close(sent[0].at % 25, 0), `on the grid: ${sent[0].at}`);
  const before = sent.length;
  stream.pause();
  await g.clock.advance(13.3);
  const resumedAt = g.clock.now();
  stream.play(resumedAt, {});
  await g.clock.advance(200);
  const resumed = sent[before];
  assert.equal(resumed.index, sent[before - 1].index + 1, "resumes at the next frame");
  assert.equal(resumed.timestamp, resumed.index * 4500);
  assert.ok(resumed.at - resumedAt <= 25 + 1e-6 && close(resumed.at % 25, 0));
});

Deno.test("FrameStream.onFirstFrame: once per play that starts a schedule, with the PLAY's time, as its first frame is sent", async () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(clock);
  const firsts: { playAt: number; at: number; sentBefore: number }[] = [];
  let sent = 0;
  const stream = new FrameStream({
    frames: makeFrames(100),
    fps: 20,
    timestampBase: 0,
    scheduler: pacer,
    gridMs: 10,
    send: () => void sent++,
    onFirstFrame: (playAt) => firsts.push({ playAt, at: clock.now(), sentBefore: sent }),
  });
  await clock.advance(3);
  stream.play(clock.now());
  await clock.advance(200);
  stream.play(clock.now()); // already playing, nothing changes: not a new start
  await clock.advance(100);
  stream.pause();
  await clock.advance(27);
  stream.play(clock.now()); // resumes: a new schedule
  stream.pause(); // paused before its first frame: nothing to report
  stream.play(clock.now());
  await clock.advance(100);
  pacer.close();
  assert.deepEqual(firsts, [
    { playAt: 3, at: 10, sentBefore: 1 },
    { playAt: 330, at: 330, sentBefore: 7 },
  ]);
});
