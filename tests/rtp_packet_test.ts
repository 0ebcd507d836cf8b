import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  MAX_UDP_PAYLOAD,
  parseRtpPacket,
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  RTP_VERSION,
  type RtpPacketInit,
  rtpPacketSize,
  serializeRtpPacket,
  VIDEO_CLOCK_RATE,
  writeRtpHeader,
} from "../lib/wire/rtp_packet.ts";
import { catchError, concat } from "./_helpers.ts";

const PAYLOAD = Uint8Array.from([0xca, 0xfe, 0xba, 0xbe, 0x01]);

Deno.test("RTP constants match RFC 3550 / RFC 3551", () => {
  assert.equal(RTP_HEADER_SIZE, 12);
  assert.equal(RTP_VERSION, 2);
  assert.equal(PAYLOAD_TYPE_JPEG, 26);
  assert.equal(VIDEO_CLOCK_RATE, 90000);
  assert.equal(MAX_UDP_PAYLOAD, 65535 - 20 - 8);
});

Deno.test("serializeRtpPacket() writes the RFC 3550 fixed header byte for byte", () => {
  // V=2 P=0 X=0 CC=0 -> 1000 0000 = 0x80
  // M=1 PT=26        -> 1001 1010 = 0x9A
  // seq 0x1234, timestamp 0x11223344, SSRC 0xDEADBEEF, big endian.
  // deno-fmt-ignore
  const expectedHeader = [
    0x80, 0x9a, 0x12, 0x34,
    0x11, 0x22, 0x33, 0x44,
    0xde, 0xad, 0xbe, 0xef,
  ];
  const out = serializeRtpPacket({
    marker: true,
    payloadType: 26,
    sequenceNumber: 0x1234,
    timestamp: 0x11223344,
    ssrc: 0xdeadbeef,
    payload: PAYLOAD,
  });
  assert.deepEqual([...out], [...expectedHeader, ...PAYLOAD]);
});

Deno.test("serializeRtpPacket() writes P, X and CC bits, CSRCs and the extension header", () => {
  // V=2 P=1 X=1 CC=2 -> 1011 0010 = 0xB2;  M=0 PT=96 -> 0x60
  const out = serializeRtpPacket({
    payloadType: 96,
    sequenceNumber: 1,
    timestamp: 2,
    ssrc: 3,
    csrc: [0x01020304, 0xa0b0c0d0],
    extension: { profile: 0xbede, data: Uint8Array.from([9, 8, 7, 6]) },
    padding: 3,
    payload: Uint8Array.from([0x55]),
  });
  // deno-fmt-ignore
  const expected = [
    0xb2, 0x60, 0x00, 0x01, // V P X CC | M PT | sequence number
    0x00, 0x00, 0x00, 0x02, // timestamp
    0x00, 0x00, 0x00, 0x03, // SSRC
    0x01, 0x02, 0x03, 0x04, // CSRC 1
    0xa0, 0xb0, 0xc0, 0xd0, // CSRC 2
    0xbe, 0xde, 0x00, 0x01, // extension profile | length in words
    0x09, 0x08, 0x07, 0x06, // extension data
    0x55, // payload
    0x00, 0x00, 0x03, // padding, last byte is the count
  ];
  assert.deepEqual([...out], expected);
});

Deno.test("parseRtpPacket() reads every field of a hand-written packet", () => {
  // deno-fmt-ignore
  const packet = parseRtpPacket(Uint8Array.from([
    0x80, 0x9a, 0xff, 0xfe,
    0xff, 0xff, 0xff, 0xff,
    0x80, 0x00, 0x00, 0x01,
    0x61, 0x62,
  ]));
  assert.equal(packet.marker, true);
  assert.equal(packet.payloadType, 26);
  assert.equal(packet.sequenceNumber, 65534);
  assert.equal(packet.timestamp, 4294967295);
  assert.equal(packet.ssrc, 0x80000001);
  assert.deepEqual(packet.csrc, []);
  assert.equal(packet.extension, undefined);
  assert.equal("extension" in packet, false);
  assert.equal(packet.padding, 0);
  assert.deepEqual([...packet.payload], [0x61, 0x62]);
});

Deno.test("parseRtpPacket() round-trips every field through serializeRtpPacket()", async (t) => {
  const cases: [string, RtpPacketInit][] = [
    ["minimal", { payloadType: 26, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: PAYLOAD }],
    ["marker set", {
      marker: true,
      payloadType: 26,
      sequenceNumber: 7,
      timestamp: 90000,
      ssrc: 42,
      payload: PAYLOAD,
    }],
    ["maximum values", {
      marker: true,
      payloadType: 127,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 0xffffffff,
      payload: PAYLOAD,
    }],
    ["one CSRC", {
      payloadType: 0,
      sequenceNumber: 1,
      timestamp: 1,
      ssrc: 1,
      csrc: [0xffffffff],
      payload: PAYLOAD,
    }],
    ["15 CSRCs", {
      payloadType: 8,
      sequenceNumber: 300,
      timestamp: 123456789,
      ssrc: 0x12345678,
      csrc: Array.from({ length: 15 }, (_, i) => i * 0x01010101),
      payload: PAYLOAD,
    }],
    ["empty extension", {
      payloadType: 96,
      sequenceNumber: 2,
      timestamp: 3,
      ssrc: 4,
      extension: { profile: 0x1000, data: new Uint8Array(0) },
      payload: PAYLOAD,
    }],
    ["extension of 2 words", {
      payloadType: 96,
      sequenceNumber: 2,
      timestamp: 3,
      ssrc: 4,
      extension: { profile: 0xbede, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
      payload: PAYLOAD,
    }],
    ["padding 1", {
      payloadType: 26,
      sequenceNumber: 9,
      timestamp: 9,
      ssrc: 9,
      padding: 1,
      payload: PAYLOAD,
    }],
    ["padding 255", {
      payloadType: 26,
      sequenceNumber: 9,
      timestamp: 9,
      ssrc: 9,
      padding: 255,
      payload: PAYLOAD,
    }],
    ["empty payload", {
      payloadType: 26,
      sequenceNumber: 9,
      timestamp: 9,
      ssrc: 9,
      payload: new Uint8Array(0),
    }],
    ["everything at once", {
      marker: true,
      payloadType: 26,
      sequenceNumber: 40000,
      timestamp: 3000000000,
      ssrc: 0xcafebabe,
      csrc: [1, 2, 3],
      extension: { profile: 0xabcd, data: Uint8Array.from([0, 0, 0, 1]) },
      padding: 4,
      payload: PAYLOAD,
    }],
  ];
  for (const [name, init] of cases) {
    await t.step(name, () => {
      const wire = serializeRtpPacket(init);
      assert.equal(wire.length, rtpPacketSize(init));
      const packet = parseRtpPacket(wire);
      assert.equal(packet.marker, init.marker ?? false);
      assert.equal(packet.payloadType, init.payloadType);
      assert.equal(packet.sequenceNumber, init.sequenceNumber);
      assert.equal(packet.timestamp, init.timestamp);
      assert.equal(packet.ssrc, init.ssrc);
      assert.deepEqual(packet.csrc, init.csrc ?? []);
      if (init.extension) {
        assert.ok(packet.extension);
        assert.equal(packet.extension.profile, init.extension.profile);
        assert.deepEqual([...packet.extension.data], [...init.extension.data]);
      } else {
        assert.equal(packet.extension, undefined);
      }
      assert.equal(packet.padding, init.padding ?? 0);
      assert.deepEqual([...packet.payload], [...init.payload]);
      // Serializing what was parsed gives the same bytes again.
      assert.deepEqual([...serializeRtpPacket(packet)], [...wire]);
    });
  }
});

Deno.test("serializeRtpPacket() wraps the sequence number and timestamp to their field widths", () => {
  const packet = parseRtpPacket(serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 65536 + 5,
    timestamp: 2 ** 32 + 7,
    ssrc: -1,
    payload: PAYLOAD,
  }));
  assert.equal(packet.sequenceNumber, 5);
  assert.equal(packet.timestamp, 7);
  assert.equal(packet.ssrc, 0xffffffff);
});

Deno.test("rtpPacketSize() counts header, CSRCs, extension, payload and padding", () => {
  assert.equal(
    rtpPacketSize({ payloadType: 26, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: PAYLOAD }),
    12 + 5,
  );
  assert.equal(
    rtpPacketSize({
      payloadType: 26,
      sequenceNumber: 0,
      timestamp: 0,
      ssrc: 0,
      csrc: [1, 2],
      extension: { profile: 0, data: new Uint8Array(8) },
      padding: 3,
      payload: PAYLOAD,
    }),
    12 + 8 + 4 + 8 + 5 + 3,
  );
});

Deno.test("parseRtpPacket() returns the payload as a view, not a copy", () => {
  const wire = serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 1,
    timestamp: 1,
    ssrc: 1,
    extension: { profile: 1, data: Uint8Array.from([1, 2, 3, 4]) },
    payload: PAYLOAD,
  });
  const packet = parseRtpPacket(wire);
  assert.equal(packet.payload.buffer, wire.buffer);
  assert.equal(packet.payload.byteOffset, 12 + 8);
  assert.equal(packet.extension!.data.buffer, wire.buffer);
  wire[wire.length - 1] = 0x99;
  assert.equal(packet.payload[packet.payload.length - 1], 0x99);
  wire[12 + 4] = 0x77;
  assert.equal(packet.extension!.data[0], 0x77);
});

Deno.test("parseRtpPacket() reads a packet that sits at an offset inside a larger buffer", () => {
  const wire = serializeRtpPacket({
    marker: true,
    payloadType: 26,
    sequenceNumber: 0xabcd,
    timestamp: 0x01020304,
    ssrc: 0x05060708,
    csrc: [0x0a0b0c0d],
    payload: PAYLOAD,
  });
  const big = concat([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], wire, [0xee, 0xee]);
  const packet = parseRtpPacket(big.subarray(7, 7 + wire.length));
  assert.equal(packet.sequenceNumber, 0xabcd);
  assert.equal(packet.timestamp, 0x01020304);
  assert.equal(packet.ssrc, 0x05060708);
  assert.deepEqual(packet.csrc, [0x0a0b0c0d]);
  assert.deepEqual([...packet.payload], [...PAYLOAD]);
});

Deno.test("parseRtpPacket() rejects an 11-byte datagram", () => {
  const error = catchError(() => parseRtpPacket(new Uint8Array(11).fill(0x80)), ParseError);
  assert.equal(error.offset, 11);
  assert.match(error.message, /11 bytes/);
});

Deno.test("parseRtpPacket() rejects datagrams shorter than 12 bytes", async (t) => {
  for (const n of [0, 1, 4, 11]) {
    await t.step(`${n} bytes`, () => {
      assert.throws(() => parseRtpPacket(new Uint8Array(n).fill(0x80)), ParseError);
    });
  }
});

Deno.test("parseRtpPacket() accepts a bare 12-byte header with an empty payload", () => {
  const packet = parseRtpPacket(Uint8Array.from([0x80, 26, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]));
  assert.equal(packet.payload.length, 0);
  assert.equal(packet.sequenceNumber, 1);
});

Deno.test("parseRtpPacket() rejects versions other than 2", async (t) => {
  for (const [version, b0] of [[0, 0x00], [1, 0x40], [3, 0xc0]]) {
    await t.step(`version ${version}`, () => {
      const wire = new Uint8Array(20);
      wire[0] = b0;
      const error = catchError(() => parseRtpPacket(wire), ParseError);
      assert.equal(error.offset, 0);
      assert.match(error.message, new RegExp(`version ${version}`));
    });
  }
});

Deno.test("parseRtpPacket() rejects a CSRC count that runs past the end", () => {
  // CC=3 needs 12 + 12 bytes; give 12 + 8.
  const wire = new Uint8Array(20);
  wire[0] = 0x83;
  const error = catchError(() => parseRtpPacket(wire), ParseError);
  assert.match(error.message, /3 CSRCs/);
  // CC=15 with only the fixed header.
  const full = new Uint8Array(12);
  full[0] = 0x8f;
  assert.throws(() => parseRtpPacket(full), ParseError);
  // Exactly enough bytes is fine.
  const exact = new Uint8Array(24);
  exact[0] = 0x83;
  assert.deepEqual(parseRtpPacket(exact).csrc, [0, 0, 0]);
});

Deno.test("parseRtpPacket() rejects an extension header that runs past the end", async (t) => {
  await t.step("X set but fewer than 4 bytes after the header", () => {
    const wire = Uint8Array.from([0x90, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde]);
    const error = catchError(() => parseRtpPacket(wire), ParseError);
    assert.equal(error.offset, 12);
  });
  await t.step("X set after a CSRC, extension header missing", () => {
    const wire = new Uint8Array(16);
    wire[0] = 0x91;
    assert.throws(() => parseRtpPacket(wire), ParseError);
  });
  await t.step("extension length of 2 words with only 1 word present", () => {
    const wire = concat(
      [0x90, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0xbe, 0xde, 0x00, 0x02],
      [1, 2, 3, 4],
    );
    const error = catchError(() => parseRtpPacket(wire), ParseError);
    assert.equal(error.offset, 12);
    assert.match(error.message, /2 words/);
  });
  await t.step("extension length filling the packet exactly is fine", () => {
    const wire = concat(
      [0x90, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0xbe, 0xde, 0x00, 0x01],
      [1, 2, 3, 4],
    );
    const packet = parseRtpPacket(wire);
    assert.deepEqual([...packet.extension!.data], [1, 2, 3, 4]);
    assert.equal(packet.payload.length, 0);
  });
});

Deno.test("parseRtpPacket() rejects a padding count that does not fit", async (t) => {
  const header = [0xa0, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  await t.step("padding count 0", () => {
    const wire = concat(header, [1, 2, 3, 0]);
    const error = catchError(() => parseRtpPacket(wire), ParseError);
    assert.equal(error.offset, wire.length - 1);
    assert.match(error.message, /padding count 0/);
  });
  await t.step("padding larger than the payload", () => {
    const wire = concat(header, [1, 2, 3, 5]);
    assert.throws(() => parseRtpPacket(wire), ParseError);
  });
  await t.step("padding that would eat into the header", () => {
    // P set, no payload: the last header byte (0x0c) is read as the count.
    const wire = Uint8Array.from([0xa0, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0c]);
    assert.throws(() => parseRtpPacket(wire), ParseError);
  });
  await t.step("padding that eats into the extension", () => {
    const wire = concat(
      [0xb0, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 1, 9, 9, 9, 9],
      [2],
    );
    assert.throws(() => parseRtpPacket(wire), ParseError);
  });
  await t.step("padding equal to the whole payload is fine", () => {
    const packet = parseRtpPacket(concat(header, [0, 0, 0, 4]));
    assert.equal(packet.padding, 4);
    assert.equal(packet.payload.length, 0);
  });
});

Deno.test("serializeRtpPacket() throws RangeError for a payload type outside 0-127", async (t) => {
  for (const payloadType of [128, 255, -1, 26.5, NaN]) {
    await t.step(`PT ${payloadType}`, () => {
      assert.throws(
        () =>
          serializeRtpPacket({
            payloadType,
            sequenceNumber: 0,
            timestamp: 0,
            ssrc: 0,
            payload: PAYLOAD,
          }),
        RangeError,
      );
    });
  }
  // The bounds themselves are fine.
  for (const payloadType of [0, 127]) {
    const wire = serializeRtpPacket({
      payloadType,
      sequenceNumber: 0,
      timestamp: 0,
      ssrc: 0,
      payload: PAYLOAD,
    });
    assert.equal(wire[1], payloadType);
  }
});

Deno.test("serializeRtpPacket() throws RangeError for more than 15 CSRCs", () => {
  const init = (n: number): RtpPacketInit => ({
    payloadType: 26,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    csrc: Array.from({ length: n }, (_, i) => i),
    payload: PAYLOAD,
  });
  assert.throws(() => serializeRtpPacket(init(16)), RangeError);
  assert.equal(serializeRtpPacket(init(15))[0] & 0x0f, 15);
});

Deno.test("serializeRtpPacket() throws RangeError for an extension that is not whole words", () => {
  for (const n of [1, 2, 3, 5]) {
    assert.throws(
      () =>
        serializeRtpPacket({
          payloadType: 26,
          sequenceNumber: 0,
          timestamp: 0,
          ssrc: 0,
          extension: { profile: 0, data: new Uint8Array(n) },
          payload: PAYLOAD,
        }),
      RangeError,
    );
  }
});

Deno.test("serializeRtpPacket() throws RangeError for padding outside 0-255", () => {
  for (const padding of [-1, 256, 1.5]) {
    assert.throws(
      () =>
        serializeRtpPacket({
          payloadType: 26,
          sequenceNumber: 0,
          timestamp: 0,
          ssrc: 0,
          padding,
          payload: PAYLOAD,
        }),
      RangeError,
    );
  }
});

Deno.test("serializeRtpPacket() leaves the P bit clear when padding is 0", () => {
  const wire = serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    padding: 0,
    payload: PAYLOAD,
  });
  assert.equal(wire[0] & 0x20, 0);
  assert.equal(wire.length, 12 + PAYLOAD.length);
});

Deno.test("writeRtpHeader() writes what serializeRtpPacket() writes, at any offset", () => {
  const cases = [
    { payloadType: 26, marker: true, sequenceNumber: 7, timestamp: 90000, ssrc: 0x1234 },
    { payloadType: 26, marker: false, sequenceNumber: 0xffff, timestamp: 0xffffffff, ssrc: 1 },
    { payloadType: 127, marker: true, sequenceNumber: 0, timestamp: 0, ssrc: 0xdeadbeef },
  ];
  for (const c of cases) {
    const expected = serializeRtpPacket({ ...c, payload: new Uint8Array(0) });
    const target = new Uint8Array(20).fill(0xee);
    writeRtpHeader(target, 5, c.payloadType, c.marker, c.sequenceNumber, c.timestamp, c.ssrc);
    assert.deepEqual(target.subarray(5, 17), expected);
    assert.deepEqual([...target.subarray(0, 5), ...target.subarray(17)], Array(8).fill(0xee));
  }
  // Values wrap to their field widths rather than spilling into neighbours.
  const wrapped = new Uint8Array(12);
  writeRtpHeader(wrapped, 0, 26, false, 0x1_0002, 0x1_0000_0003, 0x1_0000_0004);
  assert.deepEqual(
    parseRtpPacket(wrapped),
    parseRtpPacket(
      serializeRtpPacket({
        payloadType: 26,
        sequenceNumber: 2,
        timestamp: 3,
        ssrc: 4,
        payload: new Uint8Array(0),
      }),
    ),
  );
});
