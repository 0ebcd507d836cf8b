/**
 * GStreamer publishes to our server: `videotestsrc ! jpegenc !
 * rtspclientsink` (ANNOUNCE, SETUP mode=record, RECORD, then rtpjpegpay's
 * RTP/JPEG over UDP or TCP interleaved), while our client reads the path.
 *
 * - The SDP rtspclientsink announces (watched through a TCP proxy) is one
 *   video track, payload type 26 with `a=rtpmap:26 JPEG/90000`,
 *   `a=framerate:20.000000` and `a=control:stream=0` (GStreamer 1.22), and
 *   our server takes it as it is;
 * - every frame the publisher sent is recorded (`recordDir`) as a complete
 *   JPEG, and every JPEG our client wrote is, byte for byte, the recorded
 *   frame of its number, consecutive, to the last one, and its stream ended
 *   with the server's BYE;
 * - afterwards no session is left and the path is free.
 *
 * `format=I420` matters: jpegenc would otherwise code videotestsrc's
 * default (4:4:4) and rtpjpegpay refuses that ("Invalid component"), so
 * rtspclientsink never even ANNOUNCEs.
 *
 * Needs gst-launch-1.0 with jpegenc and rtspclientsink (Debian:
 * gstreamer1.0-rtsp); without it each test prints "SKIPPED: ..." and passes,
 * except in CI (`CI=true`), where it fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { isCompleteJpeg } from "../lib/wire/jpeg.ts";
import { concat, sameBytes, withTempDir } from "./_helpers.ts";
import { requirePeer, runCommand, tail } from "./_peers.ts";
import { readLabFrames, waitUntil } from "./_raw_rtsp.ts";
import { startServer } from "./_server.ts";
import { TcpProxy } from "./_tcp_proxy.ts";

const PATH = "live/gst";
const FRAMES = 60;
const FPS = 20;
const KEEP_BYTES = 64 * 1024;

async function haveGstreamer(): Promise<boolean> {
  if (!await requirePeer("gst-launch-1.0", ["--version"])) return false;
  for (const element of ["videotestsrc", "jpegenc", "rtspclientsink"]) {
    if (!await requirePeer("gst-inspect-1.0", ["--exists", element])) return false;
  }
  return true;
}

for (const protocols of ["udp", "tcp"] as const) {
  Deno.test(`live: GStreamer's rtspclientsink publishes over ${protocols}; our client reads complete frames`, async () => {
    if (!await haveGstreamer()) return;
    await withTempDir(async (dir) => {
      const recordDir = `${dir}/recordings`;
      const clientDir = `${dir}/client`;
      for (const d of [recordDir, clientDir]) await Deno.mkdir(d);
      await using srv = await startServer({ recordDir });
      // What rtspclientsink sends, from its first bytes (the requests come before the media).
      const sent: Uint8Array[] = [];
      let kept = 0;
      await using proxy = new TcpProxy(srv.port, {
        noDelay: true,
        handlers: () => ({
          toServer: (chunk) => {
            if (kept < KEEP_BYTES) sent.push(chunk);
            kept += chunk.length;
            return chunk;
          },
        }),
      });
      const url = `rtsp://127.0.0.1:${proxy.port}/${PATH}`;
      // rtspclientsink now and then never lets the EOS through once it sent
      // every frame (about one run in ten over UDP, GStreamer 1.22): then it
      // is stopped with SIGINT (pipeline to NULL: TEARDOWN) soon after the
      // server has taken all its frames.
      let onAir = false;
      const allTaken = waitUntil(() => {
        const counters = srv.server.liveCounters(PATH);
        onAir ||= counters !== undefined;
        return onAir && (counters === undefined || counters.frames >= FRAMES);
      }, 15_000);
      const publishing = runCommand("gst-launch-1.0", [
        ...["videotestsrc", `num-buffers=${FRAMES}`, "is-live=true", "pattern=ball", "!"],
        `video/x-raw,format=I420,width=320,height=240,framerate=${FPS}/1`,
        ...["!", "jpegenc", "!", "rtspclientsink", `location=${url}`, `protocols=${protocols}`],
      ], {
        timeoutMs: 20_000,
        stopWhen: allTaken.then((taken) => taken || Promise.reject()),
        stopDelayMs: 2000,
        stopSignal: "SIGINT",
      });
      const context = () => `--- server log\n${tail(srv.logText(), 30)}`;
      try {
        await srv.waitForLog(/^live\/gst: recording to /, 10_000);
      } catch (error) {
        const published = await publishing;
        throw new Error(
          `${error}; gst-launch: ${published.code}\n${
            tail(new TextDecoder().decode(published.stdout))
          }\n` +
            `${tail(published.stderr)}\n${context()}`,
        );
      }
      assert.ok(
        await waitUntil(() => (srv.server.liveCounters(PATH)?.frames ?? 0) >= 5, 5000),
        `frames come in\n${context()}`,
      );

      const client = await StreamClient.open({
        host: "127.0.0.1",
        port: srv.port,
        resource: srv.url(PATH),
        outDir: clientDir,
      });
      try {
        await client.setup();
        await client.play();
        const end = await client.receive({ durationSec: 10, firstPacketTimeoutSec: 5 });
        const published = await publishing;
        // After its EOS and our 200 to its TEARDOWN, rtspclientsink now and
        // then fails a request of its own on the way to NULL ("Could not send
        // message. (Received end-of-file)") and exits 1 (seen once in a CI
        // run under load). Every frame was sent by then; they are checked below.
        const output = `${new TextDecoder().decode(published.stdout)}\n${published.stderr}`;
        const teardownRace = !published.success && /Got EOS/.test(output) &&
          /Received end-of-file/.test(output) && /TEARDOWN \S+ session=\S+ 200/.test(srv.logText());
        if (teardownRace) {
          console.warn(
            "rtspclientsink ended at EOS, then failed its own teardown: exit 1, ignored",
          );
        }
        assert.ok(
          published.success || published.stopped || teardownRace,
          `${context()}\ngst-launch: ${published.code}${
            published.timedOut ? " (timed out)" : ""
          }\n` +
            `${tail(new TextDecoder().decode(published.stdout))}\n${published.stderr}`,
        );
        if (published.stopped) {
          console.warn("rtspclientsink did not end at EOS by itself: stopped with SIGINT");
        }
        assert.equal(end, "bye", "our client's stream ended with the server's BYE");
        assert.equal(client.stats.summary().framesDamaged, 0, `damaged: ${client.damaged}`);
      } finally {
        await client.close();
        await publishing;
        await allTaken;
      }

      // The SDP rtspclientsink announced, and the server's answers.
      const text = new TextDecoder("latin1").decode(concat(...sent));
      const announce = /^ANNOUNCE (\S+) RTSP\/1\.0\r\n([\s\S]*?)\r\n\r\n/m.exec(text);
      assert.ok(announce, `an ANNOUNCE in ${JSON.stringify(text.slice(0, 500))}`);
      assert.match(announce[2], /^Content-Type: application\/sdp\r?$/im);
      const length = Number(/^Content-Length: *(\d+)/im.exec(announce[2])?.[1]);
      const bodyAt = announce.index + announce[0].length;
      const sdp = text.slice(bodyAt, bodyAt + length);
      const media = sdp.split(/\r?\n/).filter((line) => line.startsWith("m="));
      assert.equal(media.length, 1, `one media section:\n${sdp}`);
      const pt = /^m=video 0 RTP\/AVP (\d+)$/.exec(media[0])?.[1];
      assert.ok(pt, `a video track over RTP/AVP:\n${sdp}`);
      assert.match(sdp, new RegExp(`^a=rtpmap:${pt} JPEG/90000\\r?$`, "m"), sdp);
      assert.match(text, /^SETUP \S+ RTSP\/1\.0\r\n(?:.*\r\n)*?Transport: [^\r]*mode="?record/im);
      for (const method of ["ANNOUNCE", "SETUP", "RECORD"]) {
        assert.ok(
          srv.logs.some((l) => l.includes(` ${method} `) && / 200\b/.test(l)),
          `${method} was answered 200\n${context()}`,
        );
      }
      console.log(`rtspclientsink (${protocols}) announced:\n${sdp.trim()}`);

      // Every frame recorded whole; our client's frames are recorded frames, in order, to the end.
      const closed = await srv.waitForLog(/^live\/gst: recorded \d+ frames/, 5000);
      const files = [...Deno.readDirSync(recordDir)].map((e) => e.name);
      assert.equal(files.length, 1, `one recording: ${files}`);
      const recorded = await readLabFrames(`${recordDir}/${files[0]}`);
      assert.ok(closed.includes(`recorded ${recorded.length} frames`), closed);
      assert.equal(recorded.length, FRAMES, "every frame the publisher sent was recorded");
      recorded.forEach((jpeg, i) => assert.ok(isCompleteJpeg(jpeg), `recorded frame ${i}`));
      const names: string[] = [];
      for await (const entry of Deno.readDir(clientDir)) names.push(entry.name);
      names.sort();
      assert.ok(names.length >= FRAMES / 2, `our client wrote ${names.length} frames`);
      const first = Number(/^frame_(\d{6})\.jpg$/.exec(names[0])?.[1]) - 1;
      assert.ok(first > 0, `joined mid-stream (${names[0]})`);
      assert.deepEqual(
        names,
        Array.from(
          { length: FRAMES - first },
          (_, k) => `frame_${String(first + k + 1).padStart(6, "0")}.jpg`,
        ),
        "our client wrote every frame from where it joined to the last",
      );
      for (const [k, name] of names.entries()) {
        const data = await Deno.readFile(`${clientDir}/${name}`);
        assert.ok(sameBytes(data, recorded[first + k]), `${name} is recorded frame ${first + k}`);
      }
      assert.ok(
        await waitUntil(() => srv.server.sessions.size === 0, 3000),
        `every session ended\n${context()}`,
      );
      assert.equal(srv.server.liveCounters(PATH), undefined, "the path is free");
    });
  });
}
