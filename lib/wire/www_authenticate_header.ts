/**
 * The WWW-Authenticate header (RFC 7235 §4.1; the Digest challenge of
 * RFC 7616 §3.3 and the Basic one of RFC 7617 §2, as RTSP uses them), and
 * written with the grammar of RFC 7235 §2.1 that challenges and credentials
 * share (`auth_params.ts`).
 *
 * ```
 * WWW-Authenticate = 1#challenge
 * challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 * credentials      = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 * auth-param       = token BWS "=" BWS ( token / quoted-string )
 * token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * quoted-string    = DQUOTE *( qdtext / "\" ( HTAB / SP / VCHAR / obs-text ) ) DQUOTE
 * ```
 *
 * One header value may hold several challenges, comma-separated like their
 * parameters: a new challenge starts at a list element that is a token not
 * followed by `=`. A response may also carry several WWW-Authenticate
 * headers (`RtspHeaders.getAll`), as GStreamer's server does: one Basic,
 * one Digest.
 *
 * Error messages name the parameter and the offset, never a value: the
 * same reader parses Authorization, whose values are secrets, and the
 * server logs its error messages.
 *
 * @module
 */
import { digestAlgorithm } from "./digest.ts";
import { ParseError } from "./errors.ts";
import {
  type AuthSection,
  matchAt,
  parseAuthSections,
  quoteAuthValue,
  TOKEN,
  TOKEN68_AT,
  tokenAuthValue,
} from "./auth_params.ts";
import { trimBlanks } from "./blanks.ts";

/** A Digest challenge (RFC 7616 §3.3). */
export interface DigestChallenge {
  /** The scheme, always spelled `Digest`. */
  scheme: "Digest";
  /** The protection space; part of HA1. */
  realm: string;
  /** The server's nonce. */
  nonce: string;
  /** `MD5` or `SHA-256` as spelled here, another name verbatim; absent means MD5. */
  algorithm?: string;
  /** The qop options offered, lower-case (`["auth", "auth-int"]`); absent when none. */
  qop?: string[];
  /** Present, and true, only when the server says the nonce was stale. */
  stale?: boolean;
  /** Data the client returns unchanged. */
  opaque?: string;
}

/** A Basic challenge (RFC 7617 §2). */
export interface BasicChallenge {
  /** The scheme, always spelled `Basic`. */
  scheme: "Basic";
  /** The protection space; `""` when the server sent none. */
  realm: string;
}

/**
 * A challenge of another scheme, kept so the client can say what it was
 * offered. Parameter names are lower-case; a token68 (RFC 7235 §2.1) is
 * kept under the key `""`, which no parameter name can be.
 */
export interface OtherChallenge {
  /** The scheme as spelled by the server. */
  scheme: string;
  /** The parameters by lower-case name, or `{ "": token68 }`. */
  params: Record<string, string>;
}

/** One challenge of a WWW-Authenticate header. */
export type AuthChallenge = DigestChallenge | BasicChallenge | OtherChallenge;

// ---------------------------------------------------------------------------
// WWW-Authenticate

function reject(what: string, offset: number): never {
  throw new ParseError(`Cannot parse WWW-Authenticate: ${what}`, offset);
}

/** The parameters of a challenge by name; a repeated one keeps its last value. */
function lastValues(section: AuthSection): Map<string, string> {
  return new Map(section.params.map((p) => [p.name, p.value]));
}

function digestChallenge(section: AuthSection): DigestChallenge {
  if (section.token68 !== undefined) reject("a Digest challenge needs parameters", section.offset);
  const params = lastValues(section);
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  if (realm === undefined) reject("Digest challenge without realm", section.offset);
  if (nonce === undefined) reject("Digest challenge without nonce", section.offset);
  const challenge: DigestChallenge = { scheme: "Digest", realm: realm!, nonce: nonce! };
  const algorithm = params.get("algorithm");
  if (algorithm !== undefined) {
    if (!TOKEN.test(algorithm)) {
      reject(`bad algorithm ${JSON.stringify(algorithm)}`, section.offset);
    }
    challenge.algorithm = digestAlgorithm(algorithm) ?? algorithm;
  }
  const qop = params.get("qop");
  if (qop !== undefined) {
    const options = qop.split(",").map(trimBlanks).filter((o) => o !== "");
    const bad = options.find((o) => !TOKEN.test(o));
    if (bad !== undefined) reject(`bad qop option ${JSON.stringify(bad)}`, section.offset);
    if (options.length > 0) challenge.qop = options.map((o) => o.toLowerCase());
  }
  if (params.get("stale")?.toLowerCase() === "true") challenge.stale = true;
  const opaque = params.get("opaque");
  if (opaque !== undefined) challenge.opaque = opaque;
  return challenge;
}

function basicChallenge(section: AuthSection): BasicChallenge {
  if (section.token68 !== undefined) reject("a Basic challenge needs parameters", section.offset);
  return { scheme: "Basic", realm: lastValues(section).get("realm") ?? "" };
}

/**
 * Parse a WWW-Authenticate header value into its challenges, e.g.
 * `Digest realm="r", nonce="n", qop="auth,auth-int", algorithm=MD5` or
 * `Basic realm="r", Digest realm="r", nonce="n"`.
 *
 * Lenient: see {@linkcode parseAuthSections}; also `algorithm`, `qop` and
 * `stale` quoted or not, `algorithm` in any case (MD5 and SHA-256 come
 * back spelled so), qop options in any case with blanks and empty entries,
 * `stale` true in any case (anything else is false, as RFC 7616 §3.3
 * says, and is left out), a Basic challenge without realm (realm `""`),
 * and a repeated parameter (the last wins). Parameters not modelled
 * (`domain`, `charset`, `userhash`) are ignored.
 *
 * @param value The header value, without the `WWW-Authenticate:` name.
 * @returns The challenges in order; unknown schemes as {@linkcode OtherChallenge}.
 * @throws {ParseError} for an empty value, text outside the grammar, a
 * Digest challenge without realm or nonce, a Digest or Basic challenge
 * with a token68, or an algorithm or qop option that is not a token.
 */
export function parseWwwAuthenticate(value: string): AuthChallenge[] {
  const sections = parseAuthSections(value, "WWW-Authenticate");
  if (sections.length === 0) reject("empty value", 0);
  return sections.map((section): AuthChallenge => {
    const scheme = section.scheme.toLowerCase();
    if (scheme === "digest") return digestChallenge(section);
    if (scheme === "basic") return basicChallenge(section);
    const params = section.token68 !== undefined
      ? { "": section.token68 }
      : Object.fromEntries(lastValues(section));
    return { scheme: section.scheme, params };
  });
}

/**
 * Write one challenge in canonical form: `Digest realm="…", nonce="…",
 * algorithm=SHA-256, qop="auth", stale=TRUE, opaque="…"` (each optional
 * part only when present, stale only when true), `Basic realm="…"`, or
 * `Scheme name="value", …` (or `Scheme token68`) for another scheme.
 *
 * realm then nonce come first, as live555's client reads them with
 * `sscanf("Digest realm=\"%[^\"]\", nonce=\"%[^\"]\"")`.
 *
 * @param challenge The challenge.
 * @returns The header value.
 * @throws {TypeError} for a value that cannot be written: a line break or
 * control character, an algorithm, qop option, scheme or parameter name
 * that is not a token, a missing realm or nonce, or another scheme
 * spelled like Digest or Basic. The message names the field, not its value.
 */
export function serializeWwwAuthenticate(challenge: AuthChallenge): string {
  const header = "WWW-Authenticate";
  if (challenge.scheme === "Digest") {
    const c = challenge as DigestChallenge;
    let out = `Digest realm=${quoteAuthValue(c.realm, header, "realm")}, nonce=${
      quoteAuthValue(c.nonce, header, "nonce")
    }`;
    if (c.algorithm !== undefined) {
      out += `, algorithm=${tokenAuthValue(c.algorithm, header, "algorithm")}`;
    }
    if (c.qop !== undefined && c.qop.length > 0) {
      out += `, qop="${c.qop.map((o) => tokenAuthValue(o, header, "qop")).join(",")}"`;
    }
    if (c.stale === true) out += ", stale=TRUE";
    if (c.opaque !== undefined) out += `, opaque=${quoteAuthValue(c.opaque, header, "opaque")}`;
    return out;
  }
  if (challenge.scheme === "Basic") {
    return `Basic realm=${quoteAuthValue((challenge as BasicChallenge).realm, header, "realm")}`;
  }
  const { scheme, params } = challenge as OtherChallenge;
  tokenAuthValue(scheme, header, "the scheme");
  if (/^(?:basic|digest)$/i.test(scheme)) {
    throw new TypeError(`Cannot serialize ${header}: spell the scheme "Digest" or "Basic"`);
  }
  const entries = Object.entries(params ?? {});
  if (entries.length === 0) return scheme;
  if (Object.hasOwn(params, "")) {
    if (entries.length > 1) {
      throw new TypeError(`Cannot serialize ${header}: a token68 cannot have parameters`);
    }
    if (matchAt(TOKEN68_AT, params[""], 0) !== params[""]) {
      throw new TypeError(`Cannot serialize ${header}: the token68 is not a token68`);
    }
    return `${scheme} ${params[""]}`;
  }
  const list = entries.map(([name, value]) =>
    `${tokenAuthValue(name, header, "a parameter name")}=${quoteAuthValue(value, header, name)}`
  );
  return `${scheme} ${list.join(", ")}`;
}
