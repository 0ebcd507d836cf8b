/**
 * The Range header (RFC 2326 §12.29, with the time formats of §3.5–3.7;
 * RFC 7826 §4.4.2 and §18.40 for what RTSP 2.0 clarified).
 *
 * ```
 * Range        = "Range" ":" ranges-specifier [ ";" "time" "=" utc-time ]
 * npt-range    = ( npt-time "-" [ npt-time ] ) | ( "-" npt-time )
 * npt-time     = "now" | npt-sec | npt-hhmmss
 * npt-sec      = 1*DIGIT [ "." *DIGIT ]
 * npt-hhmmss   = npt-hh ":" npt-mm ":" npt-ss [ "." *DIGIT ]   ; mm, ss 0-59
 * smpte-range  = smpte-type "=" smpte-time "-" [ smpte-time ]
 * utc-range    = "clock" "=" utc-time "-" [ utc-time ]
 * ```
 *
 * Only NPT is modelled; SMPTE and clock ranges are kept verbatim so the
 * server can refuse them with a proper status rather than a 400. One range
 * per header, as RFC 7826 §18.40 has it (RFC 2326's list form is refused).
 * Whether a range makes sense for the media (start after end, past the
 * end) is the server's question (457), not the parser's.
 *
 * Positions are kept to the millisecond: the parser rounds (half up) and
 * the serializer writes three decimals, so what is written reads back equal.
 *
 * @module
 */
import { leadingBlanks, trimBlanks } from "./blanks.ts";
import { ParseError } from "./errors.ts";

/** A normal-play-time position in seconds, or `"now"` for the live point (RFC 2326 §3.6). */
export type NptTime = number | "now";

/** An NPT range (RFC 2326 §3.6). */
export interface NptRange {
  /** Normal play time (RFC 2326 §3.6). */
  unit: "npt";
  /** Absent in the `-npt-time` form: from the beginning. */
  start?: NptTime;
  /** Absent when open-ended (`npt=5-`). */
  end?: number;
}

/** A SMPTE (RFC 2326 §3.5) or absolute-time (§3.7) range, kept verbatim. */
export interface OtherRange {
  /** SMPTE time codes (§3.5) or absolute UTC time (§3.7). */
  unit: "smpte" | "smpte-30-drop" | "smpte-25" | "clock";
  /** The text after `=`, with blanks around its `-` removed, e.g. `10:07:00-10:07:33:05.01`. */
  value: string;
}

/** A Range header: one range and the optional `;time=` parameter (a UTC time, verbatim). */
export type RangeHeader = (NptRange | OtherRange) & { time?: string };

const OTHER_UNITS: readonly OtherRange["unit"][] = ["smpte", "smpte-30-drop", "smpte-25", "clock"];

/**
 * The largest position read or written, in milliseconds: 9999999999.999 s,
 * over 300 years. Far enough below 2^53 that seconds × 1000 rounds back to
 * the exact millisecond, so written positions read back equal.
 */
const MAX_NPT_MS = 9_999_999_999_999;

/** `text` without leading and trailing spaces and tabs (LWS), and where it now starts. */
function trimLws(text: string, offset: number): { text: string; offset: number } {
  const lead = leadingBlanks(text);
  return { text: trimBlanks(text), offset: offset + lead };
}

/** Printable ASCII without blanks: what verbatim values and `time=` may hold. */
function isVisibleAscii(text: string): boolean {
  return /^[!-~]+$/.test(text);
}

/** Milliseconds (rounded half up) from the digits after the decimal point. */
function fractionMs(digits: string): number {
  const ms = Number(digits.padEnd(3, "0").slice(0, 3));
  return digits.length > 3 && digits[3] >= "5" ? ms + 1 : ms;
}

/** One npt-time: "now", npt-sec or npt-hhmmss, in seconds rounded to the millisecond. */
function parseNptTime(text: string, offset: number): NptTime {
  if (text.toLowerCase() === "now") return "now";
  let whole: number | undefined;
  let fraction = "";
  const sec = /^(\d*)(?:\.(\d*))?$/.exec(text);
  const hms = /^(\d+):(\d{1,2}):(\d{1,2})(?:\.(\d*))?$/.exec(text);
  if (sec && /\d/.test(text)) {
    whole = sec[1] === "" ? 0 : Number(sec[1]);
    fraction = sec[2] ?? "";
  } else if (hms && Number(hms[2]) < 60 && Number(hms[3]) < 60) {
    whole = Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3]);
    fraction = hms[4] ?? "";
  }
  if (whole === undefined) throw new ParseError(`Cannot parse Range: bad time "${text}"`, offset);
  const ms = whole * 1000 + fractionMs(fraction);
  if (!(ms <= MAX_NPT_MS)) {
    throw new ParseError(
      `Cannot parse Range: time "${text}" is out of range: at most ${MAX_NPT_MS / 1000} s`,
      offset,
    );
  }
  return ms / 1000;
}

/** The part after `npt=`: start, end, or both around one `-`. */
function parseNptRange(text: string, offset: number): NptRange {
  const dash = text.indexOf("-");
  if (dash < 0) throw new ParseError(`Cannot parse Range: no "-" in "npt=${text}"`, offset);
  const first = trimLws(text.slice(0, dash), offset);
  const second = trimLws(text.slice(dash + 1), offset + dash + 1);
  if (second.text.includes("-") || (first.text === "" && second.text === "")) {
    throw new ParseError(`Cannot parse Range: bad range "npt=${text}"`, offset);
  }
  const range: NptRange = { unit: "npt" };
  if (first.text !== "") range.start = parseNptTime(first.text, first.offset);
  if (second.text !== "") {
    const end = parseNptTime(second.text, second.offset);
    if (end === "now") {
      throw new ParseError(`Cannot parse Range: "now" cannot end a range`, second.offset);
    }
    range.end = end;
  }
  return range;
}

/** The part after `smpte=` (or another unit not modelled), blanks around `-` removed. */
function parseOtherRange(unit: OtherRange["unit"], text: string, offset: number): OtherRange {
  const value = text.replace(/[ \t]*-[ \t]*/, "-");
  if (!isVisibleAscii(value) || !value.includes("-") || !/[^-]/.test(value)) {
    throw new ParseError(`Cannot parse Range: bad ${unit} range "${text}"`, offset);
  }
  return { unit, value };
}

/**
 * Parse a Range header value such as `npt=5-7.25`, `npt=0:01:05.5-`,
 * `npt=now-`, `npt=-3` or `clock=19961108T142300Z-;time=19970123T143720Z`.
 *
 * Lenient: blanks around `=`, `-` and `;` are allowed, unit names and `now`
 * are case-insensitive, minutes and seconds may have one digit (RFC 2326;
 * RFC 7826 asks for two), `5.` and `.5` are read as seconds, and unknown
 * parameters are ignored. Positions are rounded to the millisecond.
 *
 * @param value The header value, without the `Range:` name.
 * @returns The range; `start` or `end` is absent where the header leaves it open.
 * @throws {ParseError} for an empty value, an unknown unit, a bad time or a
 * negative number, `now` as an end, more than one range, a range without
 * `-`, or an empty or blank `time=` parameter.
 */
export function parseRange(value: string): RangeHeader {
  if (trimLws(value, 0).text === "") throw new ParseError("Cannot parse Range: empty value", 0);
  const comma = value.indexOf(",");
  if (comma >= 0) {
    throw new ParseError(
      `Cannot parse Range: more than one range in "${value.trim()}": at most one is allowed`,
      comma,
    );
  }
  const [spec, ...params] = value.split(";");
  const eq = spec.indexOf("=");
  if (eq < 0) {
    const bare = trimLws(spec, 0);
    throw new ParseError(`Cannot parse Range: no unit in "${bare.text}"`, bare.offset);
  }
  const unitText = trimLws(spec.slice(0, eq), 0);
  const unit = unitText.text.toLowerCase();
  const rest = trimLws(spec.slice(eq + 1), eq + 1);
  let range: RangeHeader;
  if (unit === "npt") range = parseNptRange(rest.text, rest.offset);
  else if ((OTHER_UNITS as readonly string[]).includes(unit)) {
    range = parseOtherRange(unit as OtherRange["unit"], rest.text, rest.offset);
  } else {
    throw new ParseError(
      `Cannot parse Range: unknown unit "${unitText.text}": expected npt, smpte, smpte-30-drop, smpte-25 or clock`,
      unitText.offset,
    );
  }
  let offset = spec.length + 1;
  for (const param of params) {
    const eqAt = param.indexOf("=");
    const name = trimLws(eqAt < 0 ? param : param.slice(0, eqAt), offset).text.toLowerCase();
    if (name === "time") {
      const time = trimLws(eqAt < 0 ? "" : param.slice(eqAt + 1), offset + eqAt + 1);
      if (!isVisibleAscii(time.text)) {
        throw new ParseError(`Cannot parse Range: bad time parameter "${time.text}"`, time.offset);
      }
      range.time = time.text;
    }
    offset += param.length + 1;
  }
  return range;
}

/**
 * Write seconds as an npt-sec with three decimals (rounded to the
 * millisecond): `5` → `5.000`, `7.2504` → `7.250`.
 *
 * @param seconds A position, 0 or more.
 * @returns The npt-sec text.
 * @throws {RangeError} for a negative, non-finite or too large number.
 */
export function formatNpt(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (!(seconds >= 0 && ms <= MAX_NPT_MS)) {
    throw new RangeError(
      `Cannot format NPT time ${seconds}: expected 0 to ${MAX_NPT_MS / 1000} seconds`,
    );
  }
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
}

/**
 * Write a Range header value in canonical form: `npt=5.000-7.250`,
 * `npt=5.000-`, `npt=now-`, `npt=-3.000`, `smpte=10:07:00-10:07:33`, each
 * followed by `;time=<time>` when present.
 *
 * @param range The range to write.
 * @returns The header value.
 * @throws {TypeError} for an NPT range with neither start nor end, or a
 * value or time holding a line break.
 * @throws {RangeError} for a negative, non-finite or too large position.
 */
export function serializeRange(range: RangeHeader): string {
  let out: string;
  if (range.unit === "npt") {
    if (range.start === undefined && range.end === undefined) {
      throw new TypeError("Cannot serialize Range: an npt range needs a start or an end");
    }
    const start = range.start === undefined
      ? ""
      : range.start === "now"
      ? "now"
      : formatNpt(range.start);
    out = `npt=${start}-${range.end === undefined ? "" : formatNpt(range.end)}`;
  } else out = `${range.unit}=${range.value}`;
  if (range.time !== undefined) out += `;time=${range.time}`;
  if (/[\r\n]/.test(out)) {
    throw new TypeError(`Cannot serialize Range: line break in ${JSON.stringify(out)}`);
  }
  return out;
}
