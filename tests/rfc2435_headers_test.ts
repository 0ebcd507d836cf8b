import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  JPEG_HEADER_SIZE,
  parseRfc2435Header,
  RESTART_HEADER_SIZE,
  type Rfc2435Header,
  rfc2435HeaderSize,
  writeRfc2435Header,
} from "../lib/wire/rfc2435_headers.ts";
import { catchError, concat } from "./_helpers.ts";

type HeaderFields = Omit<Rfc2435Header, "dataOffset">;

/** Write `header` into a fresh buffer followed by `data`; checks the size functions agree. */
function payloadOf(header: HeaderFields, data: number[] = []): Uint8Array {
  const size = rfc2435HeaderSize(header);
  const out = new Uint8Array(size + data.length);
  const written = writeRfc2435Header(out, header);
  assert.equal(written, size, "writeRfc2435Header() returns rfc2435HeaderSize()");
  out.set(data, size);
  return out;
}

const TABLES = Uint8Array.from({ length: 128 }, (_, i) => i + 1);

Deno.test("header size constants: 8-byte main header, 4-byte restart header", () => {
  assert.equal(JPEG_HEADER_SIZE, 8);
  assert.equal(RESTART_HEADER_SIZE, 4);
});

Deno.test("writeRfc2435Header(): main header byte for byte", () => {
  const out = new Uint8Array(8);
  const n = writeRfc2435Header(out, {
    typeSpecific: 0,
    fragmentOffset: 0x123456,
    type: 1,
    q: 80,
    width8: 48,
    height8: 36,
  });
  assert.equal(n, 8);
  assert.deepEqual([...out], [0x00, 0x12, 0x34, 0x56, 0x01, 80, 48, 36]);
});

Deno.test("writeRfc2435Header(): every field lands in its byte", () => {
  const out = new Uint8Array(8);
  writeRfc2435Header(out, {
    typeSpecific: 3,
    fragmentOffset: 0xfffffe,
    type: 0,
    q: 99,
    width8: 255,
    height8: 1,
  });
  assert.deepEqual([...out], [3, 0xff, 0xff, 0xfe, 0, 99, 255, 1]);
});

Deno.test("writeRfc2435Header(): Q 255 at offset 0 writes the quantization table header", () => {
  const payload = payloadOf({
    typeSpecific: 0,
    fragmentOffset: 0,
    type: 1,
    q: 255,
    width8: 48,
    height8: 36,
    quantPrecision: 0,
    quantTables: TABLES,
  }, [0xaa, 0xbb]);
  assert.equal(payload.length, 8 + 4 + 128 + 2);
  assert.deepEqual([...payload.subarray(0, 12)], [0, 0, 0, 0, 1, 255, 48, 36, 0, 0, 0, 128]);
  assert.deepEqual([...payload.subarray(12, 140)], [...TABLES]);
  assert.deepEqual([...payload.subarray(140)], [0xaa, 0xbb]);
});

Deno.test("writeRfc2435Header(): restart header after the main header for type 65", () => {
  const payload = payloadOf({
    typeSpecific: 0,
    fragmentOffset: 0x000100,
    type: 65,
    q: 255,
    width8: 8,
    height8: 6,
    restartInterval: 0x0204,
    restartWord: 0xffff,
  });
  assert.deepEqual([...payload], [0, 0, 1, 0, 65, 255, 8, 6, 0x02, 0x04, 0xff, 0xff]);
});

Deno.test("writeRfc2435Header(): restart word defaults to 0xFFFF (F=L=1, count 0x3FFF)", () => {
  const payload = payloadOf({
    typeSpecific: 0,
    fragmentOffset: 0,
    type: 64,
    q: 50,
    width8: 8,
    height8: 6,
    restartInterval: 7,
  });
  assert.deepEqual([...payload.subarray(8)], [0, 7, 0xff, 0xff]);
});

Deno.test("writeRfc2435Header(): restart header, then table header, then data (type 65, Q 255)", () => {
  const tables = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);
  const payload = payloadOf({
    typeSpecific: 0,
    fragmentOffset: 0,
    type: 65,
    q: 255,
    width8: 48,
    height8: 36,
    restartInterval: 24,
    restartWord: 0xffff,
    quantPrecision: 1,
    quantTables: tables,
  }, [0x11]);
  assert.deepEqual(
    [...payload.subarray(0, 16)],
    [0, 0, 0, 0, 65, 255, 48, 36, 0, 24, 0xff, 0xff, 0, 1, 0, 64],
  );
  assert.deepEqual([...payload.subarray(16, 80)], [...tables]);
  assert.deepEqual([...payload.subarray(80)], [0x11]);
});

Deno.test("rfc2435HeaderSize(): 8, +4 for types 64-127, +4+tables when tables are given", () => {
  for (const type of [0, 1, 63, 128, 255]) {
    assert.equal(rfc2435HeaderSize({ type }), 8, `type ${type}`);
  }
  for (const type of [64, 65, 127]) assert.equal(rfc2435HeaderSize({ type }), 12, `type ${type}`);
  assert.equal(rfc2435HeaderSize({ type: 1, quantTables: TABLES }), 8 + 4 + 128);
  assert.equal(rfc2435HeaderSize({ type: 65, quantTables: TABLES }), 8 + 4 + 4 + 128);
  assert.equal(rfc2435HeaderSize({ type: 1, quantTables: new Uint8Array(0) }), 12);
});

Deno.test("parseRfc2435Header(): reads the main header fields", () => {
  const header = parseRfc2435Header(
    Uint8Array.from([1, 0xab, 0xcd, 0xef, 0, 75, 80, 60, 0xde, 0xad]),
  );
  assert.deepEqual(header, {
    typeSpecific: 1,
    fragmentOffset: 0xabcdef,
    type: 0,
    q: 75,
    width8: 80,
    height8: 60,
    dataOffset: 8,
  });
});

Deno.test("parseRfc2435Header(): a restart header only for types 64-127", async (t) => {
  for (const type of [0, 1, 63, 128, 200, 255]) {
    await t.step(`type ${type}: none`, () => {
      const header = parseRfc2435Header(Uint8Array.from([0, 0, 0, 5, type, 50, 8, 6, 1, 2, 3, 4]));
      assert.equal(header.dataOffset, 8);
      assert.equal(header.restartInterval, undefined);
      assert.equal(header.restartWord, undefined);
    });
  }
  for (const type of [64, 65, 100, 127]) {
    await t.step(`type ${type}: present`, () => {
      const header = parseRfc2435Header(
        Uint8Array.from([0, 0, 0, 5, type, 50, 8, 6, 0x01, 0x02, 0xc0, 0x07, 9]),
      );
      assert.equal(header.dataOffset, 12);
      assert.equal(header.restartInterval, 0x0102);
      assert.equal(header.restartWord, 0xc007);
    });
  }
});

Deno.test("parseRfc2435Header(): a quantization table header only with Q >= 128 at offset 0", async (t) => {
  const tableHeader = [0, 0, 0, 64, ...Array.from({ length: 64 }, (_, i) => i)];
  await t.step("Q 128 at offset 0: read", () => {
    const header = parseRfc2435Header(concat([0, 0, 0, 0, 1, 128, 8, 6], tableHeader, [0xee]));
    assert.equal(header.quantPrecision, 0);
    assert.equal(header.quantTables?.length, 64);
    assert.deepEqual([...header.quantTables!], tableHeader.slice(4));
    assert.equal(header.dataOffset, 8 + 4 + 64);
  });
  await t.step("Q 255 at offset 0: read", () => {
    const header = parseRfc2435Header(concat([0, 0, 0, 0, 1, 255, 8, 6], tableHeader));
    assert.equal(header.quantTables?.length, 64);
    assert.equal(header.dataOffset, 76);
  });
  await t.step("Q 127 at offset 0: not read (reserved Q, but no table header)", () => {
    const header = parseRfc2435Header(concat([0, 0, 0, 0, 1, 127, 8, 6], tableHeader));
    assert.equal(header.quantTables, undefined);
    assert.equal(header.dataOffset, 8);
  });
  await t.step("Q 50 at offset 0: not read", () => {
    const header = parseRfc2435Header(concat([0, 0, 0, 0, 1, 50, 8, 6], tableHeader));
    assert.equal(header.quantTables, undefined);
    assert.equal(header.quantPrecision, undefined);
    assert.equal(header.dataOffset, 8);
  });
  await t.step("Q 255 at offset 1: not read", () => {
    const header = parseRfc2435Header(concat([0, 0, 0, 1, 1, 255, 8, 6], tableHeader));
    assert.equal(header.quantTables, undefined);
    assert.equal(header.dataOffset, 8);
  });
  await t.step("Q 255 at offset 0 with Length 0: empty tables", () => {
    const header = parseRfc2435Header(Uint8Array.from([0, 0, 0, 0, 1, 200, 8, 6, 0, 0, 0, 0, 7]));
    assert.equal(header.quantTables?.length, 0);
    assert.equal(header.dataOffset, 12);
  });
  await t.step("type 65, Q 255: restart header comes first", () => {
    const header = parseRfc2435Header(
      concat([0, 0, 0, 0, 65, 255, 8, 6], [0, 4, 0xff, 0xff], [0, 3, 0, 128], TABLES),
    );
    assert.equal(header.restartInterval, 4);
    assert.equal(header.quantPrecision, 3);
    assert.deepEqual([...header.quantTables!], [...TABLES]);
    assert.equal(header.dataOffset, 8 + 4 + 4 + 128);
  });
});

Deno.test("write -> parse round trip", async (t) => {
  const cases: [string, HeaderFields][] = [
    ["type 1, Q 50", {
      typeSpecific: 0,
      fragmentOffset: 1388,
      type: 1,
      q: 50,
      width8: 48,
      height8: 36,
    }],
    ["type 0, Q 99, largest offset", {
      typeSpecific: 2,
      fragmentOffset: 0xffffff,
      type: 0,
      q: 99,
      width8: 255,
      height8: 255,
    }],
    ["type 1, Q 255, tables", {
      typeSpecific: 0,
      fragmentOffset: 0,
      type: 1,
      q: 255,
      width8: 0,
      height8: 0,
      quantPrecision: 0,
      quantTables: TABLES,
    }],
    ["type 65, Q 200, 16-bit tables", {
      typeSpecific: 0,
      fragmentOffset: 0,
      type: 65,
      q: 200,
      width8: 20,
      height8: 15,
      restartInterval: 65535,
      restartWord: 0xffff,
      quantPrecision: 3,
      quantTables: Uint8Array.from({ length: 256 }, (_, i) => i),
    }],
    ["type 64, Q 255, not the first fragment", {
      typeSpecific: 0,
      fragmentOffset: 4000,
      type: 64,
      q: 255,
      width8: 40,
      height8: 30,
      restartInterval: 1,
      restartWord: 0x4005,
    }],
  ];
  for (const [name, fields] of cases) {
    await t.step(name, () => {
      const data = [0xff, 0x00, 0x12, 0xd0, 0x34];
      const payload = payloadOf(fields, data);
      const parsed = parseRfc2435Header(payload);
      const { quantTables, ...rest } = fields;
      const { quantTables: parsedTables, dataOffset, ...parsedRest } = parsed;
      assert.deepEqual(parsedRest, rest);
      assert.deepEqual(parsedTables && [...parsedTables], quantTables && [...quantTables]);
      assert.equal(dataOffset, rfc2435HeaderSize(fields));
      assert.deepEqual([...payload.subarray(dataOffset)], data);
    });
  }
});

Deno.test("parseRfc2435Header(): ParseError for payloads shorter than the main header", () => {
  for (const length of [0, 1, 7]) {
    const error = catchError(() => parseRfc2435Header(new Uint8Array(length)), ParseError);
    assert.match(error.message, /^Cannot parse RTP\/JPEG payload/);
    assert.match(error.message, new RegExp(`${length} bytes`));
  }
  // Exactly 8 bytes is a valid (empty) payload.
  assert.equal(parseRfc2435Header(Uint8Array.from([0, 0, 0, 0, 1, 50, 8, 6])).dataOffset, 8);
});

Deno.test("parseRfc2435Header(): ParseError for a truncated restart header", () => {
  for (const extra of [0, 1, 3]) {
    const payload = concat([0, 0, 0, 0, 65, 50, 8, 6], new Array(extra).fill(0));
    const error = catchError(() => parseRfc2435Header(payload), ParseError);
    assert.match(error.message, /truncated restart marker header/);
    assert.equal(error.offset, 8);
  }
});

Deno.test("parseRfc2435Header(): ParseError for a truncated quantization table header", () => {
  const error = catchError(
    () => parseRfc2435Header(Uint8Array.from([0, 0, 0, 0, 1, 255, 8, 6, 0, 0, 0])),
    ParseError,
  );
  assert.match(error.message, /truncated quantization table header/);
  assert.equal(error.offset, 8);
});

Deno.test("parseRfc2435Header(): ParseError when the table length runs past the end", async (t) => {
  await t.step("type 1: Length 128, 127 bytes present", () => {
    const payload = concat([0, 0, 0, 0, 1, 255, 8, 6], [0, 0, 0, 128], TABLES.subarray(0, 127));
    const error = catchError(() => parseRfc2435Header(payload), ParseError);
    assert.match(error.message, /quantization tables of 128 bytes run past the packet/);
    assert.equal(error.offset, 8);
  });
  await t.step("type 65: Length 0xFFFF, offset after the restart header", () => {
    const payload = concat([0, 0, 0, 0, 65, 128, 8, 6], [0, 1, 0xff, 0xff], [0, 0, 0xff, 0xff], [
      1,
      2,
    ]);
    const error = catchError(() => parseRfc2435Header(payload), ParseError);
    assert.match(error.message, /65535 bytes/);
    assert.equal(error.offset, 12);
  });
  await t.step("Length exactly to the end is fine", () => {
    const payload = concat([0, 0, 0, 0, 1, 255, 8, 6], [0, 0, 0, 128], TABLES);
    const header = parseRfc2435Header(payload);
    assert.equal(header.dataOffset, payload.length);
  });
});
