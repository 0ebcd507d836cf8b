import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  LAB_HEADER_SIZE,
  LAB_MAX_FRAME,
  labFrameHeader,
  LabMjpegError,
  readLabFrames,
  writeLabMjpeg,
} from "../lib/wire/lab_mjpeg.ts";
import { bytes, catchError, concat, text } from "./_helpers.ts";

Deno.test("lab MJPEG constants: 5-digit header, frames up to 99999 bytes", () => {
  assert.equal(LAB_HEADER_SIZE, 5);
  assert.equal(LAB_MAX_FRAME, 99999);
});

Deno.test("readLabFrames() yields index, offset and data of each frame", () => {
  const file = bytes("00003abc00002de00001f");
  const frames = [...readLabFrames(file)];
  assert.deepEqual(
    frames.map((f) => ({ index: f.index, offset: f.offset, data: text(f.data) })),
    [
      { index: 0, offset: 0, data: "abc" },
      { index: 1, offset: 8, data: "de" },
      { index: 2, offset: 15, data: "f" },
    ],
  );
});

Deno.test("readLabFrames() yields nothing for an empty buffer", () => {
  assert.deepEqual([...readLabFrames(new Uint8Array(0))], []);
});

Deno.test("readLabFrames() returns frame data as views into the input", () => {
  const file = bytes("00003abc");
  const [frame] = readLabFrames(file);
  assert.equal(frame.data.buffer, file.buffer);
  assert.equal(frame.data.byteOffset, 5);
  file[5] = 0x7a; // "z"
  assert.equal(text(frame.data), "zbc");
});

Deno.test("readLabFrames() reads binary frame data containing digits and zero bytes", () => {
  const jpegLike = Uint8Array.from([0xff, 0xd8, 0x00, 0x30, 0x31, 0xff, 0xd9]);
  const file = concat("00007", jpegLike, "00002", [0x00, 0x00]);
  const frames = [...readLabFrames(file)];
  assert.equal(frames.length, 2);
  assert.deepEqual([...frames[0].data], [...jpegLike]);
  assert.deepEqual([...frames[1].data], [0, 0]);
  assert.equal(frames[1].offset, 12);
});

Deno.test("readLabFrames() yields the good frames before throwing on a broken one", () => {
  const iterator = readLabFrames(bytes("00001aXXXXX"), "clip.mjpeg");
  const first = iterator.next();
  assert.equal(first.done, false);
  assert.equal(text(first.value!.data), "a");
  assert.throws(() => iterator.next(), LabMjpegError);
});

Deno.test("readLabFrames() throws LabMjpegError naming file, frame and offset", async (t) => {
  const cases: [string, Uint8Array, number, number, RegExp][] = [
    ["non-digit header in frame 0", bytes("0a003abc"), 0, 0, /"0a003" is not five ASCII digits/],
    ["non-digit header in frame 1", bytes("00003abc12 45xyz"), 1, 8, /"12 45"/],
    ["minus sign in the header", bytes("-0003abc"), 0, 0, /not five ASCII digits/],
    [
      "binary bytes in the header are shown escaped",
      concat("00001a", [0xff, 0xd8, 0x30, 0x30, 0x30], "b"),
      1,
      6,
      /"\\xff\\xd8000"/,
    ],
    ["zero length in frame 0", bytes("00000abc"), 0, 0, /frame length is 0/],
    ["zero length in frame 2", bytes("00001a00001b00000"), 2, 12, /frame length is 0/],
    ["truncated header at frame 0", bytes("000"), 0, 0, /truncated length header \(3 of 5 bytes\)/],
    [
      "truncated header at frame 1",
      bytes("00003abc0001"),
      1,
      8,
      /truncated length header \(4 of 5 bytes\)/,
    ],
    [
      "truncated last frame",
      bytes("00003abc00010de"),
      1,
      8,
      /frame of 10 bytes runs past the end of the file \(2 bytes left\)/,
    ],
    ["truncated only frame", bytes("00004abc"), 0, 0, /frame of 4 bytes/],
  ];
  for (const [name, input, frameIndex, offset, problem] of cases) {
    await t.step(name, () => {
      const error = catchError(() => [...readLabFrames(input, "clip.mjpeg")], LabMjpegError);
      assert.ok(error instanceof ParseError);
      assert.equal(error.name, "LabMjpegError");
      assert.equal(error.file, "clip.mjpeg");
      assert.equal(error.frameIndex, frameIndex);
      assert.equal(error.offset, offset);
      assert.ok(error.message.includes("clip.mjpeg"), error.message);
      assert.ok(error.message.includes(`frame ${frameIndex}`), error.message);
      assert.ok(error.message.includes(`byte offset ${offset}`), error.message);
      assert.match(error.message, problem);
    });
  }
});

Deno.test("readLabFrames() names the input <buffer> when no file name is given", () => {
  const error = catchError(() => [...readLabFrames(bytes("abcde"))], LabMjpegError);
  assert.equal(error.file, "<buffer>");
  assert.match(error.message, /^Cannot read <buffer>: frame 0 at byte offset 0: /);
});

Deno.test("LabMjpegError() formats its message from its parts", () => {
  const error = new LabMjpegError("a.mjpeg", 4, 1234, "frame length is 0");
  assert.equal(
    error.message,
    "Cannot read a.mjpeg: frame 4 at byte offset 1234: frame length is 0",
  );
  assert.equal(error.offset, 1234);
  assert.equal(error.frameIndex, 4);
  assert.equal(error.file, "a.mjpeg");
});

Deno.test("labFrameHeader() writes the length as five zero-padded ASCII digits", async (t) => {
  for (
    const [length, expected] of [[1, "00001"], [42, "00042"], [6014, "06014"], [
      99999,
      "99999",
    ]] as const
  ) {
    await t.step(`${length}`, () => {
      const header = labFrameHeader(length);
      assert.equal(header.length, 5);
      assert.equal(text(header), expected);
    });
  }
});

Deno.test("labFrameHeader() throws RangeError for 0, negative, fractional and >99999 lengths", async (t) => {
  for (const length of [0, -1, 1.5, 100000, 1e9, NaN]) {
    await t.step(`${length}`, () => {
      assert.throws(() => labFrameHeader(length), RangeError);
    });
  }
});

Deno.test("writeLabMjpeg() output reads back through readLabFrames()", () => {
  const frames = [
    Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]),
    new Uint8Array(1).fill(7),
    new Uint8Array(12345).map((_, i) => i & 0xff),
    new Uint8Array(LAB_MAX_FRAME).fill(0x30),
  ];
  const file = writeLabMjpeg(frames);
  assert.equal(file.length, frames.reduce((n, f) => n + 5 + f.length, 0));
  assert.equal(text(file.subarray(0, 5)), "00004");
  assert.equal(text(file.subarray(9, 14)), "00001");
  assert.equal(text(file.subarray(15, 20)), "12345");
  const read = [...readLabFrames(file)];
  assert.equal(read.length, frames.length);
  let offset = 0;
  for (let i = 0; i < frames.length; i++) {
    assert.equal(read[i].index, i);
    assert.equal(read[i].offset, offset);
    assert.deepEqual(read[i].data, frames[i]);
    offset += 5 + frames[i].length;
  }
});

Deno.test("writeLabMjpeg() accepts any iterable, including a generator and no frames", () => {
  function* gen() {
    yield bytes("ab");
    yield bytes("c");
  }
  assert.equal(text(writeLabMjpeg(gen())), "00002ab00001c");
  assert.equal(writeLabMjpeg([]).length, 0);
});

Deno.test("writeLabMjpeg() throws RangeError for an empty or >99999-byte frame", () => {
  assert.throws(() => writeLabMjpeg([bytes("ok"), new Uint8Array(0)]), RangeError);
  assert.throws(() => writeLabMjpeg([new Uint8Array(LAB_MAX_FRAME + 1)]), RangeError);
});
