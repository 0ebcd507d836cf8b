/**
 * Test helper: two JPEGs code the same picture when their scan data are the
 * same bytes and every component has the same size, sampling and
 * quantization table values (table ids may differ: an RTP/JPEG receiver
 * rebuilds the headers with its own ids, RFC 2435 Appendix B). A
 * {@linkcode FrameFinder} tells which of a file's frames a JPEG codes, by
 * its scan data alone.
 */
import assert from "node:assert/strict";
import { type JpegStructure, parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import { sameBytes } from "./_helpers.ts";

function tablesById(structure: JpegStructure): Map<number, string> {
  const tables = new Map<number, string>();
  for (const segment of structure.segments.filter((s) => s.marker === 0xdb)) {
    const d = segment.data;
    for (let i = 0; i < d.length;) {
      const size = d[i] >> 4 ? 128 : 64;
      tables.set(d[i] & 15, Array.from(d.subarray(i + 1, i + 1 + size)).join(","));
      i += 1 + size;
    }
  }
  return tables;
}

/** Assert `actual` codes the same picture as `original`. */
export function assertSamePicture(actual: Uint8Array, original: Uint8Array, label: string): void {
  const a = parseJpegStructure(actual);
  const b = parseJpegStructure(original);
  const infoA = readJpegFrameInfo(a), infoB = readJpegFrameInfo(b);
  assert.equal(infoA.width, infoB.width, `${label}: width`);
  assert.equal(infoA.height, infoB.height, `${label}: height`);
  assert.equal(infoA.components.length, infoB.components.length, `${label}: components`);
  const qa = tablesById(a), qb = tablesById(b);
  infoA.components.forEach((ca, i) => {
    const cb = infoB.components[i];
    assert.deepEqual([ca.h, ca.v], [cb.h, cb.v], `${label}: sampling of component ${i}`);
    assert.equal(qa.get(ca.tq), qb.get(cb.tq), `${label}: quantization table of component ${i}`);
  });
  const scanA = actual.subarray(a.scanOffset, actual.length - 2);
  const scanB = original.subarray(b.scanOffset, original.length - 2);
  assert.ok(sameBytes(scanA, scanB), `${label}: scan data differs`);
}

/** The scan data of a JPEG, without its EOI. */
function scanOf(jpeg: Uint8Array): Uint8Array {
  return jpeg.subarray(parseJpegStructure(jpeg).scanOffset, jpeg.length - 2);
}

/** FNV-1a of `bytes`, with the length: a lookup key, confirmed byte by byte. */
function keyOf(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return `${bytes.length}:${hash >>> 0}`;
}

/**
 * Which of a file's frames a JPEG codes, told by its scan data (which an
 * RTP/JPEG receiver keeps while it rebuilds the headers).
 */
export class FrameFinder {
  readonly #frames: readonly Uint8Array[];
  readonly #byKey = new Map<string, number>();

  /** Index `frames`, asserting that no two have the same scan data. */
  constructor(frames: readonly Uint8Array[], label: string) {
    this.#frames = frames;
    for (const [index, jpeg] of frames.entries()) {
      const key = keyOf(scanOf(jpeg));
      assert.ok(!this.#byKey.has(key), `${label} frames ${this.#byKey.get(key)} and ${index}`);
      this.#byKey.set(key, index);
    }
  }

  /** The 0-based index of the frame whose scan data `jpeg` carries, or -1. */
  indexOf(jpeg: Uint8Array): number {
    const scan = scanOf(jpeg);
    const index = this.#byKey.get(keyOf(scan));
    return index !== undefined && sameBytes(scan, scanOf(this.#frames[index])) ? index : -1;
  }
}
