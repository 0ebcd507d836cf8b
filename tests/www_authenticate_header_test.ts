import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import {
  type AuthChallenge,
  parseWwwAuthenticate,
  serializeWwwAuthenticate,
} from "../lib/wire/www_authenticate_header.ts";
import { catchError } from "./_helpers.ts";

/**
 * Input, the challenges it parses to, and the canonical form of each
 * (one header value per challenge).
 */
interface ChallengeCase {
  name: string;
  input: string;
  value: AuthChallenge[];
  canonical: string[];
}

const RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

/** What real servers send, and the RFCs' examples. */
const PEERS: ChallengeCase[] = [
  {
    name: "live555 server: realm then nonce, nothing else",
    input: 'Digest realm="LIVE555 Streaming Media", nonce="8d6bba1c4b0fe2f2d5b7c7a4e0b1a2f3"',
    value: [{
      scheme: "Digest",
      realm: "LIVE555 Streaming Media",
      nonce: "8d6bba1c4b0fe2f2d5b7c7a4e0b1a2f3",
    }],
    canonical: [
      'Digest realm="LIVE555 Streaming Media", nonce="8d6bba1c4b0fe2f2d5b7c7a4e0b1a2f3"',
    ],
  },
  {
    name: "GStreamer rtsp-server: Digest, nonce %08x%08x",
    input: 'Digest realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e"',
    value: [{ scheme: "Digest", realm: "GStreamer RTSP Server", nonce: "5a0c1e2f9b3d4c6e" }],
    canonical: ['Digest realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e"'],
  },
  {
    name: "GStreamer rtsp-server: Basic",
    input: 'Basic realm="GStreamer RTSP Server"',
    value: [{ scheme: "Basic", realm: "GStreamer RTSP Server" }],
    canonical: ['Basic realm="GStreamer RTSP Server"'],
  },
  {
    name: "RFC 7616 §3.9.1, SHA-256 (unfolded)",
    input: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ` +
      `nonce="${RFC7616_NONCE}", opaque="${RFC7616_OPAQUE}"`,
    value: [{
      scheme: "Digest",
      realm: "http-auth@example.org",
      nonce: RFC7616_NONCE,
      algorithm: "SHA-256",
      qop: ["auth", "auth-int"],
      opaque: RFC7616_OPAQUE,
    }],
    canonical: [
      `Digest realm="http-auth@example.org", nonce="${RFC7616_NONCE}", algorithm=SHA-256, ` +
      `qop="auth,auth-int", opaque="${RFC7616_OPAQUE}"`,
    ],
  },
  {
    name: "RFC 7616 §3.9.1, MD5",
    input: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, ` +
      `nonce="${RFC7616_NONCE}", opaque="${RFC7616_OPAQUE}"`,
    value: [{
      scheme: "Digest",
      realm: "http-auth@example.org",
      nonce: RFC7616_NONCE,
      algorithm: "MD5",
      qop: ["auth", "auth-int"],
      opaque: RFC7616_OPAQUE,
    }],
    canonical: [
      `Digest realm="http-auth@example.org", nonce="${RFC7616_NONCE}", algorithm=MD5, ` +
      `qop="auth,auth-int", opaque="${RFC7616_OPAQUE}"`,
    ],
  },
  {
    name: "RFC 7617 §2, with charset (ignored)",
    input: 'Basic realm="foo", charset="UTF-8"',
    value: [{ scheme: "Basic", realm: "foo" }],
    canonical: ['Basic realm="foo"'],
  },
  {
    name: "RFC 7235 §4.1: two challenges in one value, an escaped quote",
    input: 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
    value: [
      { scheme: "Newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
      { scheme: "Basic", realm: "simple" },
    ],
    canonical: [
      'Newauth realm="apps", type="1", title="Login to \\"apps\\""',
      'Basic realm="simple"',
    ],
  },
];

/** Loose spellings that come out canonical. */
const LOOSE: ChallengeCase[] = [
  {
    name: "case, blanks around = and , and unquoted values",
    input: 'digest REALM = "r" ,NONCE= n , QOP = auth',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", qop: ["auth"] }],
    canonical: ['Digest realm="r", nonce="n", qop="auth"'],
  },
  {
    name: "tabs, and empty list elements",
    input: ',, Digest\trealm="r" , ,\tnonce="n",',
    value: [{ scheme: "Digest", realm: "r", nonce: "n" }],
    canonical: ['Digest realm="r", nonce="n"'],
  },
  {
    name: "algorithm quoted and lower-case",
    input: 'Digest realm="r", nonce="n", algorithm="md5"',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", algorithm: "MD5" }],
    canonical: ['Digest realm="r", nonce="n", algorithm=MD5'],
  },
  {
    name: "algorithm sha-256",
    input: 'Digest realm="r", nonce="n", algorithm=sha-256',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", algorithm: "SHA-256" }],
    canonical: ['Digest realm="r", nonce="n", algorithm=SHA-256'],
  },
  {
    name: "an algorithm not supported, kept verbatim",
    input: 'Digest realm="r", nonce="n", algorithm=MD5-sess',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", algorithm: "MD5-sess" }],
    canonical: ['Digest realm="r", nonce="n", algorithm=MD5-sess'],
  },
  {
    name: "qop list in any case, blanks and empty entries",
    input: 'Digest realm="r", nonce="n", qop="Auth , ,AUTH-INT,"',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", qop: ["auth", "auth-int"] }],
    canonical: ['Digest realm="r", nonce="n", qop="auth,auth-int"'],
  },
  {
    name: "an empty qop list is no qop",
    input: 'Digest realm="r", nonce="n", qop=""',
    value: [{ scheme: "Digest", realm: "r", nonce: "n" }],
    canonical: ['Digest realm="r", nonce="n"'],
  },
  {
    name: "stale=true",
    input: 'Digest realm="r", nonce="n", stale=true',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", stale: true }],
    canonical: ['Digest realm="r", nonce="n", stale=TRUE'],
  },
  {
    name: 'stale="TRUE", quoted',
    input: 'Digest realm="r", nonce="n", stale="TRUE"',
    value: [{ scheme: "Digest", realm: "r", nonce: "n", stale: true }],
    canonical: ['Digest realm="r", nonce="n", stale=TRUE'],
  },
  {
    name: 'a camera\'s stale="FALSE" is left out',
    input: 'Digest realm="IP Camera(C6413)", nonce="6d2b3e", stale="FALSE"',
    value: [{ scheme: "Digest", realm: "IP Camera(C6413)", nonce: "6d2b3e" }],
    canonical: ['Digest realm="IP Camera(C6413)", nonce="6d2b3e"'],
  },
  {
    name: "stale=yes is not true (RFC 7616 §3.3)",
    input: 'Digest realm="r", nonce="n", stale=yes',
    value: [{ scheme: "Digest", realm: "r", nonce: "n" }],
    canonical: ['Digest realm="r", nonce="n"'],
  },
  {
    name: "parameters not modelled are ignored",
    input: 'Digest realm="r", domain="/ rtsp://h/", nonce="n", charset=UTF-8, userhash=true',
    value: [{ scheme: "Digest", realm: "r", nonce: "n" }],
    canonical: ['Digest realm="r", nonce="n"'],
  },
  {
    name: "a repeated parameter: the last wins",
    input: 'Digest realm="a", nonce="n", realm="b"',
    value: [{ scheme: "Digest", realm: "b", nonce: "n" }],
    canonical: ['Digest realm="b", nonce="n"'],
  },
  {
    name: "backslash escapes, written back escaped",
    input: 'Digest realm="a\\\\b\\"c\\d", nonce="n"',
    value: [{ scheme: "Digest", realm: 'a\\b"cd', nonce: "n" }],
    canonical: ['Digest realm="a\\\\b\\"cd", nonce="n"'],
  },
  {
    name: "empty realm and nonce, and a comma inside quotes",
    input: 'Digest realm="", nonce="", opaque="a, b"',
    value: [{ scheme: "Digest", realm: "", nonce: "", opaque: "a, b" }],
    canonical: ['Digest realm="", nonce="", opaque="a, b"'],
  },
  {
    name: "UTF-8 in a quoted realm",
    input: 'Digest realm="Kamera Flur (Jäsøn)", nonce="n"',
    value: [{ scheme: "Digest", realm: "Kamera Flur (Jäsøn)", nonce: "n" }],
    canonical: ['Digest realm="Kamera Flur (Jäsøn)", nonce="n"'],
  },
  {
    name: "Basic without realm",
    input: "Basic",
    value: [{ scheme: "Basic", realm: "" }],
    canonical: ['Basic realm=""'],
  },
  {
    name: "BASIC in capitals, blanks around",
    input: '  BASIC  realm = "x"  ',
    value: [{ scheme: "Basic", realm: "x" }],
    canonical: ['Basic realm="x"'],
  },
];

/** Schemes not modelled, and several challenges in one value. */
const OTHERS: ChallengeCase[] = [
  {
    name: "a bare scheme",
    input: "Negotiate",
    value: [{ scheme: "Negotiate", params: {} }],
    canonical: ["Negotiate"],
  },
  {
    name: "a token68",
    input: "Newauth abc==",
    value: [{ scheme: "Newauth", params: { "": "abc==" } }],
    canonical: ["Newauth abc=="],
  },
  {
    name: "RFC 6750 Bearer, parameter names lower-cased",
    input: 'Bearer realm="example", Error="invalid_token"',
    value: [{ scheme: "Bearer", params: { realm: "example", error: "invalid_token" } }],
    canonical: ['Bearer realm="example", error="invalid_token"'],
  },
  {
    name: "a parameter called __proto__ is kept as data",
    input: "X __proto__=1, constructor=2",
    value: [{
      scheme: "X",
      params: Object.fromEntries([["__proto__", "1"], ["constructor", "2"]]),
    }],
    canonical: ['X __proto__="1", constructor="2"'],
  },
  {
    name: "Basic and Digest in one value",
    input: 'Basic realm="r", Digest realm="r", nonce="n", stale=TRUE',
    value: [
      { scheme: "Basic", realm: "r" },
      { scheme: "Digest", realm: "r", nonce: "n", stale: true },
    ],
    canonical: ['Basic realm="r"', 'Digest realm="r", nonce="n", stale=TRUE'],
  },
  {
    name: "three bare and token68 schemes",
    input: "NTLM, Negotiate YIIGhg==, Basic",
    value: [
      { scheme: "NTLM", params: {} },
      { scheme: "Negotiate", params: { "": "YIIGhg==" } },
      { scheme: "Basic", realm: "" },
    ],
    canonical: ["NTLM", "Negotiate YIIGhg==", 'Basic realm=""'],
  },
];

/** Every table: the parse, serialize and round-trip tests and the fuzz seeds all draw on them. */
const ALL_CASES = [...PEERS, ...LOOSE, ...OTHERS];

async function parses(t: Deno.TestContext, cases: ChallengeCase[]): Promise<void> {
  for (const { name, input, value } of cases) {
    await t.step(name, () => assert.deepEqual(parseWwwAuthenticate(input), value));
  }
}

Deno.test("parseWwwAuthenticate() reads what live555, GStreamer and the RFCs send", async (t) => {
  await parses(t, PEERS);
});

Deno.test("parseWwwAuthenticate() tolerates blanks, case, quoting and odd stale and qop", async (t) => {
  await parses(t, LOOSE);
});

Deno.test("parseWwwAuthenticate() keeps other schemes and reads several challenges", async (t) => {
  await parses(t, OTHERS);
});

Deno.test("parseWwwAuthenticate() throws ParseError for unparsable values", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /empty value/],
    [" \t ", /empty value/],
    [",,", /empty value/],
    ['realm="r"', /a parameter before any scheme/],
    ["=x", /expected a scheme/],
    ['"Digest"', /expected a scheme/],
    ['Digest realm="r"', /Digest challenge without nonce/],
    ['Digest nonce="n"', /Digest challenge without realm/],
    ["Digest", /Digest challenge without realm/],
    ['Digest realm="r', /unclosed quote in the value of realm/],
    ['Digest realm="r\\', /unclosed quote in the value of realm/],
    ['Digest realm="r\r\nX: y", nonce="n"', /control character in the value of realm/],
    ['Digest realm="r\\\n", nonce="n"', /control character in the value of realm/],
    ['Digest realm="r", nonce="\u0000"', /control character in the value of nonce/],
    ["Digest nonce=n, realm=", /expected a value for realm/],
    ["Digest nonce=n, realm=, x=y", /expected a value for realm/],
    ["Digest realm=, nonce=n", /a parameter after a token68/], // "realm=" reads as a token68
    ['Digest realm=é, nonce="n"', /expected a value for realm/],
    ['Digest realm="r" nonce="n"', /expected "," after realm/],
    ['Digest realm="r", nonce="n"x', /expected "," after nonce/],
    ['Digest realm="r"; nonce="n"', /expected "," after realm/],
    ['Digest"realm"', /expected a blank after the scheme/],
    ["Digest abc==", /a Digest challenge needs parameters/],
    ["Basic abc==", /a Basic challenge needs parameters/],
    ['Newauth abc==, realm="x"', /a parameter after a token68/],
    ["Newauth abc/ x", /expected a token68 or parameters after the scheme/],
    ['Digest realm="r", nonce="n", =', /expected a parameter or a scheme/],
    ['Digest realm="r", nonce="n", algorithm="MD 5"', /bad algorithm "MD 5"/],
    ['Digest realm="r", nonce="n", algorithm=""', /bad algorithm ""/],
    ['Digest realm="r", nonce="n", qop="auth;x"', /bad qop option "auth;x"/],
    ['Digest realm="r", nonce="n", qop="a b"', /bad qop option "a b"/],
  ];
  for (const [input, message] of cases) {
    await t.step(JSON.stringify(input), () => {
      const error = catchError(() => parseWwwAuthenticate(input), ParseError);
      assert.match(error.message, /^Cannot parse WWW-Authenticate: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("parseWwwAuthenticate() reports where in the value the problem is", () => {
  const at = (input: string) => catchError(() => parseWwwAuthenticate(input), ParseError).offset;
  assert.equal(at('Digest realm="r" nonce="n"'), 17);
  assert.equal(at('Digest realm="r'), 13);
  assert.equal(at('  Digest nonce="n"'), 2);
  assert.equal(at('Basic realm="r", Digest realm="r"'), 17);
});

Deno.test("parseWwwAuthenticate() errors name the parameter, not its value", () => {
  for (const input of ['Digest realm="s3cr3t', 'Digest realm="s3cr3t\n"', "Digest s3cr3t x"]) {
    const error = catchError(() => parseWwwAuthenticate(input), ParseError);
    assert.doesNotMatch(error.message, /s3cr3t/, input);
  }
});

Deno.test("serializeWwwAuthenticate() writes loose input in canonical form", async (t) => {
  for (const { name, input, value, canonical } of ALL_CASES) {
    await t.step(name, () => {
      assert.deepEqual(parseWwwAuthenticate(input).map(serializeWwwAuthenticate), canonical);
      assert.deepEqual(value.map(serializeWwwAuthenticate), canonical);
      // Canonical output is a fixed point and reads back as the same value.
      assert.deepEqual(canonical.flatMap(parseWwwAuthenticate), value);
    });
  }
});

Deno.test("serializeWwwAuthenticate() writes the canonical order, realm and nonce first", () => {
  const value = serializeWwwAuthenticate({
    scheme: "Digest",
    opaque: "o",
    stale: true,
    qop: ["auth"],
    algorithm: "SHA-256",
    nonce: "n",
    realm: "r",
  });
  assert.equal(
    value,
    'Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth", stale=TRUE, opaque="o"',
  );
  // live555's client: sscanf(line, "Digest realm=\"%[^\"]\", nonce=\"%[^\"]\"", …).
  assert.match(value, /^Digest realm="[^"]+", nonce="[^"]+"/);
  assert.equal(
    serializeWwwAuthenticate({ scheme: "Digest", realm: "r", nonce: "n", stale: false, qop: [] }),
    'Digest realm="r", nonce="n"',
  );
});

Deno.test("serializeWwwAuthenticate() throws TypeError for a challenge it cannot write", async (t) => {
  const digest = { scheme: "Digest", realm: "r", nonce: "n" } as const;
  const cases: [string, AuthChallenge, RegExp][] = [
    ["a line break in realm", { ...digest, realm: "r\r\nX: y" }, /control character in realm/],
    ["a NUL in nonce", { ...digest, nonce: "\u0000" }, /control character in nonce/],
    ["a line break in opaque", { ...digest, opaque: "\n" }, /control character in opaque/],
    ["an algorithm with a blank", { ...digest, algorithm: "MD 5" }, /algorithm is not a token/],
    ["a quote in a qop option", { ...digest, qop: ['auth"'] }, /qop is not a token/],
    ["no nonce", { scheme: "Digest", realm: "r" } as AuthChallenge, /nonce is not a string/],
    ["a Basic realm with LF", { scheme: "Basic", realm: "\n" }, /control character in realm/],
    ["a scheme with a blank", { scheme: "My Auth", params: {} }, /the scheme is not a token/],
    ["digest spelled otherwise", { scheme: "digest", params: {} }, /spell the scheme/],
    ["a bad parameter name", { scheme: "X", params: { "a b": "1" } }, /a parameter name/],
    ["a line break in a parameter", { scheme: "X", params: { a: "\r" } }, /control character in a/],
    ["a token68 and parameters", { scheme: "X", params: { "": "abc", a: "1" } }, /token68/],
    ["a token68 with a blank", { scheme: "X", params: { "": "a b" } }, /not a token68/],
  ];
  for (const [name, challenge, message] of cases) {
    await t.step(name, () => {
      const error = catchError(() => serializeWwwAuthenticate(challenge), TypeError);
      assert.match(error.message, /^Cannot serialize WWW-Authenticate: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("parseWwwAuthenticate() results narrow by their fields", () => {
  // OtherChallenge's scheme is a string, so `scheme === "Digest"` alone does not narrow.
  const [challenge] = parseWwwAuthenticate('Digest realm="r", nonce="n", qop="auth"');
  assert.ok("nonce" in challenge);
  assert.deepEqual(challenge.qop, ["auth"]);
});

Deno.test("parseWwwAuthenticate() takes linear time over long runs of blanks", () => {
  const blanks = " ".repeat(100_000);
  const [challenge] = parseWwwAuthenticate(
    `Digest realm="r",${blanks}nonce="n", qop="${blanks}auth${blanks},${blanks}"`,
  );
  assert.ok("nonce" in challenge);
  assert.deepEqual(challenge.qop, ["auth"]);
});
