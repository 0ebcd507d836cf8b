import assert from "node:assert/strict";
import {
  type DigestAlgorithm,
  digestAlgorithm,
  digestHa1,
  digestHash,
  digestResponse,
  type DigestResponseInput,
} from "../lib/wire/digest.ts";
import { catchError } from "./_helpers.ts";

/** RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256. */
const RFC7616 = {
  username: "Mufasa",
  password: "Circle of Life",
  realm: "http-auth@example.org",
  method: "GET",
  uri: "/dir/index.html",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  nc: "00000001",
  qop: "auth",
} as const;

const RFC7616_RESPONSES: [DigestAlgorithm, string][] = [
  ["MD5", "8ca523f5e9506fed4657c9700eebdbec"],
  ["SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"],
];

/**
 * RFC 2069 (no qop), the form ffmpeg, GStreamer and live555 send. Expected
 * values computed independently with Python's hashlib, e.g.
 * `m(m("Mufasa:testrealm@host.com:CircleOfLife") + ":dcd98b…:" + m("GET:/dir/index.html"))`.
 * The first case takes RFC 2069 §2.4's inputs; the RFC prints the response
 * e966c932a9242554e42c8ee200cec7f6, which those inputs do not give.
 */
const RFC2069_CASES: {
  name: string;
  algorithm: DigestAlgorithm;
  user: [string, string, string];
  method: string;
  uri: string;
  nonce: string;
  ha1: string;
  response: string;
}[] = [
  {
    name: "RFC 2069 §2.4 inputs",
    algorithm: "MD5",
    user: ["Mufasa", "testrealm@host.com", "CircleOfLife"],
    method: "GET",
    uri: "/dir/index.html",
    nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    ha1: "4945ecf42b1bb868634058a845bedde8",
    response: "1949323746fe6a43ef61f9606e7febea",
  },
  {
    name: "an ffmpeg DESCRIBE, MD5",
    algorithm: "MD5",
    user: ["u", "r", "p"],
    method: "DESCRIBE",
    uri: "rtsp://127.0.0.1:8554/video.mjpeg",
    nonce: "n",
    ha1: "44add22b6f3179b751eafd68ee370f7d",
    response: "9ca28c21562823751d0fb9e7dc7f7aa2",
  },
  {
    name: "the same DESCRIBE, SHA-256",
    algorithm: "SHA-256",
    user: ["u", "r", "p"],
    method: "DESCRIBE",
    uri: "rtsp://127.0.0.1:8554/video.mjpeg",
    nonce: "n",
    ha1: "dcb021102e491e701a4a236daa8923af2161447bce7bb7260a351ee83e9f8154",
    response: "e976d8617b1fb92a3844f8bf795e283359930ad42ec2780860784beeea1657a8",
  },
];

Deno.test("digestResponse() gives RFC 7616 §3.9.1's responses with MD5 and SHA-256", async (t) => {
  for (const [algorithm, expected] of RFC7616_RESPONSES) {
    await t.step(algorithm, () => {
      const { username, realm, password, ...request } = RFC7616;
      const ha1 = digestHa1(algorithm, username, realm, password);
      assert.equal(digestResponse({ algorithm, ha1, ...request }), expected);
    });
  }
});

Deno.test("digestResponse() without qop computes H(HA1:nonce:HA2) (RFC 2069)", async (t) => {
  for (const { name, algorithm, user, method, uri, nonce, ha1, response } of RFC2069_CASES) {
    await t.step(name, () => {
      assert.equal(digestHa1(algorithm, ...user), ha1);
      assert.equal(digestResponse({ algorithm, ha1, method, uri, nonce }), response);
    });
  }
});

Deno.test("digestHash() agrees with WebCrypto's SHA-256 and known MD5 values", async (t) => {
  const texts = ["", "Mufasa:http-auth@example.org:Circle of Life", "Jäsøn Doe", "\u{1f511}:k"];
  for (const text of texts) {
    await t.step(JSON.stringify(text), async () => {
      const bytes = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
      );
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      assert.equal(digestHash("SHA-256", text), hex);
    });
  }
  // RFC 1321 §A.5's test suite, and UTF-8 (Python: hashlib.md5("Jäsøn…".encode())).
  assert.equal(digestHash("MD5", ""), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(digestHash("MD5", "abc"), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(
    digestHash("MD5", "Jäsøn Doe:api@example.org:Secret, or not?"),
    "83a3f7f6b83f71c5c2eb7c6dd2dd4c4b",
  );
});

Deno.test("digestResponse() with qop depends on nc and cnonce", () => {
  const { username, realm, password, ...request } = RFC7616;
  const ha1 = digestHa1("MD5", username, realm, password);
  const base: DigestResponseInput = { algorithm: "MD5", ha1, ...request };
  const first = digestResponse(base);
  assert.notEqual(digestResponse({ ...base, nc: "00000002" }), first);
  assert.notEqual(digestResponse({ ...base, cnonce: "other" }), first);
  assert.notEqual(digestResponse({ ...base, qop: undefined }), first);
  assert.match(first, /^[0-9a-f]{32}$/);
});

Deno.test("digestResponse() throws TypeError for qop without nc or cnonce, or another qop", async (t) => {
  const ha1 = "0".repeat(32);
  const base = { algorithm: "MD5", ha1, method: "GET", uri: "/", nonce: "n" } as const;
  const cases: [string, DigestResponseInput, RegExp][] = [
    ["no nc", { ...base, qop: "auth", cnonce: "c" }, /qop=auth needs nc and cnonce/],
    ["no cnonce", { ...base, qop: "auth", nc: "00000001" }, /qop=auth needs nc and cnonce/],
    [
      "auth-int",
      { ...base, qop: "auth-int" as "auth", nc: "00000001", cnonce: "c" },
      /qop "auth-int" is not supported/,
    ],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, () => {
      const error = catchError(() => digestResponse(input), TypeError);
      assert.match(error.message, /^Cannot compute Digest response: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("digestHash() throws TypeError for an algorithm it does not know", () => {
  for (const name of ["MD5-sess", "md5", "toString", "__proto__"]) {
    const error = catchError(() => digestHash(name as DigestAlgorithm, "x"), TypeError);
    assert.match(error.message, /^Cannot compute Digest hash: unknown algorithm/);
  }
});

Deno.test("digestAlgorithm() reads MD5 and SHA-256 in any case, MD5 when absent", async (t) => {
  const cases: [string | undefined, DigestAlgorithm | undefined][] = [
    [undefined, "MD5"],
    ["MD5", "MD5"],
    ["md5", "MD5"],
    ["Md5", "MD5"],
    ["SHA-256", "SHA-256"],
    ["sha-256", "SHA-256"],
    ["MD5-sess", undefined],
    ["SHA-256-sess", undefined],
    ["SHA-512-256", undefined],
    ["SHA256", undefined],
    ["", undefined],
    [" MD5", undefined],
  ];
  for (const [name, algorithm] of cases) {
    await t.step(String(name), () => assert.equal(digestAlgorithm(name), algorithm));
  }
});
