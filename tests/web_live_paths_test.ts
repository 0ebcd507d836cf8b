/**
 * Live paths in the status outputs: a raw publisher ANNOUNCEs, SETs UP
 * (interleaved, mode=record) and RECORDs `cam` with frames of video.mjpeg
 * (one cut short, one malformed packet, a burst over the rate cap), a
 * reader plays it over RTSP and another over HTTP; `RtspServer.status()`,
 * `/status.json`, `/metrics` (checked by promtool), `/snapshot/cam`,
 * `/live/cam` and the status page (headless Chromium) all show it, and the
 * totals outlive the path.
 */
import assert from "node:assert/strict";
import { loadMjpegSource, rtpJpegPayloads } from "../lib/media/mjpeg_source.ts";
import { serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import type { LivePathStatus, ServerStatus } from "../lib/session/server/server_status.ts";
import { concat, withTempDir } from "./_helpers.ts";
import { requirePeer, runCommand } from "./_peers.ts";
import { parseReply, RawConn, req, sessionIdOf, waitUntil } from "./_raw_rtsp.ts";
import { PROJECT_ROOT, startServer, type TestServer } from "./_server.ts";
import { dumpDom, haveChromium, MultipartReader, rawHttp } from "./_web.ts";

const SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n" +
  "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=framerate:20\r\n" +
  "a=control:streamid=0\r\n";

/** A publisher over one RTSP connection, sending RTP on interleaved channel 0. */
class RawPublisher {
  readonly conn: RawConn;
  readonly #frames: readonly (readonly Uint8Array[])[];
  readonly #ssrc = 0x5eed1234;
  #seq = 1000;
  #next = 0;
  session = "";

  private constructor(conn: RawConn, frames: readonly (readonly Uint8Array[])[]) {
    this.conn = conn;
    this.#frames = frames;
  }

  static async open(srv: TestServer, path: string): Promise<RawPublisher> {
    const source = await loadMjpegSource(`${PROJECT_ROOT}/video.mjpeg`);
    const { frames } = await rtpJpegPayloads(source, 1400);
    const publisher = new RawPublisher(await RawConn.connect(srv.port), frames);
    const announce = await publisher.conn.request(
      req("ANNOUNCE", srv.url(path), {
        CSeq: 1,
        "Content-Type": "application/sdp",
        "Content-Length": SDP.length,
      }) + SDP,
    );
    assert.match(announce, /^RTSP\/1\.0 200 /);
    return publisher;
  }

  async setup(srv: TestServer, path: string): Promise<void> {
    const reply = parseReply(
      await this.conn.request(
        req("SETUP", `${srv.url(path)}/streamid=0`, {
          CSeq: 2,
          Transport: "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
        }),
      ),
    );
    assert.equal(reply.status, 200, reply.raw);
    this.session = sessionIdOf(reply);
  }

  async send(method: "RECORD" | "PAUSE" | "TEARDOWN", srv: TestServer, path: string) {
    const reply = await this.conn.request(
      req(method, srv.url(path), { CSeq: 3, Session: this.session }),
    );
    assert.match(reply, /^RTSP\/1\.0 200 /);
  }

  /** The next frame of video.mjpeg, all its packets in one write; `skip` leaves one out. */
  async frame(options: { skip?: number } = {}): Promise<void> {
    const payloads = this.#frames[this.#next % this.#frames.length];
    const timestamp = this.#next * 4500;
    this.#next++;
    const packets = payloads.map((payload, i) =>
      serializeRtpPacket({
        payloadType: 26,
        sequenceNumber: this.#seq++ & 0xffff,
        timestamp,
        ssrc: this.#ssrc,
        marker: i === payloads.length - 1,
        payload,
      })
    ).filter((_, i) => i !== options.skip);
    await this.conn.send(concat(...packets.map(interleaved)));
  }

  /** A packet of a payload type the SDP did not announce. */
  async malformed(): Promise<void> {
    const packet = serializeRtpPacket({
      payloadType: 96,
      sequenceNumber: this.#seq++ & 0xffff,
      timestamp: 0,
      ssrc: this.#ssrc,
      payload: new Uint8Array(8),
    });
    await this.conn.send(interleaved(packet));
  }
}

function interleaved(packet: Uint8Array): Uint8Array {
  return concat([0x24, 0, packet.length >> 8, packet.length & 0xff], packet);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function httpGet(srv: TestServer, path: string, method = "GET") {
  return await rawHttp(
    srv.server.httpAddr!.port,
    `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
}

/** The value of each sample of `name`, by its label set as written. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && match[1] === name) found.set(match[2] ?? "", Number(match[3]));
  }
  return found;
}

async function metrics(srv: TestServer): Promise<string> {
  const reply = await httpGet(srv, "/metrics");
  assert.equal(reply.status, 200);
  return new TextDecoder().decode(reply.body);
}

async function statusJson(srv: TestServer): Promise<ServerStatus> {
  const reply = await httpGet(srv, "/status.json");
  assert.equal(reply.status, 200);
  return JSON.parse(new TextDecoder().decode(reply.body));
}

/** The `data-field` cells (their `data-value` when they have one, else their text) of each live row. */
function liveRows(html: string): Map<string, Record<string, string>> {
  const rows = new Map<string, Record<string, string>>();
  for (const row of html.matchAll(/<tr data-live="([^"]+)">(.*?)<\/tr>/gs)) {
    const fields: Record<string, string> = {};
    for (const cell of row[2].matchAll(/<td([^>]*)>([^<]*)<\/td>/g)) {
      const field = /data-field="([^"]+)"/.exec(cell[1])?.[1];
      const value = /data-value="([^"]+)"/.exec(cell[1])?.[1];
      if (field) fields[field] = value ?? cell[2];
    }
    rows.set(row[1], fields);
  }
  return rows;
}

Deno.test("a live path with a publisher and two readers shows in status(), /status.json, /metrics, the page, /snapshot and /live; its totals outlive it", async () => {
  await withTempDir(async (recordDir) => {
    await using srv = await startServer({ httpPort: 0, fps: 20, recordDir });
    const publisher = await RawPublisher.open(srv, "cam");
    const reader = await RawConn.connect(srv.port);
    let view: MultipartReader | undefined;
    try {
      // Announced: listed, not on the air (no live view, no snapshot).
      let status = await srv.server.status();
      assert.equal(status.live.length, 1);
      assert.deepEqual(
        { ...status.live[0], sinceSec: 0 },
        {
          path: "cam",
          publisher: `127.0.0.1:${publisher.conn.localPort}`,
          transport: null,
          state: "announced",
          sinceSec: 0,
          fps: 20,
          width: null,
          height: null,
          frames: 0,
          framesDropped: 0,
          framesCapped: 0,
          malformed: 0,
          readers: 0,
          playing: 0,
          recording: null,
        } satisfies LivePathStatus,
      );
      assert.deepEqual(status.totals.live.pathsBy, { announced: 1, recording: 0, paused: 0 });
      assert.equal((await httpGet(srv, "/live/cam")).status, 404);
      assert.equal((await httpGet(srv, "/snapshot/cam")).status, 404);

      await publisher.setup(srv, "cam");
      await publisher.send("RECORD", srv, "cam");
      status = await srv.server.status();
      assert.equal(status.live[0].state, "recording");
      assert.equal(status.live[0].transport, "tcp");
      assert.match(status.live[0].recording?.file ?? "", /^cam-\d{8}T\d{6}Z\.mjpeg$/);
      // On the air, but no frame yet: a snapshot is for later.
      const early = await httpGet(srv, "/snapshot/cam");
      assert.equal(early.status, 503);
      assert.equal(early.headers.get("retry-after"), "1");

      // An RTSP reader and an HTTP live view.
      const setup = parseReply(
        await reader.request(
          req("SETUP", `${srv.url("cam")}/trackID=0`, {
            CSeq: 1,
            Transport: "RTP/AVP/TCP;unicast;interleaved=0-1",
          }),
        ),
      );
      assert.equal(setup.status, 200, setup.raw);
      const readerId = sessionIdOf(setup);
      assert.match(
        await reader.request(req("PLAY", srv.url("cam"), { CSeq: 2, Session: readerId })),
        /^RTSP\/1\.0 200 /,
      );
      assert.equal((await httpGet(srv, "/live/cam?t=5")).status, 400, "a live path cannot seek");
      const live = await fetch(`http://127.0.0.1:${srv.server.httpAddr!.port}/live/cam`);
      view = new MultipartReader(live.body!, "frame");

      // Five whole frames, one with a packet missing, a malformed packet, three whole ones,
      // each 50 ms apart (the announced 20 fps); then a burst of 30 over the cap.
      for (let i = 0; i < 5; i++) {
        await publisher.frame();
        if (i === 0) assert.ok(await view.next(), "the live view shows the first frame");
        await sleep(50);
      }
      await publisher.frame({ skip: 2 });
      await publisher.malformed();
      for (let i = 0; i < 3; i++) {
        await sleep(50);
        await publisher.frame();
      }
      let entry: LivePathStatus | undefined;
      assert.ok(
        await (async () => {
          for (let i = 0; i < 200; i++) {
            entry = (await srv.server.status()).live[0];
            if (entry.frames === 8 && entry.recording?.frames === 8) return true;
            await sleep(10);
          }
          return false;
        })(),
        `8 frames taken and recorded: ${JSON.stringify(entry)}`,
      );
      status = await srv.server.status();
      const row = status.live[0];
      assert.equal(row.state, "recording");
      assert.equal(row.frames, 8);
      assert.equal(row.framesDropped, 1);
      assert.equal(row.framesCapped, 0);
      assert.equal(row.malformed, 1);
      assert.equal(row.readers, 2);
      assert.equal(row.playing, 2);
      assert.equal(row.width, 384);
      assert.equal(row.height, 288);
      assert.equal(row.recording?.frames, 8);
      assert.deepEqual(status.totals.live, {
        paths: 1,
        pathsBy: { announced: 0, recording: 1, paused: 0 },
        readers: 2,
        framesReceived: 8,
        framesDropped: 1,
        framesCapped: 0,
        malformed: 1,
      });
      // The sessions: the publisher's records (sends nothing), the reader's and the view play.
      const rec = status.sessions.find((s) => s.id === publisher.session)!;
      assert.equal(rec.mode, "record");
      assert.equal(rec.state, "recording");
      assert.equal(rec.file, "cam");
      assert.equal(rec.transport, "tcp");
      assert.equal(rec.packetsSent, null);
      assert.equal(rec.framesSent, 0);
      const play = status.sessions.find((s) => s.id === readerId)!;
      assert.equal(play.mode, "play");
      assert.equal(play.state, "playing");
      assert.equal(play.framesSent, 8);
      assert.ok(play.packetsSent! > 8);
      assert.deepEqual(
        status.sessions.filter((s) => s.dialect === "http").map((s) => [s.file, s.mode, s.state]),
        [["cam", "play", "playing"]],
      );
      assert.equal(status.totals.sessionsBy["rtsp/tcp"], 2);
      assert.equal(status.totals.sessionsBy["http/http"], 1);
      // Without the lists: no rows, the same totals.
      const totalsOnly = await srv.server.status({ lists: false });
      assert.deepEqual(totalsOnly.live, []);
      assert.deepEqual(totalsOnly.totals.live, status.totals.live);
      // /status.json says the same.
      const json = await statusJson(srv);
      assert.deepEqual({ ...json.live[0], sinceSec: 0 }, { ...row, sinceSec: 0 });

      // The latest frame, as a snapshot (t does not matter).
      const snapshot = await httpGet(srv, "/snapshot/cam?t=7");
      assert.equal(snapshot.status, 200);
      assert.equal(snapshot.headers.get("content-type"), "image/jpeg");
      assert.equal(snapshot.headers.get("cache-control"), "no-store");
      assert.deepEqual([...snapshot.body.subarray(0, 2)], [0xff, 0xd8]);
      assert.deepEqual([...snapshot.body.subarray(-2)], [0xff, 0xd9]);

      // /metrics: promtool accepts it, and the live figures are there, without a path label.
      let text = await metrics(srv);
      if (await requirePeer("promtool", ["--version"])) {
        const check = await runCommand("promtool", ["check", "metrics"], {
          timeoutMs: 20_000,
          stdin: new TextEncoder().encode(text),
        });
        assert.ok(
          check.success,
          `promtool: ${new TextDecoder().decode(check.stdout)}${check.stderr}\n${text}`,
        );
      }
      assert.deepEqual(
        samples(text, "rtsp_server_live_paths"),
        new Map([['{state="announced"}', 0], ['{state="recording"}', 1], [
          '{state="paused"}',
          0,
        ]]),
      );
      assert.equal(samples(text, "rtsp_server_live_path_readers").get(""), 2);
      assert.equal(samples(text, "rtsp_server_live_path_frames_received_total").get(""), 8);
      assert.deepEqual(
        samples(text, "rtsp_server_live_path_frames_dropped_total"),
        new Map([['{reason="incomplete"}', 1], ['{reason="capped"}', 0]]),
      );
      assert.equal(samples(text, "rtsp_server_live_path_malformed_packets_total").get(""), 1);
      assert.doesNotMatch(text, /cam|path="/, "no label names the path");

      // The status page shows the path.
      if (await haveChromium()) {
        const html = await dumpDom(`http://127.0.0.1:${srv.server.httpAddr!.port}/`);
        assert.doesNotMatch(html, /<div id="live-section" hidden/, "the live table is shown");
        const fields = liveRows(html).get("cam");
        assert.ok(fields, `a row for cam:\n${html}`);
        assert.equal(fields.path, "cam");
        assert.equal(fields.publisher, `127.0.0.1:${publisher.conn.localPort} (tcp)`);
        assert.equal(fields.state, "recording");
        assert.equal(fields.fps, "20");
        assert.equal(fields.picture, "384\u00d7288");
        assert.equal(fields.frames, "8");
        assert.equal(fields.framesDropped, "1");
        assert.equal(fields.framesCapped, "0");
        assert.equal(fields.readers, "2");
        assert.equal(fields.recording, `${row.recording!.file} (8 frames)`);
        assert.match(html, /<a href="live\/cam">live<\/a>/);
      }

      // A viewer who goes is no longer a reader.
      const second = await fetch(`http://127.0.0.1:${srv.server.httpAddr!.port}/live/cam`);
      const readers = async () => (await srv.server.status()).live[0].readers;
      assert.equal(await readers(), 3);
      await second.body!.cancel();
      for (let i = 0; i < 200 && await readers() !== 2; i++) await sleep(10);
      assert.equal(await readers(), 2, "the second view's reader went with it");

      // A burst far over twice the announced rate: the cap takes what the bucket cannot hold.
      for (let i = 0; i < 30; i++) await publisher.frame();
      let burst: LivePathStatus | undefined;
      for (let i = 0; i < 200; i++) {
        burst = (await srv.server.status()).live[0];
        if (burst.frames + burst.framesCapped === 38) break;
        await sleep(10);
      }
      assert.equal(burst!.frames + burst!.framesCapped, 38, JSON.stringify(burst));
      assert.ok(burst!.framesCapped > 0, "some frames were capped");

      // PAUSE: the path stays, paused.
      await publisher.send("PAUSE", srv, "cam");
      assert.equal((await srv.server.status()).live[0].state, "paused");
      assert.equal(
        samples(await metrics(srv), "rtsp_server_live_paths").get('{state="paused"}'),
        1,
      );

      // The publisher goes: the path and its readers go, the totals stay.
      await publisher.send("TEARDOWN", srv, "cam");
      // The live view ends with the publish (after the parts still in the socket buffers).
      while (await view.next() !== undefined);
      assert.ok(
        await waitUntil(() => srv.server.sessions.size === 0, 3000),
        "the reader's session ended with the publish",
      );
      status = await srv.server.status();
      assert.deepEqual(status.live, []);
      assert.deepEqual(status.totals.live, {
        paths: 0,
        pathsBy: { announced: 0, recording: 0, paused: 0 },
        readers: 0,
        framesReceived: burst!.frames,
        framesDropped: 1,
        framesCapped: burst!.framesCapped,
        malformed: 1,
      });
      text = await metrics(srv);
      assert.equal(
        samples(text, "rtsp_server_live_path_frames_received_total").get(""),
        burst!.frames,
      );
      assert.equal(
        samples(text, "rtsp_server_live_path_frames_dropped_total").get('{reason="capped"}'),
        burst!.framesCapped,
      );
      assert.equal(samples(text, "rtsp_server_live_path_readers").get(""), 0);
      assert.equal(samples(text, "rtsp_server_live_paths").get('{state="recording"}'), 0);
      assert.equal((await httpGet(srv, "/snapshot/cam")).status, 404);
    } finally {
      await view?.cancel();
      await reader.close();
      await publisher.conn.close();
    }
  });
});

Deno.test("the status page hides the live table while no path is held", async () => {
  if (!await haveChromium()) return;
  await using srv = await startServer({ httpPort: 0 });
  const html = await dumpDom(`http://127.0.0.1:${srv.server.httpAddr!.port}/`);
  assert.match(html, /<div id="state"[^>]*>updated /, "the page rendered the status");
  assert.match(html, /<div id="live-section" hidden="">/);
  assert.doesNotMatch(html, /<tr data-live=/);
});
