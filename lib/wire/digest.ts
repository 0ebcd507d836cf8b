/**
 * The arithmetic of HTTP Digest authentication as RTSP uses it (RFC 7616
 * §3.4.1–3.4.3, compatible with RFC 2617 and with RFC 2069, the form
 * without qop that most RTSP clients send):
 *
 * ```
 * HA1      = H(username ":" realm ":" password)
 * HA2      = H(method ":" uri)
 * response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   ; qop=auth
 * response = H(HA1 ":" nonce ":" HA2)                              ; no qop (RFC 2069)
 * ```
 *
 * H is MD5 or SHA-256 of the UTF-8 text, written as lower-case hex. The
 * `-sess` algorithms and qop=auth-int are not supported. Computation only:
 * the nonce and cnonce arrive as arguments (randomness belongs to the
 * session layer), and nothing here compares a response: do that in
 * constant time where the secret is known.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A hash algorithm of Digest authentication (RFC 7616 §3.3). */
export type DigestAlgorithm = "MD5" | "SHA-256";

/** The hash names node:crypto knows each algorithm by. */
const NODE_HASH: Record<DigestAlgorithm, string> = { "MD5": "md5", "SHA-256": "sha256" };

/**
 * The algorithm named by a challenge or credentials.
 *
 * @param name The `algorithm` parameter as written, or undefined when absent.
 * @returns `MD5` when absent, the algorithm for `MD5` or `SHA-256` in any
 * case, and undefined for one not supported (`MD5-sess`, `SHA-512-256`, …).
 */
export function digestAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined) return "MD5";
  const upper = name.toUpperCase();
  return upper === "MD5" || upper === "SHA-256" ? upper : undefined;
}

/**
 * H(text): the hash of the UTF-8 text as lower-case hex.
 *
 * @param algorithm MD5 (32 hex digits) or SHA-256 (64).
 * @param text The text to hash.
 * @returns The digest in lower-case hex.
 * @throws {TypeError} for an algorithm other than MD5 or SHA-256.
 */
export function digestHash(algorithm: DigestAlgorithm, text: string): string {
  const name = Object.hasOwn(NODE_HASH, algorithm) ? NODE_HASH[algorithm] : undefined;
  if (name === undefined) {
    throw new TypeError(
      `Cannot compute Digest hash: unknown algorithm ${
        JSON.stringify(algorithm)
      }: expected MD5 or SHA-256`,
    );
  }
  return createHash(name).update(text, "utf8").digest("hex");
}

/**
 * HA1 = H(username:realm:password), what an htdigest file stores.
 *
 * @param algorithm MD5 or SHA-256.
 * @param username The user's name, as sent in `username`.
 * @param realm The realm of the challenge.
 * @param password The password.
 * @returns HA1 in lower-case hex.
 */
export function digestHa1(
  algorithm: DigestAlgorithm,
  username: string,
  realm: string,
  password: string,
): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** What the `response` of Digest credentials is computed from. */
export interface DigestResponseInput {
  /** The hash algorithm. */
  algorithm: DigestAlgorithm;
  /** HA1 in lower-case hex (see {@linkcode digestHa1}). */
  ha1: string;
  /** The request method, e.g. `DESCRIBE`. */
  method: string;
  /** The `uri` parameter exactly as the credentials carry it. */
  uri: string;
  /** The server's nonce. */
  nonce: string;
  /** "auth", or absent for the RFC 2069 form most RTSP clients use. */
  qop?: "auth";
  /** The nonce count, 8 hex digits, exactly as sent (with qop). */
  nc?: string;
  /** The client's nonce (with qop). */
  cnonce?: string;
}

/**
 * The `response` of Digest credentials (RFC 7616 §3.4.1): with qop=auth
 * H(HA1:nonce:nc:cnonce:qop:HA2), without qop H(HA1:nonce:HA2), where
 * HA2 = H(method:uri).
 *
 * @example
 * ```ts
 * const ha1 = digestHa1("MD5", "u", "r", "p");
 * digestResponse({ algorithm: "MD5", ha1, method: "DESCRIBE", uri: "rtsp://h/v", nonce: "n" });
 * ```
 *
 * @param input The algorithm, HA1, request and nonce (plus nc and cnonce with qop).
 * @returns The response in lower-case hex.
 * @throws {TypeError} for a qop other than "auth", or qop without nc or cnonce.
 */
export function digestResponse(input: DigestResponseInput): string {
  const { algorithm, ha1, method, uri, nonce, qop, nc, cnonce } = input;
  const ha2 = digestHash(algorithm, `${method}:${uri}`);
  if (qop === undefined) return digestHash(algorithm, `${ha1}:${nonce}:${ha2}`);
  if (qop !== "auth") {
    throw new TypeError(
      `Cannot compute Digest response: qop ${
        JSON.stringify(qop)
      } is not supported: expected "auth"`,
    );
  }
  if (nc === undefined || cnonce === undefined) {
    throw new TypeError("Cannot compute Digest response: qop=auth needs nc and cnonce");
  }
  return digestHash(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
}
