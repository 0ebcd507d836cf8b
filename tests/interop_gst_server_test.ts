/**
 * Interop with GStreamer's RTSP server: our {@linkcode StreamClient} (and the
 * real `client.ts` CLI) records a finite RTP/JPEG stream from GStreamer's own
 * server (GstRtspServer with rtpjpegpay, started by `_gst_rtsp_server.py`),
 * over UDP and over TCP interleaved.
 *
 * Every frame file written must decode with ffmpeg as a picture of its own
 * (exit 0, nothing on stderr at `-v error`) and, for the JPEG sequence the server
 * reads from files, decode to exactly the picture of the JPEG it came from
 * (framemd5): rtpjpegpay sends the quantization tables in-band (Q 255), so
 * the rebuilt JPEG headers must carry them exactly.
 *
 * The stream is 100 frames; GStreamer sends an RTCP BYE at its end, which
 * also ends the receive. Over TCP all 100 frames must arrive; over UDP at
 * least 98, and any that are missing must show up in the statistics (lost
 * packets or incomplete frames): the client may not drop frames silently.
 *
 * Needs Debian's python3 with GStreamer's introspection data (python3-gi,
 * gir1.2-gst-rtsp-server-1.0), gst-launch-1.0 with videotestsrc, jpegenc,
 * imagesequencesrc and rtpjpegpay (gstreamer1.0-tools, -plugins-base,
 * -plugins-good), and ffmpeg. Without them each test prints "SKIPPED: ..."
 * and passes, except in CI (`CI=true`), where it fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ReceiveEnd, StreamClient } from "../lib/session/client/stream_client.ts";
import type { ReceptionSummary } from "../lib/session/client/reception_stats.ts";
import { frameMd5s, parseFrameMd5, requirePeer, runCommand, tail } from "./_peers.ts";
import { haveGstServer, startGstServer } from "./_gst_rtsp_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Frames in the stream, and its rate: a 2 s stream. */
const FRAMES = 100;
const FPS = 50;
const WIDTH = 640;
const HEIGHT = 480;
/** Frames UDP may lose on a loaded machine (each must be accounted for). */
const UDP_SLACK = 2;
const decoder = new TextDecoder();

/** The GStreamer elements the server's pipelines use. */
const ELEMENTS = ["videotestsrc", "jpegenc", "imagesequencesrc", "rtpjpegpay", "multifilesink"];
async function havePeers(): Promise<boolean> {
  return await haveGstServer(ELEMENTS) && await requirePeer("ffmpeg", ["-hide_banner", "-version"]);
}

/**
 * FRAMES JPEGs (640x480, 4:2:0, SMPTE bars scrolling sideways so that every
 * picture differs) made by GStreamer's jpegenc, as `dir/00000.jpg`, ...
 */
async function makeJpegSequence(dir: string): Promise<Uint8Array[]> {
  const result = await runCommand("gst-launch-1.0", [
    "-q",
    ...["videotestsrc", `num-buffers=${FRAMES}`, "pattern=smpte", "horizontal-speed=4", "!"],
    `video/x-raw,format=I420,width=${WIDTH},height=${HEIGHT},framerate=${FPS}/1`,
    ...["!", "jpegenc", "quality=85", "!", "multifilesink", `location=${join(dir, "%05d.jpg")}`],
  ], { timeoutMs: 20_000 });
  assert.ok(
    result.success,
    `gst-launch-1.0 could not make the JPEGs: status ${result.code}: ${tail(result.stderr)}`,
  );
  const jpegs: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) {
    jpegs.push(await Deno.readFile(join(dir, `${String(i).padStart(5, "0")}.jpg`)));
  }
  return jpegs;
}

/** The `frame_NNNNNN.jpg` files in `dir`, sorted, with their frame numbers. */
async function writtenFrames(dir: string): Promise<{ name: string; number: number }[]> {
  const frames: { name: string; number: number }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^frame_(\d{6})\.jpg$/.exec(entry.name);
    assert.ok(m && entry.isFile, `unexpected entry ${entry.name} in the output directory`);
    frames.push({ name: entry.name, number: Number(m[1]) });
  }
  return frames.sort((a, b) => a.number - b.number);
}

/**
 * Decode every written frame file with ffmpeg, each file as one picture
 * (the image2 demuxer, as `ffmpeg -i FILE` reads a single JPEG), and return
 * one MD5 per decoded picture. One ffmpeg run reads them all (a glob); only
 * when it complains is each file decoded on its own
 * (`ffmpeg -v error -i FILE -f null -`) to name the culprits.
 *
 * @throws {AssertionError} unless ffmpeg exits 0 with nothing on stderr and
 * decodes exactly one picture per file.
 */
async function decodeFrames(dir: string, names: string[]): Promise<string[]> {
  const result = await runCommand("ffmpeg", [
    ...["-nostdin", "-hide_banner", "-v", "error"],
    ...["-f", "image2", "-pattern_type", "glob", "-i", join(dir, "frame_*.jpg")],
    ...["-fps_mode", "passthrough", "-f", "framemd5", "pipe:1"],
  ], { timeoutMs: 30_000 });
  const md5s = result.success ? parseFrameMd5(decoder.decode(result.stdout)) : [];
  if (result.success && result.stderr === "" && md5s.length === names.length) return md5s;
  const failures: string[] = [];
  for (const name of names) {
    const one = await runCommand(
      "ffmpeg",
      ["-nostdin", "-hide_banner", "-v", "error", "-i", join(dir, name), "-f", "null", "-"],
      { timeoutMs: 20_000 },
    );
    if (!one.success || one.stderr !== "") {
      failures.push(`${name}: status ${one.code}: ${tail(one.stderr, 3)}`);
    }
  }
  assert.fail(
    `ffmpeg does not decode every frame cleanly (status ${result.code}, ${md5s.length} ` +
      `pictures from ${names.length} files): ${tail(result.stderr, 5)}\n` +
      `files that fail on their own:\n${failures.join("\n")}`,
  );
}

/** Whether `sub` is `all` with some entries left out (same order, no repeats). */
function isSubsequence(sub: string[], all: string[]): boolean {
  let i = 0;
  for (const item of sub) {
    while (i < all.length && all[i] !== item) i++;
    if (i === all.length) return false;
    i++;
  }
  return true;
}

/**
 * Missing frames must be accounted for: no frame is missing unless the
 * statistics show a lost packet or an incomplete frame, and there are no
 * more missing frames than lost packets plus incomplete frames.
 */
function assertHonestAccounting(summary: ReceptionSummary, written: number, what: string): void {
  const missing = FRAMES - summary.framesReceived;
  const context = `${what}: ${written} frames written, statistics ${JSON.stringify(summary)}`;
  assert.equal(written, summary.framesReceived, `files written = frames received: ${context}`);
  assert.equal(summary.framesDamaged, 0, `no damaged frames: ${context}`);
  assert.equal(summary.malformed, 0, `no malformed packets: ${context}`);
  assert.equal(summary.duplicates, 0, `no duplicates on loopback: ${context}`);
  assert.equal(
    summary.packetsLost,
    summary.packetsExpected - summary.packetsReceived,
    `packets lost = expected - received: ${context}`,
  );
  if (summary.packetsLost === 0 && summary.framesIncomplete === 0) {
    assert.equal(missing, 0, `frames missing with no loss counted: ${context}`);
  }
  assert.ok(
    missing <= summary.packetsLost + summary.framesIncomplete,
    `${missing} frames missing, more than the ${summary.packetsLost} lost packets and ` +
      `${summary.framesIncomplete} incomplete frames counted: ${context}`,
  );
}

/**
 * Record the server's stream with StreamClient over `transport`; check the
 * frames written (count, clean decoding, pictures identical to the JPEGs the
 * server read, in order) and the statistics.
 */
async function recordFromGstreamer(transport: "udp" | "tcp"): Promise<void> {
  if (!await havePeers()) return;
  const work = await Deno.makeTempDir({ prefix: `interop_gst_server_${transport}_` });
  try {
    const sourceDir = join(work, "source");
    const outDir = join(work, "out");
    await Deno.mkdir(sourceDir);
    const jpegs = await makeJpegSequence(sourceDir);
    const expectedMd5s = await frameMd5s(jpegs);
    assert.equal(new Set(expectedMd5s).size, FRAMES, "every source picture differs");

    await using gst = await startGstServer([
      ...["--frames", String(FRAMES), "--fps", String(FPS)],
      ...["--jpeg-pattern", join(sourceDir, "%05d.jpg")],
    ]);
    const client = await StreamClient.open({
      host: "127.0.0.1",
      port: gst.port,
      rtpPort: 0,
      resource: gst.url,
      dialect: "rtsp",
      transport,
      outDir,
    });
    let end: ReceiveEnd;
    const started = performance.now();
    try {
      const setup = await client.setup();
      const reply = setup.headers.get("transport") ?? "";
      assert.match(
        reply,
        transport === "tcp" ? /RTP\/AVP\/TCP;.*interleaved=0-1/ : /RTP\/AVP;.*server_port=/,
        `SETUP reply Transport: ${reply}`,
      );
      await client.play();
      end = await client.receive({ endAfterSec: 2, firstPacketTimeoutSec: 10, frames: FRAMES });
      await client.teardown();
    } finally {
      await client.close();
    }
    const ms = Math.round(performance.now() - started);
    const summary = client.stats.summary();
    const what = `StreamClient over ${transport.toUpperCase()} from GStreamer (${end}, ${ms} ms)`;
    const context = `${what}\nstatistics ${JSON.stringify(summary)}\ndamaged ${
      client.damaged.join("; ")
    }\n${gst.output()}`;
    assert.ok(["frames", "bye", "end-of-stream"].includes(end), `receive ended: ${context}`);
    assert.equal(client.fps, FPS, `frame rate from GStreamer's SDP: ${context}`);

    const frames = await writtenFrames(outDir).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    });
    assertHonestAccounting(summary, frames.length, what);
    if (transport === "tcp") {
      assert.equal(summary.framesReceived, FRAMES, `every frame over TCP: ${context}`);
      assert.equal(summary.packetsLost, 0, `no loss over TCP: ${context}`);
      assert.deepEqual(
        frames.map((f) => f.number),
        Array.from({ length: FRAMES }, (_, i) => i + 1),
        `frame files 1..${FRAMES}: ${context}`,
      );
    } else {
      assert.ok(
        summary.framesReceived >= FRAMES - UDP_SLACK,
        `at least ${FRAMES - UDP_SLACK} of ${FRAMES} frames over UDP: ${context}`,
      );
    }
    assert.ok(frames.every((f) => f.number >= 1 && f.number <= FRAMES), `numbers: ${context}`);

    const md5s = await decodeFrames(outDir, frames.map((f) => f.name));
    if (transport === "tcp") {
      assert.deepEqual(md5s, expectedMd5s, `pictures identical to the source JPEGs: ${context}`);
    } else {
      assert.ok(
        isSubsequence(md5s, expectedMd5s),
        `each picture is one of the source JPEGs', in order: ${context}`,
      );
    }
    assert.equal(await gst.close(), 0, `the GStreamer server exits 0 on SIGTERM: ${context}`);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("StreamClient records GStreamer's RTSP server over RTP/UDP: every frame decodes, losses accounted for", async () => {
  await recordFromGstreamer("udp");
});

Deno.test("StreamClient records GStreamer's RTSP server over RTSP/TCP interleaved: all frames, identical pictures", async () => {
  await recordFromGstreamer("tcp");
});

Deno.test("client.ts CLI records GStreamer's videotestsrc stream: exit 0, frames written that decode", async () => {
  if (!await havePeers()) return;
  const outDir = await Deno.makeTempDir({ prefix: "interop_gst_server_cli_" });
  try {
    await using gst = await startGstServer(["--frames", String(FRAMES), "--fps", String(FPS)]);
    const result = await runCommand(
      Deno.execPath(),
      ["run", "-P=client", join(ROOT, "client.ts"), gst.url, "--out", outDir],
      { timeoutMs: 30_000, env: { NO_COLOR: "1" } },
    );
    const stdout = decoder.decode(result.stdout);
    const context = `deno run -P=client client.ts ${gst.url} --out DIR: status ${result.code}` +
      `${result.timedOut ? " (killed after 30 s)" : ""}, ${result.ms} ms\n--- stdout\n${
        tail(stdout)
      }\n--- stderr\n${tail(result.stderr)}\n${gst.output()}`;
    assert.equal(result.code, 0, `client.ts failed: ${context}`);
    const frames = await writtenFrames(outDir);
    const reported = /frames received\s+(\d+) complete/.exec(stdout);
    assert.ok(reported, `no "frames received" line: ${context}`);
    assert.equal(frames.length, Number(reported[1]), `files = frames reported: ${context}`);
    assert.ok(
      frames.length >= FRAMES - UDP_SLACK && frames.length <= FRAMES,
      `${frames.length} frames written, expected about ${FRAMES}: ${context}`,
    );
    await decodeFrames(outDir, frames.map((f) => f.name));
    assert.equal(await gst.close(), 0, `the GStreamer server exits 0 on SIGTERM: ${context}`);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
