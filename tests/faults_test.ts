/**
 * Faults on either side, and what must survive them.
 *
 * - Client: the server vanishes mid-stream (closed in process, or its process
 *   killed); a scripted fake server replies without CSeq, with a wrong CSeq,
 *   with garbage, with a Session that changes, closes, or never replies.
 *   Each ends in a clear RtspClientError within the reply timeout; frames
 *   received so far are kept.
 * - Server: a truncated file, a frame that is not a JPEG, an empty file, a
 *   length header past the end are 415 with file, frame and offset in the
 *   log, while a session on video.mjpeg streams on untouched; a file replaced
 *   while served (the playing session keeps the old content, a new one gets
 *   the new); a file removed (404).
 * - Shutdown: close() while a standard UDP session plays sends an RTCP BYE to
 *   the client's RTCP port and releases everything.
 * - Sessions across connections: a second TEARDOWN, the lab's PLAY before
 *   SETUP, another connection's TEARDOWN (454 each; the owner plays on).
 *   (Another connection's PLAY is in server_rtsp_test.ts.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeRtspServer, type FakeScript } from "./_fake_rtsp.ts";
import { createResponse, type RtspRequest, serializeResponse } from "../lib/wire/rtsp_message.ts";
import { parseRtcpPackets } from "../lib/wire/rtcp_packet.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { RtspClientError } from "../lib/session/client/rtsp_client.ts";
import { serializeJpegSdp } from "../lib/wire/sdp.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import {
  labFile,
  labParseReply,
  RawConn,
  req,
  rtpView,
  sinkPair,
  sleep,
  tempMediaDir,
  type UdpSink,
  udpSink,
  waitUntil,
} from "./_raw_rtsp.ts";
import { PROJECT_ROOT, startServer } from "./_server.ts";
import { concat, sameBytes, withTempDir } from "./_helpers.ts";

const FRAMES = [...readLabFrames(await Deno.readFile(`${PROJECT_ROOT}/video.mjpeg`))].map((f) =>
  f.data
);
const encoder = new TextEncoder();

/** frame_NNNNNN.jpg files in `dir`, each checked against the file's frame NNNNNN. */
async function assertKeptFrames(dir: string, expectedCount: number): Promise<number[]> {
  const numbers: number[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^frame_(\d{6})\.jpg$/.exec(entry.name);
    assert.ok(m, `unexpected file ${entry.name}`);
    const n = Number(m[1]);
    const jpeg = await Deno.readFile(`${dir}/${entry.name}`);
    assert.ok(sameBytes(jpeg, FRAMES[n - 1]), `${entry.name} is frame ${n - 1} of the file`);
    numbers.push(n);
  }
  assert.equal(numbers.length, expectedCount, "one file per frame received");
  return numbers.sort((a, b) => a - b);
}

/** The RtspClientError `promise` rejects with (fails on anything else, or on success). */
async function clientError(promise: Promise<unknown>): Promise<RtspClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RtspClientError, `expected RtspClientError, got ${error}`);
    return error;
  }
  assert.fail("expected an RtspClientError, the call succeeded");
}

// ---------------------------------------------------------------------------
// Client: the server vanishes

for (const dialect of ["lab", "rtsp"] as const) {
  Deno.test(`faults (${dialect}): the server closes mid-stream; receive ends, teardown fails clearly, frames are kept`, async () => {
    await withTempDir(async (dir) => {
      const srv = await startServer({ fps: 50 });
      let client: StreamClient | undefined;
      try {
        client = await StreamClient.open({
          host: "127.0.0.1",
          port: srv.port,
          rtpPort: 0,
          resource: "video.mjpeg",
          dialect,
          outDir: dir,
          receiveTimeoutMs: 100,
          replyTimeoutMs: 1000,
        });
        await client.setup();
        await client.play();
        const receiving = client.receive({ endAfterSec: 0.5, firstPacketTimeoutSec: 5 });
        assert.ok(
          await waitUntil(() => client!.stats.framesReceived >= 10, 5000),
          "10 frames arrive",
        );
        await srv.server.close();
        const end = await receiving;
        // The lab gets no RTCP: silence ends it. A standard client may get the BYE of shutdown.
        assert.ok(
          dialect === "lab" ? end === "end-of-stream" : end === "bye" || end === "end-of-stream",
          `receive ended by ${end}`,
        );
        const error = await clientError(client.teardown());
        assert.match(error.message, /server closed the RTSP connection|Cannot send TEARDOWN/);
        const received = client.stats.framesReceived;
        assert.ok(received >= 10 && received < 200, `${received} frames before the server went`);
        assert.equal(client.stats.summary().packetsLost, 0);
        await client.close();
        client = undefined;
        const numbers = await assertKeptFrames(dir, received);
        assert.deepEqual(numbers, Array.from({ length: received }, (_, i) => i + 1));
      } finally {
        await client?.close();
        await srv.server.close();
      }
    });
  });
}

Deno.test("faults: the server's process is killed mid-stream; receive ends on silence, teardown fails clearly", async () => {
  await withTempDir(async (dir) => {
    await using media = await tempMediaDir({ "video.mjpeg": labFile(FRAMES) });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-P=server", "server.ts", "0"],
        ...["--host", "127.0.0.1", "--media-dir", media.path, "--fps", "50", "--quiet"],
      ],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const stdout = child.stdout.getReader();
    let client: StreamClient | undefined;
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    };
    const hardTimer = setTimeout(kill, 20_000);
    try {
      // "rtsp-server: serving DIR on rtsp://127.0.0.1:PORT/ at 50 fps ..."
      let banner = "";
      const decoder = new TextDecoder();
      while (!/rtsp:\/\/[^:]+:\d+\//.test(banner)) {
        const { value, done } = await stdout.read();
        if (done) break;
        banner += decoder.decode(value);
      }
      const port = Number(/rtsp:\/\/[^:]+:(\d+)\//.exec(banner)?.[1]);
      assert.ok(port > 0, `server banner: ${banner}`);
      client = await StreamClient.open({
        host: "127.0.0.1",
        port,
        rtpPort: 0,
        resource: "video.mjpeg",
        dialect: "rtsp",
        outDir: dir,
        receiveTimeoutMs: 100,
        replyTimeoutMs: 1000,
      });
      await client.setup();
      await client.play();
      const receiving = client.receive({ endAfterSec: 0.5, firstPacketTimeoutSec: 10 });
      assert.ok(
        await waitUntil(() => client!.stats.framesReceived >= 10, 10_000),
        "10 frames arrive",
      );
      kill();
      assert.equal((await child.status).signal, "SIGKILL");
      assert.equal(
        await receiving,
        "end-of-stream",
        "no BYE from a killed server: silence ends it",
      );
      const error = await clientError(client.teardown());
      assert.match(error.message, /server closed the RTSP connection|Cannot send TEARDOWN/);
      const received = client.stats.framesReceived;
      assert.ok(received >= 10 && received < 200, `${received} frames`);
      await client.close();
      client = undefined;
      await assertKeptFrames(dir, received);
    } finally {
      await client?.close();
      kill();
      clearTimeout(hardTimer);
      await child.status;
      await stdout.cancel();
      await stderr;
    }
  });
});

// ---------------------------------------------------------------------------
// Client: a scripted fake server

const SDP = serializeJpegSdp({
  sessionId: "1",
  origin: "127.0.0.1",
  name: "video.mjpeg",
  fps: 20,
  control: "trackID=0",
});

/** A proper reply to `request`, with `headers` (CSeq echoed unless given). */
function reply(request: RtspRequest, headers: Record<string, string> = {}, body = ""): Uint8Array {
  const response = createResponse(
    200,
    { CSeq: request.headers.get("cseq") ?? "0", ...headers },
    body,
  );
  return serializeResponse(response);
}

/** DESCRIBE, SETUP and PLAY answered properly unless `at` says otherwise. */
function standardScript(at: Partial<Record<string, FakeScript>>): FakeScript {
  return (request, n) => {
    const special = at[request.method];
    if (special) return special(request, n);
    if (request.method === "DESCRIBE") {
      return reply(request, { "Content-Type": "application/sdp" }, SDP);
    }
    if (request.method === "SETUP") {
      return reply(request, {
        Session: "11111111;timeout=60",
        Transport: "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001",
      });
    }
    return reply(request, { Session: "11111111" });
  };
}

const REPLY_TIMEOUT_MS = 300;

const FAKE_CASES: {
  name: string;
  dialect: "lab" | "rtsp";
  script: FakeScript;
  /** Which step fails. */
  step: "setup" | "play";
  message: RegExp;
}[] = [
  {
    name: "a reply without CSeq",
    dialect: "rtsp",
    script: standardScript({
      DESCRIBE: () => encoder.encode("RTSP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    }),
    step: "setup",
    message: /The reply to DESCRIBE has no CSeq/,
  },
  {
    name: "a reply with a later CSeq",
    dialect: "rtsp",
    script: standardScript({ DESCRIBE: (r) => reply(r, { CSeq: "7" }) }),
    step: "setup",
    message: /The reply to DESCRIBE has CSeq 7, expected 1/,
  },
  {
    name: "a reply with an earlier CSeq only (a stale reply, then nothing)",
    dialect: "rtsp",
    script: standardScript({
      SETUP: (r) => reply(r, { CSeq: "1", Session: "11111111" }),
    }),
    step: "setup",
    message: /No reply from the server within 0\.3 s/,
  },
  {
    name: "garbage bytes",
    dialect: "rtsp",
    script: standardScript({
      DESCRIBE: () => Uint8Array.of(0, 1, 2, 0xff, 0x0d, 0x0a, 0x0d, 0x0a),
    }),
    step: "setup",
    message: /Cannot read the server's reply: Cannot parse RTSP/,
  },
  {
    name: "a Session that changes between SETUP and PLAY",
    dialect: "rtsp",
    script: standardScript({ PLAY: (r) => reply(r, { Session: "22222222" }) }),
    step: "play",
    message: /The server changed the session from 11111111 to 22222222/,
  },
  {
    name: "a SETUP reply without Session",
    dialect: "rtsp",
    script: standardScript({ SETUP: (r) => reply(r) }),
    step: "setup",
    message: /The reply to SETUP has no Session header/,
  },
  {
    name: "no reply at all",
    dialect: "rtsp",
    script: () => "silence",
    step: "setup",
    message: /No reply from the server within 0\.3 s/,
  },
  {
    name: "a closed connection",
    dialect: "rtsp",
    script: () => "close",
    step: "setup",
    message: /The server closed the RTSP connection/,
  },
  {
    name: "no reply at all (lab)",
    dialect: "lab",
    script: () => "silence",
    step: "setup",
    message: /No reply from the server within 0\.3 s/,
  },
  {
    name: "a lab reply without CSeq",
    dialect: "lab",
    script: () => encoder.encode("RTSP/1.0 200 OK\nSession: 123456"),
    step: "setup",
    // Without CSeq a blank-line-less reply is never complete: it times out.
    message: /No reply from the server within 0\.3 s|has no CSeq/,
  },
  {
    name: "a lab reply with a wrong CSeq",
    dialect: "lab",
    script: () => encoder.encode("RTSP/1.0 200 OK\nCSeq: 5\nSession: 123456"),
    step: "setup",
    message: /The reply to SETUP has CSeq 5, expected 1/,
  },
  {
    name: "a lab PLAY reply with another Session",
    dialect: "lab",
    script: (r) =>
      encoder.encode(
        `RTSP/1.0 200 OK\nCSeq: ${r.headers.get("cseq")}\nSession: ${
          r.method === "SETUP" ? 123456 : 654321
        }`,
      ),
    step: "play",
    message: /The server changed the session from 123456 to 654321/,
  },
];

for (const c of FAKE_CASES) {
  Deno.test(`faults (${c.dialect}): ${c.name} is a clear RtspClientError within the reply timeout`, async () => {
    const fake = fakeRtspServer(c.script);
    let client: StreamClient | undefined;
    try {
      client = await StreamClient.open({
        host: "127.0.0.1",
        port: fake.port,
        rtpPort: 0,
        resource: "video.mjpeg",
        dialect: c.dialect,
        replyTimeoutMs: REPLY_TIMEOUT_MS,
      });
      if (c.step === "play") await client.setup();
      const started = performance.now();
      const error = await clientError(c.step === "setup" ? client.setup() : client.play());
      const ms = performance.now() - started;
      assert.match(error.message, c.message);
      assert.ok(!/\n/.test(error.message), "a one-line message");
      // Bounded, not a hang: the reply timeout plus the lab's idle flush and slack.
      assert.ok(ms < REPLY_TIMEOUT_MS + 2000, `failed after ${ms.toFixed(0)} ms`);
    } finally {
      await client?.close();
      await fake.close();
    }
  });
}

// ---------------------------------------------------------------------------
// Server: broken media

const status = (reply: string) => Number(/^RTSP\/1\.0 (\d{3}) /.exec(reply)?.[1]);

Deno.test("faults: malformed media files are 415 naming file, frame and offset; a playing session is untouched", async () => {
  const good = FRAMES.slice(0, 5);
  const truncatedFile = labFile(good).slice(0, -100);
  const notJpeg = labFile([good[0], good[1], encoder.encode("this is not a JPEG at all"), good[3]]);
  const beyond = concat(labFile([good[0]]), encoder.encode("99999"), new Uint8Array(100));
  const offsetOf = (frames: Uint8Array[], index: number) =>
    frames.slice(0, index).reduce((n, f) => n + 5 + f.length, 0);
  const broken: [string, Uint8Array, number, number][] = [
    ["truncated.mjpeg", truncatedFile, 4, offsetOf(good, 4)],
    ["notjpeg.mjpeg", notJpeg, 2, offsetOf(good, 2) + 5], // the frame's data, after its header
    ["empty.mjpeg", new Uint8Array(0), 0, 0],
    ["beyond.mjpeg", beyond, 1, offsetOf(good, 1)],
  ];
  await using media = await tempMediaDir({
    "video.mjpeg": labFile(FRAMES),
    ...Object.fromEntries(broken.map(([name, data]) => [name, data])),
  });
  await using srv = await startServer({ mediaDir: media.path, fps: 100 });
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port: srv.port,
    rtpPort: 0,
    resource: "video.mjpeg",
    dialect: "rtsp",
    receiveTimeoutMs: 100,
  });
  try {
    await client.setup();
    await client.play();
    const receiving = client.receive({ endAfterSec: 1, firstPacketTimeoutSec: 5 });
    assert.ok(await waitUntil(() => client.stats.framesReceived >= 5, 5000));
    await using sink = udpSink();
    await using conn = await RawConn.connect(srv.port);
    let cseq = 0;
    for (const [name, , frame, offset] of broken) {
      const requests = [
        req("DESCRIBE", srv.url(name), { CSeq: ++cseq }),
        req("SETUP", srv.url(name), {
          CSeq: ++cseq,
          Transport: `RTP/AVP;unicast;client_port=${sink.port}-${sink.port + 1}`,
        }),
        `SETUP ${name} RTSP/1.0\nCSeq: ${++cseq}\nTransport: RTP/UDP; client_port= ${sink.port}`,
      ];
      for (const request of requests) {
        const answer = await conn.request(request);
        assert.equal(status(answer), 415, `${request.split("\n")[0]}: ${answer}`);
        const line = srv.logs.findLast((l) => l.includes(` ${name} `) || l.includes(`/${name} `));
        assert.ok(line, `a log line for ${name}`);
        assert.match(
          line,
          new RegExp(
            ` 415 \\(Cannot read \\S*${
              name.replace(".", "\\.")
            }: frame ${frame} at byte offset ${offset}: `,
          ),
        );
      }
    }
    assert.equal(srv.server.sessions.size, 1, "no session for a broken file");
    assert.equal(await receiving, "bye");
    await client.teardown();
  } finally {
    await client.close();
  }
  const s = client.stats.summary();
  assert.equal(s.framesReceived, FRAMES.length, "the playing session got every frame");
  assert.equal(s.packetsLost, 0);
  assert.equal(s.framesIncomplete + s.framesDamaged, 0);
});

/** A lab session on `conn` sending to `sink`: SETUP and PLAY; returns the session id. */
async function labPlay(conn: RawConn, sink: UdpSink, name: string): Promise<number> {
  const setup = labParseReply(
    await conn.request(
      `SETUP ${name} RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink.port}`,
    ),
  );
  assert.equal(setup.status, 200);
  const play = labParseReply(
    await conn.request(`PLAY ${name} RTSP/1.0\nCSeq: 2\nSession: ${setup.session}`),
  );
  assert.equal(play.status, 200);
  return setup.session;
}

/** Lab datagrams: frame number k carries `frames[k - 1]`. */
function assertLabFrames(sink: UdpSink, frames: Uint8Array[], label: string): void {
  for (const [i, d] of sink.datagrams.entries()) {
    const rtp = rtpView(d.data);
    assert.equal(rtp.sequenceNumber, i + 1, `${label}: datagram ${i} is frame ${i + 1}`);
    assert.ok(sameBytes(rtp.payload, frames[i]), `${label}: frame ${i + 1} content`);
  }
}

Deno.test("faults: a file replaced while served: the playing session keeps its content, a new one gets the new; removed: 404", async () => {
  const before = FRAMES.slice(0, 100);
  const after = FRAMES.slice(100, 150);
  await using media = await tempMediaDir({ "clip.mjpeg": labFile(before) });
  await using srv = await startServer({ mediaDir: media.path, fps: 100 });
  await using sinkA = udpSink();
  await using sinkB = udpSink();
  await using a = await RawConn.connect(srv.port);
  await using b = await RawConn.connect(srv.port);
  await labPlay(a, sinkA, "clip.mjpeg");
  assert.ok(await sinkA.waitFor(10, 3000), "session A streams");
  await Deno.writeFile(`${media.path}/clip.mjpeg`, labFile(after));
  await labPlay(b, sinkB, "clip.mjpeg");
  assert.ok(await sinkA.waitFor(before.length, 5000), "session A gets all its frames");
  assert.ok(await sinkB.waitFor(after.length, 5000), "session B gets all its frames");
  await sleep(100);
  assert.equal(sinkA.datagrams.length, before.length, "A: no more, no fewer");
  assert.equal(sinkB.datagrams.length, after.length, "B: no more, no fewer");
  assertLabFrames(sinkA, before, "A (started before the change)");
  assertLabFrames(sinkB, after, "B (started after the change)");

  await Deno.remove(`${media.path}/clip.mjpeg`);
  await using c = await RawConn.connect(srv.port);
  const answer = await c.request(
    `SETUP clip.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sinkB.port}`,
  );
  assert.equal(status(answer), 404, answer);
  assert.match(srv.logs.at(-1)!, /SETUP clip\.mjpeg session=- 404 \(Cannot open "clip\.mjpeg"/);
});

// ---------------------------------------------------------------------------
// Shutdown

Deno.test("faults: close() while a standard UDP session plays sends RTCP BYE to the client's RTCP port", async () => {
  const srv = await startServer({ fps: 50 });
  await using sinks = await sinkPair();
  const { rtp: rtpSink, rtcp: rtcpSink } = sinks;
  await using conn = await RawConn.connect(srv.port);
  try {
    const setup = await conn.request(
      req("SETUP", srv.url("video.mjpeg"), { CSeq: 1, Transport: sinks.transport }),
    );
    assert.equal(status(setup), 200, setup);
    const session = /Session: (\d+)/.exec(setup)![1];
    const ssrc = parseInt(/ssrc=([0-9A-Fa-f]+)/.exec(setup)![1], 16);
    assert.equal(
      status(
        await conn.request(req("PLAY", srv.url("video.mjpeg"), { CSeq: 2, Session: session })),
      ),
      200,
    );
    assert.ok(await rtpSink.waitFor(20, 3000), "RTP flows");
    assert.ok(await rtcpSink.waitFor(1, 3000), "the first sender report arrives");
    const reportsBefore = rtcpSink.datagrams.length;

    await srv.server.close();
    assert.ok(await rtcpSink.waitFor(reportsBefore + 1, 2000), "RTCP after close()");
    const last = parseRtcpPackets(rtcpSink.datagrams.at(-1)!.data);
    const bye = last.find((p) => p.type === "bye");
    assert.ok(bye && bye.type === "bye", `a BYE: ${JSON.stringify(last.map((p) => p.type))}`);
    assert.deepEqual(bye.sources, [ssrc]);
    assert.equal(last[0].type, "sr", "compound RTCP starts with a report");
    assert.ok(await conn.waitClosed(2000), "the RTSP connection is closed");
    const rtpAfter = rtpSink.datagrams.length;
    await sleep(100);
    assert.equal(rtpSink.datagrams.length, rtpAfter, "no RTP after close()");
    assert.equal(srv.server.sessions.size, 0);
  } finally {
    await srv.server.close();
  }
});

// ---------------------------------------------------------------------------
// Sessions across connections

Deno.test("faults: a second TEARDOWN of a session is 454; so is the lab's PLAY before SETUP", async () => {
  await using srv = await startServer({ fps: 50 });
  await using sink = udpSink();
  await using conn = await RawConn.connect(srv.port);
  const video = srv.url("video.mjpeg");
  const setup = await conn.request(
    req("SETUP", video, {
      CSeq: 1,
      Transport: `RTP/AVP;unicast;client_port=${sink.port}-${sink.port + 1}`,
    }),
  );
  const session = /Session: (\d+)/.exec(setup)![1];
  assert.equal(
    status(await conn.request(req("TEARDOWN", video, { CSeq: 2, Session: session }))),
    200,
  );
  const again = await conn.request(req("TEARDOWN", video, { CSeq: 3, Session: session }));
  assert.equal(status(again), 454);
  assert.match(again, /CSeq: 3\r\n/);
  assert.equal(srv.server.sessions.size, 0);

  // The lab client's PLAY before SETUP carries "Session: 0".
  await using lab = await RawConn.connect(srv.port);
  const early = await lab.request("PLAY video.mjpeg RTSP/1.0\nCSeq: 1\nSession: 0");
  assert.equal(status(early), 454, early);
  assert.match(early, /^RTSP\/1\.0 454 [^\r\n]*\r\nCSeq: 1\r\n/);
  await sleep(100);
  assert.equal(
    sink.datagrams.filter((d) => d.data.length > 12 && (d.data[1] & 0x7f) === 26).length,
    0,
  );
  // The connection is still good for a proper SETUP.
  const ok = labParseReply(
    await lab.request(
      `SETUP video.mjpeg RTSP/1.0\nCSeq: 2\nTransport: RTP/UDP; client_port= ${sink.port}`,
    ),
  );
  assert.equal(ok.status, 200);
});

Deno.test("faults: another connection's TEARDOWN of a session is 454 and the owner plays on", async () => {
  await using srv = await startServer({ fps: 50 });
  await using sink = udpSink();
  await using owner = await RawConn.connect(srv.port);
  await using other = await RawConn.connect(srv.port);
  const session = await labPlay(owner, sink, "video.mjpeg");
  assert.ok(await sink.waitFor(5, 3000));
  const video = srv.url("video.mjpeg");
  const answer = await other.request(req("TEARDOWN", video, { CSeq: 1, Session: session }));
  assert.equal(status(answer), 454);
  assert.equal(srv.server.sessions.size, 1, "the owner's session is still there");
  const count = sink.datagrams.length;
  assert.ok(await sink.waitFor(count + 5, 3000), "and still streaming");
  const teardown = labParseReply(
    await owner.request(`TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 3\nSession: ${session}`),
  );
  assert.equal(teardown.status, 200);
});
