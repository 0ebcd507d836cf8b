/**
 * Test helper: an independent check of the client's Authorization values
 * (not a test file itself). It reads Authorization as a server would,
 * recomputes each Digest `response` with node:crypto (RFC 7616 §3.4.1;
 * RFC 2069 without qop), and scripts a fake server that demands
 * credentials: 401 with the given challenges until a request carries valid
 * ones, `stale=true` for a valid response on an old nonce (or on request),
 * then the next script's reply. {@linkcode assertNoSecret} checks output for
 * the password, its HA1 and "Authorization".
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import type { RtspRequest } from "../lib/wire/rtsp_message.ts";
import { fakeReply, type FakeScript, standardReply } from "./_fake_rtsp.ts";

export interface ParsedAuthorization {
  scheme: string;
  /** Parameters by lower-case name (quotes removed), or the token68 under "". */
  params: Record<string, string>;
  /** Names of the parameters that were quoted. */
  quoted: Set<string>;
}

/** Authorization as a server would read it: scheme, then token68 or name=value pairs. */
export function parseAuth(value: string): ParsedAuthorization {
  const m = /^(\S+)\s+(.*)$/s.exec(value);
  assert.ok(m, `Authorization "${value}" has a scheme and parameters`);
  const params: Record<string, string> = {};
  const quoted = new Set<string>();
  if (/^[A-Za-z0-9+/]+=*$/.test(m[2])) return { scheme: m[1], params: { "": m[2] }, quoted };
  const pair = /\s*([A-Za-z-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  let match;
  while ((match = pair.exec(m[2])) !== null && match[0] !== "") {
    const name = match[1].toLowerCase();
    assert.ok(!(name in params), `${name} once in ${value}`);
    if (match[2] !== undefined) quoted.add(name);
    params[name] = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3];
    if (pair.lastIndex === m[2].length) break;
  }
  assert.equal(pair.lastIndex, m[2].length, `all of "${value}" reads as parameters`);
  return { scheme: m[1], params, quoted };
}

export const H = (algorithm: string, text: string) =>
  createHash(algorithm.toUpperCase() === "SHA-256" ? "sha256" : "md5").update(text, "utf8")
    .digest("hex");

/** The `response` a server expects (RFC 7616 §3.4.1; RFC 2069 without qop). */
export function expectedResponse(
  p: Record<string, string>,
  method: string,
  password: string,
): string {
  const algorithm = p.algorithm ?? "MD5";
  const ha1 = H(algorithm, `${p.username}:${p.realm}:${password}`);
  const ha2 = H(algorithm, `${method}:${p.uri}`);
  return p.qop === undefined
    ? H(algorithm, `${ha1}:${p.nonce}:${ha2}`)
    : H(algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
}

export const REALM = "lab realm";

/** How the fake server authenticates. */
export interface Demand {
  /** The WWW-Authenticate values of a 401, for the current nonce. */
  offers(nonce: string, stale: boolean): string[];
  username: string;
  password: string;
  /** Answer the Nth request that carries valid credentials (0-based) with stale=true instead. */
  staleAt?: number;
}

/** What the fake server saw and decided, per request. */
export interface Seen {
  method: string;
  uri: string;
  authorization: string | undefined;
  status: number;
}

/** A script that demands credentials: 401 until a request carries valid ones. */
export function demandingScript(
  demand: Demand,
  seen: Seen[],
  next: FakeScript = standardReply,
): FakeScript {
  let nonceCount = 1;
  let nonce = "nonce-1";
  let valid = 0;
  return (request: RtspRequest, n: number) => {
    const authorization = request.headers.get("authorization");
    let status = 401;
    let stale = false;
    if (authorization !== undefined) {
      const { scheme, params } = parseAuth(authorization);
      if (scheme === "Basic") {
        const text = Buffer.from(params[""], "base64").toString("utf8");
        if (text === `${demand.username}:${demand.password}`) status = 200;
      } else if (scheme === "Digest") {
        const right = params.username === demand.username && params.realm === REALM &&
          params.uri === request.uri &&
          params.response === expectedResponse(params, request.method, demand.password);
        if (right && params.nonce !== nonce) stale = true;
        else if (right) status = 200;
      }
      if (status === 200 && valid++ === demand.staleAt) {
        status = 401;
        stale = true;
      }
      if (stale) nonce = `nonce-${++nonceCount}`;
    }
    seen.push({ method: request.method, uri: request.uri, authorization, status });
    if (status === 401) {
      return fakeReply(
        request,
        401,
        demand.offers(nonce, stale).map((v): [string, string] => ["WWW-Authenticate", v]),
      );
    }
    return next(request, n);
  };
}

export const sha256AndMd5 = (nonce: string, stale: boolean) => [
  `Digest realm="${REALM}", nonce="${nonce}", algorithm=MD5, qop="auth"${
    stale ? ", stale=TRUE" : ""
  }`,
  `Digest realm="${REALM}", nonce="${nonce}", algorithm=SHA-256, qop="auth"${
    stale ? ", stale=TRUE" : ""
  }`,
];

/**
 * Fail if `text` holds a secret of these credentials: the password (as
 * given, or percent-encoded as in a URL), its HA1 (MD5 or SHA-256, for
 * `realm`), or an Authorization header.
 */
export function assertNoSecret(
  text: string,
  what: string,
  credentials: { username: string; password: string; realm: string },
): void {
  const { username, password, realm } = credentials;
  const secrets = [
    password,
    encodeURIComponent(password),
    H("MD5", `${username}:${realm}:${password}`),
    H("SHA-256", `${username}:${realm}:${password}`),
  ];
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `${what} holds a secret (${secret.slice(0, 3)}…):\n${text}`);
  }
  assert.ok(!/authorization/i.test(text), `${what} mentions Authorization:\n${text}`);
}
