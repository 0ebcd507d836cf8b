/**
 * ffmpeg publishes a live stream to our server (RTSP ANNOUNCE/RECORD of
 * testsrc2 as MJPEG, over TCP interleaved and over UDP) while three readers
 * watch it at once: our own client, ffmpeg and GStreamer. The server records
 * the publish (`recordDir`), and the recording is the reference:
 *
 * - every JPEG our client wrote is, byte for byte, the frame at the same
 *   place in the recording (found by its bytes, since the client joined
 *   mid-stream), the frames follow one another to the last one, and each
 *   file's number is that frame's number (the PLAY reply's Range and
 *   RTP-Info agree);
 * - every picture ffmpeg decoded from the live stream is, pixel for pixel
 *   (framemd5), ffmpeg's decoding of a recorded frame, in order;
 * - GStreamer (rtspsrc ! rtpjpegdepay, `_gst_play.py`) got its frames, each
 *   carrying a recorded frame's scan data, in order;
 * - after the publisher stops, the recording holds only complete JPEGs,
 *   our client's stream ended with the server's BYE, no session is left and
 *   the path is free.
 *
 * ffmpeg's mjpeg encoder must use the standard Huffman tables (`-huffman
 * default`): RFC 2435 cannot carry optimized ones. Needs ffmpeg and
 * GStreamer with python3-gi; without them each test prints "SKIPPED: ..."
 * and passes, except in CI (`CI=true`), where it fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { isCompleteJpeg } from "../lib/wire/jpeg.ts";
import { sameBytes, withTempDir } from "./_helpers.ts";
import { frameMd5s, parseFrameMd5, requirePeer, runCommand, tail } from "./_peers.ts";
import { readLabFrames, waitUntil } from "./_raw_rtsp.ts";
import { FrameFinder } from "./_same_picture.ts";
import { startServer } from "./_server.ts";

const PATH = "live/cam";
/** Debian's python3, which has `gi` (GStreamer's bindings). */
const PYTHON = "/usr/bin/python3";
const GST_PLAY = new URL("./_gst_play.py", import.meta.url).pathname;
const PUBLISH_SEC = 5;
const FPS = 20;
const FFMPEG_FRAMES = 40;
const GST_FRAMES = 30;
const decoder = new TextDecoder();

async function havePeers(): Promise<boolean> {
  if (!await requirePeer("ffmpeg", ["-hide_banner", "-version"])) return false;
  const probe = "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst";
  if (!await requirePeer(PYTHON, ["-c", probe])) return false;
  for (const element of ["rtspsrc", "rtpjpegdepay", "appsink"]) {
    if (!await requirePeer("gst-inspect-1.0", ["--exists", element])) return false;
  }
  return true;
}

/** The JPEG files of `dir` whose names match `pattern`, sorted by name. */
async function jpegFiles(
  dir: string,
  pattern: RegExp,
): Promise<{ name: string; data: Uint8Array }[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (pattern.test(entry.name)) names.push(entry.name);
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, data: await Deno.readFile(`${dir}/${name}`) })),
  );
}

/** Assert `indexes` run on one by one; returns them. */
function assertConsecutive(indexes: number[], what: string): number[] {
  const gaps = indexes.flatMap((index, k) => k > 0 && index !== indexes[k - 1] + 1 ? [k] : []);
  assert.deepEqual(gaps, [], `${what}: recorded frames ${indexes.join(",")}`);
  return indexes;
}

for (const transport of ["tcp", "udp"] as const) {
  Deno.test(`live: ffmpeg publishes over ${transport}; our client, ffmpeg and GStreamer read the recorded frames`, async () => {
    if (!await havePeers()) return;
    await withTempDir(async (dir) => {
      const recordDir = `${dir}/recordings`;
      const clientDir = `${dir}/client`;
      const gstDir = `${dir}/gst`;
      for (const d of [recordDir, clientDir, gstDir]) await Deno.mkdir(d);
      await using srv = await startServer({ recordDir });
      const url = srv.url(PATH);
      const publishing = runCommand("ffmpeg", [
        ...["-nostdin", "-hide_banner", "-v", "error", "-re"],
        ...["-f", "lavfi", "-i", `testsrc2=size=384x288:rate=${FPS}`, "-t", String(PUBLISH_SEC)],
        ...["-c:v", "mjpeg", "-huffman", "default", "-pix_fmt", "yuvj420p"],
        ...["-f", "rtsp", "-rtsp_transport", transport, url],
      ], { timeoutMs: 30_000 });
      const context = () => `--- server log\n${tail(srv.logText(), 30)}`;
      try {
        await srv.waitForLog(/^live\/cam: recording to /, 10_000);
      } catch (error) {
        const published = await publishing;
        throw new Error(
          `${error}; ffmpeg: ${published.code} ${tail(published.stderr)}\n${context()}`,
        );
      }

      // Join mid-stream, so that the readers' frames are found by their content.
      assert.ok(
        await waitUntil(() => (srv.server.liveCounters(PATH)?.frames ?? 0) >= 10, 5000),
        `frames come in\n${context()}`,
      );
      // Our client, over the publisher's transport, until the stream ends.
      const client = await StreamClient.open({
        host: "127.0.0.1",
        port: srv.port,
        resource: url,
        transport,
        outDir: clientDir,
      });
      let clientEnd;
      try {
        await client.setup();
        await client.play();
        const receiving = client.receive({
          durationSec: PUBLISH_SEC + 10,
          firstPacketTimeoutSec: 5,
        });
        // ffmpeg and GStreamer at the same time.
        const [ffmpegRead, gstRead] = await Promise.all([
          runCommand("ffmpeg", [
            ...["-nostdin", "-hide_banner", "-v", "error"],
            ...["-rtsp_transport", transport, "-i", url],
            ...["-frames:v", String(FFMPEG_FRAMES), "-fps_mode", "passthrough"],
            ...["-f", "framemd5", "pipe:1"],
          ], { timeoutMs: 20_000 }),
          runCommand(PYTHON, [
            GST_PLAY,
            ...["--url", url, "--protocols", transport, "--frames", String(GST_FRAMES)],
            ...["--out", gstDir, "--lifetime", String(PUBLISH_SEC + 5)],
          ], { timeoutMs: 20_000 }),
        ]);
        clientEnd = await receiving;
        const published = await publishing;
        assert.ok(published.success, `ffmpeg publish: ${published.code} ${tail(published.stderr)}`);
        assert.ok(
          ffmpegRead.success,
          `ffmpeg read: ${ffmpegRead.code} ${tail(ffmpegRead.stderr)}\n${context()}`,
        );
        assert.equal(
          gstRead.code,
          0,
          `gst read: ${tail(decoder.decode(gstRead.stdout))}\n${tail(gstRead.stderr)}`,
        );

        // The recording: only complete JPEGs, every frame the publisher sent.
        const closed = await srv.waitForLog(/^live\/cam: recorded \d+ frames/, 5000);
        const files = [...Deno.readDirSync(recordDir)].map((e) => e.name);
        assert.equal(files.length, 1, `one recording: ${files}`);
        assert.match(files[0], /^live_cam-\d{8}T\d{6}Z\.mjpeg$/);
        const recorded = await readLabFrames(`${recordDir}/${files[0]}`);
        assert.ok(closed.includes(`recorded ${recorded.length} frames`), closed);
        assert.ok(
          recorded.length >= PUBLISH_SEC * FPS - 2 && recorded.length <= PUBLISH_SEC * FPS,
          `${recorded.length} frames recorded`,
        );
        recorded.forEach((jpeg, i) => assert.ok(isCompleteJpeg(jpeg), `recorded frame ${i}`));
        const byBytes = new Map(recorded.map((jpeg, i) => [jpeg.toString(), i]));

        // Our client: byte for byte, consecutive, to the end, numbered as recorded.
        assert.equal(clientEnd, "bye", "our client's stream ended with the server's BYE");
        const written = await jpegFiles(clientDir, /^frame_\d{6}\.jpg$/);
        assert.ok(written.length >= 40, `our client wrote ${written.length} frames`);
        const clientIndexes = assertConsecutive(
          written.map(({ name, data }) => {
            const index = byBytes.get(data.toString());
            assert.ok(index !== undefined, `${name} is byte for byte a recorded frame`);
            assert.ok(sameBytes(data, recorded[index]));
            assert.equal(
              name,
              `frame_${String(index + 1).padStart(6, "0")}.jpg`,
              "numbered as recorded",
            );
            return index;
          }),
          "our client",
        );
        assert.ok(clientIndexes[0] > 0, "our client joined mid-stream");
        assert.equal(clientIndexes.at(-1), recorded.length - 1, "our client got the last frame");

        // ffmpeg: pixel for pixel, in order.
        const recordedMd5s = await frameMd5s(recorded);
        const readMd5s = parseFrameMd5(decoder.decode(ffmpegRead.stdout));
        assert.equal(readMd5s.length, FFMPEG_FRAMES, "ffmpeg decoded its frames");
        assertConsecutive(
          readMd5s.map((md5, k) => {
            const index = recordedMd5s.indexOf(md5);
            assert.ok(index >= 0, `ffmpeg's picture ${k} is a recorded frame's`);
            return index;
          }),
          "ffmpeg",
        );

        // GStreamer: its depayloaded JPEGs carry the recorded frames' scan data, in order.
        const gstJpegs = await jpegFiles(gstDir, /^\d{5}\.jpg$/);
        assert.ok(gstJpegs.length >= GST_FRAMES, `GStreamer got ${gstJpegs.length} frames`);
        const finder = new FrameFinder(recorded, "recorded");
        assertConsecutive(
          gstJpegs.map(({ name, data }) => {
            const index = finder.indexOf(data);
            assert.ok(index >= 0, `GStreamer's ${name} is a recorded frame`);
            return index;
          }),
          "GStreamer",
        );
      } finally {
        await client.close();
        await publishing;
      }
      assert.ok(
        await waitUntil(() => srv.server.sessions.size === 0, 3000),
        `every session ended: ${
          [...srv.server.sessions.values()].map((s) => s.client)
        }\n${context()}`,
      );
      assert.equal(srv.server.liveCounters(PATH), undefined, "the path is free");
    });
  });
}
