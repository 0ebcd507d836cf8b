import assert from "node:assert/strict";
import {
  isStandardHuffmanSegment,
  scaledQuantTables,
  STANDARD_HUFFMAN_TABLES,
  ZIGZAG,
} from "../lib/wire/jpeg_tables.ts";
import { parseJpegStructure } from "../lib/wire/jpeg.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { catchError } from "./_helpers.ts";
import { requirePeer } from "./_peers.ts";
import { ffmpegJpeg } from "./_jpeg_parts.ts";

const VIDEO = new URL("../video.mjpeg", import.meta.url);

/** Fails loudly in CI when ffmpeg is missing; elsewhere the tests that need it are skipped. */
const SKIP_WITHOUT_FFMPEG = !await requirePeer("ffmpeg", ["-version"]);

/** The payloads of the DHT segments of a JPEG. */
function dhtSegments(jpeg: Uint8Array): Uint8Array[] {
  return parseJpegStructure(jpeg).segments.filter((s) => s.marker === 0xc4).map((s) => s.data);
}

/** A DHT payload holding `tables` one after another. */
function dhtPayload(tables: readonly (typeof STANDARD_HUFFMAN_TABLES)[number][]): Uint8Array {
  const out: number[] = [];
  for (const t of tables) out.push((t.tableClass << 4) | t.id, ...t.bits, ...t.values);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------
// ZIGZAG

/** ITU T.81 Figure 5 / the usual jpeg_natural_order table. */
// deno-fmt-ignore
const EXPECTED_ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

Deno.test("ZIGZAG is a permutation of 0..63 starting 0,1,8,16,9,2 and ending 63", () => {
  assert.equal(ZIGZAG.length, 64);
  assert.deepEqual([...ZIGZAG].sort((a, b) => a - b), Array.from({ length: 64 }, (_, i) => i));
  assert.deepEqual(ZIGZAG.slice(0, 6), [0, 1, 8, 16, 9, 2]);
  assert.equal(ZIGZAG[63], 63);
});

Deno.test("ZIGZAG equals the T.81 zig-zag sequence, each step to a neighbouring cell", () => {
  assert.deepEqual([...ZIGZAG], EXPECTED_ZIGZAG);
  for (let i = 1; i < 64; i++) {
    const [r0, c0] = [Math.floor(ZIGZAG[i - 1] / 8), ZIGZAG[i - 1] % 8];
    const [r1, c1] = [Math.floor(ZIGZAG[i] / 8), ZIGZAG[i] % 8];
    assert.ok(
      Math.abs(r1 - r0) <= 1 && Math.abs(c1 - c0) <= 1,
      `step ${i}: (${r0},${c0}) -> (${r1},${c1})`,
    );
  }
});

// ---------------------------------------------------------------------------
// scaledQuantTables

/** Table K.1 (luminance), natural order. */
// deno-fmt-ignore
const K1 = [
  16, 11, 10, 16, 24, 40, 51, 61,
  12, 12, 14, 19, 26, 58, 60, 55,
  14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77,
  24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];
/** Table K.2 (chrominance), natural order. */
// deno-fmt-ignore
const K2 = [
  17, 18, 24, 47, 99, 99, 99, 99,
  18, 21, 26, 66, 99, 99, 99, 99,
  24, 26, 56, 99, 99, 99, 99, 99,
  47, 66, 99, 99, 99, 99, 99, 99,
  ...Array(32).fill(99),
];

/** RFC 2435 §4.2 scaling, written independently of lib/. */
function expectedTables(q: number): number[] {
  const s = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  const scale = (v: number) => Math.min(255, Math.max(1, Math.floor((v * s + 50) / 100)));
  return [
    ...EXPECTED_ZIGZAG.map((n) => scale(K1[n])),
    ...EXPECTED_ZIGZAG.map((n) => scale(K2[n])),
  ];
}

Deno.test("scaledQuantTables(50) is K.1 then K.2 in zig-zag order, 128 bytes", () => {
  const tables = scaledQuantTables(50);
  assert.ok(tables instanceof Uint8Array);
  assert.equal(tables.length, 128);
  assert.deepEqual([...tables.subarray(0, 8)], [16, 11, 12, 14, 12, 10, 16, 14]);
  assert.deepEqual([...tables.subarray(64, 72)], [17, 18, 18, 24, 21, 24, 47, 26]);
  assert.deepEqual([...tables.subarray(0, 64)], EXPECTED_ZIGZAG.map((n) => K1[n]));
  assert.deepEqual([...tables.subarray(64)], EXPECTED_ZIGZAG.map((n) => K2[n]));
  assert.equal(tables[63], 99, "last luma entry (natural 63)");
  assert.equal(tables[127], 99, "last chroma entry");
});

Deno.test("scaledQuantTables() follows the RFC 2435 formula for every Q 1-99", () => {
  for (let q = 1; q <= 99; q++) {
    assert.deepEqual([...scaledQuantTables(q)], expectedTables(q), `Q ${q}`);
  }
});

Deno.test("scaledQuantTables() clamps entries to 1..255 (Q 1 all 255, Q 99 only 1 and 2)", () => {
  const q1 = scaledQuantTables(1);
  assert.ok(q1.every((v) => v === 255), `Q 1: ${[...q1]}`);
  const q99 = scaledQuantTables(99);
  assert.ok(q99.every((v) => v >= 1 && v <= 2), `Q 99: ${[...q99]}`);
  assert.equal(q99[0], 1, "16 * 2 / 100 rounds to 0, clamped to 1");
  assert.ok(q99.includes(2), "99 * 2 / 100 rounds to 2");
  for (let q = 1; q <= 99; q++) {
    const t = scaledQuantTables(q);
    assert.ok(t.every((v) => v >= 1 && v <= 255), `Q ${q} entries within 1..255`);
  }
});

Deno.test("scaledQuantTables() tables get finer as Q rises", () => {
  for (let q = 2; q <= 99; q++) {
    const lo = scaledQuantTables(q - 1), hi = scaledQuantTables(q);
    assert.ok(hi.every((v, i) => v <= lo[i]), `Q ${q} is not finer than Q ${q - 1}`);
  }
});

Deno.test("scaledQuantTables() throws RangeError outside 1-99 or for non-integers", () => {
  for (const q of [0, 100, -1, 128, 255, 50.5, NaN, Infinity]) {
    const error = catchError(() => scaledQuantTables(q), RangeError);
    assert.match(error.message, /1-99/, `Q ${q}`);
  }
});

// ---------------------------------------------------------------------------
// STANDARD_HUFFMAN_TABLES

Deno.test("STANDARD_HUFFMAN_TABLES: DC0, AC0, DC1, AC1 with 12, 162, 12, 162 codes", () => {
  assert.deepEqual(
    STANDARD_HUFFMAN_TABLES.map((t) => [t.tableClass, t.id]),
    [[0, 0], [1, 0], [0, 1], [1, 1]],
  );
  const expected = [12, 162, 12, 162];
  STANDARD_HUFFMAN_TABLES.forEach((t, i) => {
    assert.equal(t.bits.length, 16, `table ${i}: 16 code-length counts`);
    const sum = t.bits.reduce((a, b) => a + b, 0);
    assert.equal(sum, expected[i], `table ${i}: bit counts sum`);
    assert.equal(t.values.length, expected[i], `table ${i}: value count`);
    assert.equal(new Set(t.values).size, t.values.length, `table ${i}: values are distinct`);
  });
});

Deno.test("STANDARD_HUFFMAN_TABLES: K.3-K.6 spot checks", () => {
  const [dc0, ac0, dc1, ac1] = STANDARD_HUFFMAN_TABLES;
  assert.deepEqual([...dc0.values], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual([...dc1.values], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual([...dc0.bits], [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...dc1.bits], [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...ac0.values.slice(0, 6)], [0x01, 0x02, 0x03, 0x00, 0x04, 0x11]);
  assert.equal(ac0.values.at(-1), 0xfa);
  assert.deepEqual([...ac1.values.slice(0, 6)], [0x00, 0x01, 0x02, 0x03, 0x11, 0x04]);
  assert.equal(ac1.values.at(-1), 0xfa);
  // Both AC tables hold EOB (0x00) and ZRL (0xF0).
  for (const t of [ac0, ac1]) assert.ok(t.values.includes(0x00) && t.values.includes(0xf0));
});

// ---------------------------------------------------------------------------
// isStandardHuffmanSegment

Deno.test("isStandardHuffmanSegment() holds for the DHT of every frame of video.mjpeg", async () => {
  const file = await Deno.readFile(VIDEO);
  let frames = 0;
  for (const frame of readLabFrames(file, "video.mjpeg")) {
    const dht = dhtSegments(frame.data);
    assert.ok(dht.length > 0, `frame ${frame.index} has a DHT segment`);
    for (const d of dht) assert.equal(isStandardHuffmanSegment(d), true, `frame ${frame.index}`);
    frames++;
  }
  assert.equal(frames, 200);
});

Deno.test("isStandardHuffmanSegment() holds for the four tables in one segment or in four", () => {
  assert.equal(isStandardHuffmanSegment(dhtPayload(STANDARD_HUFFMAN_TABLES)), true);
  for (const t of STANDARD_HUFFMAN_TABLES) {
    assert.equal(isStandardHuffmanSegment(dhtPayload([t])), true);
  }
  // Order does not matter: each table is compared with the standard one of its class and id.
  assert.equal(isStandardHuffmanSegment(dhtPayload([...STANDARD_HUFFMAN_TABLES].reverse())), true);
});

Deno.test("isStandardHuffmanSegment() is false for a modified table", async (t) => {
  const file = await Deno.readFile(VIDEO);
  const [first] = readLabFrames(file, "video.mjpeg");
  const original = dhtSegments(first.data)[0];
  assert.equal(original.length, 416, "ffmpeg writes the four standard tables in one segment");
  const cases: [string, (d: Uint8Array) => void][] = [
    ["a symbol changed", (d) => d[17 + 3] ^= 1], // DC0 value 3 -> 2
    ["two AC symbols swapped", (d) => {
      const at = 17 + 12 + 17; // first AC0 value
      [d[at], d[at + 1]] = [d[at + 1], d[at]];
    }],
    ["a code-length count changed", (d) => {
      d[1 + 1]++;
      d[1 + 2]--; // same total, different code lengths
    }],
    ["the table id changed to 2", (d) => d[0] = 0x02],
    ["the class changed to 2", (d) => d[0] = 0x20],
  ];
  for (const [name, mutate] of cases) {
    await t.step(name, () => {
      const copy = original.slice();
      mutate(copy);
      assert.equal(isStandardHuffmanSegment(copy), false);
    });
  }
  await t.step("truncated inside a table", () => {
    assert.equal(isStandardHuffmanSegment(original.subarray(0, 17 + 5)), false);
    assert.equal(isStandardHuffmanSegment(original.subarray(0, 10)), false);
  });
  await t.step("trailing garbage after the tables", () => {
    const longer = new Uint8Array(original.length + 3);
    longer.set(original);
    assert.equal(isStandardHuffmanSegment(longer), false);
  });
});

Deno.test({
  name: "isStandardHuffmanSegment() is false for an ffmpeg `-huffman optimal` JPEG",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const optimal = await ffmpegJpeg(["-pix_fmt", "yuvj420p", "-huffman", "optimal"]);
    const dht = dhtSegments(optimal);
    assert.ok(dht.length > 0);
    assert.equal(dht.some((d) => !isStandardHuffmanSegment(d)), true);
    // ...and the same picture with `-huffman default` is standard.
    const standard = await ffmpegJpeg(["-pix_fmt", "yuvj420p", "-huffman", "default"]);
    assert.ok(dhtSegments(standard).every((d) => isStandardHuffmanSegment(d)));
  },
});
