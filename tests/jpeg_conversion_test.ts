/**
 * Converting JPEGs RFC 2435 cannot carry: convertForRtpJpeg() on the kinds
 * real tools write (ffmpeg 4:4:4 and its 4:2:2 layout, libjpeg progressive
 * and greyscale, ffmpeg with optimal Huffman tables), and rtpJpegPayloads()
 * converting the frames of a lab file that need it, once, pausing between
 * conversions.
 *
 * The pictures come from ffmpeg (Debian package `ffmpeg`) and cjpeg (Debian
 * package `libjpeg-turbo-progs`: ffmpeg writes neither progressive nor
 * greyscale JPEGs; `-pix_fmt gray` silently gives 4:4:4). Without them
 * those tests print "SKIPPED: ..." and pass, except in CI (`CI=true`), where
 * they fail.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import jpegJs from "jpeg-js";
import { CONVERSION_QUALITY, convertForRtpJpeg } from "../lib/media/jpeg_conversion.ts";
import { parseMjpegSource, rtpJpegPayloads } from "../lib/media/mjpeg_source.ts";
import { type JpegFrameInfo, parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import { isStandardHuffmanSegment, scaledQuantTables } from "../lib/wire/jpeg_tables.ts";
import { LabMjpegError, readLabFrames, writeLabMjpeg } from "../lib/wire/lab_mjpeg.ts";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { jpegToRtpFrame, UnsupportedJpegError } from "../lib/wire/rfc2435_packetizer.ts";
import { makeLabVideo } from "../tools/make_video.ts";
import { bytes, catchError } from "./_helpers.ts";
import { frameMd5s, requirePeer, runCommand, tail } from "./_peers.ts";
import { assertSamePicture } from "./_same_picture.ts";

const VIDEO = new URL("../video.mjpeg", import.meta.url);
/** testsrc2, softened a little: its hard colour edges alone cost 4:2:0 about 31 dB. */
const PATTERN = "testsrc2=size=320x240:rate=1,gblur=sigma=1.5";
const MAX_PAYLOAD = 1400;

/** Run ffmpeg rendering one frame of {@linkcode PATTERN}, written as `output` args to stdout. */
async function ffmpegPicture(output: string[]): Promise<Uint8Array> {
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error"],
      ...["-f", "lavfi", "-i", PATTERN, "-frames:v", "1"],
      ...output,
      "pipe:1",
    ],
    { timeoutMs: 20_000 },
  );
  assert.ok(
    result.success && result.stderr === "",
    `ffmpeg ${output.join(" ")}: status ${result.code}: ${tail(result.stderr)}`,
  );
  return result.stdout;
}

/** {@linkcode PATTERN} as a JPEG from ffmpeg's mjpeg encoder with extra options. */
function ffmpegJpeg(options: string[]): Promise<Uint8Array> {
  return ffmpegPicture([...options, "-q:v", "3", "-f", "mjpeg"]);
}

/** {@linkcode PATTERN} as a JPEG from libjpeg's cjpeg with `options`. */
async function cjpeg(options: string[]): Promise<Uint8Array> {
  const ppm = await ffmpegPicture(["-f", "image2pipe", "-c:v", "ppm"]);
  const result = await runCommand("cjpeg", ["-quality", "90", ...options], {
    timeoutMs: 10_000,
    stdin: ppm,
  });
  assert.ok(result.success, `cjpeg ${options.join(" ")}: status ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/**
 * PSNR in dB of two RGBA pictures of the same size: over R, G and B, or over
 * luma only (Y of ITU-R BT.601, which 4:2:0 keeps at full resolution).
 */
function psnr(a: Uint8Array, b: Uint8Array, over: "rgb" | "luma" = "rgb"): number {
  assert.equal(a.length, b.length, "psnr: pictures of different sizes");
  let sum = 0, count = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (over === "luma") {
      const e = 0.299 * (a[i] - b[i]) + 0.587 * (a[i + 1] - b[i + 1]) +
        0.114 * (a[i + 2] - b[i + 2]);
      sum += e * e;
      count++;
      continue;
    }
    for (let c = 0; c < 3; c++) {
      const e = a[i + c] - b[i + c];
      sum += e * e;
      count++;
    }
  }
  return sum === 0 ? Infinity : 10 * Math.log10(255 * 255 / (sum / count));
}

/** PSNR of `converted` against `original`, both decoded by jpeg-js; sizes must match. */
function conversionPsnr(
  original: Uint8Array,
  converted: Uint8Array,
  over: "rgb" | "luma" = "rgb",
): number {
  const a = jpegJs.decode(original, { useTArray: true, formatAsRGBA: true });
  const b = jpegJs.decode(converted, { useTArray: true, formatAsRGBA: true });
  assert.deepEqual([b.width, b.height], [a.width, a.height], "converted picture size");
  return psnr(a.data, b.data, over);
}

/** One kind of JPEG RFC 2435 cannot carry as it is. */
interface Case {
  name: string;
  /** Tools it needs, as requirePeer probes. */
  peers: [string, string[]][];
  make: () => Promise<Uint8Array>;
  /** Check the picture is the kind this case claims (so the tool did what was asked). */
  isKind: (info: JpegFrameInfo, dhtStandard: boolean) => boolean;
  /** What jpegToRtpFrame says about the original. */
  reason: RegExp;
}

const FFMPEG: [string, string[]] = ["ffmpeg", ["-hide_banner", "-version"]];
const CJPEG: [string, string[]] = ["cjpeg", ["-version"]];
const sampling = (info: JpegFrameInfo) => info.components.map((c) => `${c.h}x${c.v}`).join(",");

const CASES: Case[] = [
  {
    name: "a 4:4:4 JPEG from ffmpeg (Y, Cb, Cr all 1x2)",
    peers: [FFMPEG],
    make: () => ffmpegJpeg(["-pix_fmt", "yuvj444p", "-huffman", "default"]),
    isKind: (info) => info.sofMarker === 0xc0 && sampling(info) === "1x2,1x2,1x2",
    reason: /sampling Y 1x2, Cb 1x2, Cr 1x2/,
  },
  {
    name: "a 4:2:2 JPEG as ffmpeg writes it (Y 2x2, chroma 1x2)",
    peers: [FFMPEG],
    make: () => ffmpegJpeg(["-pix_fmt", "yuvj422p", "-huffman", "default"]),
    isKind: (info) => info.sofMarker === 0xc0 && sampling(info) === "2x2,1x2,1x2",
    reason: /sampling Y 2x2, Cb 1x2, Cr 1x2/,
  },
  {
    name: "a progressive JPEG from cjpeg -progressive",
    peers: [FFMPEG, CJPEG],
    make: () => cjpeg(["-progressive"]),
    isKind: (info) => info.sofMarker === 0xc2 && info.components.length === 3,
    reason: /progressive/,
  },
  {
    name: "a 4:2:0 JPEG from ffmpeg -huffman optimal",
    peers: [FFMPEG],
    make: () => ffmpegJpeg(["-pix_fmt", "yuvj420p", "-huffman", "optimal"]),
    isKind: (info, dhtStandard) =>
      info.sofMarker === 0xc0 && sampling(info) === "2x2,1x1,1x1" && !dhtStandard,
    reason: /own Huffman tables/,
  },
  {
    name: "a greyscale JPEG from cjpeg -grayscale",
    peers: [FFMPEG, CJPEG],
    make: () => cjpeg(["-grayscale", "-baseline"]),
    isKind: (info) => info.sofMarker === 0xc0 && info.components.length === 1,
    reason: /1 components/,
  },
];

for (const c of CASES) {
  Deno.test(`convertForRtpJpeg() turns ${c.name} into RFC 2435 type 1, close to the original`, async () => {
    for (const [name, args] of c.peers) if (!await requirePeer(name, args)) return;
    const original = await c.make();
    const structure = parseJpegStructure(original);
    const info = readJpegFrameInfo(structure);
    const dhtStandard = structure.segments.filter((s) => s.marker === 0xc4)
      .every((s) => isStandardHuffmanSegment(s.data));
    assert.ok(
      c.isKind(info, dhtStandard),
      `the tool did not write ${c.name}: SOF 0x${info.sofMarker.toString(16)}, sampling ` +
        `${sampling(info)}, standard Huffman tables: ${dhtStandard}`,
    );
    const refusal = catchError(() => jpegToRtpFrame(original), UnsupportedJpegError);
    assert.match(refusal.message, c.reason);

    const converted = convertForRtpJpeg(original);
    const frame = jpegToRtpFrame(converted);
    assert.equal(frame.type, 1, "type 1: 4:2:0 without restart markers");
    assert.deepEqual([frame.width, frame.height], [info.width, info.height]);
    assert.deepEqual(frame.quantTables, scaledQuantTables(CONVERSION_QUALITY));
    const value = conversionPsnr(original, converted);
    assert.ok(value > 30, `PSNR of the converted picture ${value.toFixed(2)} dB`);
    await frameMd5s([converted]); // ffmpeg decodes it without a word
  });
}

Deno.test("convertForRtpJpeg() is deterministic", async () => {
  if (!await requirePeer(...FFMPEG)) return;
  const original = await ffmpegJpeg(["-pix_fmt", "yuvj444p"]);
  assert.deepEqual(convertForRtpJpeg(original), convertForRtpJpeg(original));
});

Deno.test("convertForRtpJpeg() throws an Error saying why for bytes it cannot decode", async () => {
  const inputs: [string, Uint8Array][] = [
    ["text", bytes("this is not a JPEG at all")],
    ["nothing", new Uint8Array(0)],
    ["SOI then zeros", Uint8Array.from([0xff, 0xd8, ...new Uint8Array(64), 0xff, 0xd9])],
  ];
  if (await requirePeer(...FFMPEG)) {
    // A 4:4:4 JPEG whose scan data stops after 10 bytes.
    const jpeg = await ffmpegJpeg(["-pix_fmt", "yuvj444p"]);
    const scanOffset = parseJpegStructure(jpeg).scanOffset;
    inputs.push([
      "truncated scan",
      Uint8Array.from([...jpeg.subarray(0, scanOffset + 10), 0xff, 0xd9]),
    ]);
  }
  for (const [label, input] of inputs) {
    const error = catchError(() => convertForRtpJpeg(input), Error);
    assert.match(error.message, /^Cannot decode it to convert it: \S/, label);
    assert.ok(!(error instanceof RangeError), `${label}: ${error.name}`);
  }
});

/** Reassemble each frame's payloads into the JPEG an RFC 2435 receiver rebuilds. */
function reassemble(payloads: readonly (readonly Uint8Array[])[]): Uint8Array[] {
  const depacketizer = new Rfc2435Depacketizer();
  const jpegs: Uint8Array[] = [];
  let sequence = 0;
  for (const [index, frame] of payloads.entries()) {
    frame.forEach((payload, i) => {
      for (
        const event of depacketizer.push({
          sequence: sequence++,
          timestamp: index * 4500,
          marker: i === frame.length - 1,
          payload,
        })
      ) {
        assert.equal(event.kind, "frame", `frame ${index}: ${JSON.stringify(event)}`);
        if (event.kind === "frame") jpegs.push(event.jpeg);
      }
    });
  }
  return jpegs;
}

/** A small 4:4:4 lab file (10 frames of 192x144) from makeLabVideo, parsed. */
async function labFile444(): Promise<{ bytes: Uint8Array; frames: Uint8Array[] }> {
  const dir = await Deno.makeTempDir({ prefix: "jpeg_conversion_" });
  try {
    const out = join(dir, "444.mjpeg");
    await makeLabVideo({ out, pixFmt: "yuvj444p", seconds: 0.5, width: 192, height: 144 });
    const file = await Deno.readFile(out);
    return { bytes: file, frames: [...readLabFrames(file)].map((f) => f.data) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rtpJpegPayloads() converts every frame of a 4:4:4 lab file, once, and says why", async () => {
  if (!await requirePeer(...FFMPEG)) return;
  const { bytes: file, frames } = await labFile444();
  assert.equal(frames.length, 10);
  const source = parseMjpegSource(file, "444.mjpeg");
  let pauses = 0;
  const payloads = await rtpJpegPayloads(source, MAX_PAYLOAD, {
    pause: () => {
      pauses++;
      return Promise.resolve();
    },
  });
  assert.equal(payloads.converted, frames.length);
  assert.match(payloads.conversionReason ?? "", /sampling Y 1x2, Cb 1x2, Cr 1x2/);
  assert.doesNotMatch(payloads.conversionReason ?? "", /^Cannot send/, "prefix removed");
  assert.equal(pauses, frames.length, "one pause per converted frame");
  assert.equal(payloads.frames.length, frames.length);
  assert.equal(payloads.packets, payloads.frames.reduce((n, f) => n + f.length, 0));
  for (const frame of payloads.frames) {
    for (const payload of frame) assert.ok(payload.length <= MAX_PAYLOAD);
  }
  // What a receiver reassembles is the converted JPEG, picture for picture.
  const received = reassemble(payloads.frames);
  assert.equal(received.length, frames.length);
  received.forEach((jpeg, i) => {
    assertSamePicture(jpeg, convertForRtpJpeg(frames[i]), `frame ${i}`);
    // makeLabVideo's testsrc2 is unblurred: halving the resolution of its saturated colour
    // edges alone costs about 29 dB over RGB at this size; luma keeps its resolution.
    const luma = conversionPsnr(frames[i], jpeg, "luma");
    const rgb = conversionPsnr(frames[i], jpeg);
    assert.ok(
      luma > 40 && rgb > 26,
      `frame ${i}: PSNR ${luma.toFixed(2)} dB (luma), ${rgb.toFixed(2)} dB (RGB)`,
    );
  });
  // Computed once per source and payload size: the same promise, no more conversions.
  const again = rtpJpegPayloads(source, MAX_PAYLOAD, {
    pause: () => {
      pauses++;
      return Promise.resolve();
    },
  });
  assert.equal(await again, payloads);
  assert.equal(pauses, frames.length, "no second conversion");
});

Deno.test("rtpJpegPayloads() converts nothing in video.mjpeg and never pauses", async () => {
  const source = parseMjpegSource(await Deno.readFile(VIDEO), "video.mjpeg");
  let pauses = 0;
  const payloads = await rtpJpegPayloads(source, MAX_PAYLOAD, {
    pause: () => {
      pauses++;
      return Promise.resolve();
    },
  });
  assert.equal(payloads.converted, 0);
  assert.equal(payloads.conversionReason, undefined);
  assert.ok(!("conversionReason" in payloads), "no conversionReason key");
  assert.equal(pauses, 0);
  assert.equal(payloads.frames.length, source.frames.length);
  // Carried as they are: the receiver rebuilds each original JPEG.
  const received = reassemble(payloads.frames);
  for (const i of [0, 1, 99, source.frames.length - 1]) {
    assertSamePicture(received[i], source.frames[i], `frame ${i}`);
  }
});

Deno.test("rtpJpegPayloads() awaits the pause once before each converted frame, and only those", async () => {
  if (!await requirePeer(...FFMPEG)) return;
  const { frames: frames444 } = await labFile444();
  const baseline = [...readLabFrames(await Deno.readFile(VIDEO))].map((f) => f.data);
  // 4:2:0 (carried as is), then 4:4:4, 4:4:4, 4:2:0, 4:4:4, 4:2:0.
  const mixed = [baseline[0], frames444[0], frames444[1], baseline[1], frames444[2], baseline[2]];
  const source = parseMjpegSource(writeLabMjpeg(mixed), "mixed.mjpeg");
  const gates: (() => void)[] = [];
  let settled = false;
  const pending = rtpJpegPayloads(source, MAX_PAYLOAD, {
    pause: () => new Promise<void>((resolve) => gates.push(resolve)),
  });
  pending.finally(() => settled = true);
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  for (let k = 1; k <= 3; k++) {
    await tick();
    await tick();
    assert.equal(gates.length, k, `pause ${k} called, and not the next before it resolved`);
    assert.ok(!settled, `still waiting on pause ${k}`);
    gates[k - 1]();
  }
  const payloads = await pending;
  assert.equal(gates.length, 3, "one pause per converted frame");
  assert.equal(payloads.converted, 3);
  assert.match(payloads.conversionReason ?? "", /sampling/);
  const received = reassemble(payloads.frames);
  assertSamePicture(received[0], baseline[0], "frame 0 (carried as is)");
  assertSamePicture(received[1], convertForRtpJpeg(frames444[0]), "frame 1 (converted)");
  assertSamePicture(received[3], baseline[1], "frame 3 (carried as is)");
});

Deno.test("rtpJpegPayloads() names the frame it cannot convert, and keeps no failure", async () => {
  if (!await requirePeer(...FFMPEG)) return;
  const { frames: frames444 } = await labFile444();
  const scanOffset = parseJpegStructure(frames444[1]).scanOffset;
  const broken = Uint8Array.from([...frames444[1].subarray(0, scanOffset + 10), 0xff, 0xd9]);
  const frames = [frames444[0], broken, frames444[2]];
  const source = parseMjpegSource(writeLabMjpeg(frames), "broken.mjpeg");
  const failure = rtpJpegPayloads(source, MAX_PAYLOAD);
  let error: unknown;
  try {
    await failure;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof LabMjpegError, `expected LabMjpegError, got ${error}`);
  assert.equal(error.file, "broken.mjpeg");
  assert.equal(error.frameIndex, 1);
  assert.match(error.message, new RegExp(`frame 1 at byte offset ${5 + frames[0].length}`));
  assert.match(error.message, /sampling Y 1x2/);
  assert.match(error.message, /Cannot decode it to convert it/);
  // A failure is not cached: the next call tries again (and fails again).
  const retry = rtpJpegPayloads(source, MAX_PAYLOAD);
  const retried = retry.then(() => undefined, (e) => e);
  assert.notEqual(retry, failure);
  assert.ok(await retried instanceof LabMjpegError);
});
