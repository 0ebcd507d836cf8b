import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  formatNpt,
  parseRange,
  type RangeHeader,
  serializeRange,
} from "../lib/wire/range_header.ts";
import { catchError } from "./_helpers.ts";

/** Input, the value it parses to, and the canonical form that value is written as. */
interface RangeCase {
  input: string;
  value: RangeHeader;
  canonical: string;
}

const NPT_SECONDS: RangeCase[] = [
  {
    input: "npt=5-7.25",
    value: { unit: "npt", start: 5, end: 7.25 },
    canonical: "npt=5.000-7.250",
  },
  { input: "npt=0-", value: { unit: "npt", start: 0 }, canonical: "npt=0.000-" },
  { input: "npt=5-", value: { unit: "npt", start: 5 }, canonical: "npt=5.000-" },
  {
    input: "npt=123.45-125",
    value: { unit: "npt", start: 123.45, end: 125 },
    canonical: "npt=123.450-125.000",
  },
  { input: "npt=5.-6.", value: { unit: "npt", start: 5, end: 6 }, canonical: "npt=5.000-6.000" },
  { input: "npt=.5-", value: { unit: "npt", start: 0.5 }, canonical: "npt=0.500-" },
  { input: "npt=007-", value: { unit: "npt", start: 7 }, canonical: "npt=7.000-" },
  {
    input: "npt=1.0005-2.9996",
    value: { unit: "npt", start: 1.001, end: 3 },
    canonical: "npt=1.001-3.000",
  },
  {
    input: "npt=0.0004-0.1234999",
    value: { unit: "npt", start: 0, end: 0.123 },
    canonical: "npt=0.000-0.123",
  },
];

const NPT_HHMMSS: RangeCase[] = [
  {
    input: "npt=12:05:35.3-",
    value: { unit: "npt", start: 43535.3 },
    canonical: "npt=43535.300-",
  },
  {
    input: "npt=0:00:10-0:01:00",
    value: { unit: "npt", start: 10, end: 60 },
    canonical: "npt=10.000-60.000",
  },
  { input: "npt=1:2:3-", value: { unit: "npt", start: 3723 }, canonical: "npt=3723.000-" },
  {
    input: "npt=100:59:59.999-",
    value: { unit: "npt", start: 363599.999 },
    canonical: "npt=363599.999-",
  },
  {
    input: "npt=00:00:05.-00:00:07.25",
    value: { unit: "npt", start: 5, end: 7.25 },
    canonical: "npt=5.000-7.250",
  },
];

const NPT_OPEN_AND_NOW: RangeCase[] = [
  { input: "npt=-3", value: { unit: "npt", end: 3 }, canonical: "npt=-3.000" },
  { input: "npt=-0:00:03.5", value: { unit: "npt", end: 3.5 }, canonical: "npt=-3.500" },
  { input: "npt=now-", value: { unit: "npt", start: "now" }, canonical: "npt=now-" },
  { input: "npt=NOW-", value: { unit: "npt", start: "now" }, canonical: "npt=now-" },
  {
    input: "npt=now-30",
    value: { unit: "npt", start: "now", end: 30 },
    canonical: "npt=now-30.000",
  },
];

const LOOSE: RangeCase[] = [
  {
    input: "  NPT = 5 - 7 ",
    value: { unit: "npt", start: 5, end: 7 },
    canonical: "npt=5.000-7.000",
  },
  { input: "Npt=\t0\t-", value: { unit: "npt", start: 0 }, canonical: "npt=0.000-" },
  { input: "npt=0-;", value: { unit: "npt", start: 0 }, canonical: "npt=0.000-" },
  {
    input: "npt=0- ; x-foo=bar ; flag",
    value: { unit: "npt", start: 0 },
    canonical: "npt=0.000-",
  },
];

const WITH_TIME: RangeCase[] = [
  {
    input: "npt=0-;time=19970123T143720Z",
    value: { unit: "npt", start: 0, time: "19970123T143720Z" },
    canonical: "npt=0.000-;time=19970123T143720Z",
  },
  {
    input: "npt=5-10 ; TIME = 19970123T143720.25Z ",
    value: { unit: "npt", start: 5, end: 10, time: "19970123T143720.25Z" },
    canonical: "npt=5.000-10.000;time=19970123T143720.25Z",
  },
  {
    input: "npt=1-;time=a;time=b",
    value: { unit: "npt", start: 1, time: "b" },
    canonical: "npt=1.000-;time=b",
  },
];

const OTHER_UNITS: RangeCase[] = [
  {
    input: "smpte=10:07:00-10:07:33:05.01",
    value: { unit: "smpte", value: "10:07:00-10:07:33:05.01" },
    canonical: "smpte=10:07:00-10:07:33:05.01",
  },
  {
    input: "smpte-30-drop=10:12:33:20-",
    value: { unit: "smpte-30-drop", value: "10:12:33:20-" },
    canonical: "smpte-30-drop=10:12:33:20-",
  },
  {
    input: "SMPTE-25 = 10:07:00 - 10:07:33",
    value: { unit: "smpte-25", value: "10:07:00-10:07:33" },
    canonical: "smpte-25=10:07:00-10:07:33",
  },
  {
    input: "clock=19961108T142300Z-19961108T143520Z",
    value: { unit: "clock", value: "19961108T142300Z-19961108T143520Z" },
    canonical: "clock=19961108T142300Z-19961108T143520Z",
  },
  {
    input: "clock=19961108T142300Z-;time=19970123T143720Z",
    value: { unit: "clock", value: "19961108T142300Z-", time: "19970123T143720Z" },
    canonical: "clock=19961108T142300Z-;time=19970123T143720Z",
  },
];

/** Every table: the parse, serialize and round-trip tests and the fuzz seeds all draw on them. */
const ALL_CASES = [
  ...NPT_SECONDS,
  ...NPT_HHMMSS,
  ...NPT_OPEN_AND_NOW,
  ...LOOSE,
  ...WITH_TIME,
  ...OTHER_UNITS,
];

async function parses(t: Deno.TestContext, cases: RangeCase[]): Promise<void> {
  for (const { input, value } of cases) {
    await t.step(JSON.stringify(input), () => assert.deepEqual(parseRange(input), value));
  }
}

Deno.test("parseRange() reads npt in seconds and hh:mm:ss", async (t) => {
  await parses(t, [...NPT_SECONDS, ...NPT_HHMMSS]);
});

Deno.test("parseRange() reads the -npt-time, open-ended and now forms", async (t) => {
  await parses(t, NPT_OPEN_AND_NOW);
});

Deno.test("parseRange() tolerates blanks and case, and ignores unknown parameters", async (t) => {
  await parses(t, LOOSE);
});

Deno.test("parseRange() reads the time parameter", async (t) => {
  await parses(t, WITH_TIME);
});

Deno.test("parseRange() keeps smpte and clock ranges verbatim", async (t) => {
  await parses(t, OTHER_UNITS);
});

Deno.test("parseRange() does not reject a reversed range or one past the media's end", () => {
  // Both are the server's call (457 Invalid Range), not the parser's.
  assert.deepEqual(parseRange("npt=10-5"), { unit: "npt", start: 10, end: 5 });
  assert.deepEqual(parseRange("npt=86400-"), { unit: "npt", start: 86400 });
  assert.deepEqual(parseRange("npt=9999999999.999-"), { unit: "npt", start: 9999999999.999 });
  assert.deepEqual(parseRange("npt=now-0"), { unit: "npt", start: "now", end: 0 });
});

Deno.test("parseRange() throws ParseError for unparsable values", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /empty value/],
    ["   ", /empty value/],
    ["\t", /empty value/],
    ["0-5", /no unit in "0-5"/],
    ["npt", /no unit/],
    ["bytes=0-5", /unknown unit "bytes"/],
    ["=0-5", /unknown unit ""/],
    ["n pt=0-5", /unknown unit "n pt"/],
    ["npt=5", /no "-"/],
    ["npt=", /no "-"/],
    ["npt=now", /no "-"/],
    ["npt=-", /bad range/],
    ["npt= - ", /bad range/],
    ["npt=-5-10", /bad range/],
    ["npt=--5", /bad range/],
    ["npt=5--", /bad range/],
    ["npt=1-2-3", /bad range/],
    ["npt=abc-", /bad time "abc"/],
    ["npt=5-abc", /bad time "abc"/],
    ["npt=.-", /bad time "."/],
    ["npt=5..0-", /bad time "5..0"/],
    ["npt=1e3-", /bad time "1e3"/],
    ["npt=+5-", /bad time "\+5"/],
    ["npt=5 0-", /bad time "5 0"/],
    ["npt=0x10-", /bad time "0x10"/],
    ["npt=Infinity-", /bad time "Infinity"/],
    ["npt=NaN-", /bad time "NaN"/],
    ["npt=nowish-", /bad time "nowish"/],
    ["npt=1:60:00-", /bad time "1:60:00"/],
    ["npt=1:00:60-", /bad time "1:00:60"/],
    ["npt=1:00-", /bad time "1:00"/],
    ["npt=1:000:00-", /bad time "1:000:00"/],
    ["npt=:00:00-", /bad time ":00:00"/],
    ["npt=1:00:00:00-", /bad time "1:00:00:00"/],
    ["npt=4497407430659.65-", /out of range/],
    ["npt=10000000000-", /out of range/],
    ["npt=9999999999.9995-", /out of range/],
    ["npt=2777777:46:40-", /out of range/],
    [`npt=${"9".repeat(400)}-`, /out of range/],
    ["npt=9999999999:00:00-", /out of range/],
    ["npt=-now", /"now" cannot end a range/],
    ["npt=5-now", /"now" cannot end a range/],
    ["npt=0-5,7-9", /more than one range/],
    ["npt=0-5, smpte=1:00:00-", /more than one range/],
    ["npt=0-;time=", /bad time parameter ""/],
    ["npt=0-;time", /bad time parameter ""/],
    ["npt=0-;time=a b", /bad time parameter "a b"/],
    ["smpte=10:07:00", /bad smpte range/],
    ["smpte=-", /bad smpte range/],
    ["smpte=", /bad smpte range/],
    ["clock=1996 1108T14Z-", /bad clock range/],
    ["clock=19961108T142300Z-\u00e9", /bad clock range/],
  ];
  for (const [input, message] of cases) {
    await t.step(JSON.stringify(input), () => {
      const error = catchError(() => parseRange(input), ParseError);
      assert.match(error.message, /^Cannot parse Range: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("parseRange() reports where in the value the problem is", () => {
  assert.equal(catchError(() => parseRange("npt=5-abc"), ParseError).offset, 6);
  assert.equal(catchError(() => parseRange("npt = abc-"), ParseError).offset, 6);
  assert.equal(catchError(() => parseRange("  bytes=0-"), ParseError).offset, 2);
  assert.equal(catchError(() => parseRange("npt=0-1,2-3"), ParseError).offset, 7);
  assert.equal(catchError(() => parseRange("npt=0-;time="), ParseError).offset, 12);
});

Deno.test("serializeRange() writes loose input in canonical form", async (t) => {
  for (const { input, value, canonical } of ALL_CASES) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(serializeRange(parseRange(input)), canonical);
      assert.equal(serializeRange(value), canonical);
      // Canonical output is a fixed point and reads back as the same value.
      assert.deepEqual(parseRange(canonical), value);
      assert.equal(serializeRange(parseRange(canonical)), canonical);
    });
  }
});

Deno.test("serializeRange() writes ranges built in code, rounded to the millisecond", () => {
  assert.equal(serializeRange({ unit: "npt", start: 5, end: 7.25 }), "npt=5.000-7.250");
  assert.equal(serializeRange({ unit: "npt", start: 1 / 3 }), "npt=0.333-");
  assert.equal(serializeRange({ unit: "npt", start: 2 / 3 }), "npt=0.667-");
  assert.equal(serializeRange({ unit: "npt", start: 9.9996 }), "npt=10.000-");
  assert.equal(serializeRange({ unit: "npt", end: 0 }), "npt=-0.000");
  assert.equal(
    serializeRange({ unit: "smpte", value: "10:07:00-", time: "19970123T143720Z" }),
    "smpte=10:07:00-;time=19970123T143720Z",
  );
});

Deno.test("serializeRange() throws for a range it cannot write", async (t) => {
  const cases: [string, RangeHeader, ErrorConstructor | RangeErrorConstructor][] = [
    ["neither start nor end", { unit: "npt" }, TypeError],
    ["a line break in a verbatim value", { unit: "clock", value: "1-\r\nX: y" }, TypeError],
    ["a line break in time", { unit: "npt", start: 0, time: "1\n2" }, TypeError],
    ["a negative start", { unit: "npt", start: -1 }, RangeError],
    ["a NaN end", { unit: "npt", start: 0, end: NaN }, RangeError],
    ["an infinite end", { unit: "npt", end: Infinity }, RangeError],
  ];
  for (const [name, range, cls] of cases) {
    await t.step(name, () => {
      const error = catchError(() => serializeRange(range), cls);
      assert.match(error.message, /^Cannot (serialize Range|format NPT time)/);
    });
  }
});

Deno.test("formatNpt() writes three decimals, rounded to the millisecond", async (t) => {
  const cases: [number, string][] = [
    [0, "0.000"],
    [5, "5.000"],
    [7.25, "7.250"],
    [0.0004, "0.000"],
    [0.0005, "0.001"],
    [59.9999, "60.000"],
    [86400.5, "86400.500"],
    [9999999999.999, "9999999999.999"],
    [2777777 * 3600 + 46 * 60 + 39.999, "9999999999.999"],
    [1e9, "1000000000.000"],
  ];
  for (const [seconds, text] of cases) {
    await t.step(`${seconds}`, () => assert.equal(formatNpt(seconds), text));
  }
});

Deno.test("formatNpt() throws RangeError for a negative, non-finite or huge number", async (t) => {
  for (const seconds of [-0.001, -1, NaN, Infinity, -Infinity, 9999999999.9995, 1e10, 1e13]) {
    await t.step(`${seconds}`, () => {
      const error = catchError(() => formatNpt(seconds), RangeError);
      assert.match(error.message, /^Cannot format NPT time/);
    });
  }
});
