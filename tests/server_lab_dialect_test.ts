/**
 * The real server on loopback, driven by the exact bytes the lab's original
 * Python client sends (bare LF, no blank line, bare file name), with replies
 * parsed the way that client parses them and RTP checked against what it
 * expects (12-byte header, PT 26, sequence number = frame number, whole JPEG).
 */
import assert from "node:assert/strict";
import {
  type Datagram,
  labParseReply,
  type LabReply,
  RawConn,
  readLabFrames,
  rtpView,
  sleep,
  udpSink,
  waitUntil,
} from "./_raw_rtsp.ts";
import { sameBytes } from "./_helpers.ts";
import { startServer, type TestServer } from "./_server.ts";

const FRAMES = await readLabFrames();
const LAB_RECV_SIZE = 20480;
const LAB_REPLY_RECV_SIZE = 1024;
/** Time allowed for a datagram already in flight when PAUSE/TEARDOWN was answered. */
const IN_FLIGHT_GRACE_MS = 50;

/** The lab client's RTSP side: the same requests, byte for byte, and the same reply parsing. */
class LabClient {
  readonly conn: RawConn;
  readonly rtpPort: number;
  readonly fileName: string;
  rtspSeq = 0;
  sessionId = 0;

  constructor(conn: RawConn, rtpPort: number, fileName = "video.mjpeg") {
    this.conn = conn;
    this.rtpPort = rtpPort;
    this.fileName = fileName;
  }

  /** The request exactly as the lab's Client.py builds it. */
  requestFor(method: "SETUP" | "PLAY" | "PAUSE" | "TEARDOWN"): string {
    this.rtspSeq++;
    const head = `${method} ${this.fileName} RTSP/1.0\nCSeq: ${this.rtspSeq}`;
    return method === "SETUP"
      ? `${head}\nTransport: RTP/UDP; client_port= ${this.rtpPort}`
      : `${head}\nSession: ${this.sessionId}`;
  }

  /** Send one request and read its reply the lab way (one recv(1024)). */
  async send(method: "SETUP" | "PLAY" | "PAUSE" | "TEARDOWN"): Promise<LabReply> {
    const raw = await this.conn.request(this.requestFor(method));
    assert.ok(
      new TextEncoder().encode(raw).length <= LAB_REPLY_RECV_SIZE,
      `reply to ${method} does not fit one recv(1024): ${raw.length} bytes`,
    );
    const reply = labParseReply(raw);
    assert.equal(reply.cseq, this.rtspSeq, `CSeq of the ${method} reply`);
    if (this.sessionId === 0) this.sessionId = reply.session;
    return reply;
  }
}

/** Check datagrams against the lab RTP format and the frames of video.mjpeg. */
function assertLabPackets(
  datagrams: Datagram[],
  fps: number,
  srv: TestServer,
  firstSeq = 1,
): void {
  const step = 90000 / fps;
  assert.ok(datagrams.length > 0, "no RTP datagrams");
  const first = rtpView(datagrams[0].data);
  for (const [i, datagram] of datagrams.entries()) {
    const where = `datagram ${i}`;
    assert.ok(
      datagram.data.length <= LAB_RECV_SIZE,
      `${where} is ${datagram.data.length} bytes, more than the lab client's recv(20480)`,
    );
    assert.equal(datagram.from.port, srv.server.rtpPort, `${where} source port`);
    const rtp = rtpView(datagram.data);
    assert.equal(rtp.version, 2, `${where} V`);
    assert.equal(rtp.padding, false, `${where} P`);
    assert.equal(rtp.extension, false, `${where} X`);
    assert.equal(rtp.csrcCount, 0, `${where} CC`);
    assert.equal(rtp.marker, false, `${where} M`);
    assert.equal(rtp.payloadType, 26, `${where} PT`);
    assert.equal(rtp.sequenceNumber, firstSeq + i, `${where} sequence number (frame number)`);
    assert.equal(rtp.ssrc, first.ssrc, `${where} SSRC`);
    assert.equal(
      (rtp.timestamp - first.timestamp) >>> 0,
      (Math.round(i * step)) >>> 0,
      `${where} timestamp advances by 90000/fps per frame`,
    );
    const frame = FRAMES[rtp.sequenceNumber - 1];
    assert.ok(frame, `${where}: no frame ${rtp.sequenceNumber} in video.mjpeg`);
    assert.ok(
      sameBytes(rtp.payload, frame),
      `${where}: payload (${rtp.payload.length} bytes) differs from frame ${rtp.sequenceNumber} (${frame.length} bytes)`,
    );
  }
}

/** Assert that no datagram arrives for `ms` after a short in-flight grace; returns the count. */
async function assertSilent(sink: { datagrams: Datagram[] }, ms = 300): Promise<number> {
  await sleep(IN_FLIGHT_GRACE_MS);
  const settled = sink.datagrams.length;
  await sleep(ms);
  assert.equal(
    sink.datagrams.length,
    settled,
    `${sink.datagrams.length - settled} datagram(s) arrived in the ${ms} ms that should be silent`,
  );
  return settled;
}

Deno.test("lab client: SETUP, PLAY, PAUSE, TEARDOWN replies parse the lab way with one Session", async () => {
  await using srv = await startServer({ fps: 200 });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const lab = new LabClient(conn, sink.port);

  const setup = await lab.send("SETUP");
  assert.equal(setup.status, 200);
  assert.equal(setup.cseq, 1);
  assert.ok(Number.isSafeInteger(setup.session) && setup.session > 0, `session ${setup.session}`);
  assert.equal(srv.server.sessions.size, 1);
  assert.ok(srv.server.sessions.has(String(setup.session)), "Session is the server's session id");

  for (const method of ["PLAY", "PAUSE", "TEARDOWN"] as const) {
    const reply = await lab.send(method);
    assert.equal(reply.status, 200, `${method} status`);
    assert.equal(reply.session, setup.session, `${method} reply keeps the Session`);
  }
  assert.equal(srv.server.sessions.size, 0);
});

Deno.test("lab client: the SETUP request bytes are exactly the lab's", () => {
  // Guards the helper itself: the requests must match Client.py byte for byte.
  const lab = new LabClient(undefined as unknown as RawConn, 5008);
  assert.equal(
    lab.requestFor("SETUP"),
    "SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 5008",
  );
  lab.sessionId = 123456;
  assert.equal(lab.requestFor("PLAY"), "PLAY video.mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456");
  assert.equal(lab.requestFor("PAUSE"), "PAUSE video.mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456");
  assert.equal(
    lab.requestFor("TEARDOWN"),
    "TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456",
  );
});

Deno.test("lab client: every frame of video.mjpeg arrives in one datagram with the lab RTP header", async () => {
  const fps = 200;
  await using srv = await startServer({ fps });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const lab = new LabClient(conn, sink.port);

  assert.equal((await lab.send("SETUP")).status, 200);
  await sleep(100);
  assert.equal(sink.datagrams.length, 0, "RTP before PLAY");
  assert.equal((await lab.send("PLAY")).status, 200);
  assert.ok(
    await sink.waitFor(FRAMES.length, 5000),
    `got ${sink.datagrams.length} of ${FRAMES.length} frames`,
  );
  await sleep(100);
  assert.equal(sink.datagrams.length, FRAMES.length, "datagrams after the last frame");
  assertLabPackets(sink.datagrams, fps, srv);
  assert.ok(
    srv.logs.some((line) => line.includes(`end of stream after ${FRAMES.length} frames`)),
    "end of stream is logged",
  );
  assert.equal((await lab.send("TEARDOWN")).status, 200);
});

Deno.test("lab client: PAUSE stops RTP and PLAY resumes with the next frame number", async () => {
  const fps = 100;
  await using srv = await startServer({ fps });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const lab = new LabClient(conn, sink.port);

  assert.equal((await lab.send("SETUP")).status, 200);
  for (let round = 1; round <= 2; round++) {
    const before = sink.datagrams.length;
    assert.equal((await lab.send("PLAY")).status, 200, `PLAY ${round}`);
    assert.ok(await sink.waitFor(before + 10, 3000), `RTP after PLAY ${round}`);
    assert.equal((await lab.send("PAUSE")).status, 200, `PAUSE ${round}`);
    const atReply = sink.datagrams.length;
    const settled = await assertSilent(sink);
    assert.ok(
      settled - atReply <= 1,
      `${settled - atReply} datagrams arrived after the PAUSE reply (at most one in flight)`,
    );
  }
  const paused = sink.datagrams.length;
  assert.equal((await lab.send("PLAY")).status, 200);
  assert.ok(await sink.waitFor(paused + 5, 3000), "RTP after the last PLAY");
  assert.equal((await lab.send("TEARDOWN")).status, 200);
  await assertSilent(sink);
  // No gap and no repeat across the pauses: 1, 2, 3, ... with continuous timestamps.
  assertLabPackets(sink.datagrams, fps, srv);
});

Deno.test("lab client: TEARDOWN stops RTP and ends the session", async () => {
  await using srv = await startServer({ fps: 100 });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const lab = new LabClient(conn, sink.port);

  const setup = await lab.send("SETUP");
  assert.equal((await lab.send("PLAY")).status, 200);
  assert.ok(await sink.waitFor(5, 3000), "RTP after PLAY");
  const teardown = await lab.send("TEARDOWN");
  assert.equal(teardown.status, 200);
  assert.equal(teardown.session, setup.session);
  assert.equal(srv.server.sessions.size, 0);
  const atReply = sink.datagrams.length;
  const settled = await assertSilent(sink);
  assert.ok(settled - atReply <= 1, `${settled - atReply} datagrams after the TEARDOWN reply`);
  assertLabPackets(sink.datagrams, 100, srv);

  // The torn-down session is gone: a PLAY naming it is refused, and nothing is sent.
  const raw = await conn.request(lab.requestFor("PLAY"));
  assert.match(raw, /^RTSP\/1\.0 454 /);
  await sleep(150);
  assert.equal(sink.datagrams.length, settled);
});

Deno.test("lab client: closing the TCP connection frees the session and stops RTP", async () => {
  await using srv = await startServer({ fps: 100 });
  await using sink = udpSink();
  const conn = await RawConn.connect(srv.port);
  try {
    const lab = new LabClient(conn, sink.port);
    assert.equal((await lab.send("SETUP")).status, 200);
    assert.equal((await lab.send("PLAY")).status, 200);
    assert.ok(await sink.waitFor(5, 3000), "RTP after PLAY");
    assert.equal(srv.server.sessions.size, 1);
  } finally {
    await conn.close();
  }
  assert.ok(
    await waitUntil(() => srv.server.sessions.size === 0, 2000),
    `sessions left after the client closed: ${srv.server.sessions.size}`,
  );
  await assertSilent(sink);
});

Deno.test("lab client: at the default 20 fps, 10 frames take roughly half a second", async () => {
  await using srv = await startServer(); // default fps
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const lab = new LabClient(conn, sink.port);

  assert.equal((await lab.send("SETUP")).status, 200);
  assert.equal((await lab.send("PLAY")).status, 200);
  assert.ok(await sink.waitFor(11, 4000), `got ${sink.datagrams.length} of 11 frames`);
  const elapsed = sink.datagrams[10].at - sink.datagrams[0].at;
  assert.ok(elapsed >= 300 && elapsed <= 2000, `10 frame periods took ${elapsed.toFixed(0)} ms`);
  assert.equal((await lab.send("TEARDOWN")).status, 200);
  await sleep(IN_FLIGHT_GRACE_MS);
  assertLabPackets(sink.datagrams, 20, srv);
});
