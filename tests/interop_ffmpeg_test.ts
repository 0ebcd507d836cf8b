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
 *
 * A 4:4:4 file, which RFC 2435 cannot carry, is converted by the server to
 * baseline 4:2:0 once: ffmpeg plays every frame, each decoding to exactly
 * the picture of the converted JPEG and close (PSNR) to the original.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseJpegStructure } from "../lib/wire/jpeg.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { convertForRtpJpeg } from "../lib/media/jpeg_conversion.ts";
import { makeLabVideo } from "../tools/make_video.ts";
import { frameMd5s, parseFrameMd5, requirePeer, runCommand, tail } from "./_peers.ts";
import { startServer } from "./_server.ts";
import { concat } from "./_helpers.ts";

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
 * Play `url` with ffmpeg over `transport`, decode `frames` pictures and write
 * them with `output` (ffmpeg output options) to stdout, which is returned;
 * asserts a clean run (exit 0, nothing on stderr at `-v error`).
 */
async function runFfmpegPlay(
  url: string,
  transport: "udp" | "tcp",
  frames: number,
  output: string[],
  serverLog: () => string,
): Promise<Uint8Array> {
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error"],
      ...["-rtsp_transport", transport, "-i", url],
      ...["-frames:v", String(frames), "-fps_mode", "passthrough", ...output, "pipe:1"],
    ],
    { timeoutMs: 20_000 },
  );
  const context = `ffmpeg -rtsp_transport ${transport} ${url}: status ${result.code}` +
    `${result.timedOut ? " (killed after 20 s)" : ""}, ${result.ms} ms\n` +
    `--- stderr\n${tail(result.stderr)}\n--- server log\n${tail(serverLog())}`;
  assert.ok(result.success, `ffmpeg failed: ${context}`);
  assert.equal(result.stderr, "", `ffmpeg printed errors: ${context}`);
  return result.stdout;
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
  const stdout = await runFfmpegPlay(url, transport, frames, ["-f", "framemd5"], serverLog);
  return parseFrameMd5(decoder.decode(stdout));
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
  await using server = await startServer({ fps: FAST_FPS });
  const md5s = await playWithFfmpeg(server.url(VIDEO), "udp", 200, server.logText);
  assertSamePictures(md5s, await videoMd5s(), "ffmpeg over UDP");
});

Deno.test("ffprobe sees video.mjpeg as 384x288 mjpeg at 20 fps, 10 s long", async () => {
  if (!await haveFfmpeg()) return;
  await using server = await startServer(); // default 20 fps
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
    await using server = await startServer({ mediaDir, fps: FAST_FPS });
    const md5s = await playWithFfmpeg(server.url(name), "udp", frames.length, server.logText);
    assertSamePictures(md5s, await frameMd5s(frames), "ffmpeg, file with restart markers");
  } finally {
    await Deno.remove(mediaDir, { recursive: true });
  }
});

// RTP and RTCP over the RTSP connection (TCP interleaved, RFC 2326 §10.12).
Deno.test("ffmpeg plays video.mjpeg over RTSP/TCP interleaved: 200 frames, each identical to its original JPEG", async () => {
  if (!await haveFfmpeg()) return;
  await using server = await startServer({ fps: FAST_FPS });
  const md5s = await playWithFfmpeg(server.url(VIDEO), "tcp", 200, server.logText);
  assertSamePictures(md5s, await videoMd5s(), "ffmpeg over TCP");
});

// --- A 4:4:4 file: RFC 2435 cannot carry it, so the server converts it to baseline 4:2:0.

const LAB_444 = "lab444.mjpeg";
const LAB_444_SIZE = { width: 384, height: 288 };

/** Decode JPEGs with ffmpeg (one jpeg_pipe stream) to packed RGB, one picture after another. */
async function ffmpegRgb(jpegs: Uint8Array[]): Promise<Uint8Array> {
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error", "-f", "jpeg_pipe", "-i", "pipe:0"],
      ...["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ],
    { timeoutMs: 20_000, stdin: concat(...jpegs) },
  );
  assert.ok(
    result.success && result.stderr === "",
    `ffmpeg could not decode ${jpegs.length} JPEGs: status ${result.code}: ${tail(result.stderr)}`,
  );
  return result.stdout;
}

/**
 * PSNR in dB of two packed RGB pictures: over R, G and B, or over luma only
 * (Y of ITU-R BT.601, which 4:2:0 keeps at full resolution).
 */
function psnr(a: Uint8Array, b: Uint8Array, over: "rgb" | "luma"): number {
  assert.equal(a.length, b.length, "psnr: pictures of different sizes");
  let sum = 0, count = 0;
  for (let i = 0; i < a.length; i += 3) {
    if (over === "luma") {
      const e = 0.299 * (a[i] - b[i]) + 0.587 * (a[i + 1] - b[i + 1]) +
        0.114 * (a[i + 2] - b[i + 2]);
      sum += e * e;
      count++;
    } else {
      for (let c = 0; c < 3; c++) sum += (a[i + c] - b[i + c]) ** 2;
      count += 3;
    }
  }
  return sum === 0 ? Infinity : 10 * Math.log10(255 * 255 / (sum / count));
}

/** The 4:4:4 file and the pictures to expect from it, made once for all tests. */
interface Lab444 {
  /** The whole lab MJPEG file. */
  file: Uint8Array;
  frames: Uint8Array[];
  /** ffmpeg's RGB decoding of the original JPEGs, one picture after another. */
  originalRgb: Uint8Array;
  /** ffmpeg's RGB decoding of the JPEGs convertForRtpJpeg makes of them. */
  convertedRgb: Uint8Array;
}

let lab444: Promise<Lab444> | undefined;

/** A 2 s yuvj444p lab file made with makeLabVideo, and its expected pictures, computed once. */
function makeLab444(): Promise<Lab444> {
  lab444 ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "interop_ffmpeg_444_" });
    try {
      const stats = await makeLabVideo({
        out: join(dir, LAB_444),
        pixFmt: "yuvj444p",
        seconds: 2,
        ...LAB_444_SIZE,
      });
      const file = await Deno.readFile(join(dir, LAB_444));
      const frames = [...readLabFrames(file, LAB_444)].map((f) => f.data);
      assert.equal(frames.length, stats.frames);
      assert.equal(frames.length, 40, "2 s at 20 fps");
      const [originalRgb, convertedRgb] = await Promise.all([
        ffmpegRgb(frames),
        ffmpegRgb(frames.map(convertForRtpJpeg)),
      ]);
      return { file, frames, originalRgb, convertedRgb };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return lab444;
}

/**
 * ffmpeg plays the 4:4:4 file over `transport`: every frame, each decoding to
 * exactly what the converted JPEG decodes to, close to the original; the
 * server logs the conversion once.
 */
async function play444(transport: "udp" | "tcp"): Promise<void> {
  const { file, frames, originalRgb, convertedRgb } = await makeLab444();
  const mediaDir = await Deno.makeTempDir({ prefix: `interop_ffmpeg_444_${transport}_` });
  try {
    await Deno.writeFile(join(mediaDir, LAB_444), file);
    await using server = await startServer({ mediaDir, fps: 50 });
    const rgb = await runFfmpegPlay(
      server.url(LAB_444),
      transport,
      frames.length,
      ["-f", "rawvideo", "-pix_fmt", "rgb24"],
      server.logText,
    );
    const what = `ffmpeg over ${transport.toUpperCase()}, 4:4:4 file`;
    const frameBytes = LAB_444_SIZE.width * LAB_444_SIZE.height * 3;
    assert.equal(rgb.length % frameBytes, 0, `${what}: ${rgb.length} bytes of pictures`);
    assert.equal(rgb.length / frameBytes, frames.length, `${what}: pictures decoded`);
    const picture = (all: Uint8Array, i: number) =>
      all.subarray(i * frameBytes, (i + 1) * frameBytes);

    // Exactly the converted pictures...
    const differing = frames.flatMap((_, i) => {
      const expected = picture(convertedRgb, i);
      return picture(rgb, i).every((v, k) => v === expected[k]) ? [] : [i];
    });
    assert.deepEqual(differing, [], `${what}: pictures differ from the converted JPEGs'`);
    // ...and close to the originals. testsrc2's saturated colour edges cost 4:2:0 about
    // 31 dB over RGB by themselves; luma keeps its full resolution.
    for (const i of [0, 13, 26, frames.length - 1]) {
      const luma = psnr(picture(rgb, i), picture(originalRgb, i), "luma");
      const all = psnr(picture(rgb, i), picture(originalRgb, i), "rgb");
      assert.ok(
        luma > 40 && all > 28,
        `${what}: frame ${i}: PSNR ${luma.toFixed(2)} dB (luma), ${all.toFixed(2)} dB (RGB)`,
      );
    }

    const logged = server.logs.filter((line) => / converted \d+ of \d+ frames/.test(line));
    assert.equal(logged.length, 1, `conversion logged once:\n${tail(server.logText())}`);
    assert.match(
      logged[0],
      new RegExp(
        `${LAB_444.replace(".", "\\.")}: converted 40 of 40 frames to baseline 4:2:0 .*sampling`,
      ),
    );
  } finally {
    await Deno.remove(mediaDir, { recursive: true });
  }
}

Deno.test("ffmpeg plays a 4:4:4 file over RTP/UDP: every frame, converted once, close to the original", async () => {
  if (!await haveFfmpeg()) return;
  await play444("udp");
});

Deno.test("ffmpeg plays a 4:4:4 file over RTSP/TCP interleaved: every frame, converted once, close to the original", async () => {
  if (!await haveFfmpeg()) return;
  await play444("tcp");
});
