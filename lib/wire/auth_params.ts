/**
 * The grammar of RFC 7235 §2.1 that WWW-Authenticate challenges and
 * Authorization credentials share: auth-schemes with a token68 or a list of
 * auth-params, tokens and quoted strings, read leniently and written
 * canonically.
 *
 * Error messages name the parameter and the offset, never a value: the
 * same reader parses Authorization, whose values are secrets, and the
 * server logs its error messages.
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** One auth-param: its lower-case name, its value (unescaped) and where it starts. */
export interface AuthParam {
  /** The parameter name, lower-case. */
  name: string;
  /** The value, with quotes and backslash escapes removed. */
  value: string;
  /** Offset of the name in the header value. */
  offset: number;
}

/** One challenge or credentials: a scheme and either a token68 or a list of parameters. */
export interface AuthSection {
  /** The scheme as spelled. */
  scheme: string;
  /** Offset of the scheme in the header value. */
  offset: number;
  /** The token68 after the scheme, if it has one instead of parameters. */
  token68?: string;
  /** The parameters in order, repeats included. */
  params: AuthParam[];
}

/** tchar (RFC 7230 §3.2.6). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_AT = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
export const TOKEN68_AT = /[A-Za-z0-9\-._~+/]+=*/y;
/** An unquoted value, read leniently: visible ASCII but `"`, `,` and `\` (a token, a URI, base64). */
const BARE_VALUE_AT = /[!#-+\--[\]-~]+/y;

/** A control character other than HTAB (CR, LF, NUL, DEL, …): no value may hold one. */
function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

/** Whether `text` holds a control character other than HTAB. */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}

/** Parameter names of RFC 7616 and RFC 7617, the only input an error message may repeat. */
const KNOWN_PARAMS = new Set([
  "username",
  "realm",
  "nonce",
  "uri",
  "response",
  "algorithm",
  "qop",
  "nc",
  "cnonce",
  "opaque",
  "stale",
  "domain",
  "charset",
  "userhash",
]);

/** How an error message names a parameter: by its name when it is a known one. */
function label(name: string): string {
  const lower = name.toLowerCase();
  return KNOWN_PARAMS.has(lower) ? lower : "a parameter";
}

/** Whether `text` is a token (RFC 7230 §3.2.6). */
export function isAuthToken(text: string): boolean {
  return TOKEN.test(text);
}

/** The match of sticky `pattern` at `at`, or undefined. */
export function matchAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

/**
 * Read a header value as RFC 7235 §2.1 challenges or credentials.
 *
 * Lenient: blanks (spaces and tabs) around `=` and `,`, empty list
 * elements, unquoted values that are not tokens (a URI, base64), and
 * scheme and parameter names in any case (names come back lower-case).
 * Quoted strings follow RFC 7230 §3.2.6, backslash escapes included.
 *
 * @param value The header value.
 * @param header The header's name for error messages (`Authorization`).
 * @returns The sections in order; none for an empty or blank value.
 * @throws {ParseError} for text outside the grammar, an unclosed quote, a
 * control character in a value, or parameters after a token68. Messages
 * name the parameter, never a value.
 */
export function parseAuthSections(value: string, header: string): AuthSection[] {
  const fail = (what: string, at: number): never => {
    throw new ParseError(`Cannot parse ${header}: ${what}`, at);
  };
  const sections: AuthSection[] = [];
  const n = value.length;
  let pos = 0;
  const skipBlanks = () => {
    while (pos < n && (value[pos] === " " || value[pos] === "\t")) pos++;
  };
  /** After an element: blanks, then a comma or the end. */
  const endOfElement = (what: string) => {
    skipBlanks();
    if (pos < n && value[pos] !== ",") fail(`expected "," after ${what}`, pos);
  };
  /** The value after `name =`, quoted or not; `pos` is at its first character. */
  const readValue = (name: string): string => {
    if (value[pos] === '"') {
      let out = "";
      let from = pos + 1;
      let at = from;
      for (;;) {
        if (at >= n) fail(`unclosed quote in the value of ${label(name)}`, pos);
        const c = value.charCodeAt(at);
        if (c === 0x22) break;
        if (c === 0x5c) { // quoted-pair: the next character stands for itself
          out += value.slice(from, at);
          from = ++at;
          if (at >= n) fail(`unclosed quote in the value of ${label(name)}`, pos);
        }
        if (isControl(value.charCodeAt(at))) {
          fail(`control character in the value of ${label(name)}`, at);
        }
        at++;
      }
      pos = at + 1;
      return out + value.slice(from, at);
    }
    const bare = matchAt(BARE_VALUE_AT, value, pos);
    if (bare === undefined) return fail(`expected a value for ${label(name)}`, pos);
    pos += bare.length;
    return bare;
  };
  /** A parameter whose name was read and whose `=` is at `pos`. */
  const readParam = (section: AuthSection, name: string, offset: number) => {
    if (section.token68 !== undefined) fail("a parameter after a token68", offset);
    pos++; // "="
    skipBlanks();
    section.params.push({ name: name.toLowerCase(), value: readValue(name), offset });
    endOfElement(label(name));
  };

  let current: AuthSection | undefined;
  while (pos < n) {
    if (value[pos] === " " || value[pos] === "\t" || value[pos] === ",") {
      pos++; // blanks and empty list elements
      continue;
    }
    const start = pos;
    const name = matchAt(TOKEN_AT, value, pos);
    if (name === undefined) {
      fail(current ? "expected a parameter or a scheme" : "expected a scheme", pos);
      break;
    }
    pos += name.length;
    const nameEnd = pos;
    skipBlanks();
    if (value[pos] === "=") {
      if (!current) fail("a parameter before any scheme", start);
      readParam(current!, name, start);
      continue;
    }
    // A new challenge (or the credentials): a scheme, then a token68 or parameters.
    current = { scheme: name, offset: start, params: [] };
    sections.push(current);
    if (pos >= n || value[pos] === ",") continue;
    if (pos === nameEnd) fail("expected a blank after the scheme", pos);
    const token68 = matchAt(TOKEN68_AT, value, pos);
    if (token68 !== undefined) {
      const after = pos;
      pos += token68.length;
      skipBlanks();
      if (pos >= n || value[pos] === ",") {
        current.token68 = token68;
        continue;
      }
      pos = after;
    }
    const paramStart = pos;
    const param = matchAt(TOKEN_AT, value, pos);
    if (param !== undefined) {
      pos += param.length;
      skipBlanks();
    }
    if (param === undefined || value[pos] !== "=") {
      fail("expected a token68 or parameters after the scheme", paramStart);
    }
    readParam(current, param!, paramStart);
  }
  return sections;
}

/**
 * A value as a quoted-string, `"` and `\` escaped.
 *
 * @throws {TypeError} naming `name` (not the value) for a line break or
 * another control character, or a value that is not a string.
 */
export function quoteAuthValue(value: string, header: string, name: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot serialize ${header}: ${name} is not a string`);
  }
  if (hasControl(value)) {
    throw new TypeError(`Cannot serialize ${header}: line break or control character in ${name}`);
  }
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * A value written bare, which must be a token.
 *
 * @throws {TypeError} naming `name` (not the value) when it is not a token.
 */
export function tokenAuthValue(value: string, header: string, name: string): string {
  if (typeof value !== "string" || !TOKEN.test(value)) {
    throw new TypeError(`Cannot serialize ${header}: ${name} is not a token`);
  }
  return value;
}
