/**
 * Who may watch: the server's side of HTTP authentication as RTSP uses it
 * (RFC 2326 §16.1; Digest per RFC 7616, Basic per RFC 7617).
 *
 * - Users are known by their HA1 only (H(name:realm:password), MD5 and/or
 *   SHA-256): a password given in the clear is hashed at once and dropped,
 *   and an htdigest file holds nothing else.
 * - Digest with SHA-256 and with MD5 (most RTSP clients know only MD5), with
 *   qop=auth or without qop (RFC 2069, what most RTSP clients send).
 * - Basic only where it cannot leak: over TLS, or when allowed outright.
 * - Nonces are made, not stored: a timestamp and an HMAC over it with a key
 *   of this server instance, so nothing grows per attempt. An expired nonce
 *   gets a new challenge with stale=true; a nonce this instance did not make
 *   is refused.
 * - Every comparison of a secret is in constant time, and no secret goes
 *   into an error message (they reach the log).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../net/clock.ts";
import {
  type Authorization,
  type DigestCredentials,
  parseAuthorization,
} from "../../wire/authorization_header.ts";
import {
  type DigestAlgorithm,
  digestAlgorithm,
  digestHa1,
  digestResponse,
} from "../../wire/digest.ts";
import { ParseError } from "../../wire/errors.ts";
import type { RtspRequest } from "../../wire/rtsp_message.ts";
import { serializeWwwAuthenticate } from "../../wire/www_authenticate_header.ts";
import { RtspError } from "./rtsp_error.ts";

/** A user who may watch: a password, or the HA1s of one (as an htdigest file holds them). */
export interface ServerUser {
  /** The name, without ":". */
  name: string;
  /** The password; hashed at once into the HA1s, not kept. */
  password?: string;
  /** H(name:realm:password) per algorithm, lower-case hex, for the server's realm. */
  ha1?: Partial<Record<DigestAlgorithm, string>>;
}

/** Options for {@linkcode ServerAuth}. */
export interface ServerAuthOptions {
  users: readonly ServerUser[];
  /** The realm of the challenges and of the HA1s. */
  realm: string;
  /** Accept Basic credentials over plain TCP too. */
  allowBasic: boolean;
  /** Seconds a nonce stays good. */
  nonceLifetimeSec: number;
  clock: Clock;
}

/** Algorithms offered, strongest first: a client that knows one takes the first it knows. */
const ALGORITHMS: readonly DigestAlgorithm[] = ["SHA-256", "MD5"];
/** Bytes of the HMAC kept in a nonce. */
const MAC_BYTES = 16;

function equalSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  // Lengths are not secret (a hex digest's length is its algorithm's).
  return x.length === y.length && timingSafeEqual(x, y);
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function unbase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The request-URI's path, for comparing a Digest `uri` written in another form. */
function pathOf(uri: string): string {
  return uri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "") || "/";
}

/** Checks the credentials of requests. */
export class ServerAuth {
  readonly #options: ServerAuthOptions;
  /** HA1s by user name and algorithm. */
  readonly #ha1 = new Map<string, Partial<Record<DigestAlgorithm, string>>>();
  /** The key of this instance's nonces. */
  readonly #key = crypto.getRandomValues(new Uint8Array(32));

  constructor(options: ServerAuthOptions) {
    this.#options = options;
    for (const user of options.users) {
      const ha1 = { ...user.ha1 };
      if (user.password !== undefined) {
        for (const algorithm of ALGORITHMS) {
          ha1[algorithm] = digestHa1(algorithm, user.name, options.realm, user.password);
        }
      }
      this.#ha1.set(user.name, ha1);
    }
  }

  /** Whether any user is configured (otherwise everyone may watch). */
  get enabled(): boolean {
    return this.#ha1.size > 0;
  }

  /** The realm of the challenges. */
  get realm(): string {
    return this.#options.realm;
  }

  /**
   * The user whose credentials `request` carries.
   *
   * @param secure Whether the request came over TLS (Basic is accepted there).
   * @throws {RtspError} 401 with the challenges, and why in the message (no secret in it).
   */
  authenticate(request: RtspRequest, secure: boolean): string {
    const header = request.headers.get("authorization");
    if (header === undefined) {
      this.#refuse(
        secure,
        request.end === "idle"
          ? "no credentials: the lab dialect cannot authenticate (its client sends none)"
          : "no credentials",
      );
    }
    let credentials: Authorization;
    try {
      credentials = parseAuthorization(header);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      this.#refuse(secure, `bad Authorization: ${error.message}`);
    }
    if (credentials.scheme === "Basic" && "password" in credentials) {
      if (!secure && !this.#options.allowBasic) {
        this.#refuse(secure, "Basic credentials over plain TCP are not accepted");
      }
      return this.#checkBasic(credentials.username, credentials.password, secure);
    }
    if (credentials.scheme === "Digest" && "response" in credentials) {
      return this.#checkDigest(request, credentials as DigestCredentials, secure);
    }
    this.#refuse(secure, `the ${credentials.scheme} scheme is not supported`);
  }

  #checkBasic(name: string, password: string, secure: boolean): string {
    const known = this.#ha1.get(name) ?? {};
    let ok = false;
    for (const algorithm of ALGORITHMS) {
      const stored = known[algorithm];
      const given = digestHa1(algorithm, name, this.#options.realm, password);
      // An unknown name or algorithm is compared with itself, so that it costs the same.
      if (equalSecret(given, stored ?? given) && stored !== undefined) ok = true;
    }
    if (!ok) this.#refuse(secure, this.#wrong(name));
    return name;
  }

  #checkDigest(request: RtspRequest, c: DigestCredentials, secure: boolean): string {
    const algorithm = digestAlgorithm(c.algorithm);
    if (!algorithm) this.#refuse(secure, `digest algorithm ${c.algorithm} is not supported`);
    if (c.realm !== this.#options.realm) this.#refuse(secure, "credentials for another realm");
    if (c.uri !== request.uri && pathOf(c.uri) !== pathOf(request.uri)) {
      this.#refuse(secure, "credentials for another URI");
    }
    if (c.qop !== undefined && (c.qop !== "auth" || !c.nc || !c.cnonce)) {
      this.#refuse(secure, "digest qop other than auth, or without nc and cnonce");
    }
    const nonce = this.#checkNonce(c.nonce);
    if (nonce === "foreign") this.#refuse(secure, "a nonce this server did not make");
    const ha1 = this.#ha1.get(c.username)?.[algorithm];
    const expected = digestResponse({
      algorithm,
      // An unknown user is computed against a dummy HA1, so that it costs the same.
      ha1: ha1 ?? "0".repeat(algorithm === "MD5" ? 32 : 64),
      method: request.method,
      uri: c.uri,
      nonce: c.nonce,
      qop: c.qop === "auth" ? "auth" : undefined,
      nc: c.nc,
      cnonce: c.cnonce,
    });
    const right = equalSecret(expected, c.response.toLowerCase()) && ha1 !== undefined;
    if (!right) this.#refuse(secure, this.#wrong(c.username));
    if (nonce === "expired") this.#refuse(secure, "the nonce has expired", true);
    return c.username;
  }

  /**
   * Why credentials failed, for the log: the user's name only when it is a
   * configured one (a name typed wrong may be a password).
   */
  #wrong(name: string): string {
    return this.#ha1.has(name) ? `wrong password for user "${name}"` : "unknown user";
  }

  /** A new nonce: the time it was made, and an HMAC over it with this instance's key. */
  #nonce(): string {
    const time = new Uint8Array(8);
    new DataView(time.buffer).setFloat64(0, this.#options.clock.now());
    return base64url(new Uint8Array([...time, ...this.#mac(time)]));
  }

  #mac(time: Uint8Array): Uint8Array {
    return new Uint8Array(createHmac("sha256", this.#key).update(time).digest()).subarray(
      0,
      MAC_BYTES,
    );
  }

  #checkNonce(nonce: string): "good" | "expired" | "foreign" {
    const bytes = unbase64url(nonce);
    if (!bytes || bytes.length !== 8 + MAC_BYTES) return "foreign";
    const time = bytes.subarray(0, 8);
    if (!timingSafeEqual(this.#mac(time), bytes.subarray(8))) return "foreign";
    const made = new DataView(time.buffer, time.byteOffset, 8).getFloat64(0);
    const age = this.#options.clock.now() - made;
    return age >= 0 && age <= this.#options.nonceLifetimeSec * 1000 ? "good" : "expired";
  }

  /** The WWW-Authenticate values of a 401: Digest SHA-256, Digest MD5, and Basic where allowed. */
  challenges(secure: boolean, stale = false): string[] {
    const nonce = this.#nonce();
    const realm = this.#options.realm;
    const values = ALGORITHMS.map((algorithm) =>
      serializeWwwAuthenticate({
        scheme: "Digest",
        realm,
        nonce,
        algorithm,
        qop: ["auth"],
        ...(stale ? { stale: true } : {}),
      })
    );
    if (secure || this.#options.allowBasic) {
      values.push(serializeWwwAuthenticate({ scheme: "Basic", realm }));
    }
    return values;
  }

  #refuse(secure: boolean, why: string, stale = false): never {
    throw new RtspError(
      401,
      why,
      this.challenges(secure, stale).map((value) => ["WWW-Authenticate", value]),
    );
  }
}
