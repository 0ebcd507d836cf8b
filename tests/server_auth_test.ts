/**
 * Who may watch, over raw RTSP: 401 with Digest (SHA-256 and MD5)
 * challenges, Digest with and without qop, Basic only over TLS or when
 * allowed, stale and foreign nonces, the limit on failures, sessions owned by
 * their user, RTSP over TLS, and no secret in the log. Digests are computed
 * here with node:crypto, independently of lib/.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseReply, RawConn, req, sinkPair, sleep, waitUntil } from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";
import { makeCertificate } from "./_tls.ts";

const USER = "alice";
const PASSWORD = "s3cret:with colon";
const REALM = "rtsp-lab";

const hash = (algorithm: "MD5" | "SHA-256", text: string) =>
  createHash(algorithm === "MD5" ? "md5" : "sha256").update(text).digest("hex");

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The WWW-Authenticate challenges of a raw reply, in order (one per header line). */
function challengesOf(raw: string): Challenge[] {
  return parseReply(raw).lines.filter(([name]) => name.toLowerCase() === "www-authenticate")
    .map(([, value]) => {
      const [scheme] = value.split(" ", 1);
      const params: Record<string, string> = {};
      for (const m of value.slice(scheme.length).matchAll(/(\w+)=("([^"]*)"|[^,\s]*)/g)) {
        params[m[1].toLowerCase()] = m[3] ?? m[2];
      }
      return { scheme, params };
    });
}

/** An Authorization header answering a Digest challenge, the way a client computes it. */
function digest(
  challenge: Challenge,
  method: string,
  uri: string,
  options: { user?: string; password?: string; qop?: boolean; nc?: number } = {},
): string {
  const algorithm = (challenge.params.algorithm ?? "MD5") as "MD5" | "SHA-256";
  const user = options.user ?? USER;
  const ha1 = hash(algorithm, `${user}:${challenge.params.realm}:${options.password ?? PASSWORD}`);
  const ha2 = hash(algorithm, `${method}:${uri}`);
  const nonce = challenge.params.nonce;
  if (options.qop) {
    const nc = (options.nc ?? 1).toString(16).padStart(8, "0");
    const cnonce = "0a4f113b";
    const response = hash(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    return `Digest username="${user}", realm="${challenge.params.realm}", nonce="${nonce}", ` +
      `uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, ` +
      `cnonce="${cnonce}"`;
  }
  const response = hash(algorithm, `${ha1}:${nonce}:${ha2}`);
  return `Digest username="${user}", realm="${challenge.params.realm}", nonce="${nonce}", ` +
    `uri="${uri}", response="${response}"${algorithm === "MD5" ? "" : `, algorithm=${algorithm}`}`;
}

const basic = (user: string, password: string) =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;

const status = (raw: string) => parseReply(raw).status;

/** A server with one user, and the challenges of a first DESCRIBE. */
async function withAuthServer(
  extra: Parameters<typeof startServer>[0] = {},
): Promise<TestServer> {
  return await startServer({ users: [{ name: USER, password: PASSWORD }], ...extra });
}

async function challenge(conn: RawConn, url: string, cseq = 1): Promise<Challenge[]> {
  const reply = await conn.request(req("DESCRIBE", url, { CSeq: cseq }));
  assert.equal(status(reply), 401, reply);
  return challengesOf(reply);
}

Deno.test("with users, a request without credentials is 401 with Digest SHA-256 and MD5 challenges; OPTIONS is not", async () => {
  await using srv = await withAuthServer();
  await using conn = await RawConn.connect(srv.port);
  const options = await conn.request(req("OPTIONS", "*", { CSeq: 1 }));
  assert.equal(status(options), 200, "OPTIONS needs no credentials");
  const reply = await conn.request(req("DESCRIBE", srv.url("video.mjpeg"), { CSeq: 2 }));
  assert.equal(status(reply), 401);
  assert.match(reply, /\r\nCSeq: 2\r\n/);
  const challenges = challengesOf(reply);
  assert.deepEqual(challenges.map((c) => [c.scheme, c.params.algorithm]), [
    ["Digest", "SHA-256"],
    ["Digest", "MD5"],
  ], "SHA-256 first, MD5 for the clients that know only it; no Basic over plain TCP");
  for (const c of challenges) {
    assert.equal(c.params.realm, REALM);
    assert.equal(c.params.qop, "auth");
    assert.ok(c.params.nonce.length >= 16);
    assert.equal(c.params.stale, undefined);
  }
  assert.match(srv.logs.at(-1)!, / 401 \(no credentials\)$/);
});

Deno.test("Digest MD5 without qop (RFC 2069) and SHA-256 with qop=auth are accepted; a wrong response is 401", async (t) => {
  await using srv = await withAuthServer();
  const url = srv.url("video.mjpeg");
  for (const [algorithm, qop] of [["MD5", false], ["SHA-256", true], ["MD5", true]] as const) {
    await t.step(`${algorithm}${qop ? " qop=auth" : ""}`, async () => {
      await using conn = await RawConn.connect(srv.port);
      const c = (await challenge(conn, url)).find((x) => x.params.algorithm === algorithm)!;
      const ok = await conn.request(
        req("DESCRIBE", url, { CSeq: 2, Authorization: digest(c, "DESCRIBE", url, { qop }) }),
      );
      assert.equal(status(ok), 200, ok);
      assert.match(ok, /m=video 0 RTP\/AVP 26/);
      const wrong = await conn.request(
        req("DESCRIBE", url, {
          CSeq: 3,
          Authorization: digest(c, "DESCRIBE", url, { qop, password: "wrong" }),
        }),
      );
      assert.equal(status(wrong), 401);
      const otherUser = await conn.request(
        req("DESCRIBE", url, {
          CSeq: 4,
          Authorization: digest(c, "DESCRIBE", url, { qop, user: "mallory" }),
        }),
      );
      assert.equal(status(otherUser), 401, "an unknown user is 401 too");
    });
  }
});

Deno.test("a whole session with Digest: SETUP, PLAY (frames arrive), TEARDOWN, each with credentials", async () => {
  await using srv = await withAuthServer();
  await using sinks = await sinkPair();
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  const c = (await challenge(conn, url)).find((x) => x.params.algorithm === "MD5")!;
  const auth = (method: string, uri: string) => digest(c, method, uri, { qop: true, nc: 2 });
  const setup = await conn.request(
    req("SETUP", `${url}/trackID=0`, {
      CSeq: 2,
      Transport: `RTP/AVP;unicast;client_port=${sinks.rtp.port}-${sinks.rtcp.port}`,
      Authorization: auth("SETUP", `${url}/trackID=0`),
    }),
  );
  assert.equal(status(setup), 200, setup);
  const session = /Session: (\d+)/.exec(setup)![1];
  const play = await conn.request(
    req("PLAY", url, { CSeq: 3, Session: session, Authorization: auth("PLAY", url) }),
  );
  assert.equal(status(play), 200, play);
  assert.ok(await sinks.rtp.waitFor(20, 3000), "RTP flows");
  const noAuth = await conn.request(req("PAUSE", url, { CSeq: 4, Session: session }));
  assert.equal(status(noAuth), 401, "every request needs credentials, PAUSE too");
  const teardown = await conn.request(
    req("TEARDOWN", url, { CSeq: 5, Session: session, Authorization: auth("TEARDOWN", url) }),
  );
  assert.equal(status(teardown), 200);
});

Deno.test("an expired nonce is 401 stale=true with a new nonce; a nonce another server made is 401, not stale", async () => {
  await using srv = await withAuthServer({ nonceLifetime: 0.3 });
  await using other = await withAuthServer();
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  const c = (await challenge(conn, url)).find((x) => x.params.algorithm === "MD5")!;
  const fresh = await conn.request(
    req("DESCRIBE", url, { CSeq: 2, Authorization: digest(c, "DESCRIBE", url) }),
  );
  assert.equal(status(fresh), 200);
  await sleep(400);
  const replay = await conn.request(
    req("DESCRIBE", url, { CSeq: 3, Authorization: digest(c, "DESCRIBE", url) }),
  );
  assert.equal(status(replay), 401);
  const renewed = challengesOf(replay);
  assert.ok(renewed.every((x) => x.params.stale?.toLowerCase() === "true"), replay);
  assert.notEqual(renewed[1].params.nonce, c.params.nonce);
  const again = await conn.request(
    req("DESCRIBE", url, { CSeq: 4, Authorization: digest(renewed[1], "DESCRIBE", url) }),
  );
  assert.equal(status(again), 200, "the new nonce works");

  await using otherConn = await RawConn.connect(other.port);
  const foreign = (await challenge(otherConn, other.url("video.mjpeg")))[1];
  const refused = await conn.request(
    req("DESCRIBE", url, { CSeq: 5, Authorization: digest(foreign, "DESCRIBE", url) }),
  );
  assert.equal(status(refused), 401);
  assert.ok(challengesOf(refused).every((x) => x.params.stale === undefined), refused);
  assert.match(srv.logs.at(-1)!, /401 \(a nonce this server did not make\)/);
});

Deno.test("Basic over plain TCP is 401 unless allowed; then it works, and a wrong password is 401", async () => {
  {
    await using srv = await withAuthServer();
    await using conn = await RawConn.connect(srv.port);
    const url = srv.url("video.mjpeg");
    const reply = await conn.request(
      req("DESCRIBE", url, { CSeq: 1, Authorization: basic(USER, PASSWORD) }),
    );
    assert.equal(status(reply), 401);
    assert.match(srv.logs.at(-1)!, /Basic credentials over plain TCP are not accepted/);
  }
  await using srv = await withAuthServer({ allowBasic: true });
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  const first = await conn.request(req("DESCRIBE", url, { CSeq: 1 }));
  assert.deepEqual(challengesOf(first).map((c) => c.scheme), ["Digest", "Digest", "Basic"]);
  const ok = await conn.request(
    req("DESCRIBE", url, { CSeq: 2, Authorization: basic(USER, PASSWORD) }),
  );
  assert.equal(status(ok), 200);
  const wrong = await conn.request(
    req("DESCRIBE", url, { CSeq: 3, Authorization: basic(USER, "nope") }),
  );
  assert.equal(status(wrong), 401);
});

Deno.test("a connection that fails authentication 10 times is closed; the server serves others", async () => {
  await using srv = await withAuthServer();
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  for (let i = 1; i <= 10; i++) {
    const reply = await conn.request(
      req("DESCRIBE", url, { CSeq: i, Authorization: basic(USER, `guess${i}`) }),
    );
    assert.equal(status(reply), 401, `attempt ${i}`);
  }
  assert.ok(await conn.waitClosed(2000), "closed after the 10th failure");
  assert.ok(srv.logs.some((l) => /closed after 10 failed authentications/.test(l)));
  await using next = await RawConn.connect(srv.port);
  const c = (await challenge(next, url)).find((x) => x.params.algorithm === "SHA-256")!;
  const ok = await next.request(
    req("DESCRIBE", url, { CSeq: 2, Authorization: digest(c, "DESCRIBE", url) }),
  );
  assert.equal(status(ok), 200, "another connection is served");
});

Deno.test("a session belongs to the user who made it: another user on the connection gets 454", async () => {
  await using srv = await startServer({
    users: [{ name: USER, password: PASSWORD }, { name: "bob", password: "hunter2" }],
  });
  await using sinks = await sinkPair();
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  const c = (await challenge(conn, url)).find((x) => x.params.algorithm === "MD5")!;
  const setup = await conn.request(
    req("SETUP", `${url}/trackID=0`, {
      CSeq: 2,
      Transport: `RTP/AVP;unicast;client_port=${sinks.rtp.port}-${sinks.rtcp.port}`,
      Authorization: digest(c, "SETUP", `${url}/trackID=0`),
    }),
  );
  const session = /Session: (\d+)/.exec(setup)![1];
  const asBob = await conn.request(
    req("PLAY", url, {
      CSeq: 3,
      Session: session,
      Authorization: digest(c, "PLAY", url, { user: "bob", password: "hunter2" }),
    }),
  );
  assert.equal(status(asBob), 454, asBob);
  const asAlice = await conn.request(
    req("PLAY", url, { CSeq: 4, Session: session, Authorization: digest(c, "PLAY", url) }),
  );
  assert.equal(status(asAlice), 200);
});

Deno.test("the lab dialect cannot authenticate: 401, and the log says why", async () => {
  await using srv = await withAuthServer();
  await using sinks = await sinkPair();
  await using conn = await RawConn.connect(srv.port);
  const reply = await conn.request(
    `SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sinks.rtp.port}`,
  );
  assert.equal(status(reply), 401);
  assert.match(srv.logs.at(-1)!, /the lab dialect cannot authenticate/);
  assert.equal(srv.server.sessions.size, 0);
});

Deno.test("no password, HA1 or Authorization reaches the log", async () => {
  await using srv = await withAuthServer({ allowBasic: true });
  await using conn = await RawConn.connect(srv.port);
  const url = srv.url("video.mjpeg");
  const c = (await challenge(conn, url)).find((x) => x.params.algorithm === "MD5")!;
  const secrets = [
    PASSWORD,
    hash("MD5", `${USER}:${REALM}:${PASSWORD}`),
    hash("SHA-256", `${USER}:${REALM}:${PASSWORD}`),
  ];
  const requests = [
    req("DESCRIBE", url, { CSeq: 2, Authorization: digest(c, "DESCRIBE", url) }),
    req("DESCRIBE", url, {
      CSeq: 3,
      Authorization: digest(c, "DESCRIBE", url, { password: PASSWORD + "x" }),
    }),
    req("DESCRIBE", url, { CSeq: 4, Authorization: basic(USER, PASSWORD) }),
    req("DESCRIBE", url, { CSeq: 5, Authorization: basic(USER, PASSWORD + "x") }),
    req("DESCRIBE", url, { CSeq: 6, Authorization: `Basic ${btoa(PASSWORD)}` }),
    req("DESCRIBE", url, { CSeq: 7, Authorization: `Digest ${PASSWORD}` }),
    req("DESCRIBE", url.replace("rtsp://", `rtsp://${USER}:${PASSWORD}@`), { CSeq: 8 }),
  ];
  for (const request of requests) await conn.request(request);
  const log = srv.logText();
  for (const secret of secrets) assert.ok(!log.includes(secret), `the log holds a secret:\n${log}`);
  // Nor any Authorization value: no Basic token, no Digest parameters.
  assert.ok(!/(Basic|Digest) [A-Za-z0-9+/=]{6,}|response=|username=/.test(log), log);
});

Deno.test("RTSP over TLS: Basic works there, UDP is 461 (media would leave the TLS), interleaved media flows", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await using srv = await withAuthServer({ tls: { port: 0, cert: cert.cert, key: cert.key } });
  const tlsPort = srv.server.tlsAddr!.port;
  await using conn = await RawConn.connectTls(tlsPort, cert.ca);
  const url = `rtsps://127.0.0.1:${tlsPort}/video.mjpeg`;
  const first = await conn.request(req("DESCRIBE", url, { CSeq: 1 }));
  assert.deepEqual(challengesOf(first).map((c) => c.scheme), ["Digest", "Digest", "Basic"]);
  const auth = basic(USER, PASSWORD);
  assert.equal(
    status(await conn.request(req("DESCRIBE", url, { CSeq: 2, Authorization: auth }))),
    200,
  );
  await using sinks = await sinkPair();
  const udp = await conn.request(
    req("SETUP", `${url}/trackID=0`, {
      CSeq: 3,
      Authorization: auth,
      Transport: `RTP/AVP;unicast;client_port=${sinks.rtp.port}-${sinks.rtcp.port}`,
    }),
  );
  assert.equal(status(udp), 461, udp);
  assert.match(srv.logs.at(-1)!, /unencrypted/);
  const tcp = await conn.request(
    req("SETUP", `${url}/trackID=0`, {
      CSeq: 4,
      Authorization: auth,
      Transport: "RTP/AVP/TCP;unicast;interleaved=0-1",
    }),
  );
  assert.equal(status(tcp), 200, tcp);
  const session = /Session: (\d+)/.exec(tcp)![1];
  await conn.send(req("PLAY", url, { CSeq: 5, Session: session, Authorization: auth }));
  const data = await conn.readFor(500);
  assert.match(data, /RTSP\/1\.0 200 OK/);
  assert.ok(data.split("$").length > 10, "interleaved RTP follows the PLAY reply");
});

Deno.test("plain RTSP on the TLS port, and a TLS handshake on the plain port, close that connection and nothing else", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await using srv = await startServer({ tls: { port: 0, cert: cert.cert, key: cert.key } });
  const tlsPort = srv.server.tlsAddr!.port;
  await using plainOnTls = await RawConn.connect(tlsPort);
  await plainOnTls.send(req("OPTIONS", "*", { CSeq: 1 }));
  assert.ok(await plainOnTls.waitClosed(3000), "plain text on the TLS port: closed");

  const tlsOnPlain = Deno.connectTls({
    hostname: "127.0.0.1",
    port: srv.port,
    caCerts: [cert.ca],
  });
  const conn = await tlsOnPlain;
  await assert.rejects(conn.handshake(), "a TLS handshake on the plain port fails");
  conn.close();
  assert.ok(await waitUntil(() => srv.logs.some((l) => / 400 /.test(l)), 2000), srv.logText());

  await using good = await RawConn.connectTls(tlsPort, cert.ca);
  const ok = await good.request(req("OPTIONS", "*", { CSeq: 1 }));
  assert.equal(status(ok), 200, "and the TLS port still serves");
  await using plain = await RawConn.connect(srv.port);
  assert.equal(status(await plain.request(req("OPTIONS", "*", { CSeq: 1 }))), 200);
});
