/**
 * The RTP-Info header (RFC 2326 §12.33; RFC 7826 §18.45 for the quoted url
 * and the ssrc): for each stream, the first sequence number and RTP
 * timestamp a PLAY response's packets will carry.
 *
 * ```
 * RTP-Info   = "RTP-Info" ":" 1#stream-url 1*parameter       ; RFC 2326
 * stream-url = "url" "=" url
 * parameter  = ";" "seq" "=" 1*DIGIT | ";" "rtptime" "=" 1*DIGIT
 *
 * rtsp-info-spec  = "url" "=" DQUOTE URI DQUOTE 1*ssrc-parameter   ; RFC 7826
 * ssrc-parameter  = ";" "ssrc" "=" 8HEXDIG ":" ri-parameter *(";" ri-parameter)
 * ```
 *
 * A url may itself hold `,` and `;`, which RFC 2326 leaves ambiguous. Here
 * entries are split only at a `,` followed by `url=`, and an unquoted url
 * ends at the first `;` followed by `seq=`, `rtptime=` or `ssrc=`. The
 * writer quotes any url holding `,` or `;`, as RFC 7826 does for all.
 *
 * @module
 */
import { trimBlanks } from "./blanks.ts";
import { ParseError } from "./errors.ts";

/** One stream of an RTP-Info header. */
export interface RtpInfoEntry {
  /** The stream's URL (its control URL from SETUP). */
  url: string;
  /** Sequence number of the first packet sent after PLAY (0–65535). */
  seq?: number;
  /** RTP timestamp matching the Range start (0–4294967295). */
  rtptime?: number;
  /** The stream's SSRC; written as 8 hexadecimal digits. */
  ssrc?: number;
}

/** An unquoted url ends where a known parameter or the next entry starts. */
const BARE_URL_END = /;[ \t]*(?:seq|rtptime|ssrc)[ \t]*=|,[ \t]*url[ \t]*=/gi;
const NEXT_ENTRY = /,[ \t]*url[ \t]*=/gi;
const URL_START = /[ \t]*url[ \t]*=[ \t]*/iy;

/** Whether `url` holds a blank, a control character or a `"`: none belongs in a URL. */
function hasBadUrlChar(url: string): boolean {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x22) return true;
  }
  return false;
}

const trimLws = trimBlanks;

/** The index of the next match of `pattern` (a /g regex) at or after `from`, else the end. */
function indexFrom(pattern: RegExp, text: string, from: number): number {
  pattern.lastIndex = from;
  return pattern.exec(text)?.index ?? text.length;
}

/** A decimal number of at most `max`, or a ParseError naming `name`. */
function parseNumber(name: string, text: string, max: number, offset: number): number {
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || n > max) {
    throw new ParseError(
      `Cannot parse RTP-Info: bad ${name} "${text}": expected 0 to ${max}`,
      offset,
    );
  }
  return n;
}

/**
 * Read the parameters of one url (`;seq=…;rtptime=…`) into entries. A
 * second `ssrc` starts another entry for the same url (RFC 7826 lists one
 * ssrc-parameter per SSRC), and `ssrc=HEX:` may carry the next parameter.
 */
function parseParams(url: string, text: string, offset: number): RtpInfoEntry[] {
  const [head, ...params] = text.split(";");
  if (trimLws(head) !== "") {
    throw new ParseError(
      `Cannot parse RTP-Info: unexpected "${trimLws(head)}" after the url`,
      offset,
    );
  }
  let entry: RtpInfoEntry = { url };
  const entries = [entry];
  let at = offset + head.length + 1;
  for (const param of params) {
    let rest: string | undefined = param;
    while (rest !== undefined) {
      const eq: number = rest.indexOf("=");
      const name = trimLws(eq < 0 ? rest : rest.slice(0, eq)).toLowerCase();
      const arg: string = eq < 0 ? "" : trimLws(rest.slice(eq + 1));
      rest = undefined;
      if (name === "seq") entry.seq = parseNumber("seq", arg, 0xffff, at);
      else if (name === "rtptime") entry.rtptime = parseNumber("rtptime", arg, 0xffffffff, at);
      else if (name === "ssrc") {
        const colon = arg.indexOf(":");
        const hex = colon < 0 ? arg : trimLws(arg.slice(0, colon));
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) {
          throw new ParseError(
            `Cannot parse RTP-Info: bad ssrc "${hex}": expected 8 hex digits`,
            at,
          );
        }
        if (entry.ssrc !== undefined) entries.push(entry = { url });
        entry.ssrc = parseInt(hex, 16);
        if (colon >= 0) rest = arg.slice(colon + 1);
      }
    }
    at += param.length + 1;
  }
  return entries;
}

/**
 * Parse an RTP-Info header value such as
 * `url=rtsp://h/v/trackID=0;seq=4711;rtptime=90000,url=rtsp://h/v/trackID=1;seq=1`.
 *
 * Lenient: the url may be quoted (RFC 7826) or not (RFC 2326), blanks
 * around `,`, `;` and `=` are allowed, `ssrc` may have fewer than 8 digits
 * and may be written RFC 7826's way (`ssrc=0A13C760:seq=45102;rtptime=…`),
 * and unknown parameters are ignored (an unknown one right after an
 * unquoted url reads as part of the url). When a parameter repeats, the
 * last wins.
 *
 * @param value The header value, without the `RTP-Info:` name.
 * @returns The entries in order; an url with several SSRCs gives one entry per SSRC.
 * @throws {ParseError} for an empty value, an entry without `url=`, an
 * empty url or one with blanks, control characters or an unclosed quote,
 * text between a quoted url and its parameters, or a bad seq, rtptime or ssrc.
 */
export function parseRtpInfo(value: string): RtpInfoEntry[] {
  if (trimLws(value) === "") throw new ParseError("Cannot parse RTP-Info: empty value", 0);
  const entries: RtpInfoEntry[] = [];
  let pos = 0;
  for (;;) {
    URL_START.lastIndex = pos;
    if (!URL_START.exec(value)) {
      const rest = trimLws(value.slice(pos, indexFrom(NEXT_ENTRY, value, pos)));
      throw new ParseError(`Cannot parse RTP-Info: entry without url: "${rest}"`, pos);
    }
    const urlAt = URL_START.lastIndex;
    let url: string;
    if (value[urlAt] === '"') {
      const close = value.indexOf('"', urlAt + 1);
      if (close < 0) throw new ParseError("Cannot parse RTP-Info: unclosed quote in url", urlAt);
      url = trimLws(value.slice(urlAt + 1, close));
      pos = close + 1;
    } else {
      pos = indexFrom(BARE_URL_END, value, urlAt);
      url = trimLws(value.slice(urlAt, pos));
    }
    if (url === "" || hasBadUrlChar(url)) {
      throw new ParseError(`Cannot parse RTP-Info: bad url ${JSON.stringify(url)}`, urlAt);
    }
    const next = indexFrom(NEXT_ENTRY, value, pos);
    entries.push(...parseParams(url, value.slice(pos, next), pos));
    if (next === value.length) return entries;
    pos = next + 1;
  }
}

/** Check that `n` is an integer from 0 to `max`, for the serializer. */
function checkRange(name: string, n: number, max: number): number {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`Cannot serialize RTP-Info: ${name} ${n} is not an integer 0 to ${max}`);
  }
  return n;
}

/**
 * Write an RTP-Info header value: for each entry `url=<url>`, then
 * `;seq=<n>`, `;rtptime=<n>` and `;ssrc=<8 upper-case hex digits>` where
 * present, entries joined by `,`. A url holding `,` or `;` is quoted.
 *
 * The ssrc is written last as a plain parameter (RFC 2326 clients skip
 * parameters they do not know), not in RFC 7826's `ssrc=…:seq=…` form,
 * which they would misread.
 *
 * @param entries The streams, at least one.
 * @returns The header value.
 * @throws {TypeError} for no entries, or a url that is empty, holds a line
 * break, or a blank, control character or `"`.
 * @throws {RangeError} for a seq, rtptime or ssrc that is not an integer in range.
 */
export function serializeRtpInfo(entries: readonly RtpInfoEntry[]): string {
  if (entries.length === 0) throw new TypeError("Cannot serialize RTP-Info: no entries");
  return entries.map((entry) => {
    const { url } = entry;
    if (/[\r\n]/.test(url)) {
      throw new TypeError(`Cannot serialize RTP-Info: line break in url ${JSON.stringify(url)}`);
    }
    if (url === "" || hasBadUrlChar(url)) {
      throw new TypeError(`Cannot serialize RTP-Info: bad url ${JSON.stringify(url)}`);
    }
    let out = /[,;]/.test(url) ? `url="${url}"` : `url=${url}`;
    if (entry.seq !== undefined) out += `;seq=${checkRange("seq", entry.seq, 0xffff)}`;
    if (entry.rtptime !== undefined) {
      out += `;rtptime=${checkRange("rtptime", entry.rtptime, 0xffffffff)}`;
    }
    if (entry.ssrc !== undefined) {
      const ssrc = checkRange("ssrc", entry.ssrc, 0xffffffff);
      out += `;ssrc=${ssrc.toString(16).toUpperCase().padStart(8, "0")}`;
    }
    return out;
  }).join(",");
}
