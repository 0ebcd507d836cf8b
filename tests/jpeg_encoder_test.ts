/**
 * encodeBaselineJpeg(): RGBA pixels → baseline 4:2:0 JPEG with the RFC 2435
 * quantization tables and the standard Huffman tables.
 *
 * - What it writes is exactly what RFC 2435 type 1 carries (jpegToRtpFrame
 *   accepts it; DQT = scaledQuantTables(q); standard DHT; Y 2x2, Cb/Cr 1x1).
 * - It decodes (jpeg-js, ffmpeg) to pictures close to the input (PSNR on
 *   noise-free synthetic patterns), better at a higher quality factor, and
 *   as close as libjpeg's own cjpeg gets with the same tables and sampling.
 * - Odd sizes, sizes over 2040, extreme content (DC category 11, runs of
 *   more than 15 zeros, a block without EOB) and solid colours (EOB only).
 *
 * The ffmpeg and cjpeg checks need the Debian packages `ffmpeg` and
 * `libjpeg-turbo-progs`; without them those tests print "SKIPPED: ..." and
 * pass, except in CI (`CI=true`), where they fail.
 */
import assert from "node:assert/strict";
import jpegJs from "jpeg-js";
import { encodeBaselineJpeg, type RgbaImage } from "../lib/wire/jpeg_encoder.ts";
import { jpegToRtpFrame } from "../lib/wire/rfc2435_packetizer.ts";
import { parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import { isStandardHuffmanSegment, scaledQuantTables } from "../lib/wire/jpeg_tables.ts";
import { catchError } from "./_helpers.ts";
import { requirePeer, runCommand, tail } from "./_peers.ts";

type Rgb = [number, number, number];

/** An opaque RGBA image whose pixel (x, y) is `colour(x, y)` (rounded, clamped). */
function makeImage(
  width: number,
  height: number,
  colour: (x: number, y: number) => Rgb,
): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const [r, g, b] = colour(x, y);
      data[at] = Math.max(0, Math.min(255, Math.round(r)));
      data[at + 1] = Math.max(0, Math.min(255, Math.round(g)));
      data[at + 2] = Math.max(0, Math.min(255, Math.round(b)));
      data[at + 3] = 255;
    }
  }
  return { width, height, data };
}

/** Smooth colour waves, in absolute pixel units, so every image size is equally smooth. */
const waves = (x: number, y: number): Rgb => [
  128 + 90 * Math.sin(x / 9 + y / 23),
  128 + 90 * Math.cos(y / 11 - x / 31),
  128 + 60 * Math.sin((x + y) / 17),
];

/** Ramps over the whole picture: red across, green down, blue along a diagonal wave. */
function gradient(width: number, height: number): RgbaImage {
  return makeImage(width, height, (x, y) => [
    255 * x / Math.max(1, width - 1),
    255 * y / Math.max(1, height - 1),
    128 + 100 * Math.sin(x / 20 + y / 30),
  ]);
}

/** Concentric grey rings with a colour ramp: structure in every direction, no noise. */
function rings(width: number, height: number): RgbaImage {
  return makeImage(width, height, (x, y) => {
    const luma = 128 + 80 * Math.cos(Math.hypot(x - width / 2, y - height / 2) / 6);
    return [luma + 40 * x / width, luma, luma + 40 * y / height];
  });
}

/**
 * PSNR in dB over the R, G and B samples of two pictures; `strideA` and
 * `strideB` are bytes per pixel (4 for RGBA, 3 for RGB). Only the pixels
 * `select` keeps count (all by default).
 */
function psnr(
  a: Uint8Array,
  strideA: number,
  b: Uint8Array,
  strideB: number,
  width: number,
  height: number,
  select: (x: number, y: number) => boolean = () => true,
): number {
  let sum = 0, count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!select(x, y)) continue;
      const i = (y * width + x) * strideA, j = (y * width + x) * strideB;
      for (let c = 0; c < 3; c++) {
        const e = a[i + c] - b[j + c];
        sum += e * e;
        count++;
      }
    }
  }
  assert.ok(count > 0, "psnr: no samples selected");
  return sum === 0 ? Infinity : 10 * Math.log10(255 * 255 / (sum / count));
}

/** Decode with jpeg-js to RGBA. */
function decode(jpeg: Uint8Array): RgbaImage {
  const image = jpegJs.decode(jpeg, { useTArray: true, formatAsRGBA: true });
  return { width: image.width, height: image.height, data: image.data };
}

/** PSNR of `jpeg` (decoded by jpeg-js) against `image`. */
function jpegPsnr(jpeg: Uint8Array, image: RgbaImage): number {
  const decoded = decode(jpeg);
  assert.deepEqual([decoded.width, decoded.height], [image.width, image.height], "decoded size");
  return psnr(image.data, 4, decoded.data, 4, image.width, image.height);
}

/** Decode one JPEG with ffmpeg to RGB; asserts a clean run (exit 0, nothing on stderr). */
async function ffmpegDecode(jpeg: Uint8Array, label: string): Promise<Uint8Array> {
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error"],
      ...["-f", "jpeg_pipe", "-i", "pipe:0"],
      ...["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ],
    { timeoutMs: 20_000, stdin: jpeg },
  );
  const context = `ffmpeg decoding ${label} (${jpeg.length} bytes): status ${result.code}` +
    `${result.timedOut ? " (killed after 20 s)" : ""}\n--- stderr\n${tail(result.stderr)}`;
  assert.ok(result.success, `ffmpeg failed: ${context}`);
  assert.equal(result.stderr, "", `ffmpeg printed errors: ${context}`);
  return result.stdout;
}

/** The scan data of a JPEG (between SOS and EOI). */
function scanOf(jpeg: Uint8Array): Uint8Array {
  return jpeg.subarray(parseJpegStructure(jpeg).scanOffset, jpeg.length - 2);
}

/** Every DQT segment's tables, concatenated in file order (8-bit tables only). */
function dqtBytes(jpeg: Uint8Array): Uint8Array {
  const parts: number[] = [];
  for (const segment of parseJpegStructure(jpeg).segments.filter((s) => s.marker === 0xdb)) {
    for (let i = 0; i < segment.data.length; i += 65) {
      assert.equal(segment.data[i] >> 4, 0, "DQT precision should be 8-bit");
      parts.push(...segment.data.subarray(i + 1, i + 65));
    }
  }
  return Uint8Array.from(parts);
}

/** One picture with every kind of content the encoder must code, at the extremes. */
function extremes(): RgbaImage {
  // 16x16 tiles: black, white, 1-pixel stripes, and the (7,7) DCT basis picture.
  return makeImage(64, 64, (x, y) => {
    const tile = ((x >> 4) + 2 * (y >> 4)) % 4;
    const v = tile === 0
      ? 0
      : tile === 1
      ? 255
      : tile === 2
      ? (x & 1 ? 255 : 0)
      : 128 + 127 * Math.cos((2 * (x & 7) + 1) * 7 * Math.PI / 16) *
          Math.cos((2 * (y & 7) + 1) * 7 * Math.PI / 16);
    return [v, v, v];
  });
}

Deno.test("encodeBaselineJpeg() writes exactly what RFC 2435 type 1 carries, for every Q", () => {
  const image = gradient(96, 64);
  for (const q of [1, 25, 50, 75, 90, 99]) {
    const jpeg = encodeBaselineJpeg(image, q);
    const structure = parseJpegStructure(jpeg);
    assert.deepEqual(
      structure.segments.map((s) => s.marker),
      [0xdb, 0xc0, 0xc4, 0xda],
      `Q ${q}: segments DQT, SOF0, DHT, SOS`,
    );
    const info = readJpegFrameInfo(structure);
    assert.equal(info.sofMarker, 0xc0, `Q ${q}: baseline`);
    assert.equal(info.precision, 8);
    assert.deepEqual([info.width, info.height], [96, 64]);
    assert.deepEqual(
      info.components.map((c) => [c.id, c.h, c.v, c.tq]),
      [[1, 2, 2, 0], [2, 1, 1, 1], [3, 1, 1, 1]],
      `Q ${q}: Y 2x2 with table 0, Cb and Cr 1x1 with table 1`,
    );
    for (const dht of structure.segments.filter((s) => s.marker === 0xc4)) {
      assert.ok(isStandardHuffmanSegment(dht.data), `Q ${q}: DHT holds only the standard tables`);
    }
    assert.deepEqual(dqtBytes(jpeg), scaledQuantTables(q), `Q ${q}: DQT is the RFC 2435 tables`);

    const frame = jpegToRtpFrame(jpeg);
    assert.equal(frame.type, 1, `Q ${q}: type 1 (4:2:0, no restart markers)`);
    assert.deepEqual([frame.width, frame.height], [96, 64]);
    assert.equal(frame.restartInterval, 0);
    assert.equal(frame.quantPrecision, 0);
    assert.deepEqual(frame.quantTables, scaledQuantTables(q), `Q ${q}: quantization tables`);
    assert.equal(frame.scan.length, jpeg.length - structure.scanOffset - 2);
    // Entropy-coded data: every 0xFF is stuffed (followed by 0x00); no markers inside.
    const scan = frame.scan;
    for (let i = 0; i < scan.length; i++) {
      if (scan[i] === 0xff) {
        assert.equal(scan[i + 1], 0x00, `Q ${q}: unstuffed 0xFF at scan offset ${i}`);
        i++;
      }
    }
  }
});

Deno.test("encodeBaselineJpeg() defaults to Q 90", () => {
  const image = rings(48, 32);
  assert.deepEqual(encodeBaselineJpeg(image), encodeBaselineJpeg(image, 90));
});

Deno.test("encodeBaselineJpeg() output decodes close to the input, closer at a higher Q", () => {
  for (
    const [name, image] of [["gradient", gradient(256, 192)], ["rings", rings(256, 192)]] as const
  ) {
    const results = [25, 50, 75, 90, 99].map((q) => {
      const jpeg = encodeBaselineJpeg(image, q);
      return { q, bytes: jpeg.length, psnr: jpegPsnr(jpeg, image) };
    });
    const summary = results.map((r) => `Q ${r.q}: ${r.bytes} bytes, ${r.psnr.toFixed(2)} dB`)
      .join("; ");
    const at90 = results.find((r) => r.q === 90)!;
    assert.ok(at90.psnr > 35, `${name}: PSNR at Q 90 should exceed 35 dB: ${summary}`);
    assert.ok(results[0].psnr > 28, `${name}: PSNR at Q 25 should exceed 28 dB: ${summary}`);
    for (let i = 1; i < results.length; i++) {
      assert.ok(results[i].psnr > results[i - 1].psnr, `${name}: PSNR grows with Q: ${summary}`);
      assert.ok(results[i].bytes > results[i - 1].bytes, `${name}: size grows with Q: ${summary}`);
    }
  }
});

Deno.test("encodeBaselineJpeg() codes odd sizes and sizes over 2040 with the right size", () => {
  for (const [width, height] of [[1, 1], [17, 9], [33, 47], [2056, 16], [16, 2049]]) {
    const label = `${width}x${height}`;
    const image = makeImage(width, height, waves);
    const jpeg = encodeBaselineJpeg(image, 90);
    const frame = jpegToRtpFrame(jpeg);
    assert.equal(frame.type, 1, label);
    assert.deepEqual([frame.width, frame.height], [width, height], `${label}: SOF size`);
    const decoded = decode(jpeg);
    assert.deepEqual([decoded.width, decoded.height], [width, height], `${label}: decoded size`);
    const whole = psnr(image.data, 4, decoded.data, 4, width, height);
    assert.ok(whole > 35, `${label}: PSNR ${whole.toFixed(2)} dB`);
    // The partial MCUs at the right and bottom edges are coded as well as the rest.
    const edges = psnr(
      image.data,
      4,
      decoded.data,
      4,
      width,
      height,
      (x, y) => x === width - 1 || y === height - 1,
    );
    assert.ok(edges > 30, `${label}: PSNR of the last row and column ${edges.toFixed(2)} dB`);
  }
});

Deno.test("encodeBaselineJpeg() codes extreme content: DC category 11, long zero runs, no EOB", () => {
  // At Q 99 every quantizer is 1 or 2: black/white tiles give DC differences near ±2040
  // (category 11), stripes give large AC values, and the (7,7) basis picture has a
  // single AC coefficient, the last one: a run of 62 zeros (three ZRL codes) and no EOB.
  const image = extremes();
  for (const q of [50, 90, 99]) {
    const value = jpegPsnr(encodeBaselineJpeg(image, q), image);
    assert.ok(value > (q === 99 ? 40 : 25), `Q ${q}: PSNR ${value.toFixed(2)} dB`);
  }
});

Deno.test("encodeBaselineJpeg() codes a solid colour as DC and EOB only: a small file", () => {
  const width = 256, height = 256;
  const colour: Rgb = [30, 120, 200];
  const image = makeImage(width, height, () => colour);
  const jpeg = encodeBaselineJpeg(image, 90);
  // Per 16x16 MCU after the first: 4 luma blocks of DC "00" + EOB "1010" (6 bits) and
  // 2 chroma blocks of DC "00" + EOB "00" (4 bits): 32 bits.
  const mcus = (width / 16) * (height / 16);
  const scan = scanOf(jpeg);
  assert.ok(
    scan.length <= 4 * mcus + 16,
    `scan data of a solid ${width}x${height} picture is ${scan.length} bytes; expected at most ` +
      `${4 * mcus + 16} (DC difference 0 and EOB in every block)`,
  );
  assert.ok(jpeg.length < 1700, `${jpeg.length} bytes`);
  const decoded = decode(jpeg);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const got = decoded.data[i * 4 + c];
      if (Math.abs(got - colour[c]) > 2) {
        assert.fail(`pixel ${i} channel ${c} decoded as ${got}, expected ${colour[c]} ±2`);
      }
    }
  }
  // A grey picture: the chroma blocks are all zero.
  const grey = encodeBaselineJpeg(makeImage(width, height, () => [77, 77, 77]), 90);
  assert.ok(scanOf(grey).length <= 4 * mcus + 16, `grey scan ${scanOf(grey).length} bytes`);
});

Deno.test("encodeBaselineJpeg() throws RangeError for an empty image or too few pixel bytes", () => {
  const cases: [string, RgbaImage][] = [
    ["0x0", { width: 0, height: 0, data: new Uint8Array(0) }],
    ["0x5", { width: 0, height: 5, data: new Uint8Array(100) }],
    ["5x0", { width: 5, height: 0, data: new Uint8Array(100) }],
    ["65536x1", { width: 65536, height: 1, data: new Uint8Array(65536 * 4) }],
    ["4x4 with 63 bytes", { width: 4, height: 4, data: new Uint8Array(63) }],
    ["4x4 with no bytes", { width: 4, height: 4, data: new Uint8Array(0) }],
  ];
  for (const [label, image] of cases) {
    const error = catchError(() => encodeBaselineJpeg(image), RangeError);
    assert.match(error.message, /Cannot encode/, label);
  }
  assert.match(
    catchError(
      () => encodeBaselineJpeg({ width: 4, height: 4, data: new Uint8Array(63) }),
      RangeError,
    )
      .message,
    /too few pixel bytes/,
  );
  // Exactly enough bytes is fine.
  encodeBaselineJpeg({ width: 4, height: 4, data: new Uint8Array(64) });
});

Deno.test("ffmpeg decodes encodeBaselineJpeg() output without errors, close to the input", async () => {
  if (!await requirePeer("ffmpeg", ["-hide_banner", "-version"])) return;
  const images: [string, RgbaImage, number][] = [
    ["gradient 384x288", gradient(384, 288), 35],
    ["rings 384x288", rings(384, 288), 35],
    ["waves 1x1", makeImage(1, 1, waves), 30],
    ["waves 17x9", makeImage(17, 9, waves), 30],
    ["waves 33x47", makeImage(33, 47, waves), 30],
    ["waves 2056x16", makeImage(2056, 16, waves), 30],
    ["extremes at Q 99", extremes(), 40],
  ];
  await Promise.all(images.map(async ([label, image, minPsnr]) => {
    const jpeg = encodeBaselineJpeg(image, label.includes("Q 99") ? 99 : 90);
    const rgb = await ffmpegDecode(jpeg, label);
    assert.equal(rgb.length, image.width * image.height * 3, `${label}: decoded size`);
    const value = psnr(image.data, 4, rgb, 3, image.width, image.height);
    assert.ok(value > minPsnr, `${label}: ffmpeg's decoding PSNR ${value.toFixed(2)} dB`);
  }));
});

Deno.test("encodeBaselineJpeg() is as close to the input as libjpeg's cjpeg with the same tables", async () => {
  if (!await requirePeer("cjpeg", ["-version"])) return;
  for (
    const [label, image] of [["gradient", gradient(320, 240)], ["rings", rings(320, 240)]] as const
  ) {
    // The same picture as a binary PPM for cjpeg.
    const header = new TextEncoder().encode(`P6\n${image.width} ${image.height}\n255\n`);
    const ppm = new Uint8Array(header.length + image.width * image.height * 3);
    ppm.set(header);
    for (let i = 0; i < image.width * image.height; i++) {
      ppm.set(image.data.subarray(i * 4, i * 4 + 3), header.length + i * 3);
    }
    // IJG's quality scaling is RFC 2435's; -sample 2x2 is 4:2:0.
    const result = await runCommand(
      "cjpeg",
      ["-quality", "90", "-sample", "2x2", "-baseline", "-dct", "float"],
      { timeoutMs: 10_000, stdin: ppm },
    );
    assert.ok(result.success, `cjpeg failed: ${result.code}: ${tail(result.stderr)}`);
    const reference = result.stdout;
    assert.deepEqual(dqtBytes(reference), scaledQuantTables(90), "cjpeg uses the same tables");
    const ours = jpegPsnr(encodeBaselineJpeg(image, 90), image);
    const theirs = jpegPsnr(reference, image);
    assert.ok(
      ours > theirs - 0.5,
      `${label}: our PSNR ${ours.toFixed(2)} dB, cjpeg's ${theirs.toFixed(2)} dB`,
    );
  }
});
