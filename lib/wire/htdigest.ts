/**
 * The htdigest file of Apache's `htdigest` tool, which GStreamer's RTSP
 * server reads too: one user per line as `name:realm:HA1`, HA1 being
 * H(name:realm:password) in hex (RFC 7616 §3.4.2).
 *
 * ```
 * alice:rtsp-lab:4ffb1d5bd8d5b6a0a0a3d7bd4e1c1a9e
 * ```
 *
 * Apache's tool writes MD5 (32 hex digits); a 64-digit HA1 is taken as
 * SHA-256, for clients that answer an `algorithm=SHA-256` challenge. One
 * file may hold both for the same user and realm. Blank lines and lines
 * starting with `#` (after blanks) are skipped; GStreamer and Apache know
 * no comments, so a file that uses them is ours alone.
 *
 * An HA1 is as good as the password for this realm: no error message
 * repeats a line, only its number and what is wrong with it.
 *
 * @module
 */
import type { DigestAlgorithm } from "./digest.ts";
import { ParseError } from "./errors.ts";

/** One line of an htdigest file. */
export interface HtdigestEntry {
  /** The user's name: no `:`, no control characters. */
  username: string;
  /** The realm: no `:`, no control characters. */
  realm: string;
  /** H(username:realm:password), lower-case hex. */
  ha1: string;
  /** by the HA1's length: 32 hex digits MD5, 64 SHA-256 */
  algorithm: DigestAlgorithm;
}

/** HA1 length in hex digits by algorithm. */
const HA1_DIGITS: Record<DigestAlgorithm, number> = { "MD5": 32, "SHA-256": 64 };

/** Whether `text` holds a control character other than HTAB (a CR or a NUL, say). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** `line` without trailing spaces, tabs and CRs (a loop: `/[ \t\r]+$/` is quadratic). */
function trimEnd(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === " " || line[end - 1] === "\t" || line[end - 1] === "\r")) {
    end--;
  }
  return line.slice(0, end);
}

/** Whether a line is skipped: blank, or a comment. */
function isSkipped(line: string): boolean {
  return /^[ \t]*(?:#|$)/.test(line);
}

/**
 * Parse an htdigest file.
 *
 * Lenient: CRLF or LF line ends, a leading byte-order mark, blanks at the
 * end of a line, upper-case hex (read as lower-case). Strict: exactly
 * three fields, an HA1 of 32 or 64 hex digits, and no two lines for the
 * same user, realm and algorithm.
 *
 * @param text The file's content.
 * @param file The file's name, for error messages.
 * @returns The entries in file order.
 * @throws {ParseError} naming the file and the line (1-based) and the
 * problem, never the line's content; its offset is where the line starts.
 */
export function parseHtdigest(text: string, file?: string): HtdigestEntry[] {
  const where = file === undefined ? "htdigest" : `htdigest file ${JSON.stringify(file)}`;
  const entries: HtdigestEntry[] = [];
  const seen = new Map<string, number>();
  let offset = text.startsWith("\ufeff") ? 1 : 0;
  const lines = text.slice(offset).split("\n");
  for (const [index, raw] of lines.entries()) {
    const lineNumber = index + 1;
    const fail = (what: string): never => {
      throw new ParseError(`Cannot parse ${where}: line ${lineNumber}: ${what}`, offset);
    };
    const line = trimEnd(raw);
    if (!isSkipped(line)) {
      const fields = line.split(":");
      if (fields.length !== 3) fail("expected name:realm:HA1");
      const [username, realm, hex] = fields;
      if (hasControl(username) || hasControl(realm)) {
        fail("control character in the name or realm");
      }
      const algorithm: DigestAlgorithm | undefined = !/^[0-9A-Fa-f]*$/.test(hex)
        ? undefined
        : hex.length === 32
        ? "MD5"
        : hex.length === 64
        ? "SHA-256"
        : undefined;
      if (algorithm === undefined) fail("HA1 is not 32 (MD5) or 64 (SHA-256) hex digits");
      const key = `${username}:${realm}:${algorithm}`;
      const first = seen.get(key);
      if (first !== undefined) fail(`repeats the ${algorithm} entry of line ${first}`);
      seen.set(key, lineNumber);
      entries.push({ username, realm, ha1: hex.toLowerCase(), algorithm: algorithm! });
    }
    offset += raw.length + 1;
  }
  return entries;
}

/**
 * Write an htdigest file: one `name:realm:HA1` line per entry, each ending
 * in LF, HA1 in lower-case hex.
 *
 * @param entries The entries, in the order to write them.
 * @returns The file's content (`""` for no entries).
 * @throws {TypeError} for an entry that cannot be written or read back
 * the same: a `:` or control character in the name or realm, a name that
 * would read as a comment (starting with `#`, blanks aside) or a
 * byte-order mark (U+FEFF), an unknown algorithm, or an HA1 that is not hex of the
 * algorithm's length. The message gives the entry's index, never the HA1.
 */
export function serializeHtdigest(entries: readonly HtdigestEntry[]): string {
  let out = "";
  for (const [index, { username, realm, ha1, algorithm }] of entries.entries()) {
    const fail = (what: string): never => {
      throw new TypeError(`Cannot serialize htdigest entry ${index}: ${what}`);
    };
    if (typeof username !== "string" || typeof realm !== "string") {
      fail("name and realm must be strings");
    }
    if (/[:]/.test(username + realm) || hasControl(username + realm)) {
      fail('":" or control character in the name or realm');
    }
    if (/^[ \t]*#/.test(username)) fail('a name starting with "#" reads as a comment');
    if (username.startsWith("\ufeff")) {
      fail("a name starting with U+FEFF reads as a byte-order mark");
    }
    const digits = Object.hasOwn(HA1_DIGITS, algorithm) ? HA1_DIGITS[algorithm] : undefined;
    if (digits === undefined) fail("unknown algorithm: expected MD5 or SHA-256");
    if (typeof ha1 !== "string" || ha1.length !== digits || !/^[0-9A-Fa-f]*$/.test(ha1)) {
      fail(`HA1 is not ${digits} hex digits (${algorithm})`);
    }
    out += `${username}:${realm}:${ha1.toLowerCase()}\n`;
  }
  return out;
}
