import assert from "node:assert/strict";
import { MAX_QUEUED_FRAMES, MjpegRecorder, recordingName } from "../lib/media/mjpeg_recorder.ts";
import { parseMjpegSource } from "../lib/media/mjpeg_source.ts";
import { LivePaths } from "../lib/session/server/live_paths.ts";
import { announcedJpeg } from "../lib/session/server/methods/announce.ts";
import { RtspError } from "../lib/session/server/rtsp_error.ts";
import { catchError, sameBytes, withTempDir } from "./_helpers.ts";

const video = parseMjpegSource(await Deno.readFile("video.mjpeg"), "video.mjpeg");

const sdp = (media: string) =>
  `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n${media}`.replaceAll("\n", "\r\n")
    .replaceAll("\r\r", "\r");

Deno.test("ANNOUNCE SDP: one RTP/JPEG video track, static or dynamic, with its rate and size", () => {
  assert.deepEqual(
    announcedJpeg(sdp("m=video 0 RTP/AVP 26\na=control:streamid=0\n")),
    { payloadType: 26 },
  );
  assert.deepEqual(
    announcedJpeg(
      sdp(
        "m=video 0 RTP/AVP 96\na=rtpmap:96 JPEG/90000\na=framerate:25\na=x-dimensions:4096,2160\n",
      ),
    ),
    { payloadType: 96, fps: 25, dimensions: { width: 4096, height: 2160 } },
  );
  // ffmpeg's form: PT 26 with no rtpmap; GStreamer's: rtpmap on 26.
  assert.equal(
    announcedJpeg(sdp("m=video 0 RTP/AVP 26\na=rtpmap:26 JPEG/90000\n")).payloadType,
    26,
  );
});

Deno.test("ANNOUNCE SDP: anything but one RTP/JPEG video track is 415 saying what it found; junk is 400", () => {
  const status = (text: string) => catchError(() => announcedJpeg(text), RtspError);
  const h264 = status(sdp("m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n"));
  assert.equal(h264.status, 415);
  assert.match(h264.message, /H264\/90000 \(payload type 96\)/);
  assert.equal(status(sdp("m=audio 0 RTP/AVP 0\n")).status, 415);
  assert.equal(status(sdp("m=video 0 RTP/AVP 26\nm=audio 0 RTP/AVP 0\n")).status, 415);
  assert.equal(status(sdp("")).status, 415);
  assert.equal(status(sdp("m=video 0 RTP/SAVP 26\n")).status, 415);
  // A dynamic type mapped to something else is not JPEG, whatever its number.
  assert.equal(status(sdp("m=video 0 RTP/AVP 26\na=rtpmap:26 H264/90000\n")).status, 415);
  assert.equal(status("not sdp at all").status, 400);
});

Deno.test("LivePaths: one publisher per path (455), paths by form, on the air after RECORD, free after", () => {
  const paths = new LivePaths();
  const fake = (frames: number) =>
    ({
      source: {
        counters: { frames, framesDropped: 1, framesCapped: 2, malformed: 3 },
      },
    }) as never;
  const stream = fake(10);
  const other = fake(5);
  const owner = {};
  paths.claim("live/cam", stream, owner, "127.0.0.1:1", 0);
  assert.equal(paths.onAir("live/cam"), undefined, "not before RECORD");
  const busy = catchError(() => paths.claim("live/cam", other, {}, "127.0.0.1:2", 1), RtspError);
  assert.equal(busy.status, 455);
  assert.match(busy.message, /another publisher/);
  paths.get("live/cam")!.onAir = true;
  assert.equal(paths.onAir("live/cam"), stream);
  assert.deepEqual(paths.ownedBy(owner).map((c) => c.path), ["live/cam"]);
  paths.release("live/cam", other); // not its holder: nothing happens
  assert.equal(paths.onAir("live/cam"), stream);
  paths.release("live/cam", stream);
  assert.equal(paths.get("live/cam"), undefined);
  paths.claim("live/cam", other, {}, "127.0.0.1:2", 2);
  // What a publish took in outlives its path: the ended one's and the live one's.
  assert.deepEqual(paths.intake(), { frames: 15, framesDropped: 2, framesCapped: 4, malformed: 6 });
  for (
    const bad of ["../etc", "a//b", "a/../b", "x y", "", ".", "a/.", "%2e%2e", "a".repeat(201)]
  ) {
    assert.ok(LivePaths.problem(bad), `"${bad}" is refused`);
  }
  for (const good of ["cam", "live/cam-1", "a.b_c~d/e"]) {
    assert.equal(LivePaths.problem(good), undefined);
  }
});

Deno.test("MjpegRecorder: frames in order as a lab MJPEG file; too large ones skipped and counted", async () => {
  await withTempDir(async (dir) => {
    const start = new Date("2026-12-07T16:42:00.123Z");
    assert.equal(recordingName("live/cam", start), "live_cam-20261207T164200Z.mjpeg");
    const recorder = await MjpegRecorder.create(dir, "live/cam", start);
    const second = await MjpegRecorder.create(dir, "live/cam", start);
    assert.notEqual(second.path, recorder.path, "never overwrites a recording");
    await second.close();
    for (const frame of video.frames.slice(0, 10)) recorder.write(frame);
    recorder.write(new Uint8Array(100_000));
    const counters = await recorder.close();
    assert.equal(counters.frames, 10);
    assert.equal(counters.tooLarge, 1);
    assert.equal(counters.dropped, 0);
    const back = parseMjpegSource(await Deno.readFile(recorder.path), recorder.path);
    assert.equal(back.frames.length, 10);
    back.frames.forEach((f, i) => assert.ok(sameBytes(f, video.frames[i])));
    recorder.write(video.frames[0]); // after close: nothing
    assert.equal((await Deno.stat(recorder.path)).size, counters.bytes);
  });
});

Deno.test("MjpegRecorder: a disk that falls behind costs frames (counted), not memory", async () => {
  await withTempDir(async (dir) => {
    const recorder = await MjpegRecorder.create(dir, "cam", new Date());
    // All written in one turn: the queue holds MAX_QUEUED_FRAMES, the rest are dropped.
    for (let i = 0; i < MAX_QUEUED_FRAMES + 50; i++) recorder.write(video.frames[i % 20]);
    const counters = await recorder.close();
    assert.equal(counters.frames + counters.dropped, MAX_QUEUED_FRAMES + 50);
    assert.equal(counters.dropped, 50);
  });
});
