/**
 * The server's limits: idle connections are closed, connections and
 * sessions beyond the caps are refused with 503 and 453, and those already
 * served are untouched.
 */
import assert from "node:assert/strict";
import { RawConn } from "./_raw_rtsp.ts";
import { startServer } from "./_server.ts";

const req = (method: string, uri: string, cseq: number, extra = "") =>
  `${method} ${uri} RTSP/1.0\r\nCSeq: ${cseq}\r\n${extra}\r\n`;

Deno.test("a connection that holds no session and stays quiet is closed after --idle-timeout", async () => {
  await using srv = await startServer({ idleTimeout: 1 });
  const quiet = await RawConn.connect(srv.port);
  const stalled = await RawConn.connect(srv.port);
  const busy = await RawConn.connect(srv.port);
  try {
    await stalled.send("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n"); // never finished
    const setup = await busy.request(
      req(
        "SETUP",
        srv.url("video.mjpeg"),
        1,
        "Transport: RTP/AVP;unicast;client_port=40000-40001\r\n",
      ),
    );
    assert.match(setup, /^RTSP\/1\.0 200 /);
    assert.ok(await quiet.waitClosed(4000), "the quiet connection was closed");
    assert.ok(await stalled.waitClosed(4000), "the stalled connection was closed");
    assert.equal(srv.server.counters.connectionsIdled, 2);
    assert.match(srv.logText(), /idle for 1 s with no session; closed/);
    // The connection that holds a session stays, quiet or not.
    const options = await busy.request(req("OPTIONS", "*", 2));
    assert.match(options, /^RTSP\/1\.0 200 /);
  } finally {
    await quiet.close();
    await stalled.close();
    await busy.close();
  }
});

Deno.test("beyond --max-connections a new client gets 503 and the others keep working", async () => {
  await using srv = await startServer({ maxConnections: 2 });
  const a = await RawConn.connect(srv.port);
  const b = await RawConn.connect(srv.port);
  const c = await RawConn.connect(srv.port);
  try {
    assert.match(await a.request(req("OPTIONS", "*", 1)), /^RTSP\/1\.0 200 /);
    assert.match(await b.request(req("OPTIONS", "*", 1)), /^RTSP\/1\.0 200 /);
    const refused = await c.request(req("OPTIONS", "*", 7));
    assert.match(refused, /^RTSP\/1\.0 503 /);
    assert.match(refused, /CSeq: 7/);
    assert.ok(await c.waitClosed(2000), "the refused connection is closed");
    assert.equal(srv.server.counters.connectionsRefused, 1);
    assert.match(await a.request(req("OPTIONS", "*", 2)), /^RTSP\/1\.0 200 /);
  } finally {
    await a.close();
    await b.close();
    await c.close();
  }
});

Deno.test("beyond --max-sessions SETUP gets 453 and existing sessions are untouched", async () => {
  await using srv = await startServer({ maxSessions: 1 });
  const a = await RawConn.connect(srv.port);
  const b = await RawConn.connect(srv.port);
  try {
    const transport = "Transport: RTP/AVP;unicast;client_port=40002-40003\r\n";
    const first = await a.request(req("SETUP", srv.url("video.mjpeg"), 1, transport));
    assert.match(first, /^RTSP\/1\.0 200 /);
    const second = await b.request(req("SETUP", srv.url("video.mjpeg"), 1, transport));
    assert.match(second, /^RTSP\/1\.0 453 /);
    assert.equal(srv.server.sessions.size, 1);
    const session = /Session: (\d+)/.exec(first)![1];
    const teardown = await a.request(
      req("TEARDOWN", srv.url("video.mjpeg"), 2, `Session: ${session}\r\n`),
    );
    assert.match(teardown, /^RTSP\/1\.0 200 /);
    const again = await b.request(req("SETUP", srv.url("video.mjpeg"), 2, transport));
    assert.match(again, /^RTSP\/1\.0 200 /, "a place is free again");
  } finally {
    await a.close();
    await b.close();
  }
});
