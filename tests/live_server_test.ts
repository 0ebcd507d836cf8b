/**
 * Live paths, end to end inside one process, with no external peer: a raw
 * publisher (`_live_peers.ts`: ANNOUNCE, SETUP mode=record, RECORD, then
 * video.mjpeg cut into RFC 2435 payloads by the library, sent as RTP over
 * interleaved TCP or UDP) and raw readers that keep every datagram.
 *
 * - A reader gets the publisher's frames from the one at which it joined,
 *   consecutive, each one's payloads exactly the publisher's, and each
 *   reassembled JPEG byte for byte the frame of video.mjpeg; a lab reader
 *   gets the same JPEGs whole. The PLAY reply's Range starts at the first
 *   frame sent, and RTP-Info gives that frame's RTP time and sequence number.
 * - 50 readers join and leave at random (seeded) while a publisher runs:
 *   every reader's first packet starts a frame, every frame it got is
 *   complete and is the publisher's, and the publisher's frame counter keeps
 *   rising with nothing dropped.
 * - The publisher's end (TEARDOWN, silence past `publisherTimeout`, a closed
 *   connection) sends every reader an RTCP BYE and ends its session; the
 *   path can be published again.
 * - The statuses of the rules: 455, 403, 415, 400, 457.
 * - Garbage RTP and a truncated frame reach no reader, and the source's
 *   counters are exact.
 * - A publisher far above its announced rate is capped at about twice it.
 * - PAUSE then PLAY of a reader resumes at the live edge.
 * - Our own CLIs, `rtsp-client --publish` and `rtsp-client URL --out`,
 *   against the server: the reader's files are video.mjpeg's frames byte for
 *   byte, each named by its number in the file (the PLAY reply's Range and
 *   RTP-Info agree on the first frame sent).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import { sameBytes } from "./_helpers.ts";
import {
  announceRequest,
  fragmentOffset,
  jpegSdp,
  liveMedia,
  LivePublisher,
  LiveReader,
  payloadsKey,
  type ReaderFrame,
} from "./_live_peers.ts";
import {
  labParseReply,
  paramsOf,
  parseReply,
  RawConn,
  req,
  rtpView,
  sleep,
  udpSink,
  waitUntil,
} from "./_raw_rtsp.ts";
import { runCommand } from "./_peers.ts";
import { Rng } from "./_rng.ts";
import { startServer, type TestServer } from "./_server.ts";

const PATH = "live/cam";
const media = await liveMedia();
const FRAME_COUNT = media.payloads.length;
/** Index in video.mjpeg of each frame's payloads. */
const INDEX_BY_PAYLOADS = new Map(media.payloads.map((p, i) => [payloadsKey(p), i]));

/**
 * The file index of each frame a reader got, asserting that the first
 * packet starts a frame (fragment offset 0), that every frame is complete,
 * with consecutive sequence numbers, and is exactly the publisher's
 * payloads of a frame, and (with `consecutive`) that the frames follow one
 * another in the file (mod its length).
 */
function checkReaderFrames(
  frames: ReaderFrame[],
  label: string,
  { consecutive = true } = {},
): number[] {
  if (frames.length === 0) return [];
  assert.equal(
    fragmentOffset(frames[0].payloads[0]),
    0,
    `${label}: the first packet starts a frame`,
  );
  const indexes: number[] = [];
  for (const [k, frame] of frames.entries()) {
    assert.ok(frame.complete, `${label}: frame ${k} of ${frames.length} has no marker bit`);
    assert.ok(frame.consecutive, `${label}: frame ${k} has a gap in its sequence numbers`);
    const index = INDEX_BY_PAYLOADS.get(payloadsKey(frame.payloads));
    assert.ok(index !== undefined, `${label}: frame ${k} is not one the publisher sent whole`);
    if (k > 0 && consecutive) {
      assert.equal(index, (indexes[k - 1] + 1) % FRAME_COUNT, `${label}: frame ${k} follows`);
    }
    indexes.push(index);
  }
  return indexes;
}

/** The JPEGs a reader's frames make, with the library's depacketizer. */
function jpegsOf(frames: ReaderFrame[]): Uint8Array[] {
  const depacketizer = new Rfc2435Depacketizer();
  const jpegs: Uint8Array[] = [];
  let sequence = 0;
  for (const frame of frames) {
    frame.payloads.forEach((payload, i) => {
      for (
        const event of depacketizer.push({
          sequence: sequence++,
          timestamp: frame.timestamp,
          marker: i === frame.payloads.length - 1,
          payload,
        })
      ) {
        assert.equal(event.kind, "frame", event.kind === "dropped" ? event.reason : "");
        if (event.kind === "frame") jpegs.push(event.jpeg);
      }
    });
  }
  return jpegs;
}

/** A lab-dialect reader of `path`: SETUP and PLAY the lab's way, RTP into a sink. */
async function labReader(srv: TestServer, path: string) {
  const sink = udpSink();
  const conn = await RawConn.connect(srv.port);
  const setup = labParseReply(
    await conn.request(
      `SETUP ${path} RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink.port}`,
    ),
  );
  assert.equal(setup.status, 200, "lab SETUP");
  const play = labParseReply(
    await conn.request(`PLAY ${path} RTSP/1.0\nCSeq: 2\nSession: ${setup.session}`),
  );
  assert.equal(play.status, 200, "lab PLAY");
  return {
    sink,
    async close() {
      await conn.close();
      await sink.close();
    },
  };
}

Deno.test("live: a reader gets the publisher's frames from where it joined, byte for byte (RTP/JPEG and lab)", async () => {
  await using srv = await startServer();
  await using publisher = await LivePublisher.open({
    port: srv.port,
    path: PATH,
    transport: "tcp",
    fps: 50,
  });
  const controller = new AbortController();
  const running = publisher.run(0, 120, 50, controller.signal);
  try {
    await sleep(300); // join mid-stream
    await using reader = await LiveReader.open(srv.port, PATH);
    const lab = await labReader(srv, PATH);
    try {
      await waitUntil(() => reader.frames().length >= 40, 5000);
      await lab.sink.waitFor(40, 5000);
      const teardown = await reader.request("TEARDOWN", reader.url);
      assert.equal(teardown.status, 200);
      await reader.settle();
      const frames = reader.frames();
      assert.ok(frames.length >= 40, `${frames.length} frames`);
      const indexes = checkReaderFrames(frames, "reader");
      assert.ok(indexes[0] > 0, `joined mid-stream (at frame ${indexes[0]})`);
      // The PLAY reply: Range starts at the first frame sent, whose RTP time RTP-Info gives.
      const reply = reader.playReply!;
      assert.equal(reply.headers.get("range"), `npt=${(indexes[0] / 50).toFixed(3)}-`, reply.raw);
      const rtpInfo = paramsOf(reply.headers.get("rtp-info") ?? "");
      const firstPacket = rtpView(reader.rtp[0].data);
      assert.equal(Number(rtpInfo.get("rtptime")), firstPacket.timestamp, reply.raw);
      assert.equal(Number(rtpInfo.get("seq")), firstPacket.sequenceNumber, reply.raw);
      const jpegs = jpegsOf(frames);
      jpegs.forEach((jpeg, k) =>
        assert.ok(sameBytes(jpeg, media.frames[indexes[k]]), `JPEG ${k} is frame ${indexes[k]}`)
      );
      // The lab reader: whole JPEGs, one datagram each, byte for byte, consecutive.
      const labJpegs = lab.sink.datagrams.map((d) => d.data.subarray(12));
      const first = media.frames.findIndex((f) => sameBytes(f, labJpegs[0]));
      assert.ok(first > 0, "the lab reader's first JPEG is a frame of video.mjpeg");
      labJpegs.forEach((jpeg, k) =>
        assert.ok(sameBytes(jpeg, media.frames[first + k]), `lab JPEG ${k} is frame ${first + k}`)
      );
    } finally {
      await lab.close();
    }
  } finally {
    controller.abort();
    await running;
  }
  const counters = srv.server.liveCounters(PATH)!;
  assert.equal(counters.framesDropped, 0);
  assert.equal(counters.frames, publisher.framesSent);
});

Deno.test("live: 50 readers join and leave at random; none sees a partial frame, the publisher loses none", async () => {
  await using srv = await startServer();
  await using publisher = await LivePublisher.open({
    port: srv.port,
    path: PATH,
    transport: "tcp",
    fps: 50,
  });
  const counters = srv.server.liveCounters(PATH)!;
  const controller = new AbortController();
  const running = publisher.run(0, 200, 50, controller.signal);
  const samples: number[] = [];
  const sampling = (async () => {
    while (!controller.signal.aborted && samples.length < 100) {
      samples.push(counters.frames);
      await sleep(250);
    }
  })();
  const rng = new Rng(0x11fe);
  const results: { label: string; frames: number }[] = [];
  const reader = async (n: number) => {
    const joinAt = rng.range(0, 2500);
    const stay = rng.range(100, 900);
    const leave = rng.pick(["teardown", "close", "pause"] as const);
    const label = `reader ${n} (join at ${joinAt} ms, ${stay} ms, ${leave})`;
    await sleep(joinAt);
    await using r = await LiveReader.open(srv.port, PATH);
    await sleep(stay);
    if (leave === "pause") {
      assert.equal((await r.request("PAUSE", r.url)).status, 200, label);
      await r.settle();
      assert.equal((await r.request("TEARDOWN", r.url)).status, 200, label);
    } else if (leave === "teardown") {
      assert.equal((await r.request("TEARDOWN", r.url)).status, 200, label);
      await r.settle();
    } else {
      await r.conn.close();
      await r.settle();
    }
    const frames = r.frames();
    checkReaderFrames(frames, label);
    results.push({ label, frames: frames.length });
  };
  try {
    await Promise.all(Array.from({ length: 50 }, (_, n) => reader(n)));
  } finally {
    controller.abort();
    await running;
    await sampling;
  }
  assert.equal(results.length, 50);
  const empty = results.filter((r) => r.frames === 0).map((r) => r.label);
  assert.deepEqual(empty, [], "every reader got frames");
  for (let i = 1; i < samples.length; i++) {
    assert.ok(samples[i] > samples[i - 1], `frames counter rises: ${samples.join(",")}`);
  }
  assert.equal(counters.frames, publisher.framesSent, "every frame sent was taken");
  assert.equal(counters.framesDropped, 0);
  assert.equal(counters.framesCapped, 0);
  assert.equal(counters.malformed + counters.foreign + counters.outOfOrder, 0);
  assert.ok(
    await waitUntil(() => srv.server.sessions.size === 1, 2000),
    "only the publisher's session is left",
  );
});

for (const stop of ["teardown", "silence", "close"] as const) {
  Deno.test(`live: the publisher's end (${stop}) sends every reader BYE, ends its session, frees the path`, async () => {
    const timeoutSec = 1;
    await using srv = await startServer({ publisherTimeout: timeoutSec });
    const transport = stop === "silence" ? "udp" : "tcp";
    const publisher = await LivePublisher.open({ port: srv.port, path: PATH, transport, fps: 50 });
    const readers: LiveReader[] = [];
    const controller = new AbortController();
    try {
      const running = publisher.run(0, 500, 50, controller.signal);
      for (let i = 0; i < 3; i++) readers.push(await LiveReader.open(srv.port, PATH));
      await waitUntil(() => readers.every((r) => r.frames().length >= 5), 3000);
      controller.abort();
      await running;
      const stoppedAt = performance.now();
      if (stop === "teardown") assert.equal((await publisher.teardown()).status, 200);
      if (stop === "close") await publisher.close();
      const limit = stop === "silence" ? timeoutSec * 1000 + 1500 : 1000;
      assert.ok(
        await waitUntil(() => readers.every((r) => r.byeAt !== undefined), limit + 500),
        `every reader got a BYE\n${srv.logText()}`,
      );
      for (const [i, r] of readers.entries()) {
        const after = r.byeAt! - stoppedAt;
        assert.ok(after <= limit, `reader ${i}: BYE ${after.toFixed(0)} ms after the stop`);
        if (stop === "silence") {
          const silent = r.byeAt! - publisher.lastSentAt;
          assert.ok(
            silent >= timeoutSec * 1000 - 5,
            `reader ${i}: BYE only after the timeout (${silent.toFixed(0)} ms of silence)`,
          );
        }
        checkReaderFrames(r.frames(), `reader ${i}`);
        // Its session is over: the server no longer knows it.
        assert.equal((await r.request("PLAY", r.url)).status, 454, `reader ${i}'s session ended`);
      }
      assert.ok(await waitUntil(() => srv.server.sessions.size === 0, 2000), "no session is left");
      assert.equal(srv.server.liveCounters(PATH), undefined, "the path is free");
      await using probe = await RawConn.connect(srv.port);
      const describe = parseReply(
        await probe.request(req("DESCRIBE", `${publisher.url}`, { CSeq: 1 })),
      );
      assert.equal(describe.status, 404, "nobody publishes the path any more");
      // Published again, by someone else, and read.
      await using again = await LivePublisher.open({
        port: srv.port,
        path: PATH,
        transport: "tcp",
        fps: 50,
      });
      const againStop = new AbortController();
      const runningAgain = again.run(0, 500, 50, againStop.signal);
      try {
        await using reader = await LiveReader.open(srv.port, PATH);
        assert.ok(await waitUntil(() => reader.frames().length >= 3, 2000), "read again");
        checkReaderFrames(reader.frames(), "reader of the new publish");
      } finally {
        againStop.abort();
        await runningAgain;
      }
    } finally {
      controller.abort();
      for (const r of readers) await r.close();
      await publisher.close();
    }
  });
}

Deno.test("live: the rules' statuses: 455 busy path, 403 a file, 415 not JPEG, 400 bad SDP, 457 a seek, 455 PLAY/RECORD on the wrong session", async () => {
  await using srv = await startServer();
  await using publisher = await LivePublisher.open({
    port: srv.port,
    path: PATH,
    transport: "tcp",
  });
  await publisher.sendFrame(0);
  await using other = await RawConn.connect(srv.port);
  const announce = async (path: string, sdp: string, contentType?: string) =>
    parseReply(
      await other.request(announceRequest(srv.url(path), sdp, 1, contentType)),
    );
  assert.equal((await announce(PATH, jpegSdp())).status, 455, "a second ANNOUNCE on a busy path");
  assert.equal((await announce("video.mjpeg", jpegSdp())).status, 403, "ANNOUNCE of a file");
  const h264 = jpegSdp().replace("RTP/AVP 26", "RTP/AVP 96").replace(
    "a=rtpmap:26 JPEG/90000",
    "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1",
  );
  assert.equal((await announce("live/h264", h264)).status, 415, "H264");
  const audio = `${jpegSdp()}m=audio 0 RTP/AVP 0\r\n`;
  assert.equal((await announce("live/two", audio)).status, 415, "two media sections");
  assert.equal((await announce("live/text", jpegSdp(), "text/plain")).status, 415, "not SDP");
  assert.equal((await announce("live/junk", "hello, world\r\n")).status, 400, "garbage SDP");
  assert.equal(
    (await announce("live/bin", String.fromCharCode(...new Rng(7).bytes(200)))).status,
    400,
    "binary SDP",
  );
  // None of the refused ANNOUNCEs took a path.
  for (const path of ["live/h264", "live/two", "live/text", "live/junk", "live/bin"]) {
    assert.equal(srv.server.liveCounters(path), undefined, path);
  }
  // A reader cannot seek a live path, nor RECORD; the publisher cannot PLAY.
  await using reader = await LiveReader.open(srv.port, PATH, { play: false });
  assert.equal((await reader.play("npt=5-")).status, 457, "PLAY npt=5- on a live path");
  assert.equal((await reader.play("npt=0-3")).status, 457, "PLAY with an end on a live path");
  assert.equal(
    (await reader.request("RECORD", reader.url)).status,
    455,
    "RECORD on a play session",
  );
  assert.equal(
    (await publisher.request("PLAY", publisher.url)).status,
    455,
    "PLAY of a record session",
  );
  assert.equal((await reader.play("npt=now-")).status, 200, "PLAY npt=now- joins");
  assert.equal((await reader.play("npt=0-")).status, 200, "and again with npt=0-");
});

for (const transport of ["tcp", "udp"] as const) {
  Deno.test(`live: garbage RTP and a truncated frame (${transport}) reach no reader, and are counted exactly`, async () => {
    await using srv = await startServer();
    await using publisher = await LivePublisher.open({
      port: srv.port,
      path: PATH,
      transport,
      fps: 50,
    });
    const counters = srv.server.liveCounters(PATH)!;
    await using reader = await LiveReader.open(srv.port, PATH);
    const rng = new Rng(0xbad);
    const garbage: Uint8Array[] = [];
    // Random bytes that are not RTP version 2.
    for (let i = 0; i < 5; i++) {
      const data = rng.bytes(rng.range(12, 300));
      data[0] &= 0x3f;
      garbage.push(data);
    }
    // Datagrams too short for an RTP header.
    for (let i = 0; i < 4; i++) garbage.push(rng.bytes(rng.range(0, 11)));
    // RTP of a payload type that was not announced (a frame start, to tempt a reader).
    for (let i = 0; i < 3; i++) {
      garbage.push(serializeRtpPacket({
        payloadType: 96,
        sequenceNumber: rng.int(0x10000),
        timestamp: rng.int(0x10000),
        ssrc: publisher.ssrc,
        marker: true,
        payload: media.payloads[i][0],
      }));
    }
    const malformed = garbage.length;
    // RTP/JPEG of another SSRC.
    const foreign = 4;
    for (let i = 0; i < foreign; i++) {
      garbage.push(serializeRtpPacket({
        payloadType: 26,
        sequenceNumber: rng.int(0x10000),
        timestamp: rng.int(0x10000),
        ssrc: (publisher.ssrc + 1 + i) >>> 0,
        marker: true,
        payload: media.payloads[i + 5][0],
      }));
    }
    const shuffled = [...garbage].sort(() => rng.float() - 0.5);
    let sent = 0;
    const truncated = 12;
    for (let frame = 0; frame < 30; frame++) {
      if (frame === truncated) {
        const fragments = media.payloads[frame].length;
        assert.ok(fragments >= 3, `frame ${frame} has ${fragments} fragments`);
        await publisher.sendFrame(frame, { skip: Math.floor(fragments / 2) });
      } else if (frame >= 14 && frame < 14 + shuffled.length / 2) {
        // Garbage between the fragments of a frame, two at a time.
        const inject = new Map([[1, shuffled.slice(2 * (frame - 14), 2 * (frame - 14) + 2)]]);
        sent += inject.get(1)!.length;
        await publisher.sendFrame(frame, { inject });
      } else await publisher.sendFrame(frame);
      await sleep(20);
    }
    assert.equal(sent, garbage.length, "all the garbage went out");
    await waitUntil(() => counters.frames === 29, 2000);
    await reader.settle();
    assert.deepEqual({ ...counters }, {
      packets: publisher.packetsSent + garbage.length,
      bytes: counters.bytes,
      malformed,
      foreign,
      outOfOrder: 0,
      frames: 29,
      framesDropped: 1,
      framesCapped: 0,
    });
    const indexes = checkReaderFrames(reader.frames(), "reader", { consecutive: false });
    const expected = Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== truncated);
    assert.deepEqual(indexes, expected, "the reader got every whole frame, and only those");
    jpegsOf(reader.frames()).forEach((jpeg, k) =>
      assert.ok(sameBytes(jpeg, media.frames[indexes[k]]), `JPEG ${k} is frame ${indexes[k]}`)
    );
  });
}

Deno.test("live: a publisher far above its announced rate is capped at about twice it", async () => {
  await using srv = await startServer();
  const fps = 10;
  await using publisher = await LivePublisher.open({
    port: srv.port,
    path: PATH,
    transport: "tcp",
    fps,
  });
  const counters = srv.server.liveCounters(PATH)!;
  await using reader = await LiveReader.open(srv.port, PATH);
  const started = performance.now();
  const sent = await publisher.run(0, 150, 100); // ten times the announced rate, 1.5 s
  const seconds = (performance.now() - started) / 1000;
  await reader.settle();
  const frames = reader.frames();
  checkReaderFrames(frames, "reader", { consecutive: false });
  assert.equal(sent, 150);
  assert.ok(counters.framesCapped > 0, "frames were capped");
  assert.equal(counters.frames + counters.framesCapped, sent, "every frame was taken or capped");
  assert.equal(frames.length, counters.frames, "the reader got exactly the frames let through");
  // A burst of one second's frames, then twice the announced rate.
  const most = fps + 2 * fps * seconds + 2;
  assert.ok(
    frames.length <= most,
    `${frames.length} frames in ${seconds.toFixed(2)} s (at most ${most.toFixed(0)})`,
  );
  assert.ok(
    frames.length >= 2 * fps * seconds * 0.7,
    `${frames.length} frames: the cap lets 2x through`,
  );
  // After the burst, about twice the rate: count the frames of the last second.
  const ends = reader.rtp.filter((d) => (d.data[1] & 0x80) !== 0).map((d) => d.at);
  const last = ends.at(-1)!;
  const inLastSecond = ends.filter((at) => at > last - 1000).length;
  assert.ok(
    inLastSecond <= 2 * fps + 2,
    `${inLastSecond} frames in the last second (cap ${2 * fps})`,
  );
});

Deno.test("live: PAUSE then PLAY of a reader resumes at the live edge", async () => {
  await using srv = await startServer();
  await using publisher = await LivePublisher.open({
    port: srv.port,
    path: PATH,
    transport: "tcp",
    fps: 50,
  });
  const controller = new AbortController();
  const running = publisher.run(0, 400, 50, controller.signal);
  try {
    await using reader = await LiveReader.open(srv.port, PATH);
    assert.ok(await waitUntil(() => reader.frames().length >= 10, 3000));
    assert.equal((await reader.request("PAUSE", reader.url)).status, 200);
    await reader.settle();
    const paused = reader.rtp.length;
    const before = checkReaderFrames(reader.frames(), "before the pause");
    await sleep(500);
    assert.equal(reader.rtp.length, paused, "nothing comes while paused");
    const play = await reader.play();
    assert.equal(play.status, 200);
    assert.ok(await waitUntil(() => reader.frames(paused).length >= 10, 3000));
    assert.equal((await reader.request("TEARDOWN", reader.url)).status, 200);
    await reader.settle();
    const after = checkReaderFrames(reader.frames(paused), "after the pause");
    // 500 ms at 50 frames/s went by: the first frame after PLAY is the live edge, not the next one.
    const skipped = (after[0] - before.at(-1)! + FRAME_COUNT) % FRAME_COUNT;
    assert.ok(skipped >= 20, `resumed ${skipped} frames after the last one before the pause`);
    const all = reader.frames();
    assert.ok(all.every((f) => f.consecutive), "sequence numbers run on across the pause");
  } finally {
    controller.abort();
    await running;
  }
});

Deno.test("live: rtsp-client --publish and rtsp-client --out, both ours: frames byte for byte, numbered as in the file", async () => {
  await using srv = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "live_cli_" });
  const toEndDir = await Deno.makeTempDir({ prefix: "live_cli_end_" });
  const url = srv.url("live/own");
  const cli = (args: string[]) =>
    runCommand(Deno.execPath(), ["run", "-P=client", "client.ts", ...args], {
      timeoutMs: 20_000,
      env: { NO_COLOR: "1" },
    });
  try {
    const publishing = cli(["--publish", "video.mjpeg", url, "--fps", "50", "--transport", "tcp"]);
    assert.ok(
      await waitUntil(() => (srv.server.liveCounters("live/own")?.frames ?? 0) >= 10, 10_000),
      `frames come in\n${srv.logText()}`,
    );
    // One reader stops after 40 frames; the other reads until the publisher
    // leaves: the server's BYE ends it, and its TEARDOWN's 454 is no error.
    const toEnd = cli([url, "--out", toEndDir, "--quiet"]);
    const reading = await cli([url, "--out", dir, "--frames", "40", "--quiet"]);
    const published = await publishing;
    const ended = await toEnd;
    assert.ok(ended.success, `read to the end: ${ended.code}\n${ended.stderr}`);
    const lastName = [...Deno.readDirSync(toEndDir)].map((e) => e.name).sort().at(-1);
    assert.equal(lastName, "frame_000200.jpg", "read through the publisher's last frame");
    assert.ok(published.success, `publish: ${published.code}\n${published.stderr}`);
    assert.ok(reading.success, `read: ${reading.code}\n${reading.stderr}`);
    assert.match(new TextDecoder().decode(reading.stdout), /40 complete/);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    const first = Number(/^frame_(\d{6})\.jpg$/.exec(names[0] ?? "")?.[1]);
    assert.ok(first > 10, `joined mid-stream: ${names[0]}`);
    assert.deepEqual(
      names,
      Array.from({ length: 40 }, (_, k) => `frame_${String(first + k).padStart(6, "0")}.jpg`),
      "40 frames from the one it joined at, each named by its number in the file",
    );
    for (const name of names) {
      const n = Number(name.slice(6, 12));
      assert.ok(sameBytes(await Deno.readFile(`${dir}/${name}`), media.frames[n - 1]), name);
    }
    const gone = await srv.waitForLog(/^live\/own: publisher .* gone; /, 5000);
    assert.match(
      gone,
      / gone; 200 frames taken, 0 dropped incomplete, 0 over the rate cap, 0 malformed/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(toEndDir, { recursive: true });
  }
});
