/**
 * When the server has users, its HTTP side asks for the same ones: Digest
 * (SHA-256 or MD5) as browsers speak it, Basic only when allowed (the HTTP
 * side is plain HTTP). Digest responses here are computed with node:crypto,
 * independently of lib/.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startServer } from "./_server.ts";
import { dumpDom, haveChromium, rawHttp } from "./_web.ts";

const USERS = [{ name: "alice", password: "s3cret" }];

function h(algorithm: "MD5" | "SHA-256", text: string): string {
  return createHash(algorithm === "MD5" ? "md5" : "sha256").update(text).digest("hex");
}

/** The parameters of one `Digest …` challenge. */
function digestParams(challenge: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of challenge.matchAll(/([a-z]+)=(?:"([^"]*)"|([^,\s]+))/gi)) {
    params[m[1].toLowerCase()] = m[2] ?? m[3];
  }
  return params;
}

/** Authorization for `GET path` answering `challenge` (RFC 7616 §3.4.1, qop=auth). */
function digestAuthorization(
  challenge: string,
  path: string,
  password = USERS[0].password,
): string {
  const p = digestParams(challenge);
  const algorithm = p.algorithm as "MD5" | "SHA-256";
  const cnonce = "0a4f113b";
  const nc = "00000001";
  const ha1 = h(algorithm, `${USERS[0].name}:${p.realm}:${password}`);
  const ha2 = h(algorithm, `GET:${path}`);
  const response = h(algorithm, `${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${USERS[0].name}", realm="${p.realm}", nonce="${p.nonce}", ` +
    `uri="${path}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", ` +
    `response="${response}"`;
}

function get(port: number, path: string, authorization?: string) {
  const auth = authorization === undefined ? "" : `Authorization: ${authorization}\r\n`;
  return rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`);
}

/** The WWW-Authenticate challenges of a 401 (the raw reply joins repeated headers with ", "). */
function challenges(header: string | undefined): string[] {
  return (header ?? "").split(/,\s*(?=(?:Digest|Basic)\s)/);
}

Deno.test("with users, every HTTP path asks for them: Digest SHA-256 or MD5, no Basic over plain HTTP", async () => {
  await using srv = await startServer({ httpPort: 0, users: USERS });
  const port = srv.server.httpAddr!.port;
  for (
    const path of [
      "/",
      "/status.json",
      "/metrics",
      "/live/video.mjpeg",
      "/snapshot/video.mjpeg?t=1",
    ]
  ) {
    const refused = await get(port, path);
    assert.equal(refused.status, 401, path);
    const offered = challenges(refused.headers.get("www-authenticate"));
    assert.deepEqual(
      offered.map((c) => [c.split(" ")[0], digestParams(c).algorithm]),
      [["Digest", "SHA-256"], ["Digest", "MD5"]],
      `${path}: ${offered}`,
    );
    assert.equal(srv.server.sessions.size, 0, "nothing started without credentials");
    for (const challenge of offered) {
      const algorithm = digestParams(challenge).algorithm;
      if (path.startsWith("/live/")) continue; // a stream: checked below
      const ok = await get(port, path, digestAuthorization(challenge, path));
      assert.equal(ok.status, 200, `${path} with Digest ${algorithm}`);
      const wrong = await get(port, path, digestAuthorization(challenge, path, "guess"));
      assert.equal(wrong.status, 401, `${path} with a wrong password (${algorithm})`);
    }
    const basic = await get(port, path, `Basic ${btoa("alice:s3cret")}`);
    assert.equal(basic.status, 401, `${path}: Basic over plain HTTP`);
  }
  // A live view with credentials plays (its first part arrives).
  const challenge = challenges(
    (await get(port, "/live/video.mjpeg")).headers.get("www-authenticate"),
  )[0];
  const response = await fetch(`http://127.0.0.1:${port}/live/video.mjpeg`, {
    headers: { Authorization: digestAuthorization(challenge, "/live/video.mjpeg") },
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  assert.ok((await reader.read()).value);
  await reader.cancel();
  assert.match(srv.logText(), /HTTP GET \/status\.json 401 \(wrong password for user "alice"\)/);
  assert.doesNotMatch(srv.logText(), /s3cret|guess/);
});

Deno.test("with allowBasic, Basic is offered and accepted on the HTTP side too", async () => {
  await using srv = await startServer({ httpPort: 0, users: USERS, allowBasic: true });
  const port = srv.server.httpAddr!.port;
  const refused = await get(port, "/status.json");
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get("www-authenticate")!, /Basic realm="rtsp-lab"/);
  assert.equal((await get(port, "/status.json", `Basic ${btoa("alice:s3cret")}`)).status, 200);
  assert.equal((await get(port, "/status.json", `Basic ${btoa("alice:nope")}`)).status, 401);
});

Deno.test("a browser given the user's name and password shows the status page (Digest)", async () => {
  if (!await haveChromium()) return;
  await using srv = await startServer({ httpPort: 0, users: USERS });
  const port = srv.server.httpAddr!.port;
  const html = await dumpDom(`http://alice:s3cret@127.0.0.1:${port}/`, 3000);
  assert.match(html, /data-total="requests"/, "the page rendered the status it fetched");
  assert.match(html, /<div id="state"[^>]*>updated /, "and its last fetch succeeded");
  const http = (await srv.server.status()).totals.http!;
  const ok = http.requests.find((r) => r.method === "GET" && r.status === 200)?.count ?? 0;
  assert.ok(ok >= 2, `the page and its status.json were served: ${JSON.stringify(http.requests)}`);
});
