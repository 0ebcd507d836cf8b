/**
 * The Scale header (RFC 2326 §12.34): the playback speed a PLAY asks for
 * (2 is twice as fast, -1 backwards) and the one the response grants.
 *
 * ```
 * Scale = "Scale" ":" [ "-" ] 1*DIGIT [ "." *DIGIT ]
 * ```
 *
 * @module
 */
import { leadingBlanks, trimBlanks } from "./blanks.ts";
import { ParseError } from "./errors.ts";

/**
 * The longest Scale value read, blanks around it aside. Any double written
 * in its shortest form between 1e-10 and 1e16 fits; longer is not a speed.
 */
export const MAX_SCALE_LENGTH = 32;

/**
 * Parse a Scale header value such as `2`, `-1` or `0.5`.
 *
 * Lenient: blanks around the value, a leading `+`, a trailing `.` (`2.`)
 * and a missing integer part (`.5`) are accepted. `-0` reads as 0.
 *
 * @param value The header value, without the `Scale:` name.
 * @returns The scale as a number.
 * @throws {ParseError} for anything else (including `NaN`, `Infinity` and
 * exponents), a value longer than {@linkcode MAX_SCALE_LENGTH} characters,
 * or one that rounds to a number whose shortest decimal is longer.
 */
export function parseScale(value: string): number {
  const lead = leadingBlanks(value);
  const text = trimBlanks(value);
  if (text.length > MAX_SCALE_LENGTH) {
    throw new ParseError(
      `Cannot parse Scale: value too long (${text.length} characters): at most ${MAX_SCALE_LENGTH}`,
      lead,
    );
  }
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(text)) {
    throw new ParseError(`Cannot parse Scale: bad number "${text}"`, lead);
  }
  const scale = Number(text) + 0; // + 0 turns -0 into 0
  // 32 nines read as 1e32, whose shortest decimal has 33 characters.
  if (plainDecimal(scale).length > MAX_SCALE_LENGTH) {
    throw new ParseError(
      `Cannot parse Scale: "${text}" is out of range: it reads as ${scale}`,
      lead,
    );
  }
  return scale;
}

/** The shortest decimal that reads back as `n`, without an exponent. */
function plainDecimal(n: number): string {
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const digits = m[2] + (m[3] ?? "");
  const point = 1 + Number(m[4]); // digits before the decimal point
  if (point <= 0) return `${m[1]}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return m[1] + digits + "0".repeat(point - digits.length);
  return `${m[1]}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Write a Scale header value: the shortest decimal that reads back as the
 * same number, without an exponent (`2`, `0.5`, `-1`, `1.25`).
 *
 * @param scale The speed.
 * @returns The header value.
 * @throws {TypeError} for NaN or an infinity.
 * @throws {RangeError} for a number whose decimal form is longer than
 * {@linkcode MAX_SCALE_LENGTH} characters (such as 1e40 or 1e-40).
 */
export function serializeScale(scale: number): string {
  if (!Number.isFinite(scale)) {
    throw new TypeError(`Cannot serialize Scale: ${scale} is not a finite number`);
  }
  const text = plainDecimal(scale + 0);
  if (text.length > MAX_SCALE_LENGTH) {
    throw new RangeError(
      `Cannot serialize Scale: ${scale} takes ${text.length} characters: at most ${MAX_SCALE_LENGTH}`,
    );
  }
  return text;
}
