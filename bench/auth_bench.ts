/**
 * What authentication costs per request, against parsing the request
 * itself: each group's baseline is RtspParser.push of one authenticated
 * DESCRIBE, so the results read as a fraction of handling a request.
 * `deno bench -P bench/auth_bench.ts`.
 *
 * Server side, per request: parse the Authorization header, then compute
 * the expected response (HA1 from an htdigest file, or from a password).
 * Client side, per request: compute the response and write the header.
 */
import { parseAuthorization, serializeAuthorization } from "../lib/wire/authorization_header.ts";
import { type DigestAlgorithm, digestHa1, digestResponse } from "../lib/wire/digest.ts";
import { RtspParser } from "../lib/wire/rtsp_parser.ts";
import { createRequest } from "../lib/wire/rtsp_message.ts";
import { realClock } from "../lib/net/clock.ts";
import { ServerAuth } from "../lib/session/server/server_auth.ts";
import {
  parseWwwAuthenticate,
  serializeWwwAuthenticate,
} from "../lib/wire/www_authenticate_header.ts";

const URI = "rtsp://127.0.0.1:8554/video.mjpeg";
const NONCE = "5a0c1e2f9b3d4c6e8d6bba1c4b0fe2f2";
const HA1: Record<DigestAlgorithm, string> = {
  "MD5": digestHa1("MD5", "user", "rtsp-lab", "secret"),
  "SHA-256": digestHa1("SHA-256", "user", "rtsp-lab", "secret"),
};
/** The header as ffmpeg sends it. */
const AUTHORIZATION = serializeAuthorization({
  scheme: "Digest",
  username: "user",
  realm: "rtsp-lab",
  nonce: NONCE,
  uri: URI,
  response: digestResponse({
    algorithm: "MD5",
    ha1: HA1.MD5,
    method: "DESCRIBE",
    uri: URI,
    nonce: NONCE,
  }),
});
const REQUEST = new TextEncoder().encode(
  `DESCRIBE ${URI} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: ${AUTHORIZATION}\r\n` +
    "User-Agent: Lavf60.16.100\r\nAccept: application/sdp\r\n\r\n",
);
const CHALLENGE = `Digest realm="rtsp-lab", nonce="${NONCE}"`;

for (const group of ["server", "client"]) {
  Deno.bench("RtspParser.push, one DESCRIBE with Authorization (baseline)", {
    group,
    baseline: true,
  }, () => {
    new RtspParser().push(REQUEST);
  });
}

Deno.bench("parseAuthorization, ffmpeg's Digest header", { group: "server" }, () => {
  parseAuthorization(AUTHORIZATION);
});
Deno.bench("parseAuthorization, Basic", { group: "server" }, () => {
  parseAuthorization("Basic dXNlcjpzZWNyZXQ=");
});
for (const algorithm of ["MD5", "SHA-256"] as const) {
  Deno.bench(`digestResponse, ${algorithm}, HA1 from htdigest`, { group: "server" }, () => {
    digestResponse({ algorithm, ha1: HA1[algorithm], method: "DESCRIBE", uri: URI, nonce: NONCE });
  });
  Deno.bench(`digestHa1 + digestResponse, ${algorithm}, from a password`, {
    group: "server",
  }, () => {
    const ha1 = digestHa1(algorithm, "user", "rtsp-lab", "secret");
    digestResponse({ algorithm, ha1, method: "DESCRIBE", uri: URI, nonce: NONCE });
  });
}
Deno.bench("serializeWwwAuthenticate, a 401's challenge", { group: "server" }, () => {
  serializeWwwAuthenticate({ scheme: "Digest", realm: "rtsp-lab", nonce: NONCE });
});

Deno.bench("parseWwwAuthenticate, the challenge", { group: "client" }, () => {
  parseWwwAuthenticate(CHALLENGE);
});
Deno.bench("digestResponse + serializeAuthorization, MD5 (every request)", {
  group: "client",
}, () => {
  const response = digestResponse({
    algorithm: "MD5",
    ha1: HA1.MD5,
    method: "DESCRIBE",
    uri: URI,
    nonce: NONCE,
  });
  serializeAuthorization({
    scheme: "Digest",
    username: "user",
    realm: "rtsp-lab",
    nonce: NONCE,
    uri: URI,
    response,
  });
});
Deno.bench("digestResponse with qop=auth, SHA-256", { group: "client" }, () => {
  digestResponse({
    algorithm: "SHA-256",
    ha1: HA1["SHA-256"],
    method: "DESCRIBE",
    uri: URI,
    nonce: NONCE,
    qop: "auth",
    nc: "00000001",
    cnonce: "0a4f113b",
  });
});

// The whole gate, as the server runs it per request: parse, check the nonce
// (an HMAC), compute the expected response, compare in constant time.
const auth = new ServerAuth({
  users: [{ name: "user", password: "secret" }],
  realm: "rtsp-lab",
  allowBasic: false,
  nonceLifetimeSec: 3600,
  clock: realClock,
});
const serverNonce = /nonce="([^"]+)"/.exec(auth.challenges(false)[0])![1];
const gated = createRequest("DESCRIBE", URI, {
  CSeq: "3",
  Authorization: serializeAuthorization({
    scheme: "Digest",
    username: "user",
    realm: "rtsp-lab",
    nonce: serverNonce,
    uri: URI,
    response: digestResponse({
      algorithm: "MD5",
      ha1: HA1.MD5,
      method: "DESCRIBE",
      uri: URI,
      nonce: serverNonce,
    }),
  }),
});
if (auth.authenticate(gated, false) !== "user") throw new Error("the benchmark's request fails");
Deno.bench("ServerAuth.authenticate, Digest MD5: the whole check of a request", {
  group: "server",
}, () => {
  auth.authenticate(gated, false);
});
