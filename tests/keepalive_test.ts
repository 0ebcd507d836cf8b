/**
 * Session timeout and keep-alive (protocol notes §3.4-3.5): with
 * `sessionTimeout: 2` the server announces `Session: <id>;timeout=2` and tears
 * down a standard session that sends neither a request nor RTCP for 2 s,
 * while every keep-alive clients really use keeps one going: GET_PARAMETER,
 * OPTIONS or SET_PARAMETER with the Session header, RTCP receiver reports
 * about the session's SSRC, our StreamClient, and ffmpeg. Lab-dialect
 * sessions never time out (the lab's client sends nothing while playing).
 *
 * The server plays video.mjpeg at 20 fps with `loop: true`, so no stream
 * ends by itself. Every case has its own server (and counters) on loopback;
 * the cases run concurrently, each bounded, and are then reported one step
 * each.
 *
 * Case (g) needs ffmpeg (Debian package `ffmpeg`); without it that step
 * prints "SKIPPED: ..." and passes, except in CI (`CI=true`), where it fails.
 */
import assert from "node:assert/strict";
import { serializeRtcpCompound } from "../lib/wire/rtcp_packet.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { requirePeer, runCommand, tail } from "./_peers.ts";
import {
  labParseReply,
  parseReply,
  RawConn,
  type Reply,
  req,
  rtpView,
  sleep,
  type UdpSink,
  udpSink,
  waitUntil,
} from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";

const VIDEO = "video.mjpeg";
/** The session timeout, in seconds. */
const TIMEOUT_SEC = 2;
const FPS = 20;
/** Seconds a kept-alive session must outlive (twice the timeout). */
const SURVIVE_SEC = 4.5;
/** Seconds between keep-alives (requests or receiver reports). */
const KEEPALIVE_SEC = 0.8;
/** The server checks for timed-out sessions once a second. */
const REAPER_SEC = 1;
/** Slack for a loaded machine. */
const SLACK_MS = 1000;
const decoder = new TextDecoder();

/** A server for one case: 20 fps, looping, sessions time out after 2 s. */
function keepAliveServer(): Promise<TestServer> {
  return startServer({ fps: FPS, loop: true, sessionTimeout: TIMEOUT_SEC });
}

/** A standard session over a raw connection, RTP to `sink`. */
interface RawSession {
  conn: RawConn;
  id: string;
  ssrc: number;
  cseq: number;
  /** When the last request was sent (performance.now()). */
  lastRequestAt: number;
  /** Send a request in the session (CSeq and Session added) and parse the reply. */
  ask(method: string, headers?: Record<string, string | number>): Promise<Reply>;
}

/** SETUP and PLAY video.mjpeg with RTP to `sink`; checks the announced timeout and that RTP flows. */
async function playRaw(srv: TestServer, conn: RawConn, sink: UdpSink): Promise<RawSession> {
  const url = srv.url(VIDEO);
  const session: RawSession = {
    conn,
    id: "",
    ssrc: 0,
    cseq: 0,
    lastRequestAt: 0,
    async ask(method, headers = {}) {
      const all: Record<string, string | number> = { CSeq: ++this.cseq };
      if (this.id !== "") all.Session = this.id;
      Object.assign(all, headers);
      this.lastRequestAt = performance.now();
      return parseReply(await conn.request(req(method, url, all)));
    },
  };
  const setup = await session.ask("SETUP", {
    Transport: `RTP/AVP;unicast;client_port=${sink.port}-${sink.port + 1}`,
  });
  assert.equal(setup.status, 200, setup.raw);
  const header = setup.headers.get("session") ?? "";
  assert.match(header, new RegExp(`^[^;]+;timeout=${TIMEOUT_SEC}$`), `Session: ${header}`);
  session.id = header.split(";")[0];
  const ssrc = /ssrc=([0-9A-Fa-f]{1,8})/.exec(setup.headers.get("transport") ?? "");
  assert.ok(ssrc, `no ssrc in ${setup.raw}`);
  session.ssrc = parseInt(ssrc[1], 16);
  const play = await session.ask("PLAY");
  assert.equal(play.status, 200, play.raw);
  assert.ok(await sink.waitFor(3, 3000), "RTP flows after PLAY");
  return session;
}

/** Datagrams `sink` got from the server's RTP port since `since` (performance.now()). */
function rtpSince(srv: TestServer, sink: UdpSink, since: number): number {
  return sink.datagrams.filter((d) => d.at >= since && d.from.port === srv.server.rtpPort).length;
}

/**
 * Wait until `SURVIVE_SEC` after PLAY while `keepAlive` runs every
 * `KEEPALIVE_SEC`, watching the session; then check it is still there,
 * never timed out, and still streaming.
 */
async function assertSurvives(
  srv: TestServer,
  sink: UdpSink,
  id: string,
  keepAlive: () => Promise<void>,
  what: string,
): Promise<void> {
  const start = performance.now();
  let goneAt: number | undefined;
  while (performance.now() - start < SURVIVE_SEC * 1000) {
    await keepAlive();
    const next = performance.now() + KEEPALIVE_SEC * 1000;
    while (performance.now() < next) {
      if (goneAt === undefined && !srv.server.sessions.has(id)) goneAt = performance.now();
      await sleep(50);
    }
  }
  const context = `${what}\n--- server log\n${tail(srv.logText())}`;
  assert.equal(
    goneAt,
    undefined,
    `session ${id} was torn down ${((goneAt ?? 0) - start).toFixed(0)} ms into: ${context}`,
  );
  assert.equal(srv.server.counters.sessionsTimedOut, 0, `sessions timed out: ${context}`);
  assert.ok(
    rtpSince(srv, sink, performance.now() - 500) > 0,
    `no RTP in the last 0.5 s: ${context}`,
  );
}

/** A session kept alive by `method` requests (no body) carrying the Session header. */
async function keptAliveByRequest(method: string): Promise<void> {
  await using srv = await keepAliveServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const session = await playRaw(srv, conn, sink);
  const statuses: number[] = [];
  await assertSurvives(srv, sink, session.id, async () => {
    statuses.push((await session.ask(method)).status);
  }, `${method} with "Session: ${session.id}" every ${KEEPALIVE_SEC} s`);
  assert.ok(statuses.length >= 5, `${statuses.length} keep-alives sent`);
  assert.ok(statuses.every((s) => s === 200), `replies to ${method}: ${statuses.join(" ")}`);
  const play = await session.ask("PLAY");
  assert.equal(play.status, 200, `PLAY in the kept-alive session: ${play.raw}`);
  assert.equal((await session.ask("TEARDOWN")).status, 200);
}

/** Receiver reports as a client sends them: RR with one report block, and SDES CNAME. */
function receiverReport(ownSsrc: number, sourceSsrc: number, highestSeq: number): Uint8Array {
  return serializeRtcpCompound([
    {
      type: "rr",
      ssrc: ownSsrc,
      reports: [{
        ssrc: sourceSsrc,
        fractionLost: 0,
        cumulativeLost: 0,
        extendedHighestSequence: highestSeq,
        jitter: 0,
        lastSr: 0,
        delaySinceLastSr: 0,
      }],
    },
    { type: "sdes", chunks: [{ ssrc: ownSsrc, items: [{ type: 1, text: "keepalive-test" }] }] },
  ]);
}

// --- The cases.

/** (a) A standard session whose client says nothing is torn down after the timeout. */
async function silentSessionTimesOut(): Promise<void> {
  await using srv = await keepAliveServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const session = await playRaw(srv, conn, sink);
  const silentSince = session.lastRequestAt;
  const limitMs = (TIMEOUT_SEC + REAPER_SEC) * 1000 + SLACK_MS;
  const gone = await waitUntil(() => srv.server.sessions.size === 0, limitMs);
  const goneAfter = performance.now() - silentSince;
  const context = `--- server log\n${tail(srv.logText())}`;
  assert.ok(gone, `session still there ${limitMs} ms after the last request: ${context}`);
  assert.ok(
    goneAfter >= TIMEOUT_SEC * 1000 - 50,
    `torn down ${
      goneAfter.toFixed(0)
    } ms after the last request, before the ${TIMEOUT_SEC} s timeout`,
  );
  assert.equal(srv.server.counters.sessionsTimedOut, 1, context);
  assert.ok(
    srv.logs.some((line) =>
      line.includes(`session ${session.id}: no request or RTCP for ${TIMEOUT_SEC} s; torn down`)
    ),
    `no timeout line in the log: ${context}`,
  );

  // RTP stops (a packet already in flight may still land).
  await sleep(100);
  const stoppedAt = performance.now();
  await sleep(600);
  assert.equal(rtpSince(srv, sink, stoppedAt), 0, "RTP after the session timed out");

  // Still silent for more than 3 s; then the session is unknown.
  await sleep(Math.max(0, silentSince + 3100 - performance.now()));
  const play = await session.ask("PLAY");
  assert.equal(play.status, 454, `PLAY in a timed-out session: ${play.raw}`);
  assert.equal(srv.server.sessions.size, 0);
}

/** (e) RTCP receiver reports about the session's SSRC, to the server's RTCP port. */
async function keptAliveByReceiverReports(): Promise<void> {
  await using srv = await keepAliveServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const session = await playRaw(srv, conn, sink);
  const rtcp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const ownSsrc = 0x5eed1e55;
  try {
    const target = {
      transport: "udp" as const,
      hostname: "127.0.0.1",
      port: srv.server.rtpPort + 1,
    };
    await assertSurvives(srv, sink, session.id, async () => {
      const last = sink.datagrams.at(-1);
      const seq = last ? rtpView(last.data).sequenceNumber : 0;
      await rtcp.send(receiverReport(ownSsrc, session.ssrc, seq), target);
    }, `RTCP RR about SSRC ${session.ssrc.toString(16)} every ${KEEPALIVE_SEC} s (no requests)`);
  } finally {
    rtcp.close();
  }
  const reports = srv.logs.filter((line) =>
    line.startsWith(`session ${session.id}: receiver report:`)
  );
  assert.ok(reports.length >= 5, `${reports.length} receiver reports logged`);
  assert.equal(srv.server.counters.rtcpMalformed, 0);
  const play = await session.ask("PLAY");
  assert.equal(play.status, 200, `PLAY in the kept-alive session: ${play.raw}`);
}

/**
 * (f) Our StreamClient: receiver reports every `rtcpIntervalSec` (and its
 * keep-alive request every timeout/2) keep its session through `receive`.
 */
async function streamClientKeepsAlive(rtcpIntervalSec: number | undefined): Promise<void> {
  await using srv = await keepAliveServer();
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port: srv.port,
    rtpPort: 0,
    resource: VIDEO,
    dialect: "rtsp",
    transport: "udp",
    rtcpIntervalSec,
  });
  let id: string | undefined;
  let goneAt: number | undefined;
  const start = performance.now();
  try {
    await client.setup();
    id = client.rtsp.session!;
    assert.equal(client.rtsp.sessionTimeout, TIMEOUT_SEC, "timeout read from the Session header");
    await client.play();
    let receiving = true;
    const watching = (async () => {
      while (receiving) {
        if (goneAt === undefined && !srv.server.sessions.has(id!)) goneAt = performance.now();
        await sleep(50);
      }
    })();
    try {
      await client.receive({ durationSec: 4, firstPacketTimeoutSec: 5 });
    } finally {
      receiving = false;
      await watching;
    }
    const context = `rtcpIntervalSec ${rtcpIntervalSec ?? "default (5)"}, keep-alive requests ${
      srv.logs.filter((l) => / (GET_PARAMETER|OPTIONS) .* session=/.test(l)).length
    }, statistics ${JSON.stringify(client.stats.summary())}\n--- server log\n${
      tail(srv.logText())
    }`;
    assert.equal(
      goneAt,
      undefined,
      `session ${id} torn down ${((goneAt ?? 0) - start).toFixed(0)} ms after SETUP: ${context}`,
    );
    assert.equal(srv.server.counters.sessionsTimedOut, 0, context);
    assert.ok(client.stats.framesReceived >= 4 * FPS * 0.75, `frames received: ${context}`);
    if (rtcpIntervalSec !== undefined) {
      const reports = srv.logs.filter((l) => l.startsWith(`session ${id}: receiver report:`));
      assert.ok(reports.length >= 4, `${reports.length} receiver reports logged: ${context}`);
    }
    const teardown = await client.teardown();
    assert.equal(teardown.status, 200);
  } finally {
    await client.close();
  }
}

/** (g) ffmpeg keeps its session alive past the timeout and decodes about 5 s of frames. */
async function ffmpegKeepsAlive(): Promise<void> {
  if (!await requirePeer("ffmpeg", ["-hide_banner", "-version"])) return;
  await using srv = await keepAliveServer();
  const url = srv.url(VIDEO);
  let running = true;
  let sawSession = false;
  let goneAt: number | undefined;
  const start = performance.now();
  const watching = (async () => {
    while (running) {
      if (srv.server.sessions.size > 0) sawSession = true;
      else if (sawSession && goneAt === undefined) goneAt = performance.now();
      await sleep(50);
    }
  })();
  let result;
  try {
    result = await runCommand("ffmpeg", [
      ...["-nostdin", "-hide_banner", "-v", "error", "-rtsp_transport", "udp", "-i", url],
      // framemd5 rather than null: one line per decoded frame, to count them.
      ...["-t", "5", "-fps_mode", "passthrough", "-f", "framemd5", "pipe:1"],
    ], { timeoutMs: 20_000 });
  } finally {
    running = false;
    await watching;
  }
  await sleep(200); // ffmpeg's TEARDOWN is not waited for
  const frames = decoder.decode(result.stdout).split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#")).length;
  const keepAlives = srv.logs.filter((l) => / GET_PARAMETER .* 200$/.test(l)).length;
  const reports = srv.logs.filter((l) => / receiver report:/.test(l)).length;
  const context = `ffmpeg -rtsp_transport udp -i ${url} -t 5: status ${result.code}${
    result.timedOut ? " (killed after 20 s)" : ""
  }, ${result.ms} ms, ${frames} frames, ${keepAlives} GET_PARAMETER, ${reports} RR\n--- stderr\n${
    tail(result.stderr)
  }\n--- server log\n${tail(srv.logText())}`;
  assert.ok(result.success, `ffmpeg failed: ${context}`);
  assert.equal(result.stderr, "", `ffmpeg printed errors: ${context}`);
  assert.equal(srv.server.counters.sessionsTimedOut, 0, `ffmpeg's session timed out: ${context}`);
  assert.ok(
    goneAt === undefined || goneAt - start >= 5000,
    `session gone ${((goneAt ?? 0) - start).toFixed(0)} ms after ffmpeg started: ${context}`,
  );
  assert.ok(keepAlives + reports >= 3, `too few keep-alives from ffmpeg: ${context}`);
  assert.ok(frames >= 5 * FPS - 5 && frames <= 5 * FPS + 1, `about 5 s of frames: ${context}`);
}

/** (h) The lab's client sends nothing while playing: its session is never reaped. */
async function labSessionNeverTimesOut(): Promise<void> {
  await using srv = await keepAliveServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  // Byte for byte what the lab's Client.py sends: bare LF, no blank line.
  const setup = labParseReply(
    await conn.request(
      `SETUP ${VIDEO} RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink.port}`,
    ),
  );
  assert.equal(setup.status, 200);
  const play = labParseReply(
    await conn.request(`PLAY ${VIDEO} RTSP/1.0\nCSeq: 2\nSession: ${setup.session}`),
  );
  assert.equal(play.status, 200);
  assert.ok(await sink.waitFor(3, 3000), "lab RTP flows after PLAY");
  await sleep(3500);
  const context = `--- server log\n${tail(srv.logText())}`;
  assert.ok(
    srv.server.sessions.has(String(setup.session)),
    `lab session reaped after 3.5 s of silence: ${context}`,
  );
  assert.equal(srv.server.counters.sessionsTimedOut, 0, context);
  assert.ok(
    rtpSince(srv, sink, performance.now() - 500) > 0,
    `lab RTP stopped: ${context}`,
  );
  const teardown = labParseReply(
    await conn.request(`TEARDOWN ${VIDEO} RTSP/1.0\nCSeq: 3\nSession: ${setup.session}`),
  );
  assert.equal(teardown.status, 200);
}

const CASES: [string, () => Promise<void>][] = [
  [
    "(a) a silent standard session is torn down after the timeout: 454, RTP stops",
    () => silentSessionTimesOut(),
  ],
  [
    "(b) GET_PARAMETER with Session every 0.8 s keeps the session past 4 s",
    () => keptAliveByRequest("GET_PARAMETER"),
  ],
  [
    "(c) OPTIONS with Session every 0.8 s keeps the session past 4 s",
    () => keptAliveByRequest("OPTIONS"),
  ],
  [
    "(d) SET_PARAMETER with Session every 0.8 s keeps the session past 4 s",
    () => keptAliveByRequest("SET_PARAMETER"),
  ],
  [
    "(e) RTCP receiver reports for the session's SSRC every 0.8 s keep it past 4 s",
    () => keptAliveByReceiverReports(),
  ],
  [
    "(f) StreamClient with receiver reports every 0.5 s keeps its session through 4 s",
    () => streamClientKeepsAlive(0.5),
  ],
  [
    "(f2) StreamClient (dialect rtsp, reports every 5 s) keeps its session by keep-alive requests",
    () => streamClientKeepsAlive(undefined),
  ],
  [
    "(g) ffmpeg keeps its session alive past the timeout and decodes about 5 s",
    () => ffmpegKeepsAlive(),
  ],
  [
    "(h) a lab-dialect session is not reaped after 3.5 s of silence",
    () => labSessionNeverTimesOut(),
  ],
];

Deno.test(`session timeout (${TIMEOUT_SEC} s) and keep-alive: ${CASES.length} cases, run concurrently`, async (t) => {
  const outcomes = await Promise.allSettled(CASES.map(([, run]) => run()));
  for (const [i, [name]] of CASES.entries()) {
    const outcome = outcomes[i];
    await t.step(name, () => {
      if (outcome.status === "rejected") throw outcome.reason;
    });
  }
});
