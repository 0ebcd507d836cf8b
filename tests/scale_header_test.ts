import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { MAX_SCALE_LENGTH, parseScale, serializeScale } from "../lib/wire/scale_header.ts";
import { catchError } from "./_helpers.ts";

/** Input, the number it parses to, and the canonical form that number is written as. */
interface ScaleCase {
  input: string;
  value: number;
  canonical: string;
}

const GRAMMAR: ScaleCase[] = [
  { input: "1", value: 1, canonical: "1" },
  { input: "2", value: 2, canonical: "2" },
  { input: "0.5", value: 0.5, canonical: "0.5" },
  { input: "-1", value: -1, canonical: "-1" },
  { input: "-2.5", value: -2.5, canonical: "-2.5" },
  { input: "1.25", value: 1.25, canonical: "1.25" },
  { input: "0", value: 0, canonical: "0" },
  { input: "2.", value: 2, canonical: "2" },
  { input: "1.000", value: 1, canonical: "1" },
  { input: "007", value: 7, canonical: "7" },
  { input: "0.3333333333333333", value: 1 / 3, canonical: "0.3333333333333333" },
];

const LOOSE: ScaleCase[] = [
  { input: " 2 ", value: 2, canonical: "2" },
  { input: "\t-1\t", value: -1, canonical: "-1" },
  { input: "+0.5", value: 0.5, canonical: "0.5" },
  { input: ".5", value: 0.5, canonical: "0.5" },
  { input: "-.25", value: -0.25, canonical: "-0.25" },
  { input: "-0", value: 0, canonical: "0" },
  { input: "-0.000", value: 0, canonical: "0" },
  { input: "0.0000001", value: 1e-7, canonical: "0.0000001" },
  { input: "1000000000000000000000", value: 1e21, canonical: "1000000000000000000000" },
];

/** Every table: the parse, serialize and round-trip tests and the fuzz seeds all draw on them. */
const ALL_CASES = [...GRAMMAR, ...LOOSE];

Deno.test("parseScale() reads [-]digits[.digits]", async (t) => {
  for (const { input, value } of GRAMMAR) {
    await t.step(JSON.stringify(input), () => assert.equal(parseScale(input), value));
  }
});

Deno.test("parseScale() tolerates blanks, a leading + and a bare fraction, and reads -0 as 0", async (t) => {
  for (const { input, value } of LOOSE) {
    await t.step(JSON.stringify(input), () => assert.equal(parseScale(input), value));
  }
});

Deno.test("parseScale() throws ParseError for garbage, NaN, infinity and absurd length", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /bad number ""/],
    ["   ", /bad number ""/],
    ["abc", /bad number "abc"/],
    [".", /bad number "."/],
    ["-", /bad number "-"/],
    ["+", /bad number "\+"/],
    ["--1", /bad number "--1"/],
    ["+-1", /bad number/],
    ["1.2.3", /bad number "1.2.3"/],
    ["1e3", /bad number "1e3"/],
    ["0x10", /bad number "0x10"/],
    ["1 2", /bad number "1 2"/],
    ["- 1", /bad number "- 1"/],
    ["1,5", /bad number "1,5"/],
    ["NaN", /bad number "NaN"/],
    ["Infinity", /bad number "Infinity"/],
    ["-Infinity", /bad number "-Infinity"/],
    ["\u0661", /bad number/], // ARABIC-INDIC DIGIT ONE
    ["1".repeat(MAX_SCALE_LENGTH + 1), /too long \(33 characters\): at most 32/],
    [`0.${"0".repeat(400)}1`, /too long/],
    ["9".repeat(400), /too long/],
    // 32 characters, but they read as 1e32 (33 characters written out).
    ["9".repeat(32), /"9{32}" is out of range: it reads as 1e\+32/],
    [`-${"9".repeat(31)}`, /out of range: it reads as -1e\+31/],
  ];
  for (const [input, message] of cases) {
    await t.step(JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input), () => {
      const error = catchError(() => parseScale(input), ParseError);
      assert.match(error.message, /^Cannot parse Scale: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("parseScale() reports the offset of the value past leading blanks", () => {
  assert.equal(catchError(() => parseScale("  x"), ParseError).offset, 2);
});

Deno.test("serializeScale() writes the shortest exact decimal, loose input canonical", async (t) => {
  for (const { input, value, canonical } of ALL_CASES) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(serializeScale(parseScale(input)), canonical);
      assert.equal(serializeScale(value), canonical);
      // Canonical output is a fixed point and reads back as the same number.
      assert.equal(parseScale(canonical), value);
      assert.equal(serializeScale(parseScale(canonical)), canonical);
    });
  }
});

Deno.test("serializeScale() writes numbers JavaScript would print with an exponent in full", async (t) => {
  const cases: [number, string][] = [
    [1e-7, "0.0000001"],
    [-1.5e-10, "-0.00000000015"],
    [1.2345e-8, "0.000000012345"],
    [1e21, "1000000000000000000000"],
    [-1.5e25, "-15000000000000000000000000"],
    [-0, "0"],
  ];
  for (const [scale, text] of cases) {
    await t.step(`${scale}`, () => {
      assert.equal(serializeScale(scale), text);
      assert.equal(parseScale(text), scale === 0 ? 0 : scale);
    });
  }
});

Deno.test("serializeScale() throws TypeError for a non-finite number", async (t) => {
  for (const scale of [NaN, Infinity, -Infinity]) {
    await t.step(`${scale}`, () => {
      const error = catchError(() => serializeScale(scale), TypeError);
      assert.match(error.message, /^Cannot serialize Scale: .* is not a finite number$/);
    });
  }
});

Deno.test("serializeScale() throws RangeError for a number too long to read back", async (t) => {
  for (const scale of [1e40, -1e40, 1e-40, Number.MIN_VALUE, Number.MAX_VALUE]) {
    await t.step(`${scale}`, () => {
      const error = catchError(() => serializeScale(scale), RangeError);
      assert.match(error.message, /^Cannot serialize Scale: .*: at most 32$/);
    });
  }
});
