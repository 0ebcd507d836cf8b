/**
 * The server's log never holds a password a client wrote into its request
 * URI, even unencoded (RFC 3986 wants "@", ":" and `"` in a userinfo
 * percent-encoded; clients built by hand often do not): the whole userinfo
 * is dropped, up to the last "@" before the path, in the request's log line
 * and in a parse error's message alike.
 */
import assert from "node:assert/strict";
import { RawConn, req, waitUntil } from "./_raw_rtsp.ts";
import { startServer } from "./_server.ts";

/** The part of each password that must not reach the log. */
const TELLTALE = "w0rd";

const CASES: { name: string; password: string }[] = [
  { name: "percent-encoded", password: "p%40ss%3Aw0rd" },
  { name: 'a raw "@" (and ":")', password: "p@ss:w0rd" },
  { name: 'a raw "@" twice', password: "a@b@w0rd" },
  { name: 'a raw `"`', password: 'p"ss:w0rd' },
  { name: "a raw space (the request line does not parse: 400)", password: "pa ss:w0rd" },
];

Deno.test("the log drops a userinfo written unencoded in the request URI, password and all", async (t) => {
  await using srv = await startServer({ users: [{ name: "alice", password: "p@ss:w0rd" }] });
  for (
    const [scheme, { name, password }] of CASES.flatMap((c) => [["rtsp", c], ["RTSP", c]] as const)
  ) {
    await t.step(`${scheme}://, ${name}`, async () => {
      const before = srv.logs.length;
      await using conn = await RawConn.connect(srv.port);
      const uri = `${scheme}://alice:${password}@127.0.0.1:${srv.port}/video.mjpeg`;
      await conn.send(req("DESCRIBE", uri, { CSeq: 1 }));
      assert.ok(
        await waitUntil(() => srv.logs.length > before, 2000),
        `the request was logged:\n${srv.logText()}`,
      );
      const logged = srv.logs.slice(before).join("\n");
      assert.match(logged, / (401|400) /, logged);
      assert.ok(!logged.includes(TELLTALE), `the log holds the password's tail:\n${logged}`);
      assert.ok(!logged.includes("alice:"), `the log holds the userinfo:\n${logged}`);
    });
  }
});
