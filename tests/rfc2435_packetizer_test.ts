import assert from "node:assert/strict";
import { join } from "node:path";
import { ParseError } from "../lib/wire/errors.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { parseRfc2435Header } from "../lib/wire/rfc2435_headers.ts";
import {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  type RtpJpegFrame,
  UnsupportedJpegError,
} from "../lib/wire/rfc2435_packetizer.ts";
import { makeLabVideo } from "../tools/make_video.ts";
import { catchError, concat } from "./_helpers.ts";
import { requirePeer } from "./_peers.ts";
import { ffmpegJpeg, type Segment, splitJpeg } from "./_jpeg_parts.ts";

const VIDEO = new URL("../video.mjpeg", import.meta.url);
const FRAMES: Uint8Array[] = [...readLabFrames(await Deno.readFile(VIDEO), "video.mjpeg")].map(
  (f) => f.data,
);

/** Fails loudly in CI when ffmpeg is missing; elsewhere the tests that need it are skipped. */
const SKIP_WITHOUT_FFMPEG = !await requirePeer("ffmpeg", ["-version"]);

// ---------------------------------------------------------------------------
// Rebuilding a JPEG from edited segments (split with tests/_jpeg_parts.ts splitJpeg;
// the packetizer does not decode, so a patched header over a
// real scan is enough).

/** SOI, the segments, the scan, EOI. */
function joinJpeg(segments: Segment[], scan: Uint8Array): Uint8Array {
  return concat(
    [0xff, 0xd8],
    ...segments.flatMap((s) => [
      [0xff, s.marker, (s.data.length + 2) >> 8, (s.data.length + 2) & 0xff],
      s.data,
    ]),
    scan,
    [0xff, 0xd9],
  );
}

/** A copy of `jpeg` with its segments edited in place by `edit`. */
function editJpeg(jpeg: Uint8Array, edit: (segments: Segment[]) => void): Uint8Array {
  const { segments, scan } = splitJpeg(jpeg);
  edit(segments);
  return joinJpeg(segments, scan);
}

function sofOf(segments: Segment[]): Segment {
  const sof = segments.find((s) => s.marker >= 0xc0 && s.marker <= 0xc3);
  assert.ok(sof, "SOF segment");
  return sof;
}

/** A copy of `jpeg` with the SOF segment's payload patched by `patch`. */
function patchSof(jpeg: Uint8Array, patch: (sof: Segment) => void): Uint8Array {
  return editJpeg(jpeg, (segments) => patch(sofOf(segments)));
}

function withSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  return patchSof(jpeg, ({ data }) => {
    data.set([height >> 8, height & 0xff, width >> 8, width & 0xff], 1);
  });
}

/** The Huffman tables of Annex K.3 as a DHT segment payload (copied from a video frame). */
const STANDARD_DHT = splitJpeg(FRAMES[0]).segments.find((s) => s.marker === 0xc4)!.data;

/** A greyscale baseline JPEG header: one component, one table, DC0/AC0 only. */
function greyscaleJpeg(): Uint8Array {
  const dqt = Uint8Array.from([0x00, ...Array(64).fill(1)]);
  const sof = Uint8Array.from([8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
  const dht = STANDARD_DHT.subarray(0, 17 + 12 + 17 + 162); // DC0 and AC0
  const sos = Uint8Array.from([1, 1, 0x00, 0, 63, 0]);
  return joinJpeg(
    [
      { marker: 0xdb, data: dqt },
      { marker: 0xc0, data: sof },
      { marker: 0xc4, data: dht },
      { marker: 0xda, data: sos },
    ],
    Uint8Array.from([0x12, 0x34, 0x56, 0x78]),
  );
}

/** The quantization table of a video.mjpeg frame (ffmpeg writes one, id 0, 8-bit). */
/**
 * The luma and chroma tables of a video.mjpeg frame. The file stores frames in
 * the form an RFC 2435 receiver rebuilds (tools/make_video.ts canonicalJpeg):
 * one DQT segment with two 8-bit tables, 0 for luma and 1 for chroma (ffmpeg's
 * single table, written for both).
 */
function videoQuantTables(jpeg: Uint8Array): [Uint8Array, Uint8Array] {
  const dqt = splitJpeg(jpeg).segments.filter((s) => s.marker === 0xdb);
  assert.equal(dqt.length, 1, "one DQT segment");
  assert.equal(dqt[0].data.length, 130, "two 8-bit tables");
  assert.equal(dqt[0].data[0], 0x00, "Pq 0, Tq 0");
  assert.equal(dqt[0].data[65], 0x01, "Pq 0, Tq 1");
  return [dqt[0].data.subarray(1, 65), dqt[0].data.subarray(66, 130)];
}

/** Check the payloads of `frame` and return their parsed headers. */
function checkPayloads(frame: RtpJpegFrame, payloads: Uint8Array[], maxPayload: number) {
  assert.ok(payloads.length > 0);
  const headers = payloads.map((p) => parseRfc2435Header(p));
  let offset = 0;
  const data: Uint8Array[] = [];
  payloads.forEach((payload, i) => {
    const h = headers[i];
    assert.ok(payload.length <= maxPayload, `payload ${i}: ${payload.length} > ${maxPayload}`);
    if (i < payloads.length - 1) {
      assert.equal(payload.length, maxPayload, `payload ${i} is filled up`);
    }
    assert.equal(h.fragmentOffset, offset, `payload ${i}: offset`);
    assert.equal(h.typeSpecific, 0);
    assert.equal(h.type, frame.type);
    assert.equal(h.q, 255, "tables in-band");
    if (i === 0) {
      assert.deepEqual([...(h.quantTables ?? [])], [...frame.quantTables], "tables in payload 0");
      assert.equal(h.quantPrecision, frame.quantPrecision);
      // The table header's MBZ byte is 0.
      assert.equal(payload[h.dataOffset - frame.quantTables.length - 4], 0);
    } else {
      assert.equal(h.quantTables, undefined);
      // Nothing but the main (and restart) header before the data.
      assert.equal(h.dataOffset, frame.type >= 64 ? 12 : 8, `payload ${i}: no table header`);
    }
    const chunk = payload.subarray(h.dataOffset);
    assert.ok(chunk.length > 0 || frame.scan.length === 0, `payload ${i} carries data`);
    data.push(chunk);
    offset += chunk.length;
  });
  const joined = concat(...data);
  assert.equal(joined.length, frame.scan.length, "data length");
  assert.ok(joined.every((b, i) => b === frame.scan[i]), "concatenated data equals the scan");
  return headers;
}

// ---------------------------------------------------------------------------
// jpegToRtpFrame

Deno.test("jpegToRtpFrame(): every frame of video.mjpeg is type 1, 384x288, its two tables", () => {
  assert.equal(FRAMES.length, 200);
  FRAMES.forEach((jpeg, i) => {
    const frame = jpegToRtpFrame(jpeg);
    assert.equal(frame.type, 1, `frame ${i}: type`);
    assert.equal(frame.width, 384, `frame ${i}: width`);
    assert.equal(frame.height, 288, `frame ${i}: height`);
    assert.equal(frame.restartInterval, 0, `frame ${i}: no DRI`);
    assert.equal(frame.quantPrecision, 0, `frame ${i}: 8-bit tables`);
    const [luma, chroma] = videoQuantTables(jpeg);
    assert.equal(frame.quantTables.length, 128, `frame ${i}: 128 bytes of tables`);
    assert.deepEqual([...frame.quantTables.subarray(0, 64)], [...luma], `frame ${i}: luma`);
    assert.deepEqual([...frame.quantTables.subarray(64)], [...chroma], `frame ${i}: chroma`);
    const { scan } = splitJpeg(jpeg);
    assert.equal(frame.scan.length, scan.length, `frame ${i}: scan length`);
    assert.ok(frame.scan.every((b, k) => b === scan[k]), `frame ${i}: scan = SOS..EOI`);
    assert.notDeepEqual([frame.scan.at(-2), frame.scan.at(-1)], [0xff, 0xd9], "EOI stripped");
  });
});

Deno.test("jpegToRtpFrame(): two DQT tables (luma 0, chroma 1) go luma first", () => {
  const luma = Uint8Array.from({ length: 64 }, (_, i) => 1 + i);
  const chroma = Uint8Array.from({ length: 64 }, (_, i) => 100 + i);
  const jpeg = editJpeg(FRAMES[0], (segments) => {
    const dqt = segments.find((s) => s.marker === 0xdb)!;
    // Chroma first in the segment, to show the order comes from the SOF, not the DQT.
    dqt.data = concat([0x01], chroma, [0x00], luma);
    const sof = sofOf(segments);
    sof.data[6 + 3 + 2] = 1; // Cb -> table 1
    sof.data[6 + 6 + 2] = 1; // Cr -> table 1
  });
  const frame = jpegToRtpFrame(jpeg);
  assert.deepEqual([...frame.quantTables], [...luma, ...chroma]);
  assert.equal(frame.quantPrecision, 0);
});

Deno.test("jpegToRtpFrame(): 16-bit tables set the precision bits", () => {
  const luma16 = Uint8Array.from({ length: 128 }, (_, i) => i);
  const chroma8 = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);
  const jpeg = editJpeg(FRAMES[0], (segments) => {
    const at = segments.findIndex((s) => s.marker === 0xdb);
    segments.splice(
      at,
      1,
      { marker: 0xdb, data: concat([0x10], luma16) },
      { marker: 0xdb, data: concat([0x01], chroma8) },
    );
    const sof = sofOf(segments);
    sof.data[6 + 3 + 2] = 1;
    sof.data[6 + 6 + 2] = 1;
  });
  const frame = jpegToRtpFrame(jpeg);
  assert.equal(frame.quantPrecision, 1, "bit 0: luma is 16-bit");
  assert.deepEqual([...frame.quantTables], [...luma16, ...chroma8]);
  const [first] = packetizeRtpJpeg(frame, 1400);
  const header = parseRfc2435Header(first);
  assert.equal(header.quantPrecision, 1);
  assert.equal(header.quantTables?.length, 192);
});

Deno.test("jpegToRtpFrame(): Y 2x1 (RFC 2435 4:2:2) is type 0", () => {
  const jpeg = patchSof(FRAMES[0], ({ data }) => data[6 + 1] = 0x21);
  const frame = jpegToRtpFrame(jpeg);
  assert.equal(frame.type, 0);
});

Deno.test("jpegToRtpFrame(): APPn, COM and fill bytes before the scan are skipped", () => {
  const jpeg = editJpeg(FRAMES[3], (segments) => {
    segments.unshift({ marker: 0xe1, data: concat("Exif\0\0") });
    segments.splice(2, 0, { marker: 0xfe, data: concat("a comment") });
  });
  const frame = jpegToRtpFrame(jpeg);
  assert.equal(frame.type, 1);
  assert.deepEqual([...frame.scan], [...jpegToRtpFrame(FRAMES[3]).scan]);
});

Deno.test({
  name: "jpegToRtpFrame() + packetizeRtpJpeg(): restart markers (ffmpeg slices) give type 65",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "rfc2435-packetizer-" });
    try {
      const out = join(dir, "rst.mjpeg");
      await makeLabVideo({ out, width: 160, height: 120, fps: 5, seconds: 1, restartRows: true });
      const frames = [...readLabFrames(await Deno.readFile(out), out)].map((f) => f.data);
      assert.ok(frames.length >= 3);
      for (const [i, jpeg] of frames.entries()) {
        const dri = splitJpeg(jpeg).segments.find((s) => s.marker === 0xdd);
        assert.ok(dri, `frame ${i}: DRI`);
        const interval = (dri.data[0] << 8) | dri.data[1];
        assert.ok(interval > 0);
        const frame = jpegToRtpFrame(jpeg);
        assert.equal(frame.type, 65, `frame ${i}: 4:2:0 + restart markers`);
        assert.equal(frame.restartInterval, interval, `frame ${i}: interval = DRI`);
        assert.equal(frame.width, 160);
        assert.equal(frame.height, 120);
        // The RSTn markers stay in the scan data.
        const rst = frame.scan.some((b, k) => b === 0xff && (frame.scan[k + 1] & 0xf8) === 0xd0);
        assert.ok(rst, `frame ${i}: RSTn markers in the scan`);

        const maxPayload = 300;
        const payloads = packetizeRtpJpeg(frame, maxPayload);
        assert.ok(payloads.length > 2, `frame ${i}: several payloads`);
        const headers = checkPayloads(frame, payloads, maxPayload);
        headers.forEach((h, k) => {
          assert.equal(h.restartInterval, interval, `frame ${i} payload ${k}: interval`);
          assert.equal(h.restartWord, 0xffff, `frame ${i} payload ${k}: F=1 L=1 count=0x3FFF`);
          assert.deepEqual(
            [...payloads[k].subarray(8, 12)],
            [interval >> 8, interval & 0xff, 0xff, 0xff],
          );
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("jpegToRtpFrame(): a DRI segment sets type 64/65 and the interval", () => {
  const withDri = (jpeg: Uint8Array, interval: number) =>
    editJpeg(jpeg, (segments) => {
      segments.unshift({ marker: 0xdd, data: Uint8Array.from([interval >> 8, interval & 0xff]) });
    });
  const f65 = jpegToRtpFrame(withDri(FRAMES[0], 0x0102));
  assert.equal(f65.type, 65);
  assert.equal(f65.restartInterval, 0x0102);
  const f64 = jpegToRtpFrame(withDri(patchSof(FRAMES[0], ({ data }) => data[7] = 0x21), 24));
  assert.equal(f64.type, 64);
  assert.equal(f64.restartInterval, 24);
  // DRI 0 disables restart intervals: no restart header.
  const f1 = jpegToRtpFrame(withDri(FRAMES[0], 0));
  assert.equal(f1.type, 1);
  assert.equal(f1.restartInterval, 0);
});

// ---------------------------------------------------------------------------
// packetizeRtpJpeg

Deno.test("packetizeRtpJpeg(): every frame of video.mjpeg in payloads of at most 1388 bytes", () => {
  let total = 0;
  FRAMES.forEach((jpeg, i) => {
    const frame = jpegToRtpFrame(jpeg);
    const payloads = packetizeRtpJpeg(frame, 1388);
    const headers = checkPayloads(frame, payloads, 1388);
    for (const h of headers) {
      assert.equal(h.width8, 48, `frame ${i}: 384 / 8`);
      assert.equal(h.height8, 36, `frame ${i}: 288 / 8`);
      assert.equal(h.restartInterval, undefined, `frame ${i}: no restart header`);
    }
    // The first payload: 8 header + 4 table header + 128 tables, the rest scan data.
    assert.equal(headers[0].dataOffset, 140);
    const expected = Math.ceil((frame.scan.length + 132) / 1380);
    assert.equal(payloads.length, expected, `frame ${i}: payload count`);
    total += payloads.length;
  });
  assert.ok(total > 200);
});

Deno.test("packetizeRtpJpeg(): a frame that fits one payload is one payload", () => {
  const frame = jpegToRtpFrame(FRAMES[0]);
  const payloads = packetizeRtpJpeg(frame, 65000);
  assert.equal(payloads.length, 1);
  assert.equal(payloads[0].length, 8 + 4 + 128 + frame.scan.length);
  checkPayloads(frame, payloads, 65000);
});

Deno.test("packetizeRtpJpeg(): width/height bytes are ceil(px / 8), 0 when a side exceeds 2040", async (t) => {
  const cases: [number, number, number, number][] = [
    [384, 288, 48, 36],
    [385, 287, 49, 36],
    [2040, 2040, 255, 255],
    [2041, 288, 0, 0],
    [2048, 288, 0, 0],
    [384, 2041, 0, 0],
    [4096, 2160, 0, 0],
    [8, 8, 1, 1],
  ];
  for (const [width, height, w8, h8] of cases) {
    await t.step(`${width}x${height}`, () => {
      const frame = jpegToRtpFrame(withSize(FRAMES[0], width, height));
      assert.equal(frame.width, width);
      assert.equal(frame.height, height);
      const payloads = packetizeRtpJpeg(frame, 1388);
      for (const p of payloads) {
        assert.equal(p[6], w8, "width byte");
        assert.equal(p[7], h8, "height byte");
      }
    });
  }
});

Deno.test("packetizeRtpJpeg(): RangeError when maxPayload leaves no room for scan data", async (t) => {
  const frame = jpegToRtpFrame(FRAMES[0]);
  for (const maxPayload of [0, 8, 12, 139, 140]) {
    await t.step(`type 1, maxPayload ${maxPayload}`, () => {
      const error = catchError(() => packetizeRtpJpeg(frame, maxPayload), RangeError);
      assert.match(error.message, new RegExp(`${maxPayload}-byte payloads`));
    });
  }
  await t.step("type 1, maxPayload 141: one byte of scan data in the first payload", () => {
    const payloads = packetizeRtpJpeg(frame, 141);
    assert.equal(parseRfc2435Header(payloads[0]).dataOffset, 140);
    assert.equal(payloads[0].length, 141);
    checkPayloads(frame, payloads, 141);
  });
  await t.step("type 65: headers need 144 bytes", () => {
    const restart = { ...frame, type: 65, restartInterval: 4 };
    catchError(() => packetizeRtpJpeg(restart, 144), RangeError);
    const payloads = packetizeRtpJpeg(restart, 145);
    assert.equal(payloads[0].length, 145);
  });
});

Deno.test("packetizeRtpJpeg(): RangeError for scan data of 16 MiB or more", () => {
  const frame: RtpJpegFrame = {
    ...jpegToRtpFrame(FRAMES[0]),
    scan: new Uint8Array(1 << 24),
  };
  const error = catchError(() => packetizeRtpJpeg(frame, 1388), RangeError);
  assert.match(error.message, /16 MiB/);
  // One byte less fits the 24-bit offset.
  const payloads = packetizeRtpJpeg({ ...frame, scan: new Uint8Array((1 << 24) - 1) }, 65000);
  const last = parseRfc2435Header(payloads.at(-1)!);
  assert.ok(last.fragmentOffset < 1 << 24);
});

// ---------------------------------------------------------------------------
// Refusals

function assertRefused(jpeg: Uint8Array, why: RegExp): UnsupportedJpegError {
  const error = catchError(() => jpegToRtpFrame(jpeg), UnsupportedJpegError);
  assert.equal(error.name, "UnsupportedJpegError");
  assert.match(error.message, /^Cannot send this JPEG as RTP\/JPEG \(RFC 2435\): /);
  assert.match(error.message, why);
  return error;
}

Deno.test({
  name: "jpegToRtpFrame() refuses ffmpeg's 4:4:4 (all components 1x2)",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const jpeg = await ffmpegJpeg(["-pix_fmt", "yuvj444p", "-huffman", "default"]);
    assertRefused(jpeg, /sampling Y 1x2, Cb 1x2, Cr 1x2/);
  },
});

Deno.test({
  name: "jpegToRtpFrame() refuses ffmpeg's 4:2:2 (Y 2x2, chroma 1x2)",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const jpeg = await ffmpegJpeg(["-pix_fmt", "yuvj422p", "-huffman", "default"]);
    assertRefused(jpeg, /sampling Y 2x2, Cb 1x2, Cr 1x2/);
  },
});

Deno.test({
  name: "jpegToRtpFrame() refuses ffmpeg `-huffman optimal` (custom Huffman tables)",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const optimal = await ffmpegJpeg(["-pix_fmt", "yuvj420p", "-huffman", "optimal"]);
    assertRefused(optimal, /Huffman tables/);
    // The same picture with the standard tables is accepted.
    const standard = await ffmpegJpeg(["-pix_fmt", "yuvj420p", "-huffman", "default"]);
    assert.equal(jpegToRtpFrame(standard).type, 1);
  },
});

Deno.test("jpegToRtpFrame() refuses other samplings (synthetic SOF)", async (t) => {
  const cases: [string, number[], RegExp][] = [
    ["4:4:4 (all 1x1)", [0x11, 0x11, 0x11], /sampling Y 1x1, Cb 1x1, Cr 1x1/],
    ["4:4:0 (Y 1x2)", [0x12, 0x11, 0x11], /sampling Y 1x2/],
    ["4:1:1 (Y 4x1)", [0x41, 0x11, 0x11], /sampling Y 4x1/],
    ["chroma 2x1", [0x22, 0x21, 0x21], /Cb 2x1/],
    ["Cr alone 1x2", [0x22, 0x11, 0x12], /Cr 1x2/],
  ];
  for (const [name, sampling, why] of cases) {
    await t.step(name, () => {
      const jpeg = patchSof(FRAMES[0], ({ data }) => {
        sampling.forEach((s, i) => data[6 + i * 3 + 1] = s);
      });
      assertRefused(jpeg, why);
    });
  }
});

/** A minimal hand-made progressive JPEG: SOF2, a DC-first scan, then an AC scan of Y. */
function progressiveJpeg(): Uint8Array {
  const dqt = concat([0x00], Array(64).fill(2), [0x01], Array(64).fill(3));
  const sof2 = Uint8Array.from([8, 0, 16, 0, 16, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  const dcScan = Uint8Array.from([3, 1, 0x00, 2, 0x10, 3, 0x10, 0, 0, 0x01]); // Ss 0, Se 0, Al 1
  const acScan = concat([0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0x01], [0x55, 0xaa]); // Y, Ss 1..63
  return joinJpeg(
    [
      { marker: 0xdb, data: dqt },
      { marker: 0xc2, data: sof2 },
      { marker: 0xc4, data: STANDARD_DHT },
      { marker: 0xda, data: dcScan },
    ],
    concat([0x12, 0x34, 0x56], acScan),
  );
}

Deno.test("jpegToRtpFrame() refuses a progressive JPEG (SOF2)", () => {
  assertRefused(progressiveJpeg(), /progressive/);
  // A real frame's header with only the SOF marker changed to SOF2.
  assertRefused(editJpeg(FRAMES[0], (segments) => sofOf(segments).marker = 0xc2), /progressive/);
});

Deno.test("jpegToRtpFrame() refuses extended (SOF1) and lossless (SOF3) JPEGs", () => {
  assertRefused(editJpeg(FRAMES[0], (s) => sofOf(s).marker = 0xc1), /SOF 0xc1.*baseline/);
  assertRefused(editJpeg(FRAMES[0], (s) => sofOf(s).marker = 0xc3), /SOF 0xc3.*baseline/);
});

Deno.test("jpegToRtpFrame() refuses 12-bit samples", () => {
  assertRefused(patchSof(FRAMES[0], ({ data }) => data[0] = 12), /12-bit/);
  // 12-bit JPEGs are normally extended (SOF1): refused as not baseline.
  const sof1 = editJpeg(FRAMES[0], (segments) => {
    const sof = sofOf(segments);
    sof.marker = 0xc1;
    sof.data[0] = 12;
  });
  assertRefused(sof1, /baseline|12-bit/);
});

Deno.test("jpegToRtpFrame() refuses greyscale (1 component)", () => {
  assertRefused(greyscaleJpeg(), /1 components/);
});

Deno.test("jpegToRtpFrame() refuses a JPEG whose DHT differs from the standard tables", () => {
  const jpeg = editJpeg(FRAMES[0], (segments) => {
    const dht = segments.find((s) => s.marker === 0xc4)!;
    const at = 17 + 12 + 17; // first AC luminance symbol
    [dht.data[at], dht.data[at + 1]] = [dht.data[at + 1], dht.data[at]];
  });
  assertRefused(jpeg, /own Huffman tables/);
});

Deno.test("jpegToRtpFrame() refuses Cb and Cr with different tables, and missing tables", () => {
  const different = editJpeg(FRAMES[0], (segments) => {
    sofOf(segments).data[6 + 3 + 2] = 0; // Cb -> table 0, Cr stays on 1
  });
  assertRefused(different, /Cb and Cr use different quantization tables/);
  const missing = patchSof(FRAMES[0], ({ data }) => {
    data[6 + 3 + 2] = 2;
    data[6 + 6 + 2] = 2; // table 2 is never defined
  });
  assertRefused(missing, /quantization table .*missing/);
});

Deno.test("jpegToRtpFrame(): ParseError for bytes that are not a complete JPEG", () => {
  catchError(() => jpegToRtpFrame(FRAMES[0].subarray(0, 500)), ParseError);
  catchError(() => jpegToRtpFrame(new Uint8Array([1, 2, 3, 4, 5])), ParseError);
});
