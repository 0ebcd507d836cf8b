/**
 * Interop with FFmpeg: ffmpeg and ffprobe play our server's standard RTSP
 * sessions (RTP/JPEG, RFC 2435), and every picture ffmpeg decodes from the
 * stream is identical, pixel for pixel (framemd5), to decoding the
 * corresponding JPEG of the file directly.
 *
 * Needs ffmpeg and ffprobe (Debian package `ffmpeg`); without them each test
 * prints "SKIPPED: ..." and passes, except in CI (`CI=true`), where it fails.
 *
 * Every run is bounded with `-frames:v N` (and a hard timeout), so it ends
 * even when no RTCP BYE tells ffmpeg that the stream is over.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseJpegStructure, readLabFrames } from "../mod.ts";
import { makeLabVideo } from "../tools/make_video.ts";
import {
  frameMd5s,
  parseFrameMd5,
  requirePeer,
  runCommand,
  startTestServer,
  tail,
} from "./_peers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const VIDEO = "video.mjpeg";
const FRAMES = [...readLabFrames(await Deno.readFile(join(ROOT, VIDEO)), VIDEO)].map((f) => f.data);
/** Fast enough to keep each run short, slow enough for UDP on loopback. */
const FAST_FPS = 100;
const decoder = new TextDecoder();

/** Decoded-picture MD5s of the original JPEGs of video.mjpeg, computed once. */
let originalMd5s: Promise<string[]> | undefined;
function videoMd5s(): Promise<string[]> {
  originalMd5s ??= frameMd5s(FRAMES);
  return originalMd5s;
}

async function haveFfmpeg(): Promise<boolean> {
  return await requirePeer("ffmpeg", ["-hide_banner", "-version"]) &&
    await requirePeer("ffprobe", ["-hide_banner", "-version"]);
}

/**
 * Play `url` with ffmpeg over `transport`, decode `frames` pictures, and return
 * their MD5s; asserts a clean run (exit 0, nothing on stderr at `-v error`).
 */
async function playWithFfmpeg(
  url: string,
  transport: "udp" | "tcp",
  frames: number,
  serverLog: () => string,
): Promise<string[]> {
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error"],
      ...["-rtsp_transport", transport, "-i", url],
      ...["-frames:v", String(frames), "-fps_mode", "passthrough", "-f", "framemd5", "pipe:1"],
    ],
    { timeoutMs: 20_000 },
  );
  const context = `ffmpeg -rtsp_transport ${transport} ${url}: status ${result.code}` +
    `${result.timedOut ? " (killed after 20 s)" : ""}, ${result.ms} ms\n` +
    `--- stderr\n${tail(result.stderr)}\n--- server log\n${tail(serverLog())}`;
  assert.ok(result.success, `ffmpeg failed: ${context}`);
  assert.equal(result.stderr, "", `ffmpeg printed errors: ${context}`);
  return parseFrameMd5(decoder.decode(result.stdout));
}

/** `picture i` of `actual` is picture i of `expected`, for all of `expected`. */
function assertSamePictures(actual: string[], expected: string[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} pictures decoded`);
  const differing = actual.flatMap((md5, i) => md5 === expected[i] ? [] : [i]);
  assert.deepEqual(
    differing,
    [],
    `${what}: ${differing.length} of ${expected.length} decoded pictures differ from the ` +
      `originals (frame indexes ${differing.slice(0, 10).join(", ")}${
        differing.length > 10 ? ", ..." : ""
      })`,
  );
}

Deno.test("ffmpeg plays video.mjpeg over RTP/UDP: 200 frames, each identical to its original JPEG", async () => {
  if (!await haveFfmpeg()) return;
  assert.equal(FRAMES.length, 200, "video.mjpeg should have 200 frames");
  await using server = await startTestServer({ mediaDir: ROOT, fps: FAST_FPS });
  const md5s = await playWithFfmpeg(server.url(VIDEO), "udp", 200, server.logText);
  assertSamePictures(md5s, await videoMd5s(), "ffmpeg over UDP");
});

Deno.test("ffprobe sees video.mjpeg as 384x288 mjpeg at 20 fps, 10 s long", async () => {
  if (!await haveFfmpeg()) return;
  await using server = await startTestServer({ mediaDir: ROOT }); // default 20 fps
  const url = server.url(VIDEO);
  const result = await runCommand(
    "ffprobe",
    [
      ...["-hide_banner", "-v", "error", "-rtsp_transport", "udp"],
      ...["-show_streams", "-show_format", "-of", "json", url],
    ],
    { timeoutMs: 20_000 },
  );
  const context = `ffprobe ${url}: status ${result.code}, ${result.ms} ms\n--- stderr\n${
    tail(result.stderr)
  }\n--- server log\n${tail(server.logText())}`;
  assert.ok(result.success, `ffprobe failed: ${context}`);
  assert.equal(result.stderr, "", `ffprobe printed errors: ${context}`);
  const probe = JSON.parse(decoder.decode(result.stdout)) as {
    streams: Record<string, unknown>[];
    format: Record<string, unknown>;
  };
  assert.equal(probe.streams.length, 1, context);
  const [stream] = probe.streams;
  assert.equal(stream.codec_type, "video");
  assert.equal(stream.codec_name, "mjpeg");
  assert.equal(stream.width, 384);
  assert.equal(stream.height, 288);
  // ffmpeg ignores a=framerate; r_frame_rate comes from the RTP timestamps (+4500 per frame).
  const rate = (s: unknown) => {
    const [num, den] = String(s).split("/").map(Number);
    return num / den;
  };
  assert.equal(rate(stream.r_frame_rate), 20, `r_frame_rate ${stream.r_frame_rate}`);
  if (stream.avg_frame_rate !== "0/0") {
    assert.equal(rate(stream.avg_frame_rate), 20, `avg_frame_rate ${stream.avg_frame_rate}`);
  }
  // The duration comes from the SDP's a=range:npt=0-10: 200 frames at 20 fps.
  const duration = Number(probe.format.duration);
  assert.ok(
    Math.abs(duration - FRAMES.length / 20) < 0.06,
    `duration ${probe.format.duration} s, expected ${FRAMES.length / 20} s`,
  );
});

Deno.test("ffmpeg plays a file with restart markers (RFC 2435 types 64/65) with identical pictures", async () => {
  if (!await haveFfmpeg()) return;
  const mediaDir = await Deno.makeTempDir({ prefix: "interop_ffmpeg_restart_" });
  try {
    const name = "restart.mjpeg";
    const stats = await makeLabVideo({ out: join(mediaDir, name), restartRows: true, seconds: 2 });
    const frames = [...readLabFrames(await Deno.readFile(join(mediaDir, name)), name)].map((f) =>
      f.data
    );
    assert.equal(frames.length, stats.frames);
    for (const [i, frame] of frames.entries()) {
      const dri = parseJpegStructure(frame).segments.find((s) => s.marker === 0xdd);
      assert.ok(dri && ((dri.data[0] << 8) | dri.data[1]) > 0, `frame ${i} has no DRI marker`);
    }
    await using server = await startTestServer({ mediaDir, fps: FAST_FPS });
    const md5s = await playWithFfmpeg(server.url(name), "udp", frames.length, server.logText);
    assertSamePictures(md5s, await frameMd5s(frames), "ffmpeg, file with restart markers");
  } finally {
    await Deno.remove(mediaDir, { recursive: true });
  }
});

// RTP and RTCP over the RTSP connection (TCP interleaved, RFC 2326 §10.12).
Deno.test("ffmpeg plays video.mjpeg over RTSP/TCP interleaved: 200 frames, each identical to its original JPEG", async () => {
  if (!await haveFfmpeg()) return;
  await using server = await startTestServer({ mediaDir: ROOT, fps: FAST_FPS });
  const md5s = await playWithFfmpeg(server.url(VIDEO), "tcp", 200, server.logText);
  assertSamePictures(md5s, await videoMd5s(), "ffmpeg over TCP");
});
