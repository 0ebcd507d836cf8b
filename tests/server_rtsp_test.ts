/**
 * The real server on loopback, driven over a raw socket with standard RTSP
 * (CRLF, blank line, `rtsp://127.0.0.1:PORT/video.mjpeg`): methods, headers,
 * status codes, pipelining, split writes, concurrent sessions and logging.
 */
import assert from "node:assert/strict";
import {
  labFile,
  parseReply,
  RawConn,
  readLabFrames,
  type Reply,
  rtpView,
  sleep,
  startServer,
  tempMediaDir,
  type TestServer,
  type UdpSink,
  udpSink,
  waitUntil,
} from "./_raw_rtsp.ts";

const ALL_METHODS = [
  "OPTIONS",
  "SETUP",
  "PLAY",
  "PAUSE",
  "TEARDOWN",
  "GET_PARAMETER",
  "SET_PARAMETER",
];

/** A standard request: CRLF line ends and a blank line. */
function req(
  method: string,
  uri: string,
  headers: Record<string, string | number> = {},
  version = "RTSP/1.0",
): string {
  const lines = [`${method} ${uri} ${version}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/** Transport for unicast RTP to `sink` (RTCP port one above). */
function avp(sink: UdpSink): string {
  return `RTP/AVP;unicast;client_port=${sink.port}-${sink.port + 1}`;
}

/** Send a request and parse the reply, checking its framing and CSeq echo. */
async function ask(conn: RawConn, request: string, cseq?: number): Promise<Reply> {
  const raw = await conn.request(request);
  assert.match(raw, /\r\n\r\n$/, `reply ends with a blank line: ${JSON.stringify(raw)}`);
  assert.doesNotMatch(raw.slice(0, -4), /[^\r]\n/, "reply lines end with CRLF");
  const reply = parseReply(raw);
  if (cseq !== undefined) assert.equal(reply.headers.get("cseq"), String(cseq), "CSeq echo");
  return reply;
}

/** The session id of a Session header value. */
function sessionIdOf(reply: Reply): string {
  const value = reply.headers.get("session");
  assert.ok(value !== undefined, `no Session in ${JSON.stringify(reply.raw)}`);
  return value.split(";")[0];
}

/** SETUP `name` (video.mjpeg) to `sink`; returns the session id and reply. */
async function setup(
  srv: TestServer,
  conn: RawConn,
  sink: UdpSink,
  cseq = 1,
  name = "video.mjpeg",
): Promise<{ session: string; reply: Reply }> {
  const reply = await ask(
    conn,
    req("SETUP", srv.url(name), { CSeq: cseq, Transport: avp(sink) }),
    cseq,
  );
  assert.equal(reply.status, 200, reply.raw);
  return { session: sessionIdOf(reply), reply };
}

Deno.test("OPTIONS lists every method in Public, GET_PARAMETER and SET_PARAMETER included", async () => {
  await using srv = await startServer();
  await using conn = await RawConn.connect(srv.port);
  for (const [cseq, uri] of [[1, srv.url("video.mjpeg")], [2, "*"]] as const) {
    const reply = await ask(conn, req("OPTIONS", uri, { CSeq: cseq }), cseq);
    assert.equal(reply.status, 200);
    assert.equal(reply.version, "RTSP/1.0");
    assert.equal(reply.reason, "OK");
    const methods = reply.headers.get("public")?.split(",").map((m) => m.trim()) ?? [];
    for (const method of ALL_METHODS) assert.ok(methods.includes(method), `Public lacks ${method}`);
  }
});

/** Parse `name=value` parameters of a `;`-separated header value. */
function paramsOf(value: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    params.set(
      (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase(),
      eq < 0 ? "" : part.slice(eq + 1).trim(),
    );
  }
  return params;
}

Deno.test("SETUP RTP/AVP unicast: Session with timeout; Transport echoes client_port, adds server_port and ssrc", async () => {
  await using srv = await startServer({ fps: 100 });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);

  const { reply } = await setup(srv, conn, sink);
  const session = reply.headers.get("session")!;
  assert.match(session, /^[A-Za-z0-9$\-_.+]+;timeout=60$/, "Session: <id>;timeout=60");
  const id = session.split(";")[0];
  assert.ok(srv.server.sessions.has(id));
  // Session comes right after CSeq (the lab client reads it from line 3).
  assert.deepEqual(reply.lines.slice(0, 2).map(([name]) => name.toLowerCase()), [
    "cseq",
    "session",
  ]);

  const transport = reply.headers.get("transport") ?? "";
  assert.match(transport, /^RTP\/AVP(\/UDP)?;/, transport);
  const params = paramsOf(transport);
  assert.ok(params.has("unicast"), transport);
  assert.equal(params.get("client_port"), `${sink.port}-${sink.port + 1}`, transport);
  const serverPort = /^(\d+)(?:-(\d+))?$/.exec(params.get("server_port") ?? "");
  assert.ok(serverPort, `no server_port in ${transport}`);
  assert.equal(Number(serverPort[1]), srv.server.rtpPort);
  const ssrc = /^[0-9A-Fa-f]{1,8}$/.exec(params.get("ssrc") ?? "");
  assert.ok(ssrc, `no ssrc in ${transport}`);

  await sleep(100);
  assert.equal(sink.datagrams.length, 0, "RTP before PLAY");

  const play = await ask(conn, req("PLAY", srv.url("video.mjpeg"), { CSeq: 2, Session: id }), 2);
  assert.equal(play.status, 200);
  assert.equal(sessionIdOf(play), id);
  assert.ok(await sink.waitFor(3, 3000), "RTP after PLAY");
  for (const datagram of sink.datagrams) {
    const rtp = rtpView(datagram.data);
    assert.equal(rtp.version, 2);
    assert.equal(rtp.payloadType, 26);
    assert.equal(rtp.ssrc, parseInt(ssrc[0], 16), "packets carry the SSRC of Transport");
    assert.equal(datagram.from.port, srv.server.rtpPort, "RTP comes from server_port");
  }

  const teardown = await ask(
    conn,
    req("TEARDOWN", srv.url("video.mjpeg"), { CSeq: 3, Session: id }),
    3,
  );
  assert.equal(teardown.status, 200);
  assert.equal(srv.server.sessions.size, 0);
  await sleep(50);
  const settled = sink.datagrams.length;
  await sleep(200);
  assert.equal(sink.datagrams.length, settled, "RTP after TEARDOWN");
});

Deno.test("PLAY's RTP-Info gives the url, and the seq and rtptime of the first RTP packet", async () => {
  await using srv = await startServer({ fps: 100 });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const video = srv.url("video.mjpeg");
  const { session } = await setup(srv, conn, sink);
  for (let round = 0; round < 2; round++) {
    // Again after a PAUSE: RTP-Info then names the packet that resumes the stream.
    const cseq = 2 + round * 2;
    const before = sink.datagrams.length;
    const play = await ask(conn, req("PLAY", video, { CSeq: cseq, Session: session }), cseq);
    assert.equal(play.status, 200);
    const info = paramsOf(play.headers.get("rtp-info") ?? "");
    assert.equal(info.get("url"), video, "RTP-Info url");
    assert.match(info.get("seq") ?? "", /^\d+$/, "RTP-Info seq");
    assert.match(info.get("rtptime") ?? "", /^\d+$/, "RTP-Info rtptime");
    assert.ok(await sink.waitFor(before + 1, 3000), "RTP after PLAY");
    const first = rtpView(sink.datagrams[before].data);
    assert.equal(first.timestamp, Number(info.get("rtptime")), `rtptime (PLAY ${round + 1})`);
    assert.equal(first.sequenceNumber, Number(info.get("seq")), `seq (PLAY ${round + 1})`);
    const pause = await ask(
      conn,
      req("PAUSE", video, { CSeq: cseq + 1, Session: session }),
      cseq + 1,
    );
    assert.equal(pause.status, 200);
    await sleep(50);
  }
});

Deno.test("GET_PARAMETER keeps a session alive; SET_PARAMETER with a body is 451", async () => {
  await using srv = await startServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const { session } = await setup(srv, conn, sink);
  const get = await ask(
    conn,
    req("GET_PARAMETER", srv.url("video.mjpeg"), { CSeq: 2, Session: session }),
    2,
  );
  assert.equal(get.status, 200);
  assert.equal(sessionIdOf(get), session);
  const set = await ask(
    conn,
    `SET_PARAMETER ${
      srv.url("video.mjpeg")
    } RTSP/1.0\r\nCSeq: 3\r\nSession: ${session}\r\nContent-Type: text/parameters\r\nContent-Length: 12\r\n\r\nfoo: bar\r\n\r\n`,
    3,
  );
  assert.equal(set.status, 451);
});

Deno.test("status codes for bad requests", async (t) => {
  await using srv = await startServer();
  const video = srv.url("video.mjpeg");

  await t.step(
    "400 for a request without CSeq; the next request on the connection works",
    async () => {
      await using conn = await RawConn.connect(srv.port);
      const bad = await ask(conn, "OPTIONS * RTSP/1.0\r\n\r\n");
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get("cseq"), undefined, "no CSeq to echo");
      const good = await ask(conn, req("OPTIONS", "*", { CSeq: 2 }), 2);
      assert.equal(good.status, 200);
    },
  );

  await t.step("400 for a CSeq that is not a number; the connection survives", async () => {
    await using conn = await RawConn.connect(srv.port);
    assert.equal((await ask(conn, req("OPTIONS", "*", { CSeq: "abc" }))).status, 400);
    assert.equal((await ask(conn, req("OPTIONS", "*", { CSeq: 5 }), 5)).status, 200);
  });

  for (
    const [name, garbage] of [
      ["a request line with two words", "HELLO WORLD\r\nCSeq: 1\r\n\r\n"],
      ["an HTTP request", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
      ["a header line without a colon", `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nnonsense\r\n\r\n`],
      ["binary bytes", "\x00\x01\x02\x03\xff\r\n\r\n"],
    ]
  ) {
    await t.step(`400 for ${name}`, async () => {
      await using conn = await RawConn.connect(srv.port);
      const reply = await ask(conn, garbage);
      assert.equal(reply.status, 400);
      // The stream cannot be resynchronised after an unparsable message: the server may close.
      await conn.waitClosed(1000);
    });
  }

  for (
    const [name, uri] of [
      ["an unknown file", srv.url("no-such-file.mjpeg")],
      ["a path outside the media directory", srv.url("../etc/passwd")],
      ["a bare unknown name", "missing.mjpeg"],
    ]
  ) {
    await t.step(`404 for SETUP of ${name}`, async () => {
      await using sink = udpSink();
      await using conn = await RawConn.connect(srv.port);
      const reply = await ask(conn, req("SETUP", uri, { CSeq: 7, Transport: avp(sink) }), 7);
      assert.equal(reply.status, 404);
      assert.equal(reply.headers.get("session"), undefined);
      assert.equal(srv.server.sessions.size, 0);
    });
  }

  await t.step("454 for PLAY naming an unknown session", async () => {
    await using conn = await RawConn.connect(srv.port);
    const reply = await ask(conn, req("PLAY", video, { CSeq: 3, Session: "99999999" }), 3);
    assert.equal(reply.status, 454);
  });

  await t.step("454 for PLAY without a Session header after SETUP", async () => {
    await using sink = udpSink();
    await using conn = await RawConn.connect(srv.port);
    await setup(srv, conn, sink);
    const reply = await ask(conn, req("PLAY", video, { CSeq: 2 }), 2);
    assert.equal(reply.status, 454);
    await sleep(100);
    assert.equal(sink.datagrams.length, 0, "nothing is played");
  });

  await t.step("454 for a session that belongs to another connection", async () => {
    await using sink = udpSink();
    await using owner = await RawConn.connect(srv.port);
    await using other = await RawConn.connect(srv.port);
    const { session } = await setup(srv, owner, sink);
    const reply = await ask(other, req("PLAY", video, { CSeq: 1, Session: session }), 1);
    assert.equal(reply.status, 454);
  });

  await t.step("455 for PAUSE of a session that is not playing", async () => {
    await using sink = udpSink();
    await using conn = await RawConn.connect(srv.port);
    const { session } = await setup(srv, conn, sink);
    const reply = await ask(conn, req("PAUSE", video, { CSeq: 2, Session: session }), 2);
    assert.equal(reply.status, 455);
  });

  for (
    const [name, transport] of [
      ["an SRTP profile (RTP/SAVP)", "RTP/SAVP;unicast;client_port=5008-5009"],
      ["no client_port and another host as destination", "RTP/AVP;unicast;destination=10.1.2.3"],
      [
        "another host as destination (with client_port)",
        "RTP/AVP;unicast;destination=10.1.2.3;client_port=5008-5009",
      ],
      ["multicast", "RTP/AVP;multicast;port=5008-5009"],
    ]
  ) {
    await t.step(`461 for ${name}`, async () => {
      await using conn = await RawConn.connect(srv.port);
      const created = srv.server.counters.sessionsCreated;
      const reply = await ask(conn, req("SETUP", video, { CSeq: 4, Transport: transport }), 4);
      assert.equal(reply.status, 461);
      assert.equal(reply.headers.get("session"), undefined);
      assert.equal(srv.server.counters.sessionsCreated, created, "no session is created");
      // Nothing can be sent anywhere: the request made no session to PLAY.
      const play = await ask(conn, req("PLAY", video, { CSeq: 5 }), 5);
      assert.equal(play.status, 454);
    });
  }

  await t.step("501 for an unknown method", async () => {
    await using conn = await RawConn.connect(srv.port);
    const reply = await ask(conn, req("FOO", video, { CSeq: 9 }), 9);
    assert.equal(reply.status, 501);
    assert.equal((await ask(conn, req("OPTIONS", "*", { CSeq: 10 }), 10)).status, 200);
  });

  await t.step("505 for RTSP/2.0", async () => {
    await using conn = await RawConn.connect(srv.port);
    const reply = await ask(conn, req("OPTIONS", "*", { CSeq: 11 }, "RTSP/2.0"), 11);
    assert.equal(reply.status, 505);
  });

  assert.equal(srv.server.counters.sendErrors, 0, "no RTP send failed (nothing sent off-host)");
});

Deno.test("pipelined requests in one write are answered in order", async () => {
  await using srv = await startServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const video = srv.url("video.mjpeg");
  await conn.send(
    req("OPTIONS", "*", { CSeq: 1 }) +
      req("SETUP", video, { CSeq: 2, Transport: avp(sink) }) +
      req("FOO", video, { CSeq: 3 }) +
      req("OPTIONS", video, { CSeq: 4 }),
  );
  const replies = (await conn.readReplies(4)).map(parseReply);
  assert.deepEqual(
    replies.map((r) => [r.headers.get("cseq"), r.status]),
    [["1", 200], ["2", 200], ["3", 501], ["4", 200]],
  );
  assert.ok(replies[1].headers.has("session"));
});

Deno.test("a request written one byte at a time is answered", async () => {
  await using srv = await startServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  await conn.sendByteByByte(
    req("SETUP", srv.url("video.mjpeg"), { CSeq: 1, Transport: avp(sink) }),
  );
  const reply = parseReply(await conn.readReply());
  assert.equal(reply.status, 200, reply.raw);
  assert.equal(reply.headers.get("cseq"), "1");
  assert.equal(srv.server.sessions.size, 1);
});

Deno.test("a standard request that stalls inside its request line is still answered", async () => {
  // A slow standard client (or a congested link) may pause mid-line; the
  // quiet-time completion of lab requests must not cut off a request line
  // that has not even ended (see notes §3.7: a full request line + CSeq).
  const idleFlushMs = 40;
  await using srv = await startServer({ idleFlushMs });
  await using conn = await RawConn.connect(srv.port);
  const request = req("OPTIONS", srv.url("video.mjpeg"), { CSeq: 1 });
  const cut = "OPTIONS rtsp://".length;
  await conn.send(request.slice(0, cut));
  await sleep(idleFlushMs * 4);
  await conn.send(request.slice(cut));
  const reply = parseReply(await conn.readReply());
  assert.equal(reply.status, 200, reply.raw);
  assert.equal(reply.headers.get("cseq"), "1");
});

Deno.test("five concurrent clients each get their own session and every frame", async () => {
  // A 50-frame excerpt at 50 fps keeps the packet rate (and the risk of UDP
  // loss on a loaded machine) low while every frame of the file is checked.
  const clients = 5;
  const frames = 50;
  await using media = await tempMediaDir({
    "clip.mjpeg": labFile((await readLabFrames()).slice(0, frames)),
  });
  await using srv = await startServer({ fps: 50, mediaDir: media.path });
  await using stack = new AsyncDisposableStack();
  const sinks = Array.from({ length: clients }, () => stack.use(udpSink()));
  const conns = await Promise.all(
    sinks.map(async () => stack.use(await RawConn.connect(srv.port))),
  );
  const video = srv.url("clip.mjpeg");
  const sessions = await Promise.all(conns.map(async (conn, i) => {
    const { session, reply } = await setup(srv, conn, sinks[i], 1, "clip.mjpeg");
    const ssrc = parseInt(/ssrc=([0-9A-Fa-f]+)/.exec(reply.headers.get("transport")!)![1], 16);
    const play = await ask(conn, req("PLAY", video, { CSeq: 2, Session: session }), 2);
    assert.equal(play.status, 200);
    return { session, ssrc };
  }));
  assert.equal(new Set(sessions.map((s) => s.session)).size, clients, "distinct session ids");
  assert.equal(srv.server.sessions.size, clients);

  // Count frames by RTP timestamp: a frame may span several packets.
  const framesOf = (sink: UdpSink) =>
    new Set(sink.datagrams.map((d) => rtpView(d.data).timestamp)).size;
  const done = await waitUntil(() => sinks.every((sink) => framesOf(sink) >= frames), 6000);
  await sleep(100);
  for (const [i, sink] of sinks.entries()) {
    const packets = sink.datagrams.map((d) => rtpView(d.data));
    assert.ok(done, `client ${i} got ${framesOf(sink)} of ${frames} frames`);
    assert.ok(packets.every((p) => p.ssrc === sessions[i].ssrc), `client ${i}: foreign SSRC`);
    assert.deepEqual(
      packets.map((p) => p.sequenceNumber),
      packets.map((_, k) => (packets[0].sequenceNumber + k) & 0xffff),
      `client ${i}: sequence numbers are contiguous (no loss, no repeat)`,
    );
    assert.equal(framesOf(sink), frames, `client ${i}: frames (distinct timestamps)`);
  }
  for (const [i, conn] of conns.entries()) {
    const reply = await ask(
      conn,
      req("TEARDOWN", video, { CSeq: 3, Session: sessions[i].session }),
      3,
    );
    assert.equal(reply.status, 200);
  }
  assert.equal(srv.server.sessions.size, 0);
});

Deno.test("closing the connection of a standard client frees its sessions", async () => {
  await using srv = await startServer({ fps: 100 });
  await using sink = udpSink();
  const conn = await RawConn.connect(srv.port);
  try {
    const { session } = await setup(srv, conn, sink);
    const play = await ask(
      conn,
      req("PLAY", srv.url("video.mjpeg"), { CSeq: 2, Session: session }),
      2,
    );
    assert.equal(play.status, 200);
    assert.ok(await sink.waitFor(2, 3000));
  } finally {
    await conn.close();
  }
  assert.ok(await waitUntil(() => srv.server.sessions.size === 0, 2000), "session freed");
  await sleep(50);
  const settled = sink.datagrams.length;
  await sleep(200);
  assert.equal(sink.datagrams.length, settled, "RTP after the connection closed");
});

/** Log lines about the connection `conn` (the server prefixes them with the peer address). */
function logsOf(srv: TestServer, conn: RawConn): string[] {
  const peer = `127.0.0.1:${conn.localPort}`;
  return srv.logs.filter((line) => line.split(/\s+/).includes(peer));
}

/** Assert that `line` names the method, URI, status and (when given) session id. */
function assertLogLine(
  line: string | undefined,
  method: string,
  uri: string,
  status: number,
  session?: string,
): void {
  assert.ok(line !== undefined, `no log line for ${method} ${uri}`);
  const tokens = line.split(/[\s=]+/);
  assert.ok(tokens.includes(method), `log line lacks the method ${method}: ${line}`);
  assert.ok(tokens.includes(uri), `log line lacks the URI ${uri}: ${line}`);
  assert.ok(tokens.includes(String(status)), `log line lacks the status ${status}: ${line}`);
  if (session !== undefined) {
    assert.ok(tokens.includes(session), `log line lacks the session ${session}: ${line}`);
  }
}

Deno.test("one log line per request, with method, URI, session and status", async () => {
  await using srv = await startServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const video = srv.url("video.mjpeg");
  const { session } = await setup(srv, conn, sink, 1);
  const sent: [method: string, uri: string, status: number, session?: string][] = [
    ["SETUP", video, 200, session],
  ];
  for (
    const [cseq, method, uri, headers, status] of [
      [2, "OPTIONS", "*", {}, 200],
      [3, "PLAY", video, { Session: session }, 200],
      [4, "GET_PARAMETER", video, { Session: session }, 200],
      [5, "PAUSE", video, { Session: session }, 200],
      [6, "FOO", video, {}, 501],
      [7, "SETUP", srv.url("nope.mjpeg"), { Transport: avp(sink) }, 404],
      [8, "TEARDOWN", video, { Session: session }, 200],
    ] as const
  ) {
    const reply = await ask(conn, req(method, uri, { CSeq: cseq, ...headers }), cseq);
    assert.equal(reply.status, status, `${method} status`);
    sent.push([method, uri, status, status === 200 && "Session" in headers ? session : undefined]);
  }
  const lines = logsOf(srv, conn);
  assert.equal(lines.length, sent.length, `log lines:\n${lines.join("\n")}`);
  for (const [i, [method, uri, status, id]] of sent.entries()) {
    assertLogLine(lines[i], method, uri, status, id);
  }

  // An unparsable request is one log line too, with its status.
  await using bad = await RawConn.connect(srv.port);
  assert.equal(parseReply(await bad.request("HELLO\r\nCSeq: 1\r\n\r\n")).status, 400);
  await bad.waitClosed(1000);
  const badLines = logsOf(srv, bad);
  assert.equal(badLines.length, 1, `log lines:\n${badLines.join("\n")}`);
  assert.ok(badLines[0].split(/[\s=]+/).includes("400"), badLines[0]);
});

Deno.test("an error reply to a request naming a live session logs that session", async () => {
  await using srv = await startServer();
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const video = srv.url("video.mjpeg");
  const { session } = await setup(srv, conn, sink, 1);
  // PAUSE while ready: 455, but the request named a real session of this connection.
  const reply = await ask(conn, req("PAUSE", video, { CSeq: 2, Session: session }), 2);
  assert.equal(reply.status, 455);
  const lines = logsOf(srv, conn);
  assert.equal(lines.length, 2, `log lines:\n${lines.join("\n")}`);
  assertLogLine(lines[1], "PAUSE", video, 455, session);
});
