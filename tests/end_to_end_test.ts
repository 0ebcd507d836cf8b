/**
 * The server and the client in one process, over 127.0.0.1: every frame of
 * video.mjpeg arrives intact, in both dialects, with PAUSE, many clients and
 * the usual errors.
 */
import assert from "node:assert/strict";
import { assertSamePicture } from "./_same_picture.ts";
import { sameBytes, withTempDir } from "./_helpers.ts";
import { startServer } from "./_server.ts";
import type { RtspServer } from "../lib/session/server/rtsp_server.ts";
import { RtspClientError } from "../lib/session/client/rtsp_client.ts";
import { RtpReceiver } from "../lib/session/client/rtp_receiver.ts";
import type { Dialect } from "../lib/wire/dialect.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { parseRtpPacket } from "../lib/wire/rtp_packet.ts";

const ROOT = new URL("..", import.meta.url);
const VIDEO = await Deno.readFile(new URL("video.mjpeg", ROOT));
const FRAMES = [...readLabFrames(VIDEO)].map((f) => f.data);
const FPS = 200;
/**
 * Frame rate for the many-clients tests: twice real time. Here nine parties
 * share one event loop (and CI's two cores), and a burst of lab datagrams
 * (~12 kB each) past the kernel's default UDP receive buffer would be lost
 * by the kernel, not by the code under test.
 */
const MANY_CLIENTS_FPS = 40;
const DIALECTS: Dialect[] = ["lab", "rtsp"];
/** Receive until the stream ends, failing when it never starts. */
const TO_END = { endAfterSec: 1, firstPacketTimeoutSec: 5 } as const;

async function withServer(
  fn: (server: RtspServer) => Promise<void>,
  fps = FPS,
): Promise<void> {
  await using srv = await startServer({ fps });
  await fn(srv.server);
}

function openClient(
  server: RtspServer,
  dialect: Dialect,
  outDir?: string,
  resource = "video.mjpeg",
): Promise<StreamClient> {
  return StreamClient.open({
    host: "127.0.0.1",
    port: server.addr.port,
    rtpPort: 0,
    resource,
    dialect,
    outDir,
  });
}

/**
 * The directory holds exactly frame_000001.jpg .. frame_<count>.jpg, and each
 * is frame i of the file: byte for byte in the lab dialect (the whole JPEG
 * travels in one packet); in the standard dialect, where RTP/JPEG (RFC 2435)
 * may carry only the scan and the receiver rebuilds the headers, byte for
 * byte or else the same picture (same size, components, quantization
 * tables and identical entropy-coded scan data).
 */
async function assertFramesWritten(dir: string, count: number, dialect: Dialect): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  const expected = Array.from(
    { length: count },
    (_, i) => `frame_${String(i + 1).padStart(6, "0")}.jpg`,
  );
  assert.deepEqual(names.sort(), expected);
  for (let i = 0; i < count; i++) {
    const written = await Deno.readFile(`${dir}/${expected[i]}`);
    if (sameBytes(written, FRAMES[i])) continue;
    assert.ok(dialect === "rtsp", `${expected[i]} differs from frame ${i} of the file`);
    assertSamePicture(written, FRAMES[i], `${expected[i]} (frame ${i} of the file)`);
  }
}

/**
 * Every frame arrived and nothing was lost. Packets: one per frame in the lab
 * dialect; in the standard dialect as many as the server sent.
 */
function assertComplete(
  client: StreamClient,
  dialect: Dialect,
  packetsSent: number,
  label: string = dialect,
): void {
  const s = client.stats.summary();
  assert.equal(s.framesReceived, 200, `${label}: frames received`);
  assert.equal(s.framesDamaged, 0, `${label}: frames damaged (${client.damaged[0] ?? ""})`);
  if (dialect === "lab") assert.equal(packetsSent, 200, `${label}: one packet per frame`);
  assert.equal(s.packetsExpected, packetsSent, `${label}: packets expected`);
  assert.equal(s.packetsReceived, packetsSent, `${label}: packets received`);
  assert.equal(s.packetsLost, 0, `${label}: packets lost`);
  assert.equal(s.duplicates, 0, `${label}: duplicates`);
  assert.equal(s.outOfOrder, 0, `${label}: out of order`);
  assert.equal(s.malformed, 0, `${label}: malformed`);
  assert.equal(client.foreignPackets, 0, `${label}: foreign packets`);
}

/** The server's session of a client that has done SETUP. */
function serverSession(server: RtspServer, client: StreamClient) {
  const session = server.sessions.get(client.rtsp.session ?? "");
  assert.ok(session, "the server has the client's session");
  return session;
}

for (const dialect of DIALECTS) {
  Deno.test(`end to end (${dialect}): every frame arrives intact`, async () => {
    await withServer((server) =>
      withTempDir(async (dir) => {
        const client = await openClient(server, dialect, dir);
        let packetsSent = 0;
        try {
          const setup = await client.setup();
          assert.equal(setup.status, 200);
          assert.equal(
            client.rtsp.cseq,
            dialect === "rtsp" ? 2 : 1,
            "DESCRIBE precedes SETUP in standard RTSP",
          );
          assert.ok(client.rtsp.session, "a session id after SETUP");
          assert.equal(server.sessions.size, 1);
          const session = serverSession(server, client);
          assert.equal(session.dialect, dialect);
          const play = await client.play();
          assert.equal(play.status, 200);
          assert.equal(client.rtsp.cseq, dialect === "rtsp" ? 3 : 2);
          assert.equal(
            await client.receive(TO_END),
            dialect === "rtsp" ? "bye" : "end-of-stream",
            "standard RTSP ends on the RTCP BYE, the lab on silence",
          );
          const teardown = await client.teardown();
          assert.equal(teardown.status, 200);
          assert.equal(client.rtsp.cseq, dialect === "rtsp" ? 4 : 3, "CSeq up by one per request");
          assert.equal(server.sessions.size, 0, "TEARDOWN ends the session on the server");
          assert.equal(session.framesSent, 200);
          packetsSent = session.packetsSent;
        } finally {
          await client.close();
        }
        assertComplete(client, dialect, packetsSent);
        const s = client.stats.summary();
        if (dialect === "lab") assert.equal(s.bytes, FRAMES.reduce((n, f) => n + f.length, 0));
        assert.ok(s.firstFrameMs !== null && s.firstFrameMs >= 0, "time to first frame");
        await assertFramesWritten(dir, 200, dialect);
      })
    );
  });

  Deno.test(`end to end (${dialect}): pause stops the stream, play resumes it`, async () => {
    await withServer((server) =>
      withTempDir(async (dir) => {
        const client = await openClient(server, dialect, dir);
        let packetsSent = 0;
        try {
          await client.setup();
          const session = serverSession(server, client);
          await client.play();
          assert.equal(await client.receive({ frames: 20, ...TO_END }), "frames");
          assert.equal(client.stats.framesReceived, 20);
          const pause = await client.pause();
          assert.equal(pause.status, 200);
          assert.equal(session.state, "ready");
          const framesAtPause = session.framesSent;
          const packetsAtPause = session.packetsSent;
          assert.ok(framesAtPause < 200, `paused mid-stream (${framesAtPause} frames sent)`);

          // Drain what was already on the way, then check that nothing more comes.
          assert.equal(await client.receive({ durationSec: 0.3 }), "duration");
          const drained = client.stats.framesReceived;
          assert.ok(drained <= framesAtPause, `${drained} received, ${framesAtPause} sent`);
          assert.equal(await client.receive({ durationSec: 0.3 }), "duration");
          assert.ok(
            client.stats.framesReceived - drained <= 1,
            `${client.stats.framesReceived - drained} frames arrived while paused`,
          );
          assert.equal(session.framesSent, framesAtPause, "no frame sent while paused");
          assert.equal(session.packetsSent, packetsAtPause, "no packet sent while paused");

          const play = await client.play();
          assert.equal(play.status, 200);
          assert.equal(
            await client.receive(TO_END),
            dialect === "rtsp" ? "bye" : "end-of-stream",
            "standard RTSP ends on the RTCP BYE, the lab on silence",
          );
          await client.teardown();
          assert.equal(
            client.rtsp.cseq,
            dialect === "rtsp" ? 6 : 5,
            "(DESCRIBE,) SETUP, PLAY, PAUSE, PLAY, TEARDOWN",
          );
          packetsSent = session.packetsSent;
        } finally {
          await client.close();
        }
        assertComplete(client, dialect, packetsSent, `${dialect} after pause`);
        await assertFramesWritten(dir, 200, dialect);
      })
    );
  });

  Deno.test(`end to end (${dialect}): receive with a frame limit stops at that count`, async () => {
    await withServer((server) =>
      withTempDir(async (dir) => {
        const client = await openClient(server, dialect, dir);
        try {
          await client.setup();
          await client.play();
          assert.equal(await client.receive({ frames: 50, ...TO_END }), "frames");
          assert.equal(client.stats.framesReceived, 50);
          assert.equal(client.stats.summary().packetsLost, 0);
          await assertFramesWritten(dir, 50, dialect);
          await client.teardown();
        } finally {
          await client.close();
        }
      })
    );
  });
}

Deno.test("end to end (rtsp): RTP-Info of PLAY names the next packet's seq and rtptime", async () => {
  await withServer(async (server) => {
    const client = await openClient(server, "rtsp");
    try {
      await client.setup();
      for (let round = 0; round < 2; round++) {
        // Nothing may be waiting: drain what came before (bounded).
        for (let i = 0; i < 1000 && await client.receiver.receive(200); i++);
        const play = await client.play();
        const info = play.headers.get("rtp-info");
        assert.ok(info, "PLAY reply has RTP-Info");
        const seq = Number(/;seq=(\d+)/.exec(info)?.[1]);
        const rtptime = Number(/;rtptime=(\d+)/.exec(info)?.[1]);
        let datagram = await client.receiver.receive(5000);
        while (datagram?.rtcp) datagram = await client.receiver.receive(5000); // skip sender reports
        assert.ok(datagram, "a packet after PLAY");
        const packet = parseRtpPacket(datagram.data);
        assert.equal(packet.sequenceNumber, seq, `round ${round}: RTP-Info ${info}`);
        assert.equal(packet.timestamp, rtptime, `round ${round}: RTP-Info ${info}`);
        await client.pause();
      }
      await client.teardown();
    } finally {
      await client.close();
    }
  });
});

Deno.test("end to end: receive without an output directory still verifies frames", async () => {
  await withServer(async (server) => {
    const client = await openClient(server, "lab");
    try {
      await client.setup();
      await client.play();
      assert.equal(
        await client.receive(TO_END),
        "end-of-stream",
        "standard RTSP ends on the RTCP BYE, the lab on silence",
      );
      await client.teardown();
    } finally {
      await client.close();
    }
    assertComplete(client, "lab", 200, "no outDir");
  });
});

for (
  const [label, dialectOf] of [
    ["lab", () => "lab"],
    ["mixed dialects", (i: number) => DIALECTS[i % 2]],
  ] as [string, (i: number) => Dialect][]
) {
  Deno.test(`end to end: 8 clients at once all get every frame (${label})`, async () => {
    await withServer((server) =>
      withTempDir(async (dir) => {
        const clients: StreamClient[] = [];
        const packetsSent: number[] = [];
        try {
          for (let i = 0; i < 8; i++) {
            clients.push(await openClient(server, dialectOf(i), `${dir}/client${i}`));
          }
          // Every client runs to its end before any failure is reported.
          const results = await Promise.allSettled(clients.map(async (client, i) => {
            await client.setup();
            const session = serverSession(server, client);
            await client.play();
            assert.equal(
              await client.receive(TO_END),
              dialectOf(i) === "rtsp" ? "bye" : "end-of-stream",
              "standard RTSP ends on the RTCP BYE, the lab on silence",
            );
            await client.teardown();
            packetsSent[i] = session.packetsSent;
          }));
          for (const result of results) if (result.status === "rejected") throw result.reason;
        } finally {
          await Promise.all(clients.map((c) => c.close()));
        }
        assert.equal(clients.length, 8);
        const sessions = new Set(clients.map((c) => c.rtsp.session));
        assert.equal(sessions.size, 8, "each client has its own session");
        const ports = new Set(clients.map((c) => c.receiver.port));
        assert.equal(ports.size, 8);
        assert.equal(server.counters.sessionsCreated, 8);
        assert.equal(server.counters.sendErrors, 0);
        assert.equal(server.sessions.size, 0);
        for (const [i, client] of clients.entries()) {
          const dialect = dialectOf(i);
          assertComplete(client, dialect, packetsSent[i], `client ${i} (${dialect})`);
          await assertFramesWritten(`${dir}/client${i}`, 200, dialect);
        }
      }), MANY_CLIENTS_FPS);
  });
}

Deno.test("end to end: StreamClient.open to a closed port rejects with a clear message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    StreamClient.open({ host: "127.0.0.1", port, rtpPort: 0, resource: "video.mjpeg" }),
    (error: unknown) => {
      assert.ok(error instanceof RtspClientError, String(error));
      assert.match(
        error.message,
        new RegExp(`Cannot connect to RTSP server 127\\.0\\.0\\.1:${port}`),
      );
      assert.ok(!error.message.includes("\n"), "one line");
      return true;
    },
  );
});

for (const dialect of DIALECTS) {
  Deno.test(`end to end (${dialect}): SETUP of a missing file is refused with 404`, async () => {
    await withServer(async (server) => {
      const client = await openClient(server, dialect, undefined, "no_such_file.mjpeg");
      try {
        await assert.rejects(client.setup(), (error: unknown) => {
          assert.ok(error instanceof RtspClientError, String(error));
          assert.equal(error.status, 404);
          assert.match(error.message, /(SETUP|DESCRIBE) .*no_such_file\.mjpeg.* 404/);
          return true;
        });
        assert.equal(client.rtsp.session, undefined);
        assert.equal(server.sessions.size, 0);
        // The connection is still usable after the refusal.
        const options = await client.rtsp.request("OPTIONS", "*");
        assert.equal(options.status, 200);
        assert.equal(client.rtsp.cseq, 2);
      } finally {
        await client.close();
      }
    });
  });
}

Deno.test("end to end: SETUP of a name outside the media directory is 404", async () => {
  await withServer(async (server) => {
    const client = await openClient(server, "rtsp", undefined, "%2e%2e/%2e%2e/etc/passwd");
    try {
      await assert.rejects(client.setup(), (error: unknown) => {
        assert.ok(error instanceof RtspClientError, String(error));
        assert.equal(error.status, 404);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

Deno.test("end to end: an RTP port already in use gives a clear error", async () => {
  await withServer(async (server) => {
    // Taken by another socket of ours.
    const taken = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (taken.addr as Deno.NetAddr).port;
    try {
      assert.throws(() => RtpReceiver.bind(port, { hostname: "127.0.0.1" }), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, new RegExp(`UDP port ${port}.*already in use`));
        return true;
      });
      await assert.rejects(
        StreamClient.open({
          host: "127.0.0.1",
          port: server.addr.port,
          rtpPort: port,
          resource: "video.mjpeg",
        }),
        /already in use/,
      );
    } finally {
      taken.close();
    }

    // Taken by another client.
    const first = await openClient(server, "lab");
    try {
      await assert.rejects(
        StreamClient.open({
          host: "127.0.0.1",
          port: server.addr.port,
          rtpPort: first.receiver.port,
          resource: "video.mjpeg",
        }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /already in use/);
          assert.ok(error.message.includes(String(first.receiver.port)));
          return true;
        },
      );
    } finally {
      await first.close();
    }
    assert.ok(server.counters.connections <= 1, "the failed opens never connected");
  });
});
