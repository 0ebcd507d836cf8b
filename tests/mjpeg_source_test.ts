import assert from "node:assert/strict";
import { loadMjpegSource, parseMjpegSource } from "../lib/media/mjpeg_source.ts";
import { parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import { LabMjpegError, readLabFrames, writeLabMjpeg } from "../lib/wire/lab_mjpeg.ts";

const VIDEO = new URL("../video.mjpeg", import.meta.url);
const videoBytes = await Deno.readFile(VIDEO);
const videoFrames = [...readLabFrames(videoBytes)].map((f) => f.data);

/** The thrown error, checked to be a LabMjpegError. */
function labError(fn: () => unknown): LabMjpegError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LabMjpegError, `expected LabMjpegError, got ${error}`);
    return error;
  }
  assert.fail("expected LabMjpegError, nothing was thrown");
}

Deno.test("parseMjpegSource() reads every frame of the sample video", () => {
  const source = parseMjpegSource(videoBytes, "video.mjpeg");
  assert.equal(source.path, "video.mjpeg");
  assert.equal(source.frames.length, 200);
  source.frames.forEach((frame, i) => assert.deepEqual(frame, videoFrames[i]));
  const info = readJpegFrameInfo(parseJpegStructure(videoFrames[0]));
  assert.equal(source.width, info.width);
  assert.equal(source.height, info.height);
  assert.ok(source.width > 0 && source.height > 0);
  assert.equal(source.maxFrameBytes, Math.max(...videoFrames.map((f) => f.length)));
  assert.equal(source.totalBytes, videoFrames.reduce((n, f) => n + f.length, 0));
  assert.equal(source.size, videoBytes.length);
  assert.equal(source.mtime, 0);
});

Deno.test("parseMjpegSource() keeps the stat it is given", () => {
  const bytes = writeLabMjpeg(videoFrames.slice(0, 2));
  const source = parseMjpegSource(bytes, "x", { mtime: 1234, size: 99 });
  assert.equal(source.mtime, 1234);
  assert.equal(source.size, 99);
  assert.equal(source.frames.length, 2);
});

Deno.test("parseMjpegSource() rejects an empty file", () => {
  const error = labError(() => parseMjpegSource(new Uint8Array(0), "empty.mjpeg"));
  assert.equal(error.file, "empty.mjpeg");
  assert.equal(error.frameIndex, 0);
  assert.match(error.message, /empty\.mjpeg/);
  assert.match(error.message, /no frames|empty/);
});

Deno.test("parseMjpegSource() rejects a truncated last frame, naming frame and offset", () => {
  const whole = writeLabMjpeg(videoFrames.slice(0, 3));
  const lastOffset = 5 + videoFrames[0].length + 5 + videoFrames[1].length;
  const truncated = whole.subarray(0, whole.length - 100);
  const error = labError(() => parseMjpegSource(truncated, "cut.mjpeg"));
  assert.equal(error.frameIndex, 2);
  assert.equal(error.offset, lastOffset);
  assert.match(error.message, /cut\.mjpeg/);
  assert.match(error.message, new RegExp(`frame 2 at byte offset ${lastOffset}`));
  assert.match(error.message, /runs past the end|truncated/);
});

Deno.test("parseMjpegSource() rejects a truncated length header", () => {
  const whole = writeLabMjpeg(videoFrames.slice(0, 1));
  const bytes = new Uint8Array([...whole, 0x30, 0x31]);
  const error = labError(() => parseMjpegSource(bytes, "hdr.mjpeg"));
  assert.equal(error.frameIndex, 1);
  assert.equal(error.offset, whole.length);
});

Deno.test("parseMjpegSource() rejects a frame that is not a JPEG", () => {
  const notJpeg = new TextEncoder().encode("this is not a jpeg image");
  const bytes = writeLabMjpeg([videoFrames[0], notJpeg, videoFrames[1]]);
  const frameOffset = 5 + videoFrames[0].length;
  const error = labError(() => parseMjpegSource(bytes, "mixed.mjpeg"));
  assert.equal(error.frameIndex, 1);
  assert.equal(error.offset, frameOffset + 5, "the offset of the bad JPEG's first byte");
  assert.match(error.message, /mixed\.mjpeg/);
  assert.match(error.message, /frame 1/);
  assert.match(error.message, /not a complete JPEG/);
  assert.match(error.message, /SOI/);
});

Deno.test("parseMjpegSource() rejects a JPEG without its end marker", () => {
  const cut = videoFrames[1].subarray(0, videoFrames[1].length - 2);
  const bytes = writeLabMjpeg([videoFrames[0], cut]);
  const error = labError(() => parseMjpegSource(bytes, "noeoi.mjpeg"));
  assert.equal(error.frameIndex, 1);
  assert.match(error.message, /not a complete JPEG/);
  assert.match(error.message, /EOI/);
  // The problem is at the end of the frame's JPEG bytes.
  assert.equal(error.offset, 5 + videoFrames[0].length + 5 + cut.length);
});

Deno.test("parseMjpegSource() rejects a bad first frame, and names frame 0", () => {
  const bytes = writeLabMjpeg([new Uint8Array([0xff, 0xd8, 0x00, 0x00, 0xff, 0xd9])]);
  const error = labError(() => parseMjpegSource(bytes, "first.mjpeg"));
  assert.equal(error.frameIndex, 0);
  assert.match(error.message, /frame 0 at byte offset 7/);
});

Deno.test("loadMjpegSource() reads a file with its size and modification time", async () => {
  const source = await loadMjpegSource(VIDEO.pathname);
  const info = await Deno.stat(VIDEO);
  assert.equal(source.frames.length, 200);
  assert.equal(source.size, info.size);
  assert.equal(source.mtime, info.mtime?.getTime());
  assert.equal(source.path, VIDEO.pathname);
});

Deno.test("loadMjpegSource() of a missing file throws NotFound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadMjpegSource(`${dir}/missing.mjpeg`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
