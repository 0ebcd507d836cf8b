/**
 * Test helper: two JPEGs code the same picture when their scan data are the
 * same bytes and every component has the same size, sampling and
 * quantization table values (table ids may differ: an RTP/JPEG receiver
 * rebuilds the headers with its own ids, RFC 2435 Appendix B).
 */
import assert from "node:assert/strict";
import { type JpegStructure, parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";

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
  assert.ok(
    scanA.length === scanB.length && scanA.every((x, i) => x === scanB[i]),
    `${label}: scan data differs`,
  );
}
