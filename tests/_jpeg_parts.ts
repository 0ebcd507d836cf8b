/**
 * Test helpers for JPEG tests: a marker walker independent of lib/ (so tests
 * do not check lib/ against itself), and single JPEGs made by ffmpeg.
 */
import assert from "node:assert/strict";

/** One header segment: its marker byte and its payload (a copy, safe to edit). */
export interface Segment {
  marker: number;
  data: Uint8Array;
}

/** The header segments (SOI excluded, SOS included) and the scan data (EOI excluded). */
export function splitJpeg(jpeg: Uint8Array): { segments: Segment[]; scan: Uint8Array } {
  assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8], "SOI");
  assert.deepEqual([jpeg.at(-2), jpeg.at(-1)], [0xff, 0xd9], "EOI");
  const segments: Segment[] = [];
  let offset = 2;
  for (;;) {
    assert.equal(jpeg[offset], 0xff, `marker at ${offset}`);
    const marker = jpeg[offset + 1];
    const length = (jpeg[offset + 2] << 8) | jpeg[offset + 3];
    segments.push({ marker, data: jpeg.slice(offset + 4, offset + 2 + length) });
    offset += 2 + length;
    if (marker === 0xda) break;
  }
  return { segments, scan: jpeg.subarray(offset, jpeg.length - 2) };
}

/** One JPEG of ffmpeg's testsrc2 pattern, encoded with extra `args` (e.g. `-huffman optimal`). */
export async function ffmpegJpeg(args: string[], size = "64x48"): Promise<Uint8Array> {
  const { success, stdout, stderr } = await new Deno.Command("ffmpeg", {
    args: [
      ...["-hide_banner", "-v", "error", "-nostdin"],
      ...["-f", "lavfi", "-i", `testsrc2=size=${size}:rate=1:duration=1`, "-frames:v", "1"],
      ...args,
      ...["-c:v", "mjpeg", "-f", "image2pipe", "pipe:1"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, `ffmpeg ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  return stdout;
}
