/**
 * The client's side of RTSP authentication (RFC 7616 Digest, RFC 7617
 * Basic): which challenge it picks, the Authorization it writes (each
 * `response` checked here independently with node:crypto), `nc` counting
 * up per nonce, one retry after a 401 and no more, `stale=true` answered
 * with the new nonce, and the error lines for wrong or missing credentials.
 *
 * First {@linkcode ClientAuthenticator} on its own (a fixed cnonce), then a
 * {@linkcode StreamClient} against a scripted fake server on 127.0.0.1 that
 * demands credentials and verifies every request.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ClientAuthenticator } from "../lib/session/client/client_auth.ts";
import { RtspClientError } from "../lib/session/client/rtsp_client.ts";
import { StreamClient, type StreamClientOptions } from "../lib/session/client/stream_client.ts";
import { fakeReply, fakeRtspServer } from "./_fake_rtsp.ts";
import {
  type Demand,
  demandingScript,
  expectedResponse,
  parseAuth,
  REALM,
  type Seen,
  sha256AndMd5,
} from "./_auth_check.ts";

// ---------------------------------------------------------------------------
// ClientAuthenticator on its own

const USER = { username: "name", password: "pa:ss wörd" };

Deno.test("ClientAuthenticator answers nothing before a challenge", () => {
  const auth = new ClientAuthenticator(USER);
  assert.equal(auth.authorization("DESCRIBE", "rtsp://h/v"), undefined);
  assert.equal(auth.scheme, undefined);
});

Deno.test("ClientAuthenticator picks the strongest usable challenge", async (t) => {
  const cases: {
    name: string;
    offers: string[];
    secure?: boolean;
    allowBasic?: boolean;
    pick: string;
  }[] = [
    {
      name: "SHA-256 over MD5, in two headers",
      offers: ['Digest realm="r", nonce="n1"', 'Digest realm="r", nonce="n2", algorithm=SHA-256'],
      pick: "Digest SHA-256 n2",
    },
    {
      name: "SHA-256 over MD5 and Basic, in one header",
      offers: [
        'Basic realm="r", Digest realm="r", nonce="n1", algorithm=MD5, Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth"',
      ],
      secure: true,
      pick: "Digest SHA-256 n2",
    },
    {
      name: "Digest MD5 over Basic, even over TLS",
      offers: ['Basic realm="r"', 'Digest realm="r", nonce="n1"'],
      secure: true,
      pick: "Digest MD5 n1",
    },
    {
      name: "MD5 when SHA-256 offers only qop=auth-int",
      offers: [
        'Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth-int"',
        'Digest realm="r", nonce="n1", qop="auth,auth-int"',
      ],
      pick: "Digest MD5 n1",
    },
    {
      name: "MD5 over unsupported algorithms",
      offers: [
        'Digest realm="r", nonce="n3", algorithm=SHA-512-256',
        'Digest realm="r", nonce="n4", algorithm=MD5-sess',
        'Digest realm="r", nonce="n1", algorithm=md5',
      ],
      pick: "Digest MD5 n1", // the parser spells it canonically
    },
    {
      name: "Basic over TLS",
      offers: ['Basic realm="r"'],
      secure: true,
      pick: "Basic",
    },
    {
      name: "Basic over plain TCP with allowBasic",
      offers: ['Basic realm="r"'],
      allowBasic: true,
      pick: "Basic",
    },
    {
      name: "a header that does not parse is passed over",
      offers: ['Digest realm="unterminated', 'Digest realm="r", nonce="n1"'],
      pick: "Digest MD5 n1",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const auth = new ClientAuthenticator(USER, {
        secure: c.secure,
        allowBasic: c.allowBasic,
        cnonce: () => "c",
      });
      const result = auth.challenge(c.offers);
      assert.equal(result.usable, true, JSON.stringify(result));
      const value = auth.authorization("DESCRIBE", "rtsp://h/v")!;
      const { scheme, params } = parseAuth(value);
      const picked = scheme === "Basic"
        ? "Basic"
        : `Digest ${params.algorithm ?? "MD5"} ${params.nonce}`;
      assert.equal(picked, c.pick, value);
    });
  }
});

Deno.test("ClientAuthenticator says why it cannot answer, without a secret", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["Basic over plain TCP", ['Basic realm="r"'], /only Basic is offered.*--allow-basic/],
    [
      "unsupported schemes and algorithms",
      ['Bearer realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256'],
      /no supported authentication scheme is offered \(Bearer, Digest SHA-512-256\)/,
    ],
    ["auth-int only", ['Digest realm="r", nonce="n", qop="auth-int"'], /Digest MD5 qop=auth-int/],
    ["nothing", [], /no authentication scheme that can be read/],
    ["garbage", ["\x01"], /no authentication scheme that can be read/],
  ];
  for (const [name, offers, reason] of cases) {
    await t.step(name, () => {
      const auth = new ClientAuthenticator(USER);
      const result = auth.challenge(offers);
      assert.equal(result.usable, false);
      if (!result.usable) {
        assert.match(result.reason, reason);
        assert.ok(!result.reason.includes(USER.password));
      }
      assert.equal(auth.authorization("DESCRIBE", "rtsp://h/v"), undefined);
    });
  }
});

Deno.test("ClientAuthenticator counts nc up per nonce, draws a cnonce per request, and restarts on a new nonce", () => {
  let drawn = 0;
  const auth = new ClientAuthenticator(USER, { cnonce: () => `cn${++drawn}` });
  const challenge = 'Digest realm="lab", nonce="abc", algorithm=SHA-256, qop="auth", opaque="op"';
  assert.deepEqual(auth.challenge([challenge]), {
    usable: true,
    scheme: "Digest",
    stale: false,
    renewed: false,
  });
  const ncs: string[] = [];
  for (let i = 1; i <= 17; i++) {
    const uri = `rtsp://127.0.0.1:8554/v/trackID=${i}`;
    const { scheme, params, quoted } = parseAuth(auth.authorization("PLAY", uri)!);
    assert.equal(scheme, "Digest");
    assert.equal(params.username, "name");
    assert.equal(params.realm, "lab");
    assert.equal(params.nonce, "abc");
    assert.equal(params.uri, uri);
    assert.equal(params.algorithm, "SHA-256");
    assert.equal(params.qop, "auth");
    assert.equal(params.cnonce, `cn${i}`);
    assert.equal(params.opaque, "op");
    assert.ok(!quoted.has("nc") && !quoted.has("qop"), "nc and qop are tokens (RFC 7616 §3.4)");
    assert.equal(params.response, expectedResponse(params, "PLAY", USER.password));
    ncs.push(params.nc);
  }
  assert.equal(ncs[0], "00000001");
  assert.equal(ncs[9], "0000000a");
  assert.equal(ncs[16], "00000011");
  // The same nonce again (e.g. a server repeating its challenge): the count goes on.
  assert.equal(auth.challenge([challenge]).usable, true);
  assert.equal(parseAuth(auth.authorization("PLAY", "rtsp://h/v")!).params.nc, "00000012");
  // stale=true with a new nonce: the count starts again.
  const stale = auth.challenge([
    'Digest realm="lab", nonce="def", algorithm=SHA-256, qop="auth", stale=TRUE',
  ]);
  assert.deepEqual(stale, { usable: true, scheme: "Digest", stale: true, renewed: true });
  const { params } = parseAuth(auth.authorization("TEARDOWN", "rtsp://h/v")!);
  assert.equal(params.nonce, "def");
  assert.equal(params.nc, "00000001");
  assert.equal(params.response, expectedResponse(params, "TEARDOWN", USER.password));
});

Deno.test("ClientAuthenticator writes the RFC 2069 form without qop, and Basic as base64", () => {
  const auth = new ClientAuthenticator(USER, {
    cnonce: () => assert.fail("no cnonce without qop"),
  });
  auth.challenge(['Digest realm="lab", nonce="n\\"1"']);
  const { params } = parseAuth(auth.authorization("DESCRIBE", "rtsp://h/v")!);
  assert.deepEqual(Object.keys(params).sort(), ["nonce", "realm", "response", "uri", "username"]);
  assert.equal(params.nonce, 'n"1');
  assert.equal(params.response, expectedResponse(params, "DESCRIBE", USER.password));

  const basic = new ClientAuthenticator(USER, { secure: true });
  basic.challenge(['Basic realm="lab"']);
  const value = basic.authorization("DESCRIBE", "rtsp://h/v")!;
  const parsed = parseAuth(value);
  assert.equal(parsed.scheme, "Basic");
  assert.equal(Buffer.from(parsed.params[""], "base64").toString("utf8"), "name:pa:ss wörd");
});

// ---------------------------------------------------------------------------
// StreamClient against a fake server that demands credentials

interface ClientRun {
  seen: Seen[];
  port: number;
  error?: RtspClientError;
}

/** DESCRIBE, SETUP, PLAY and TEARDOWN against a demanding fake server; the error if one failed. */
async function runAgainst(
  demand: Demand,
  options: Partial<StreamClientOptions> & { path?: (port: number) => string },
): Promise<ClientRun> {
  const seen: Seen[] = [];
  await using fake = fakeRtspServer(demandingScript(demand, seen));
  const { path, ...rest } = options;
  let client: StreamClient | undefined;
  try {
    client = await StreamClient.open({
      host: "127.0.0.1",
      port: fake.port,
      rtpPort: 0,
      resource: path ? path(fake.port) : "video.mjpeg",
      dialect: "rtsp",
      replyTimeoutMs: 2000,
      ...rest,
    });
    await client.setup();
    await client.play();
    await client.teardown();
    return { seen, port: fake.port };
  } catch (error) {
    if (!(error instanceof RtspClientError)) throw error;
    return { seen, port: fake.port, error };
  } finally {
    await client?.close();
  }
}

/** The Digest parameters of each request after the first (each verified by the server). */
function digestParams(run: ClientRun): Record<string, string>[] {
  return run.seen.slice(1).map((s) => parseAuth(s.authorization!).params);
}

Deno.test("StreamClient: Digest with SHA-256 and MD5 offered: SHA-256, qop=auth, nc up, one retry", async () => {
  const run = await runAgainst(
    { offers: sha256AndMd5, username: "name", password: "secret" },
    { username: "name", password: "secret" },
  );
  assert.equal(run.error, undefined, run.error?.message);
  assert.deepEqual(
    run.seen.map((s) => `${s.method} ${s.status}`),
    ["DESCRIBE 401", "DESCRIBE 200", "SETUP 200", "PLAY 200", "TEARDOWN 200"],
  );
  assert.equal(run.seen[0].authorization, undefined, "nothing before the challenge");
  const params = digestParams(run);
  assert.deepEqual(params.map((p) => p.algorithm), ["SHA-256", "SHA-256", "SHA-256", "SHA-256"]);
  assert.deepEqual(params.map((p) => p.nc), ["00000001", "00000002", "00000003", "00000004"]);
  assert.ok(params.every((p) => p.qop === "auth" && /^[0-9a-f]{32}$/.test(p.cnonce)));
  assert.equal(new Set(params.map((p) => p.cnonce)).size, 4, "a fresh cnonce per request");
  assert.equal(params[1].uri, `rtsp://127.0.0.1:${run.port}/video.mjpeg/trackID=0`, "SETUP's URI");
});

Deno.test("StreamClient: Digest MD5 only, with qop=auth and without qop (RFC 2069)", async (t) => {
  for (const qop of [true, false]) {
    await t.step(qop ? "qop=auth" : "no qop", async () => {
      const run = await runAgainst({
        offers: (
          nonce,
        ) => [`Digest realm="${REALM}", nonce="${nonce}"${qop ? ', qop="auth"' : ""}`],
        username: "name",
        password: "secret",
      }, { username: "name", password: "secret" });
      assert.equal(run.error, undefined, run.error?.message);
      assert.deepEqual(run.seen.map((s) => s.status), [401, 200, 200, 200, 200]);
      for (const p of digestParams(run)) {
        assert.equal(p.algorithm, undefined, "no algorithm when the challenge named none");
        if (qop) assert.equal(p.qop, "auth");
        else assert.deepEqual([p.qop, p.nc, p.cnonce], [undefined, undefined, undefined]);
      }
      if (qop) assert.deepEqual(digestParams(run).map((p) => p.nc).at(-1), "00000004");
    });
  }
});

Deno.test("StreamClient: stale=true on the second request is answered with the new nonce, nc from 1", async () => {
  const run = await runAgainst(
    { offers: sha256AndMd5, username: "name", password: "secret", staleAt: 1 },
    { username: "name", password: "secret" },
  );
  assert.equal(run.error, undefined, run.error?.message);
  assert.deepEqual(
    run.seen.map((s) => `${s.method} ${s.status}`),
    ["DESCRIBE 401", "DESCRIBE 200", "SETUP 401", "SETUP 200", "PLAY 200", "TEARDOWN 200"],
  );
  const params = digestParams(run);
  assert.deepEqual(
    params.map((p) => `${p.nonce} ${p.nc}`),
    [
      "nonce-1 00000001",
      "nonce-1 00000002",
      "nonce-2 00000001",
      "nonce-2 00000002",
      "nonce-2 00000003",
    ],
  );
});

Deno.test("StreamClient: Basic over plain TCP only with allowBasic", async (t) => {
  const demand: Demand = {
    offers: () => [`Basic realm="${REALM}"`],
    username: "name",
    password: "p:ss",
  };
  await t.step("allowBasic", async () => {
    const run = await runAgainst(demand, { username: "name", password: "p:ss", allowBasic: true });
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(run.seen.map((s) => s.status), [401, 200, 200, 200, 200]);
    for (const s of run.seen.slice(1)) {
      assert.equal(s.authorization, `Basic ${btoa("name:p:ss")}`);
    }
  });
  await t.step("without allowBasic: an error, no retry, no password sent", async () => {
    const run = await runAgainst(demand, { username: "name", password: "p:ss" });
    assert.ok(run.error, "an error");
    assert.equal(run.error.status, 401);
    assert.match(
      run.error.message,
      /^401 Unauthorized: cannot answer for rtsp:\/\/127\.0\.0\.1:\d+\/video\.mjpeg: only Basic is offered/,
    );
    assert.deepEqual(run.seen.map((s) => `${s.method} ${s.authorization}`), [
      "DESCRIBE undefined",
    ]);
  });
});

Deno.test("StreamClient: wrong credentials end with the 401 line after exactly one retry", async (t) => {
  const offers = [
    ["Digest", sha256AndMd5],
    ["Basic", () => [`Basic realm="${REALM}"`]],
  ] as const;
  for (const [scheme, offer] of offers) {
    for (const wrong of ["password", "name"]) {
      await t.step(`${scheme}, wrong ${wrong}`, async () => {
        const run = await runAgainst(
          { offers: offer, username: "name", password: "secret" },
          {
            username: wrong === "name" ? "other" : "name",
            password: wrong === "password" ? "not-the-secret" : "secret",
            allowBasic: true,
          },
        );
        assert.ok(run.error, "an error");
        assert.equal(run.error.status, 401);
        assert.equal(
          run.error.message,
          `401 Unauthorized: wrong name or password for rtsp://127.0.0.1:${run.port}/video.mjpeg`,
        );
        assert.deepEqual(run.seen.map((s) => `${s.method} ${s.status}`), [
          "DESCRIBE 401",
          "DESCRIBE 401",
        ]);
      });
    }
  }
});

Deno.test("StreamClient: a 401 without credentials says they are needed", async () => {
  const run = await runAgainst(
    { offers: sha256AndMd5, username: "name", password: "secret" },
    {},
  );
  assert.ok(run.error);
  assert.equal(run.error.status, 401);
  assert.match(
    run.error.message,
    /^401 Unauthorized: rtsp:\/\/127\.0\.0\.1:\d+\/video\.mjpeg needs a name and password/,
  );
  assert.equal(run.seen.length, 1, "no retry");
});

Deno.test("StreamClient: credentials from the URL, percent-decoded; the userinfo never sent", async () => {
  const run = await runAgainst(
    { offers: sha256AndMd5, username: "us er", password: "pa@ss:wörd" },
    { path: (port) => `rtsp://us%20er:pa%40ss:w%C3%B6rd@127.0.0.1:${port}/video.mjpeg` },
  );
  assert.equal(run.error, undefined, run.error?.message);
  assert.deepEqual(run.seen.map((s) => s.status), [401, 200, 200, 200, 200]);
  for (const s of run.seen) {
    assert.ok(s.uri.startsWith(`rtsp://127.0.0.1:${run.port}/video.mjpeg`), s.uri);
  }
  assert.equal(digestParams(run)[0].username, "us er");
});

Deno.test("StreamClient: the options' credentials win over the URL's", async () => {
  const run = await runAgainst(
    { offers: sha256AndMd5, username: "name", password: "right" },
    {
      path: (port) => `rtsp://other:wrong@127.0.0.1:${port}/video.mjpeg`,
      username: "name",
      password: "right",
    },
  );
  assert.equal(run.error, undefined, run.error?.message);
});

Deno.test("StreamClient: a 401 on a later request without stale and on the same nonce is wrong credentials", async () => {
  const seen: Seen[] = [];
  const script = demandingScript(
    { offers: sha256AndMd5, username: "name", password: "secret" },
    seen,
  );
  // PLAY is refused although its credentials are right, as if the password had changed.
  await using fake = fakeRtspServer((request, n) =>
    request.method === "PLAY"
      ? fakeReply(request, 401, [["WWW-Authenticate", sha256AndMd5("nonce-1", false)[1]]])
      : script(request, n)
  );
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port: fake.port,
    rtpPort: 0,
    resource: "video.mjpeg",
    dialect: "rtsp",
    username: "name",
    password: "secret",
  });
  try {
    await client.setup();
    const error = await client.play().then(() => undefined, (e) => e);
    assert.ok(error instanceof RtspClientError, String(error));
    assert.match(error.message, /^401 Unauthorized: wrong name or password for /);
    assert.deepEqual(fake.requests.map((r) => r.method), ["DESCRIBE", "DESCRIBE", "SETUP", "PLAY"]);
  } finally {
    await client.close();
  }
});
