/**
 * Seeking with our client against our server (in process, 127.0.0.1, 20 fps):
 * `--start`/`--end` through the real CLI, `seek` in its interactive mode,
 * PAUSE and PLAY through the library, and what each does to the frames
 * written (numbered as the file numbers them) and to the statistics.
 *
 * Frames are told apart by their pictures (`video.mjpeg` has 200 distinct
 * frames, 20 fps, 10 s): a received frame is the file's frame whose scan
 * data it carries (RTP/JPEG rebuilds the headers, RFC 2435).
 */
import assert from "node:assert/strict";
import { ClientOptionError } from "../lib/session/client/client_options.ts";
import { RtspClientError } from "../lib/session/client/rtsp_client.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import type { Dialect } from "../lib/wire/dialect.ts";
import { readLabFrames as parseLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { assertSamePicture, FrameFinder } from "./_same_picture.ts";
import { collect, withTempDir } from "./_helpers.ts";
import { readLabFrames, sleep, waitUntil } from "./_raw_rtsp.ts";
import { PROJECT_ROOT, startServer, type TestServer } from "./_server.ts";

const FRAMES = await readLabFrames();
const FPS = 20;
/** How long a CLI run may take before it is killed. */
const RUN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------
// Telling frames apart

const FINDER = new FrameFinder(FRAMES, "video.mjpeg");

/** The file's frame number (from 1) of a received frame, its picture confirmed. */
function frameOf(jpeg: Uint8Array, label: string): number {
  const index = FINDER.indexOf(jpeg);
  assert.ok(index >= 0, `${label} is none of the file's frames`);
  assertSamePicture(jpeg, FRAMES[index], label);
  return index + 1;
}

/** The file's frame numbers of the frames of a lab MJPEG recording, in the order received. */
async function recordedFrames(path: string): Promise<number[]> {
  const frames = [...parseLabFrames(await Deno.readFile(path))];
  return frames.map((f, i) => frameOf(f.data, `recorded frame ${i}`));
}

/** `frame_NNNNNN.jpg` for each of `numbers`. */
function names(numbers: number[]): string[] {
  return numbers.map((n) => `frame_${String(n).padStart(6, "0")}.jpg`);
}

/** from..to, inclusive. */
function span(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * The directory's files, sorted; each must be the file's frame its name
 * says (byte for byte, or the same picture).
 */
async function framesWritten(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  found.sort();
  for (const name of found) {
    const n = Number(/^frame_(\d{6})\.jpg$/.exec(name)?.[1]);
    assert.ok(n >= 1 && n <= FRAMES.length, `unexpected file ${name}`);
    assert.equal(frameOf(await Deno.readFile(`${dir}/${name}`), name), n, `${name} is frame ${n}`);
  }
  return found;
}

// ---------------------------------------------------------------------------
// The CLI as a subprocess

function clientCommand(args: string[], stdin: "null" | "piped"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=client", "client.ts", ...args],
    cwd: PROJECT_ROOT,
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Kill `child` after `ms` unless it has exited; returns its status and output. */
async function finish(
  child: Deno.ChildProcess,
  ms = RUN_TIMEOUT_MS,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, ms);
  try {
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    return { code: status.code, stdout: stdout.state.text, stderr: stderr.state.text };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// --start and --end

Deno.test("cli: client --start 5 --end 7 writes frames 101 to 140, each the file's, and says it started at 5", async () => {
  await using srv = await startServer({ fps: FPS });
  await withTempDir(async (dir) => {
    const out = await finish(clientCommand([
      ...["127.0.0.1", String(srv.port), "0", "video.mjpeg"],
      ...["--start", "5", "--end", "7", "--quiet"],
      ...["--out", `${dir}/frames`, "--stats", `${dir}/stats.json`, "--end-after", "1"],
    ], "null"));
    const report = `exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
    assert.equal(out.code, 0, report);
    assert.deepEqual(await framesWritten(`${dir}/frames`), names(span(101, 140)));
    assert.match(out.stdout, /^started at {8}npt 5\.000 s$/m, report);
    assert.match(out.stdout, /frames written to .*frame_000101\.jpg/, report);
    const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
    assert.equal(stats.startSec, 5);
    assert.equal(stats.framesReceived, 40);
    assert.equal(stats.framesIncomplete, 0);
    assert.equal(stats.packetsLost, 0);
    assert.equal(stats.segments, 1);
    assert.ok(
      stats.framesPerSec >= 19.5 && stats.framesPerSec <= 20.5,
      `${stats.framesPerSec} frames/s`,
    );
  });
});

// ---------------------------------------------------------------------------
// seek in --interactive

Deno.test("cli: client --interactive 'seek 2' while playing: the next frame received is frame 41", async () => {
  await using srv = await startServer({ fps: FPS });
  await withTempDir(async (dir) => {
    const child = clientCommand([
      ...["127.0.0.1", String(srv.port), "0", "video.mjpeg", "--interactive"],
      ...["--out", `${dir}/frames`, "--mjpeg", `${dir}/recording.mjpeg`],
    ], "piped");
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    const written = () => {
      try {
        return [...Deno.readDirSync(`${dir}/frames`)].map((e) => e.name);
      } catch {
        return [];
      }
    };
    let seen: string[] = [];
    const ended = finish(child);
    try {
      await writer.write(encoder.encode("setup\nplay\n"));
      // Seek once a few frames are written, well before frame 41 (2 s in).
      const deadline = performance.now() + 15_000;
      while ((seen = written()).length < 3 && performance.now() < deadline) await sleep(20);
      assert.ok(seen.length >= 3, `frames before the seek: ${seen.length}`);
      await writer.write(encoder.encode("seek 2\n"));
      const afterSeek = performance.now() + 15_000;
      while (!written().includes("frame_000045.jpg") && performance.now() < afterSeek) {
        await sleep(20);
      }
      await writer.write(encoder.encode("teardown\n"));
      await writer.close();
    } finally {
      await writer.close().catch(() => {});
    }
    const out = await ended;
    const report = `exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
    assert.equal(out.code, 0, report);
    assert.match(out.stdout, /^commands: setup, play, pause, seek SEC, teardown, stats, quit$/m);
    assert.match(out.stdout, /^SEEK: 200 OK \(session \d+\), npt 2\.000-10\.000$/m, report);
    const order = await recordedFrames(`${dir}/recording.mjpeg`);
    const jump = order.indexOf(41);
    assert.ok(jump > 0, `frame 41 received after others: ${order.join(" ")}`);
    assert.deepEqual(order.slice(0, jump), span(1, jump), "from the start until the seek");
    assert.ok(jump < 40, `the seek came before frame 41 was due (${jump} frames before it)`);
    assert.deepEqual(order.slice(jump), span(41, 40 + order.length - jump), "from 41 on");
    const files = await framesWritten(`${dir}/frames`);
    assert.deepEqual(files, names([...order].sort((a, b) => a - b)));
  });
});

// ---------------------------------------------------------------------------
// PAUSE and PLAY through the library

/**
 * A client of `video.mjpeg` on `srv` in `dialect` (default: standard RTSP),
 * writing frames to `dir`/frames and a recording to `dir`/recording.mjpeg
 * when `dir` is given.
 */
async function openClient(
  srv: TestServer,
  { dir, dialect = "rtsp" }: { dir?: string; dialect?: Dialect } = {},
): Promise<StreamClient> {
  return await StreamClient.open({
    host: "127.0.0.1",
    port: srv.port,
    resource: "video.mjpeg",
    dialect,
    ...dir === undefined ? {} : { outDir: `${dir}/frames`, mjpegFile: `${dir}/recording.mjpeg` },
  });
}

Deno.test("StreamClient: PAUSE, a second of silence, PLAY resumes with the next frame; nothing lost, frame rate and jitter as without the pause", async () => {
  await using srv = await startServer({ fps: FPS });
  await withTempDir(async (dir) => {
    const client = await openClient(srv, { dir });
    let jitterAfterResume: number;
    let pausedRange: string | undefined;
    let resumedRange: string | undefined;
    try {
      await client.setup();
      await client.play({ start: 6 }); // frames 121 to 200: 4 s
      const receiving = client.receive({ firstPacketTimeoutSec: 10 });
      assert.ok(await waitUntil(() => client.stats.framesReceived >= 15, 10_000), "frames flow");
      pausedRange = (await client.pause()).headers.get("range");
      await sleep(100); // what was on its way has arrived
      const atPause = client.stats.framesReceived;
      await sleep(900);
      assert.equal(client.stats.framesReceived, atPause, "nothing arrives while paused");
      resumedRange = (await client.play()).headers.get("range");
      assert.ok(
        await waitUntil(() => client.stats.framesReceived >= atPause + 3, 5000),
        "frames flow again",
      );
      // Counted across the pause, the 1 s jump in transit time would be ~13 ms of jitter here.
      jitterAfterResume = client.stats.summary().jitterMs;
      assert.equal(await receiving, "bye");
      await client.teardown();
    } finally {
      await client.close();
    }
    assert.match(pausedRange ?? "", /^npt=\d+\.\d{3}-10\.000$/);
    assert.equal(
      resumedRange?.split("-")[0],
      pausedRange?.split("-")[0],
      "PLAY resumes where PAUSE stopped",
    );
    const order = await recordedFrames(`${dir}/recording.mjpeg`);
    assert.deepEqual(order, span(121, 200), "each frame once, in order, none skipped");
    assert.deepEqual(await framesWritten(`${dir}/frames`), names(span(121, 200)));
    const s = client.stats.summary();
    assert.equal(s.startSec, 6);
    assert.equal(s.segments, 2);
    assert.equal(s.packetsLost, 0);
    assert.equal(s.framesIncomplete, 0);
    assert.ok(s.framesPerSec >= 19.5 && s.framesPerSec <= 20.5, `${s.framesPerSec} frames/s`);
    assert.ok(s.durationSec < 4.2, `${s.durationSec} s playing: the pause is not counted`);
    assert.ok(jitterAfterResume < 0.5, `jitter just after the resume: ${jitterAfterResume} ms`);
    assert.ok(s.jitterMs < 0.5, `jitter: ${s.jitterMs} ms`);
  });
});

Deno.test("StreamClient.seek() while paused waits for PLAY, which starts there", async () => {
  await using srv = await startServer({ fps: FPS });
  await withTempDir(async (dir) => {
    const client = await openClient(srv, { dir });
    try {
      await client.setup();
      await client.play();
      const receiving = client.receive({ firstPacketTimeoutSec: 10 });
      assert.ok(await waitUntil(() => client.stats.framesReceived >= 5, 10_000), "frames flow");
      await client.pause();
      assert.equal(await client.seek(8), undefined, "no request while paused");
      await sleep(300);
      const atPause = client.stats.framesReceived;
      assert.equal(client.lastFrameNumber, atPause, "frames 1.. so far");
      const reply = await client.play();
      assert.equal(reply.headers.get("range"), "npt=8.000-10.000");
      assert.deepEqual(client.playInfo?.startSec, 8);
      assert.equal(await receiving, "bye");
      await client.teardown();
      const order = await recordedFrames(`${dir}/recording.mjpeg`);
      assert.deepEqual(order, [...span(1, atPause), ...span(161, 200)]);
      assert.equal(client.stats.summary().packetsLost, 0);
      assert.equal(client.stats.summary().startSec, 0, "the first PLAY's start");
    } finally {
      await client.close();
    }
  });
});

Deno.test("StreamClient.play() with a range past the end is refused with 457, and the session plays on", async () => {
  await using srv = await startServer({ fps: FPS });
  const client = await openClient(srv);
  try {
    await client.setup();
    await assert.rejects(client.play({ start: 20 }), (error: unknown) => {
      assert.ok(error instanceof RtspClientError, String(error));
      assert.equal(error.status, 457);
      return true;
    });
    const reply = await client.play({ start: 9.5 });
    assert.equal(reply.headers.get("range"), "npt=9.500-10.000");
    assert.equal(await client.receive({ firstPacketTimeoutSec: 10 }), "bye");
    assert.equal(client.stats.framesReceived, 10);
    assert.equal(client.firstFrameNumber, 191);
    assert.equal(client.lastFrameNumber, 200);
  } finally {
    await client.close();
  }
});

Deno.test("StreamClient in the lab dialect refuses a range or a seek, naming it", async () => {
  await using srv = await startServer({ fps: FPS });
  const client = await openClient(srv, { dialect: "lab" });
  try {
    await client.setup();
    for (
      const [attempt, option] of [
        [() => client.play({ start: 5 }), "start"],
        [() => client.play({ end: 7 }), "end"],
        [() => client.seek(2), "start"],
      ] as const
    ) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof ClientOptionError, String(error));
        assert.equal(error.option, option);
        assert.match(error.message, /must be left out in the lab dialect/);
        return true;
      });
    }
    assert.equal(client.rtsp.cseq, 1, "nothing was sent but SETUP");
  } finally {
    await client.close();
  }
});

Deno.test("StreamClient.seek() backwards while playing: frames numbered by the file, nothing lost, jitter not inflated", async () => {
  await using srv = await startServer({ fps: FPS });
  await withTempDir(async (dir) => {
    const client = await openClient(srv, { dir });
    let jitterAfterSeek: number;
    let before: number;
    try {
      await client.setup();
      await client.play({ start: 5 });
      const stop = new AbortController();
      const receiving = client.receive({ firstPacketTimeoutSec: 10, signal: stop.signal });
      assert.ok(await waitUntil(() => client.stats.framesReceived >= 10, 10_000), "frames flow");
      const reply = await client.seek(8.5); // forwards first, then back
      assert.equal(reply?.headers.get("range"), "npt=8.500-10.000");
      assert.ok(await waitUntil(() => client.lastFrameNumber! >= 175, 5000), "at 8.5 s");
      before = client.stats.framesReceived;
      await client.seek(1); // 8.5 s back: timestamps jump backwards
      assert.ok(
        await waitUntil(() => client.stats.framesReceived >= before + 3, 5000),
        "frames flow after the seek",
      );
      // Were the seek's first packets measured against the last ones before it: ~8 s of D.
      jitterAfterSeek = client.stats.summary().jitterMs;
      await client.pause();
      stop.abort();
      assert.equal(await receiving, "aborted");
      await client.teardown();
    } finally {
      await client.close();
    }
    const order = await recordedFrames(`${dir}/recording.mjpeg`);
    const first = order.indexOf(171);
    const back = order.indexOf(21);
    assert.ok(first > 0 && back > first, `order: ${order.join(" ")}`);
    assert.deepEqual(order.slice(0, first), span(101, 100 + first));
    assert.deepEqual(order.slice(first, back), span(171, 170 + back - first));
    assert.deepEqual(order.slice(back), span(21, 20 + order.length - back));
    const files = await framesWritten(`${dir}/frames`);
    assert.deepEqual(files, names([...order].sort((a, b) => a - b)));
    const s = client.stats.summary();
    assert.equal(s.segments, 3);
    assert.equal(s.packetsLost, 0);
    assert.equal(s.startSec, 5);
    assert.ok(jitterAfterSeek < 0.5, `jitter just after the seek: ${jitterAfterSeek} ms`);
  });
});
