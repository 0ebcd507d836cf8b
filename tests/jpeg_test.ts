import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  EOI,
  isCompleteJpeg,
  jpegProblem,
  parseJpegStructure,
  readJpegFrameInfo,
  SOI,
  SOS,
} from "../lib/wire/jpeg.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { catchError, concat } from "./_helpers.ts";

/** A marker segment: FF, marker, 16-bit length (payload + 2), payload. */
function segment(marker: number, payload: number[]): number[] {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

// deno-fmt-ignore
const APP0 = segment(0xe0, [
  0x4a, 0x46, 0x49, 0x46, 0x00, // "JFIF\0"
  0x01, 0x01, // version 1.1
  0x00, // density units
  0x00, 0x01, 0x00, 0x01, // X and Y density
  0x00, 0x00, // no thumbnail
]);
const DQT = segment(0xdb, [0x00, ...Array.from({ length: 64 }, (_, i) => i + 1)]);
/** SOF0 with 3 components: Y 2x2 table 0, Cb and Cr 1x1 table 1. */
function sof(width: number, height: number, marker = 0xc0): number[] {
  // deno-fmt-ignore
  return segment(marker, [
    0x08, // precision
    height >> 8, height & 0xff,
    width >> 8, width & 0xff,
    0x03, // components
    0x01, 0x22, 0x00, // Y: id 1, 2x2, table 0
    0x02, 0x11, 0x01, // Cb: id 2, 1x1, table 1
    0x03, 0x11, 0x01, // Cr: id 3, 1x1, table 1
  ]);
}
/** One Huffman table with a single code of length 1. */
const DHT = segment(0xc4, [0x00, 1, ...new Array(15).fill(0), 0x00]);
const SOS_SEGMENT = segment(0xda, [0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00]);
/** Scan data with a stuffed 0xFF 0x00 and an RST0 marker inside. */
const SCAN = [0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd0, 0x78];

function jpeg(
  { width = 384, height = 288, sofMarker = 0xc0, scan = SCAN }: {
    width?: number;
    height?: number;
    sofMarker?: number;
    scan?: number[];
  } = {},
): Uint8Array {
  return concat(
    [0xff, SOI],
    APP0,
    DQT,
    sof(width, height, sofMarker),
    DHT,
    SOS_SEGMENT,
    scan,
    [0xff, EOI],
  );
}

Deno.test("JPEG marker constants are SOI D8, EOI D9, SOS DA", () => {
  assert.equal(SOI, 0xd8);
  assert.equal(EOI, 0xd9);
  assert.equal(SOS, 0xda);
});

Deno.test("parseJpegStructure() lists the header segments of a hand-built JPEG", () => {
  const image = jpeg();
  const structure = parseJpegStructure(image);
  assert.deepEqual(structure.segments.map((s) => s.marker), [0xe0, 0xdb, 0xc0, 0xc4, 0xda]);
  // SOI 0-1; APP0 2+2+16=20; DQT 20+2+67=89; SOF0 89+2+17=108; DHT 108+2+20=130;
  // SOS 130+2+12=144.
  assert.deepEqual(structure.segments.map((s) => s.offset), [2, 20, 89, 108, 130]);
  assert.deepEqual(structure.segments.map((s) => s.data.length), [14, 65, 15, 18, 10]);
  assert.equal(structure.scanOffset, 144);
  assert.equal(structure.end, image.length);
  assert.equal(image.length, 144 + SCAN.length + 2);
  assert.deepEqual([...structure.segments[0].data.subarray(0, 5)], [0x4a, 0x46, 0x49, 0x46, 0]);
  assert.deepEqual([...image.subarray(structure.scanOffset, structure.scanOffset + 2)], [
    0x12,
    0x34,
  ]);
});

Deno.test("parseJpegStructure() returns segment data as views into the input", () => {
  const image = jpeg();
  const structure = parseJpegStructure(image);
  const dqt = structure.segments[1];
  assert.equal(dqt.data.buffer, image.buffer);
  assert.equal(dqt.data.byteOffset, dqt.offset + 4);
  image[dqt.offset + 4] = 0x11;
  assert.equal(dqt.data[0], 0x11);
});

Deno.test("parseJpegStructure() skips fill bytes and length-less markers before the scan", () => {
  const image = concat(
    [0xff, SOI],
    APP0,
    [0xff, 0xff, 0xff], // fill bytes before the next marker
    DQT,
    [0xff, 0xd3], // RST3: no length
    [0xff, 0x01], // TEM: no length
    sof(16, 8),
    DHT,
    SOS_SEGMENT,
    SCAN,
    [0xff, EOI],
  );
  const structure = parseJpegStructure(image);
  assert.deepEqual(structure.segments.map((s) => s.marker), [0xe0, 0xdb, 0xc0, 0xc4, 0xda]);
  assert.equal(structure.segments[1].offset, 23); // the FF right before DB
  assert.equal(structure.scanOffset, image.length - SCAN.length - 2);
});

Deno.test("parseJpegStructure() accepts an empty scan (SOS directly followed by EOI)", () => {
  const image = jpeg({ scan: [] });
  const structure = parseJpegStructure(image);
  assert.equal(structure.scanOffset, image.length - 2);
  assert.equal(structure.end, image.length);
});

Deno.test("readJpegFrameInfo() reads width, height and components from SOF0", () => {
  const info = readJpegFrameInfo(parseJpegStructure(jpeg({ width: 384, height: 288 })));
  assert.equal(info.sofMarker, 0xc0);
  assert.equal(info.precision, 8);
  assert.equal(info.width, 384);
  assert.equal(info.height, 288);
  assert.deepEqual(info.components, [
    { id: 1, h: 2, v: 2, tq: 0 },
    { id: 2, h: 1, v: 1, tq: 1 },
    { id: 3, h: 1, v: 1, tq: 1 },
  ]);
});

Deno.test("readJpegFrameInfo() reads sizes of every magnitude", async (t) => {
  for (const [width, height] of [[1, 1], [255, 256], [640, 480], [65535, 1], [1, 65535]]) {
    await t.step(`${width}x${height}`, () => {
      const info = readJpegFrameInfo(parseJpegStructure(jpeg({ width, height })));
      assert.equal(info.width, width);
      assert.equal(info.height, height);
    });
  }
});

Deno.test("readJpegFrameInfo() accepts other SOF markers and reports which", async (t) => {
  for (const marker of [0xc1, 0xc2, 0xc3, 0xc9, 0xcf]) {
    await t.step(`0x${marker.toString(16)}`, () => {
      const info = readJpegFrameInfo(parseJpegStructure(jpeg({ sofMarker: marker })));
      assert.equal(info.sofMarker, marker);
      assert.equal(info.width, 384);
    });
  }
});

Deno.test("readJpegFrameInfo() throws ParseError when there is no SOF (DHT, JPG, DAC are not SOF)", async (t) => {
  for (const marker of [0xc4, 0xc8, 0xcc, 0xe1]) {
    await t.step(`0x${marker.toString(16)}`, () => {
      const image = jpeg({ sofMarker: marker });
      const structure = parseJpegStructure(image);
      assert.throws(() => readJpegFrameInfo(structure), ParseError);
    });
  }
});

Deno.test("readJpegFrameInfo() throws ParseError for a SOF too short for its component count", () => {
  const shortSof = segment(0xc0, [0x08, 0x01, 0x20, 0x01, 0x80, 0x03, 0x01, 0x22, 0x00]);
  const image = concat([0xff, SOI], shortSof, SOS_SEGMENT, SCAN, [0xff, EOI]);
  const error = catchError(() => readJpegFrameInfo(parseJpegStructure(image)), ParseError);
  assert.equal(error.offset, 2);
  const tiny = concat([0xff, SOI], segment(0xc0, [0x08, 0x01]), SOS_SEGMENT, [0xff, EOI]);
  assert.throws(() => readJpegFrameInfo(parseJpegStructure(tiny)), ParseError);
});

Deno.test("jpegProblem() returns undefined and isCompleteJpeg() true for a complete JPEG", () => {
  assert.equal(jpegProblem(jpeg()), undefined);
  assert.equal(isCompleteJpeg(jpeg()), true);
});

Deno.test("parseJpegStructure() rejects broken images", async (t) => {
  const good = jpeg();
  const cases: [string, Uint8Array, RegExp, number?][] = [
    ["empty input", new Uint8Array(0), /does not start with SOI/, 0],
    ["only SOI", Uint8Array.from([0xff, SOI]), /does not start with SOI/, 0],
    ["missing SOI", good.subarray(2), /does not start with SOI/, 0],
    ["starts with EOI", concat([0xff, EOI], good.subarray(2)), /does not start with SOI/, 0],
    ["starts with a zero byte", concat([0x00], good), /does not start with SOI/, 0],
    ["header ends after APP0", concat([0xff, SOI], APP0), /ends before the start of scan/, 20],
    ["DQT segment truncated", good.subarray(0, 50), /0xFFDB segment length 67 at offset 20/, 20],
    ["marker cut after FF DB", good.subarray(0, 22), /truncated 0xFFDB segment/, 20],
    [
      "segment length below 2",
      concat([0xff, SOI], [0xff, 0xe0, 0x00, 0x01], good.subarray(2)),
      /length 1/,
      2,
    ],
    [
      "a non-marker byte where a marker belongs",
      concat([0xff, SOI], APP0, [0x00], good.subarray(20)),
      /expected a marker at offset 20, found 0x00/,
      20,
    ],
    [
      "EOI before the scan",
      concat([0xff, SOI], APP0, [0xff, EOI]),
      /unexpected marker 0xFFD9 before the scan/,
      20,
    ],
    [
      "a second SOI before the scan",
      concat([0xff, SOI], APP0, [0xff, SOI], good.subarray(20)),
      /unexpected marker 0xFFD8/,
      20,
    ],
    ["missing EOI (truncated scan)", good.subarray(0, good.length - 2), /does not end with EOI/],
    ["half an EOI", good.subarray(0, good.length - 1), /does not end with EOI/],
    ["trailing bytes after EOI", concat(good, [0x00, 0x00]), /does not end with EOI/],
    ["a trailing byte after EOI", concat(good, [0x0a]), /does not end with EOI/],
    ["SOS cut off mid-segment", good.subarray(0, 140), /0xFFDA segment/, 130],
  ];
  for (const [name, input, message, offset] of cases) {
    await t.step(name, () => {
      const error = catchError(() => parseJpegStructure(input), ParseError);
      assert.match(error.message, message);
      assert.match(error.message, /^Cannot parse JPEG/);
      if (offset !== undefined) assert.equal(error.offset, offset);
      assert.equal(jpegProblem(input), error.message);
      assert.equal(isCompleteJpeg(input), false);
    });
  }
});

Deno.test("jpegProblem() reports the end offset for a JPEG missing its EOI", () => {
  const good = jpeg();
  const truncated = good.subarray(0, good.length - 5);
  const error = catchError(() => parseJpegStructure(truncated), ParseError);
  assert.equal(error.offset, truncated.length);
  assert.match(jpegProblem(truncated)!, /truncated/);
});

// --- The real lab video, when a teammate's tool has produced it. ---------------------------------

const VIDEO = new URL("../video.mjpeg", import.meta.url);
const videoPresent = (() => {
  try {
    return Deno.statSync(VIDEO).isFile;
  } catch {
    return false;
  }
})();
if (!videoPresent) {
  console.warn(
    `jpeg_test.ts: ${VIDEO.pathname} is absent; skipping the real-video test (run "deno task video")`,
  );
}

Deno.test({
  name: "isCompleteJpeg() holds for every frame of video.mjpeg, each 384x288",
  ignore: !videoPresent,
  fn: async () => {
    const file = await Deno.readFile(VIDEO);
    let count = 0;
    for (const frame of readLabFrames(file, "video.mjpeg")) {
      const problem = jpegProblem(frame.data);
      assert.equal(problem, undefined, `frame ${frame.index} at ${frame.offset}: ${problem}`);
      assert.equal(isCompleteJpeg(frame.data), true);
      const info = readJpegFrameInfo(parseJpegStructure(frame.data));
      assert.equal(info.width, 384, `frame ${frame.index} width`);
      assert.equal(info.height, 288, `frame ${frame.index} height`);
      assert.ok(info.components.length === 1 || info.components.length === 3);
      count++;
    }
    assert.ok(count > 0, "video.mjpeg has no frames");
  },
});
