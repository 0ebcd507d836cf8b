/**
 * The client's side of HTTP authentication as RTSP uses it (RFC 2326 §D.2,
 * RFC 7235): from a 401's challenges (every WWW-Authenticate header) pick
 * the strongest one we can answer, then write the Authorization of each
 * request from it.
 *
 * Strongest first: Digest with SHA-256, Digest with MD5 (RFC 7616), then
 * Basic (RFC 7617), which sends the password readable: only over TLS, or
 * when `allowBasic` says so. A Digest challenge that offers `qop` is
 * answered with `qop=auth`, a fresh random `cnonce` per request and `nc`
 * counting up per nonce (RFC 7616 §3.4); one without `qop` gets the RFC 2069
 * form most RTSP servers use. `stale=true` (RFC 7616 §3.3) means the nonce
 * expired but the credentials were right: the new nonce is taken and the
 * count starts again.
 *
 * The password and HA1 stay in private fields; nothing here writes them
 * anywhere but into the Authorization value.
 *
 * @module
 */
import {
  type DigestAlgorithm,
  digestAlgorithm,
  digestHa1,
  digestResponse,
} from "../../wire/digest.ts";
import {
  type AuthChallenge,
  type DigestChallenge,
  parseWwwAuthenticate,
} from "../../wire/www_authenticate_header.ts";
import { type DigestCredentials, serializeAuthorization } from "../../wire/authorization_header.ts";

/** A name and password to answer a server's 401 with. */
export interface ClientCredentials {
  /** The user name. */
  username: string;
  /** The password. */
  password: string;
}

/** Options for {@linkcode ClientAuthenticator}. */
export interface ClientAuthenticatorOptions {
  /** Whether the connection is TLS, so that Basic may be used. @default {false} */
  secure?: boolean;
  /** Answer Basic over plain TCP too (the password goes readable). @default {false} */
  allowBasic?: boolean;
  /** A fresh client nonce, for each request with qop. @default {16 random bytes in hex} */
  cnonce?: () => string;
}

/** What {@linkcode ClientAuthenticator.challenge} made of a 401. */
export type ChallengeResult =
  /**
   * A challenge was chosen. `stale`: a Digest one with `stale=true`;
   * `renewed`: a Digest nonce (or a scheme) other than the one answered
   * before, if any.
   */
  | { usable: true; scheme: "Digest" | "Basic"; stale: boolean; renewed: boolean }
  /** None can be answered; `reason` says why, without any secret. */
  | { usable: false; reason: string };

/** The challenge being answered. */
type Chosen =
  | { scheme: "Basic" }
  | {
    scheme: "Digest";
    challenge: DigestChallenge;
    algorithm: DigestAlgorithm;
    qop: boolean;
    ha1: string;
  };

/** 16 random bytes in hex. */
function randomCnonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Rank of a usable Digest algorithm: higher is stronger. */
const STRENGTH: Record<DigestAlgorithm, number> = { "SHA-256": 2, "MD5": 1 };

/**
 * Answers a server's challenges for one connection: chooses a scheme on a
 * 401 and writes the Authorization of every request after it.
 *
 * @example
 * ```ts
 * const auth = new ClientAuthenticator({ username: "name", password: "secret" });
 * // on a 401:
 * const result = auth.challenge(reply.headers.getAll("WWW-Authenticate"));
 * if (result.usable) headers.Authorization = auth.authorization("DESCRIBE", uri)!;
 * ```
 */
export class ClientAuthenticator {
  readonly #username: string;
  readonly #password: string;
  readonly #secure: boolean;
  readonly #allowBasic: boolean;
  readonly #cnonce: () => string;
  #chosen: Chosen | undefined;
  /** Requests answered on the current nonce (qop only). */
  #nc = 0;

  /** An authenticator for `credentials`; it answers nothing before a challenge. */
  constructor(credentials: ClientCredentials, options: ClientAuthenticatorOptions = {}) {
    this.#username = credentials.username;
    this.#password = credentials.password;
    this.#secure = options.secure ?? false;
    this.#allowBasic = options.allowBasic ?? false;
    this.#cnonce = options.cnonce ?? randomCnonce;
  }

  /** The user name (not secret: it may be shown). */
  get username(): string {
    return this.#username;
  }

  /** The scheme being answered, once a challenge was chosen. */
  get scheme(): "Digest" | "Basic" | undefined {
    return this.#chosen?.scheme;
  }

  /**
   * Take a 401's challenges and choose the strongest that can be answered:
   * Digest SHA-256, Digest MD5 (either with qop `auth`, or none), then Basic
   * over TLS or with `allowBasic`. Headers that do not parse, unknown
   * schemes and unsupported algorithms (MD5-sess, SHA-512-256) are passed
   * over. A Digest challenge with a new nonce starts `nc` again at 1.
   *
   * @param values Every WWW-Authenticate value of the reply, in order.
   * @returns The choice, or why none can be answered (the choice made
   * before stays when none can).
   */
  challenge(values: readonly string[]): ChallengeResult {
    const challenges: AuthChallenge[] = [];
    for (const value of values) {
      try {
        challenges.push(...parseWwwAuthenticate(value));
      } catch {
        // A header we cannot read is one challenge fewer; another may do.
      }
    }
    let best: { challenge: DigestChallenge; algorithm: DigestAlgorithm } | undefined;
    let basic = false;
    for (const challenge of challenges) {
      const scheme = challenge.scheme.toLowerCase();
      if (scheme === "basic") basic = true;
      if (scheme !== "digest") continue;
      const digest = challenge as DigestChallenge;
      const algorithm = digestAlgorithm(digest.algorithm);
      if (algorithm === undefined) continue;
      if (digest.qop !== undefined && !digest.qop.some((q) => q.toLowerCase() === "auth")) {
        continue; // auth-int only
      }
      if (!best || STRENGTH[algorithm] > STRENGTH[best.algorithm]) {
        best = { challenge: digest, algorithm };
      }
    }
    if (best) {
      const { challenge, algorithm } = best;
      const previous = this.#chosen;
      const sameNonce = previous?.scheme === "Digest" &&
        previous.challenge.nonce === challenge.nonce;
      const sameHa1 = previous?.scheme === "Digest" && previous.algorithm === algorithm &&
        previous.challenge.realm === challenge.realm;
      this.#chosen = {
        scheme: "Digest",
        challenge,
        algorithm,
        qop: challenge.qop !== undefined,
        ha1: sameHa1
          ? previous.ha1
          : digestHa1(algorithm, this.#username, challenge.realm, this.#password),
      };
      if (!sameNonce) this.#nc = 0;
      const stale = challenge.stale === true;
      return {
        usable: true,
        scheme: "Digest",
        stale,
        renewed: previous !== undefined && !sameNonce,
      };
    }
    if (basic && (this.#secure || this.#allowBasic)) {
      const renewed = this.#chosen !== undefined && this.#chosen.scheme !== "Basic";
      this.#chosen = { scheme: "Basic" };
      return { usable: true, scheme: "Basic", stale: false, renewed };
    }
    if (basic) {
      return {
        usable: false,
        reason: "only Basic is offered, which sends the password readable over plain TCP " +
          "(use rtsps://, or allow it with --allow-basic)",
      };
    }
    const offered = [...new Set(challenges.map(describeChallenge))];
    return {
      usable: false,
      reason: offered.length === 0
        ? "no authentication scheme that can be read is offered"
        : `no supported authentication scheme is offered (${offered.join(", ")})`,
    };
  }

  /**
   * The Authorization value for a request, from the chosen challenge;
   * `undefined` before one was chosen. With qop each call counts `nc` up
   * and draws a new `cnonce`.
   *
   * @param method The request's method, e.g. `DESCRIBE`.
   * @param uri The request URI exactly as the request line carries it.
   */
  authorization(method: string, uri: string): string | undefined {
    const chosen = this.#chosen;
    if (chosen === undefined) return undefined;
    if (chosen.scheme === "Basic") {
      return serializeAuthorization({
        scheme: "Basic",
        username: this.#username,
        password: this.#password,
      });
    }
    const { challenge, algorithm, ha1 } = chosen;
    const credentials: DigestCredentials = {
      scheme: "Digest",
      username: this.#username,
      realm: challenge.realm,
      nonce: challenge.nonce,
      uri,
      response: "",
    };
    if (challenge.algorithm !== undefined) credentials.algorithm = challenge.algorithm;
    if (chosen.qop) {
      const nc = (++this.#nc).toString(16).padStart(8, "0");
      const cnonce = this.#cnonce();
      credentials.qop = "auth";
      credentials.nc = nc;
      credentials.cnonce = cnonce;
      credentials.response = digestResponse({
        algorithm,
        ha1,
        method,
        uri,
        nonce: challenge.nonce,
        qop: "auth",
        nc,
        cnonce,
      });
    } else {
      credentials.response = digestResponse({
        algorithm,
        ha1,
        method,
        uri,
        nonce: challenge.nonce,
      });
    }
    if (challenge.opaque !== undefined) credentials.opaque = challenge.opaque;
    return serializeAuthorization(credentials);
  }
}

/** A challenge as an error names it: its scheme, and a Digest one's algorithm. */
function describeChallenge(challenge: AuthChallenge): string {
  if (challenge.scheme.toLowerCase() !== "digest") return challenge.scheme;
  const algorithm = (challenge as DigestChallenge).algorithm;
  const qop = (challenge as DigestChallenge).qop;
  const parts = [algorithm ?? "MD5", ...qop ? [`qop=${qop.join("/")}`] : []];
  return `Digest ${parts.join(" ")}`;
}
