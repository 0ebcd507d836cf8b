/**
 * The Authorization header (RFC 7235 §4.2): Digest credentials (RFC 7616
 * §3.4, and the RFC 2069 form without qop that RTSP clients send) and
 * Basic credentials (RFC 7617 §2).
 *
 * ```
 * credentials = "Digest" 1*SP #auth-param        ; username, realm, nonce, uri, response, …
 *             / "Basic" 1*SP token68              ; base64(user-id ":" password)
 * ```
 *
 * What the peers send, each as one header:
 * - ffmpeg: `Digest username="u", realm="r", nonce="n", uri="…", response="…"`,
 *   then `, algorithm="MD5"` (quoted) when the challenge named one,
 *   `, opaque="…"`, and with qop `, qop="auth", cnonce="…", nc=00000001`;
 * - GStreamer and live555: the five parameters in that order, no qop
 *   (GStreamer adds `, opaque="…"`);
 * - all three: `Basic dXNlcjpwYXNz`.
 * None of them escapes a `"` or `\` in a value, so a user name or realm
 * holding one does not interoperate, whatever this module does.
 *
 * Values here are secrets or close to them (the password, the response,
 * the whole header): no error message repeats a value; messages name the
 * parameter. The server logs its error messages.
 *
 * @module
 */
import { digestAlgorithm } from "./digest.ts";
import { ParseError } from "./errors.ts";
import {
  type AuthSection,
  hasControl,
  isAuthToken,
  parseAuthSections,
  quoteAuthValue,
  tokenAuthValue,
} from "./auth_params.ts";
import { trimBlanks } from "./blanks.ts";

/** Basic credentials (RFC 7617 §2). */
export interface BasicCredentials {
  /** The scheme, always spelled `Basic`. */
  scheme: "Basic";
  /** The user-id: no `:` and no control characters. */
  username: string;
  /** The password: no control characters. */
  password: string;
}

/** Digest credentials (RFC 7616 §3.4). */
export interface DigestCredentials {
  /** The scheme, always spelled `Digest`. */
  scheme: "Digest";
  /** The user's name. */
  username: string;
  /** The realm of the challenge answered. */
  realm: string;
  /** The server's nonce, returned. */
  nonce: string;
  /** The request URI as the client hashed it. */
  uri: string;
  /** H(…) in hex, as sent. */
  response: string;
  /** `MD5` or `SHA-256` as spelled here, another name verbatim; absent means MD5. */
  algorithm?: string;
  /** The qop chosen, lower-case (`auth`); with it come nc and cnonce. */
  qop?: string;
  /** The nonce count: 1 to 8 hex digits, as sent. */
  nc?: string;
  /** The client's nonce. */
  cnonce?: string;
  /** The challenge's opaque, returned. */
  opaque?: string;
}

/** Credentials of another scheme: the scheme as spelled, and the rest verbatim. */
export interface OtherCredentials {
  /** The scheme as spelled by the client. */
  scheme: string;
  /** What follows the scheme, blanks around it removed; `""` when nothing does. */
  value: string;
}

/** The credentials of an Authorization header. */
export type Authorization = BasicCredentials | DigestCredentials | OtherCredentials;

const HEADER = "Authorization";
const SCHEME_AT = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const NC = /^[0-9A-Fa-f]{1,8}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Strict UTF-8 that keeps a leading BOM, so what is written reads back the same. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function fail(what: string, offset: number): never {
  throw new ParseError(`Cannot parse ${HEADER}: ${what}`, offset);
}

function basic(section: AuthSection): BasicCredentials {
  const token = section.token68;
  if (token === undefined) {
    return fail("Basic credentials need base64 of user:password", section.offset);
  }
  if (!BASE64.test(token)) fail("bad base64 in Basic credentials", section.offset);
  let text: string;
  try {
    const binary = atob(token);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    text = UTF8.decode(bytes);
  } catch (error) {
    // atob's DOMException and TextDecoder's TypeError, whose messages hold no input.
    const what = error instanceof TypeError ? "bad UTF-8" : "bad base64";
    return fail(`${what} in Basic credentials`, section.offset);
  }
  const colon = text.indexOf(":");
  if (colon < 0) fail('no ":" between user and password in Basic credentials', section.offset);
  if (hasControl(text)) fail("control character in Basic credentials", section.offset);
  return { scheme: "Basic", username: text.slice(0, colon), password: text.slice(colon + 1) };
}

const REQUIRED = ["username", "realm", "nonce", "uri", "response"] as const;
const OPTIONAL = ["algorithm", "qop", "nc", "cnonce", "opaque"] as const;
const KNOWN: ReadonlySet<string> = new Set([...REQUIRED, ...OPTIONAL]);

function digest(section: AuthSection): DigestCredentials {
  if (section.token68 !== undefined) fail("Digest credentials need parameters", section.offset);
  const params = new Map<string, string>();
  for (const { name, value, offset } of section.params) {
    if (params.has(name)) fail(`repeated ${KNOWN.has(name) ? name : "parameter"}`, offset);
    params.set(name, value);
  }
  for (const name of REQUIRED) {
    if (!params.has(name)) fail(`Digest credentials without ${name}`, section.offset);
  }
  const credentials: DigestCredentials = {
    scheme: "Digest",
    username: params.get("username")!,
    realm: params.get("realm")!,
    nonce: params.get("nonce")!,
    uri: params.get("uri")!,
    response: params.get("response")!,
  };
  const algorithm = params.get("algorithm");
  if (algorithm !== undefined) {
    if (!isAuthToken(algorithm)) fail("bad algorithm: not a token", section.offset);
    credentials.algorithm = digestAlgorithm(algorithm) ?? algorithm;
  }
  const qop = params.get("qop");
  if (qop !== undefined) {
    if (!isAuthToken(qop)) fail("bad qop: not a token", section.offset);
    credentials.qop = qop.toLowerCase();
    if (!params.has("nc")) fail("qop without nc", section.offset);
    if (!params.has("cnonce")) fail("qop without cnonce", section.offset);
  }
  const nc = params.get("nc");
  if (nc !== undefined) {
    if (!NC.test(nc)) fail("bad nc: expected 8 hex digits", section.offset);
    credentials.nc = nc;
  }
  for (const name of ["cnonce", "opaque"] as const) {
    const value = params.get(name);
    if (value !== undefined) credentials[name] = value;
  }
  return credentials;
}

/**
 * Parse an Authorization header value: `Digest username="u", realm="r",
 * nonce="n", uri="rtsp://h/v", response="…"` or `Basic dTpw`.
 *
 * Lenient: blanks around `=` and `,`, scheme and parameter names in any
 * case, values quoted or not (ffmpeg quotes `algorithm` and `qop`),
 * `algorithm` in any case (MD5 and SHA-256 come back spelled so), `qop`
 * in any case, base64 without its `=` padding. Parameters not modelled
 * (`userhash`, `username*`) are ignored. Strict: a repeated parameter, or
 * qop without nc and cnonce, is refused, and Basic credentials must be
 * UTF-8 (RFC 7617 §2.1) without control characters.
 *
 * @param value The header value, without the `Authorization:` name.
 * @returns Basic or Digest credentials, or another scheme's verbatim.
 * @throws {ParseError} for garbage: an empty value, text outside the
 * grammar, bad base64 or UTF-8, Basic without `:`, Digest without
 * username, realm, nonce, uri or response, a bad nc, or more than one
 * set of credentials. The message names the parameter, never a value.
 */
export function parseAuthorization(value: string): Authorization {
  let start = 0;
  while (value[start] === " " || value[start] === "\t") start++;
  if (start === value.length) fail("empty value", 0);
  SCHEME_AT.lastIndex = start;
  const scheme = SCHEME_AT.exec(value)?.[0];
  if (scheme === undefined) return fail("expected a scheme", start);
  const lower = scheme.toLowerCase();
  if (lower === "digest" || lower === "basic") {
    const sections = parseAuthSections(value, HEADER);
    if (sections.length > 1) fail("more than one set of credentials", sections[1].offset);
    return lower === "basic" ? basic(sections[0]) : digest(sections[0]);
  }
  const after = start + scheme.length;
  const rest = value.slice(after);
  if (rest !== "" && rest[0] !== " " && rest[0] !== "\t") {
    fail("expected a blank after the scheme", after);
  }
  if (hasControl(rest)) fail("control character in the credentials", after);
  return { scheme, value: trimBlanks(rest) };
}

/** base64 of the UTF-8 bytes of `text`. */
function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function serializeDigest(c: DigestCredentials): string {
  const q = (name: (typeof REQUIRED)[number] | "cnonce" | "opaque") =>
    `${name}=${quoteAuthValue(c[name]!, HEADER, name)}`;
  const parts = REQUIRED.map(q);
  if (c.algorithm !== undefined) {
    parts.push(`algorithm=${tokenAuthValue(c.algorithm, HEADER, "algorithm")}`);
  }
  if (c.qop !== undefined) {
    if (c.nc === undefined || c.cnonce === undefined) {
      throw new TypeError(`Cannot serialize ${HEADER}: qop needs nc and cnonce`);
    }
    parts.push(`qop=${tokenAuthValue(c.qop, HEADER, "qop")}`);
  }
  if (c.nc !== undefined) {
    if (typeof c.nc !== "string" || !NC.test(c.nc)) {
      throw new TypeError(`Cannot serialize ${HEADER}: nc is not 1 to 8 hex digits`);
    }
    parts.push(`nc=${c.nc}`);
  }
  if (c.cnonce !== undefined) parts.push(q("cnonce"));
  if (c.opaque !== undefined) parts.push(q("opaque"));
  return `Digest ${parts.join(", ")}`;
}

function serializeBasic(c: BasicCredentials): string {
  for (const name of ["username", "password"] as const) {
    if (typeof c[name] !== "string") {
      throw new TypeError(`Cannot serialize ${HEADER}: Basic ${name} is not a string`);
    }
    if (hasControl(c[name])) {
      throw new TypeError(`Cannot serialize ${HEADER}: control character in the Basic ${name}`);
    }
  }
  if (c.username.includes(":")) {
    throw new TypeError(`Cannot serialize ${HEADER}: a Basic username cannot hold ":"`);
  }
  return `Basic ${base64Utf8(`${c.username}:${c.password}`)}`;
}

/**
 * Write credentials in canonical form. Basic: `Basic ` and base64 of the
 * UTF-8 `username:password`. Digest: `Digest username="…", realm="…",
 * nonce="…", uri="…", response="…"`, then `, algorithm=…`, `, qop=auth`,
 * `, nc=…`, `, cnonce="…"` and `, opaque="…"` when present: the prefix
 * every RTSP server reads, live555's sscanf-based one included. Another
 * scheme: the scheme, a space and its value.
 *
 * @param credentials The credentials.
 * @returns The header value.
 * @throws {TypeError} for a value that cannot be written: a line break or
 * control character, a Basic username holding `:`, an algorithm or qop
 * that is not a token, an nc that is not hex, qop without nc and cnonce,
 * or another scheme that is not a token or is spelled like Digest or
 * Basic. The message names the field, never its value.
 */
export function serializeAuthorization(credentials: Authorization): string {
  if (credentials.scheme === "Digest") return serializeDigest(credentials as DigestCredentials);
  if (credentials.scheme === "Basic") return serializeBasic(credentials as BasicCredentials);
  const { scheme, value } = credentials as OtherCredentials;
  tokenAuthValue(scheme, HEADER, "the scheme");
  if (/^(?:basic|digest)$/i.test(scheme)) {
    throw new TypeError(`Cannot serialize ${HEADER}: spell the scheme "Digest" or "Basic"`);
  }
  if (typeof value !== "string" || hasControl(value)) {
    throw new TypeError(`Cannot serialize ${HEADER}: line break or control character in the value`);
  }
  return value === "" ? scheme : `${scheme} ${value}`;
}
