/**
 * Seeking on the real server, driven over a raw socket with standard RTSP:
 * PLAY with a Range (RFC 2326 §12.29) starts at the first frame at or after
 * its start and stops before its end, the reply's Range and RTP-Info
 * (§12.33) name exactly the first packet sent, sequence numbers run on
 * across seeks and pauses, a Range the stream cannot play is 457 and changes
 * nothing, Scale (§12.34) changes the pace, and the RTCP sender reports'
 * NTP and RTP times describe the same instant (RFC 3550 §6.4.1).
 *
 * Frames are told apart by their pictures: each RTP frame is reassembled
 * (RFC 2435) and its scan data looked up among the file's frames, read
 * independently of `lib/` (`video.mjpeg`: 200 distinct frames, 20 fps, 10 s).
 */
import assert from "node:assert/strict";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { parseRtcpPackets, type SenderReport } from "../lib/wire/rtcp_packet.ts";
import { assertSamePicture, FrameFinder } from "./_same_picture.ts";
import {
  paramsOf,
  parseReply,
  RawConn,
  readLabFrames,
  type Reply,
  req,
  rtpView,
  sessionIdOf,
  type SinkPair,
  sinkPair,
  sleep,
  type UdpSink,
  waitUntil,
} from "./_raw_rtsp.ts";
import { concat } from "./_helpers.ts";
import { startServer, type TestServer } from "./_server.ts";

const FRAMES = await readLabFrames();
const FPS = 20;
/** RTP clock ticks per frame at 20 fps (90 kHz). */
const STEP = 90000 / FPS;
const END = "10.000";

// ---------------------------------------------------------------------------
// Telling frames apart

/** Which file frame a reassembled JPEG shows (its 0-based index, or -1). */
const FINDER = new FrameFinder(FRAMES, "video.mjpeg");

/** Seconds as the server writes an npt-sec: three decimals. */
function npt(seconds: number): string {
  return (Math.round(seconds * 1000) / 1000).toFixed(3);
}

// ---------------------------------------------------------------------------
// A standard session over a raw connection

/** RTP-Info of a PLAY reply: url, seq and rtptime, each checked to be there. */
function rtpInfoOf(reply: Reply): { url: string; seq: number; rtptime: number } {
  const header = reply.headers.get("rtp-info");
  assert.ok(header !== undefined, `no RTP-Info in ${JSON.stringify(reply.raw)}`);
  assert.ok(!header.includes(","), `one RTP-Info entry: ${header}`);
  const params = paramsOf(header);
  const seq = params.get("seq") ?? "", rtptime = params.get("rtptime") ?? "";
  assert.match(seq, /^\d+$/, `RTP-Info seq: ${header}`);
  assert.match(rtptime, /^\d+$/, `RTP-Info rtptime: ${header}`);
  return { url: params.get("url") ?? "", seq: Number(seq), rtptime: Number(rtptime) };
}

/** One frame as it arrived: reassembled from its packets, and identified. */
interface ArrivedFrame {
  /** 0-based index of the file frame it shows (-1: none). */
  index: number;
  timestamp: number;
  /** Sequence number of its first packet, extended from the session's first. */
  seq: number;
  packets: number;
  /** When its first packet arrived (performance.now()). */
  at: number;
  jpeg: Uint8Array;
}

/**
 * A standard UDP session: DESCRIBE, SETUP of the track URL the SDP names,
 * then requests with CSeq and Session; RTP and RTCP collected, frames
 * reassembled on demand.
 */
class Session implements AsyncDisposable {
  readonly conn: RawConn;
  readonly #sinks: SinkPair;
  readonly rtp: UdpSink;
  readonly rtcp: UdpSink;
  readonly id: string;
  /** The stream URL (aggregate control). */
  readonly url: string;
  /** The URL SETUP used: Content-Base + `trackID=0`. */
  readonly track: string;
  #cseq: number;
  /** Sequence number of the first packet, the base of extended sequence numbers. */
  #firstSeq: number | undefined;
  /** Frames reassembled so far, by the extended sequence number of their first packet. */
  readonly #reassembled = new Map<number, ArrivedFrame>();

  private constructor(
    parts: { conn: RawConn; sinks: SinkPair; id: string; url: string; track: string },
    cseq: number,
  ) {
    this.conn = parts.conn;
    this.#sinks = parts.sinks;
    this.rtp = parts.sinks.rtp;
    this.rtcp = parts.sinks.rtcp;
    this.id = parts.id;
    this.url = parts.url;
    this.track = parts.track;
    this.#cseq = cseq;
  }

  /** Connect, DESCRIBE and SETUP `video.mjpeg` to a fresh pair of sinks. */
  static async open(srv: TestServer): Promise<Session> {
    const sinks = await sinkPair();
    let conn: RawConn | undefined;
    try {
      conn = await RawConn.connect(srv.port);
      const url = srv.url("video.mjpeg");
      const describe = parseReply(await conn.request(req("DESCRIBE", url, { CSeq: 1 })));
      assert.equal(describe.status, 200, describe.raw);
      assert.match(describe.raw, /\r\na=range:npt=0-10(\.0+)?\r\n/, "SDP a=range");
      const base = describe.headers.get("content-base");
      assert.equal(base, `${url}/`, "Content-Base");
      const track = `${base}trackID=0`;
      const setup = parseReply(
        await conn.request(req("SETUP", track, { CSeq: 2, Transport: sinks.transport })),
      );
      assert.equal(setup.status, 200, setup.raw);
      return new Session({ conn, sinks, id: sessionIdOf(setup), url, track }, 3);
    } catch (error) {
      await conn?.close();
      await sinks[Symbol.asyncDispose]();
      throw error;
    }
  }

  /**
   * Send `method` on the stream URL with the next CSeq, the Session and
   * `headers`; the reply must echo the CSeq. `at` is when the reply was read.
   */
  async ask(
    method: string,
    headers: Record<string, string | number> = {},
  ): Promise<Reply & { at: number }> {
    const cseq = this.#cseq++;
    const raw = await this.conn.request(
      req(method, this.url, { CSeq: cseq, Session: this.id, ...headers }),
    );
    const at = performance.now();
    const reply = parseReply(raw);
    assert.equal(reply.headers.get("cseq"), String(cseq), `CSeq echo: ${raw}`);
    if (method === "PLAY" && reply.status === 200 && this.#firstSeq === undefined) {
      this.#firstSeq = rtpInfoOf(reply).seq;
    }
    return { ...reply, at };
  }

  /** PLAY; the reply must be 200. */
  async play(headers: Record<string, string | number> = {}): Promise<Reply & { at: number }> {
    const reply = await this.ask("PLAY", headers);
    assert.equal(reply.status, 200, reply.raw);
    return reply;
  }

  /** `seq` extended from the session's first packet (the session sends fewer than 65536). */
  extend(seq: number): number {
    assert.ok(this.#firstSeq !== undefined, "no PLAY yet");
    return (seq - this.#firstSeq) & 0xffff;
  }

  /**
   * Every complete frame so far, in sequence order; asserts that no packet
   * is missing or repeated and that each frame is one of the file's.
   */
  frames(): ArrivedFrame[] {
    const packets = this.rtp.datagrams.map((d) => ({ ...rtpView(d.data), at: d.at }))
      .map((p) => ({ ...p, ext: this.extend(p.sequenceNumber) }))
      .sort((a, b) => a.ext - b.ext);
    packets.forEach((p, k) => assert.equal(p.ext, k, `packet ${k} missing or repeated`));
    const frames: ArrivedFrame[] = [];
    for (let start = 0; start < packets.length;) {
      let end = start;
      while (end < packets.length && !packets[end].marker) end++;
      if (end === packets.length) break; // the rest of a frame is on its way
      const cached = this.#reassembled.get(start);
      if (cached?.packets === end - start + 1) {
        frames.push(cached);
        start = end + 1;
        continue;
      }
      const group = packets.slice(start, end + 1);
      const depacketizer = new Rfc2435Depacketizer();
      const events = group.flatMap((p) =>
        depacketizer.push({
          sequence: p.ext,
          timestamp: p.timestamp,
          marker: p.marker,
          payload: p.payload,
        })
      );
      assert.equal(events.length, 1, `one event for packets ${start}-${end}`);
      const [event] = events;
      assert.equal(event.kind, "frame", `packets ${start}-${end}: ${JSON.stringify(event)}`);
      assert.ok(group.every((p) => p.timestamp === group[0].timestamp), "one timestamp per frame");
      const jpeg = (event as { jpeg: Uint8Array }).jpeg;
      const index = FINDER.indexOf(jpeg);
      assert.ok(index >= 0, `packets ${start}-${end} carry no frame of video.mjpeg`);
      const frame = {
        index,
        timestamp: group[0].timestamp,
        seq: start,
        packets: group.length,
        at: group[0].at,
        jpeg,
      };
      this.#reassembled.set(start, frame);
      frames.push(frame);
      start = end + 1;
    }
    return frames;
  }

  /**
   * Packets with the marker bit so far (frames ended), counted cheaply: a
   * wait that reassembled every frame on each poll would hold up the event
   * loop, and with it the arrival times of the packets it waits for.
   */
  #markers(): number {
    const datagrams = this.rtp.datagrams;
    for (; this.#counted < datagrams.length; this.#counted++) {
      if (datagrams[this.#counted].data[1] & 0x80) this.#markerCount++;
    }
    return this.#markerCount;
  }
  #counted = 0;
  #markerCount = 0;

  /** Wait until `count` frames ended (at most `timeoutMs`); returns the frames. */
  async waitFrames(count: number, timeoutMs = 3000): Promise<ArrivedFrame[]> {
    const ok = await waitUntil(() => this.#markers() >= count, timeoutMs);
    assert.ok(ok, `${this.#markers()} of ${count} frames within ${timeoutMs} ms`);
    return this.frames();
  }

  /** Wait until `count` frames from extended sequence number `seq` on arrived; returns them. */
  async waitFramesFrom(seq: number, count: number, timeoutMs = 3000): Promise<ArrivedFrame[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const frames = from(this.frames(), seq);
      if (frames.length >= count) return frames;
      const left = deadline - performance.now();
      assert.ok(left > 0, `${frames.length} of ${count} frames within ${timeoutMs} ms`);
      await this.waitFrames(this.#markers() + 1, left);
    }
  }

  /** Wait until what arrives settles (nothing new for 120 ms, at most 1 s); returns the frames. */
  async settle(): Promise<ArrivedFrame[]> {
    const deadline = performance.now() + 1000;
    let count = -1;
    while (count !== this.rtp.datagrams.length && performance.now() < deadline) {
      count = this.rtp.datagrams.length;
      await sleep(120);
    }
    return this.frames();
  }

  /** The sender reports received so far, with their arrival time and whether a BYE came with them. */
  reports(): { sr: SenderReport; at: number; bye: boolean }[] {
    return this.rtcp.datagrams.map((d) => {
      const packets = parseRtcpPackets(d.data);
      const sr = packets.find((p) => p.type === "sr");
      assert.ok(sr, "each RTCP compound starts with a sender report");
      return { sr: sr as SenderReport, at: d.at, bye: packets.some((p) => p.type === "bye") };
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.conn.close();
    await this.#sinks[Symbol.asyncDispose]();
  }
}

/** Frames from extended sequence number `seq` on. */
function from(frames: ArrivedFrame[], seq: number): ArrivedFrame[] {
  return frames.filter((f) => f.seq >= seq);
}

/** Assert `frames` are file frames `first`, `first + 1`, … with timestamps STEP apart from `rtptime`. */
function assertRun(frames: ArrivedFrame[], first: number, rtptime: number, what: string): void {
  frames.forEach((f, k) => {
    assert.equal(f.index, first + k, `${what}: frame ${k} shows file frame ${f.index}`);
    assert.equal(f.timestamp, (rtptime + k * STEP) >>> 0, `${what}: timestamp of frame ${k}`);
  });
}

/** Assert the session's frames show `expected` file frames, in order (a summary on failure). */
function assertIndexes(frames: ArrivedFrame[], expected: number[], what: string): void {
  assert.deepEqual(frames.map((f) => f.index), expected, what);
}

/** `[a, a + 1, …, b - 1]`. */
function span(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, k) => a + k);
}

// ---------------------------------------------------------------------------
// Seeking

Deno.test("PLAY Range: npt=5- starts at frame 101: reply Range npt=5.000-10.000, RTP-Info names its first packet", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const play = await s.play({ Range: "npt=5-" });
  assert.equal(play.headers.get("range"), `npt=5.000-${END}`);
  const info = rtpInfoOf(play);
  assert.equal(info.url, s.track, "RTP-Info url is the URL SETUP used");

  assert.ok(await s.rtp.waitFor(1, 2000), "RTP after PLAY");
  const first = rtpView(s.rtp.datagrams[0].data);
  assert.equal(first.sequenceNumber, info.seq, "first packet's seq is RTP-Info's");
  assert.equal(first.timestamp, info.rtptime, "first packet's timestamp is RTP-Info's rtptime");

  const frames = await s.waitFrames(3);
  assertSamePicture(frames[0].jpeg, FRAMES[100], "first frame after npt=5- (frame 101)");
  assertRun(frames.slice(0, 3), 100, info.rtptime, "npt=5-");
});

Deno.test("PLAY Range: npt=5-7 sends exactly frames 101-140 (40 frames), then an RTCP BYE", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const play = await s.play({ Range: "npt=5-7" });
  assert.equal(play.headers.get("range"), "npt=5.000-7.000");
  const info = rtpInfoOf(play);
  const ended = await waitUntil(() => s.reports().some((r) => r.bye), 4000);
  assert.ok(ended, `no BYE within 4 s (${s.frames().length} frames)`);
  const frames = await s.settle();
  assert.equal(frames.length, 40, `frames sent for npt=5-7: ${frames.map((f) => f.index + 1)}`);
  assertRun(frames, 100, info.rtptime, "npt=5-7");
  assertSamePicture(frames[39].jpeg, FRAMES[139], "last frame of npt=5-7 (frame 140)");
  const bye = s.reports().findIndex((r) => r.bye);
  assert.ok(s.rtp.datagrams.every((d) => d.at <= s.reports()[bye].at), "no RTP after the BYE");
  assert.ok(srv.logs.some((l) => /end of stream after 40 frames/.test(l)), srv.logText());
});

Deno.test("a PLAY with a Range while playing (no PAUSE) seeks at once; sequence numbers run on", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const start = await s.play();
  assert.equal(start.headers.get("range"), `npt=0.000-${END}`);
  const base = rtpInfoOf(start).rtptime; // the RTP time of media time 0
  await s.waitFrames(4);

  const seek = await s.play({ Range: "npt=5-" });
  assert.equal(seek.headers.get("range"), `npt=5.000-${END}`);
  const info = rtpInfoOf(seek);
  assert.equal(info.url, s.track);
  assert.equal(info.rtptime, (base + 100 * STEP) >>> 0, "rtptime of media time 5 s");
  const seekSeq = s.extend(info.seq);
  await s.waitFramesFrom(seekSeq, 3);
  const frames = s.frames();
  const before = frames.filter((f) => f.seq < seekSeq);
  assert.ok(before.length >= 4, `${before.length} frames before the seek`);
  assertRun(before, 0, base, "before the seek");
  const after = from(frames, seekSeq);
  assert.equal(after[0].seq, seekSeq, "RTP-Info seq follows the last packet before the seek");
  assertRun(after, 100, info.rtptime, "after the seek");
  // "At once": the first frame after the seek leaves when the PLAY is answered, not a period later.
  const delay = after[0].at - seek.at;
  assert.ok(delay < 25, `first frame after the seek ${delay.toFixed(1)} ms after the reply`);
});

Deno.test("PAUSE replies with the next frame's position; a seek while paused, and PLAY without Range resumes", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const base = rtpInfoOf(await s.play()).rtptime;
  await s.waitFrames(5);

  // PAUSE: Range is the next frame's media time.
  const pause1 = await s.ask("PAUSE");
  assert.equal(pause1.status, 200, pause1.raw);
  let frames = await s.settle();
  const n = frames.length;
  assert.equal(pause1.headers.get("range"), `npt=${npt(n / FPS)}-${END}`, `after ${n} frames`);
  await sleep(300);
  assert.equal(s.frames().length, n, "nothing arrives while paused");

  // A seek while paused.
  const seek = await s.play({ Range: "npt=5-" });
  assert.equal(seek.headers.get("range"), `npt=5.000-${END}`);
  const seekInfo = rtpInfoOf(seek);
  assert.equal(s.extend(seekInfo.seq), frames.at(-1)!.seq + frames.at(-1)!.packets, "seq runs on");
  assert.equal(seekInfo.rtptime, (base + 100 * STEP) >>> 0);
  await s.waitFrames(n + 4);
  const pause2 = await s.ask("PAUSE");
  assert.equal(pause2.status, 200, pause2.raw);
  frames = await s.settle();
  const m = frames.length - n;
  assert.equal(pause2.headers.get("range"), `npt=${npt((100 + m) / FPS)}-${END}`);

  // PLAY without Range resumes with the next frame.
  const resume = await s.play();
  assert.equal(resume.headers.get("range"), `npt=${npt((100 + m) / FPS)}-${END}`);
  const resumeInfo = rtpInfoOf(resume);
  assert.equal(s.extend(resumeInfo.seq), frames.at(-1)!.seq + frames.at(-1)!.packets);
  assert.equal(resumeInfo.rtptime, (base + (100 + m) * STEP) >>> 0);
  frames = await s.waitFrames(n + m + 3);
  assertIndexes(frames.slice(0, n + m + 3), [
    ...span(0, n),
    ...span(100, 100 + m),
    ...span(100 + m, 103 + m),
  ], "frames: before, after the seek, after the resume");
  assertRun(frames.slice(n), 100, seekInfo.rtptime, "after the seek and the resume");

  // `npt=now-` resumes too.
  const pause3 = await s.ask("PAUSE");
  frames = await s.settle();
  const position = npt((frames.at(-1)!.index + 1) / FPS);
  assert.equal(pause3.headers.get("range"), `npt=${position}-${END}`);
  const now = await s.play({ Range: "npt=now-" });
  assert.equal(now.headers.get("range"), `npt=${position}-${END}`);
  const after = from(await s.waitFrames(frames.length + 1), s.extend(rtpInfoOf(now).seq));
  assert.equal(after[0].index, frames.at(-1)!.index + 1, "npt=now- resumes with the next frame");
});

Deno.test("a seek's Range in other forms: hh:mm:ss, between frames, the last frame, back to 0", async (t) => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const base = rtpInfoOf(await s.play()).rtptime;
  const cases: { range: string; reply: string; first: number }[] = [
    { range: "npt=00:00:05.000-", reply: `npt=5.000-${END}`, first: 100 },
    { range: "npt=0:00:07.5-", reply: `npt=7.500-${END}`, first: 150 },
    // The first frame at or after 5.02 s is frame 102 (5.05 s).
    { range: "npt=5.02-", reply: `npt=5.050-${END}`, first: 101 },
    { range: "npt=0:0:3-0:00:04", reply: "npt=3.000-4.000", first: 60 },
    { range: "npt=0-", reply: `npt=0.000-${END}`, first: 0 },
    { range: "npt=8-", reply: `npt=8.000-${END}`, first: 160 },
    // No start (RFC 2326 §3.6 "-" npt-time): from the beginning, wherever the session was.
    { range: "npt=-0.2", reply: "npt=0.000-0.200", first: 0 },
  ];
  for (const { range, reply, first } of cases) {
    await t.step(range, async () => {
      const play = await s.play({ Range: range });
      assert.equal(play.headers.get("range"), reply);
      const info = rtpInfoOf(play);
      assert.equal(info.rtptime, (base + first * STEP) >>> 0, "rtptime follows media time");
      const seq = s.extend(info.seq);
      const after = await s.waitFramesFrom(seq, 2);
      assertRun(after.slice(0, 2), first, info.rtptime, range);
    });
  }
  await t.step("npt=9.95- plays the last frame, then BYE", async () => {
    const play = await s.play({ Range: "npt=9.95-" });
    assert.equal(play.headers.get("range"), `npt=9.950-${END}`);
    const seq = s.extend(rtpInfoOf(play).seq);
    assert.ok(await waitUntil(() => s.reports().some((r) => r.bye), 2000), "BYE at the end");
    assertIndexes(from(await s.settle(), seq), [199], "npt=9.95-");
  });
});

// ---------------------------------------------------------------------------
// Ranges the stream cannot play

const INVALID_RANGES = [
  "npt=11-",
  "npt=abc",
  "npt=5-2",
  "smpte=0:00:05:00-",
  "clock=19961108T143720.25Z-",
];

Deno.test("457 Invalid Range while playing: CSeq echoed, the session plays on at 20 fps", async (t) => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const base = rtpInfoOf(await s.play()).rtptime;
  await s.waitFrames(2);
  for (const range of INVALID_RANGES) {
    await t.step(range, async () => {
      const reply = await s.ask("PLAY", { Range: range }); // ask() checks the CSeq echo
      assert.equal(reply.status, 457, reply.raw);
      assert.equal(reply.reason, "Invalid Range");
    });
  }
  const count = s.frames().length;
  const t0 = performance.now();
  await sleep(1000);
  const frames = await s.waitFrames(count + 1);
  const during = frames.filter((f) => f.at > t0);
  assert.ok(
    during.length >= 18 && during.length <= 22,
    `${during.length} frames in the second after the 457s`,
  );
  assertRun(frames, 0, base, "the play goes on as before");
  const pause = await s.ask("PAUSE");
  assert.equal(pause.status, 200, "still playing, so PAUSE is valid");
});

Deno.test("457 Invalid Range while paused: the session stays paused where it was", async (t) => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const base = rtpInfoOf(await s.play()).rtptime;
  await s.waitFrames(3);
  const pause = await s.ask("PAUSE");
  assert.equal(pause.status, 200);
  const count = (await s.settle()).length;
  for (const range of INVALID_RANGES) {
    await t.step(range, async () => {
      const reply = await s.ask("PLAY", { Range: range });
      assert.equal(reply.status, 457, reply.raw);
    });
  }
  await sleep(300);
  assert.equal(s.rtp.datagrams.length, s.frames().at(-1)!.seq + s.frames().at(-1)!.packets);
  assert.equal(s.frames().length, count, "nothing arrives after the 457s");
  const again = await s.ask("PAUSE");
  assert.equal(again.status, 455, `still paused, so PAUSE is not valid: ${again.raw}`);
  const resume = await s.play();
  assert.equal(resume.headers.get("range"), `npt=${npt(count / FPS)}-${END}`);
  const frames = await s.waitFrames(count + 2);
  assertRun(frames, 0, base, "resumed where it paused");
});

Deno.test("PLAY without Range at the end of the stream is 457; with a Range it plays again", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const play = await s.play({ Range: "npt=9.9-" });
  assert.equal(play.headers.get("range"), `npt=9.900-${END}`);
  assert.ok(await waitUntil(() => s.reports().some((r) => r.bye), 2000), "BYE at the end");
  assertIndexes(await s.settle(), [198, 199], "npt=9.9-");
  const again = await s.ask("PLAY");
  assert.equal(again.status, 457, again.raw);
  const now = await s.ask("PLAY", { Range: "npt=now-" });
  assert.equal(now.status, 457, now.raw);
  const restart = await s.play({ Range: "npt=0-" });
  assert.equal(restart.headers.get("range"), `npt=0.000-${END}`);
  const frames = await s.waitFrames(4);
  assertIndexes(frames.slice(0, 4), [198, 199, 0, 1], "played again from 0");
});

Deno.test("PAUSE during a bounded play replies with that play's end; PLAY without Range keeps it", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  await s.play({ Range: "npt=5-5.5" });
  await s.waitFrames(3);
  const pause = await s.ask("PAUSE");
  const frames = await s.settle();
  assert.equal(pause.headers.get("range"), `npt=${npt((100 + frames.length) / FPS)}-5.500`);
  const resume = await s.play();
  assert.equal(resume.headers.get("range"), `npt=${npt((100 + frames.length) / FPS)}-5.500`);
  assert.ok(await waitUntil(() => s.reports().some((r) => r.bye), 2000), "BYE at 5.5 s");
  assertIndexes(await s.settle(), span(100, 110), "npt=5-5.5 across a pause");
});

// ---------------------------------------------------------------------------
// Scale

Deno.test("Scale: 2 plays at 40 frames/s with timestamps still 4500 apart; 100 is clamped; -1 is 456", async () => {
  await using srv = await startServer();
  await using s = await Session.open(srv);
  const play = await s.play({ Scale: "2" });
  assert.equal(play.headers.get("scale"), "2");
  assert.equal(play.headers.get("range"), `npt=0.000-${END}`);
  const info = rtpInfoOf(play);
  const frames = await s.waitFrames(41, 3000);
  assertRun(frames, 0, info.rtptime, "Scale 2");
  const ms = frames[40].at - frames[0].at;
  assert.ok(Math.abs(ms - 1000) < 50, `40 frame periods at Scale 2 took ${ms.toFixed(1)} ms`);

  for (const [scale, status] of [["-1", 456], ["0", 456], ["abc", 400]] as const) {
    const reply = await s.ask("PLAY", { Scale: scale });
    assert.equal(reply.status, status, `Scale: ${scale}: ${reply.raw}`);
  }
  const clamped = await s.play({ Scale: "100" });
  assert.equal(clamped.headers.get("scale"), "16", "Scale in effect");
  const half = await s.play({ Scale: "0.5", Range: "npt=0-" });
  assert.equal(half.headers.get("scale"), "0.5");
  const seq = s.extend(rtpInfoOf(half).seq);
  await sleep(450); // idle, so that nothing here holds up the packets' arrival times
  const after = await s.waitFramesFrom(seq, 5);
  const slow = after[4].at - after[0].at;
  assert.ok(Math.abs(slow - 400) < 30, `4 frame periods at Scale 0.5 took ${slow.toFixed(1)} ms`);
  assertRun(after.slice(0, 5), 0, rtpInfoOf(half).rtptime, "Scale 0.5");
});

// ---------------------------------------------------------------------------
// RTCP sender reports

/** Unix time in ms of an NTP timestamp (RFC 3550 §4), computed independently of lib/. */
function ntpToUnixMs(sr: SenderReport): number {
  return (sr.ntpSeconds - 2_208_988_800) * 1000 + sr.ntpFraction / 2 ** 32 * 1000;
}

/**
 * How far (ms) each frame's RTP timestamp is from the RTP time the sender
 * report `sr` gives for the instant its first packet arrived: the time it
 * took to arrive, if the two clocks agree (the server runs in this process:
 * same `performance.timeOrigin`).
 */
function lagsAgainst(sr: SenderReport, frames: ArrivedFrame[], scale = 1): number[] {
  const srMs = ntpToUnixMs(sr);
  return frames.map((f) => {
    const arrivedMs = performance.timeOrigin + f.at;
    const rtpAtArrival = sr.rtpTimestamp + (arrivedMs - srMs) * 90 * scale;
    const ticks = rtpAtArrival - f.timestamp;
    // Wrap-around of the 32-bit timestamp.
    const wrapped = ticks - Math.round(ticks / 2 ** 32) * 2 ** 32;
    return wrapped / 90 / scale;
  });
}

/**
 * Frames leave at their RTP time (up to the pacer's 0.5 ms slack early) and
 * cross loopback in well under a millisecond: measured against a sender
 * report they arrive 0.4-1.5 ms after their RTP time. The test and the
 * server share one process, so a frame can now and then be held up by the
 * test's own work: the bound is on the median, the earliest and a gross
 * worst case.
 */
function assertLags(lags: number[], what: string): void {
  const sorted = [...lags].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const summary = `${what}: frames arrive ${sorted[0].toFixed(2)} to ${
    sorted.at(-1)!.toFixed(2)
  } ms (median ${median.toFixed(2)}) after their RTP time`;
  assert.ok(sorted[0] > -1, `${summary}: some arrived before it`);
  assert.ok(median < 2, summary);
  assert.ok(sorted.at(-1)! < 10, summary);
}

Deno.test("RTCP sender reports: one right after the first frame, then every rtcpInterval; NTP and RTP agree with each other and with the RTP packets; none while paused", async () => {
  await using srv = await startServer({ rtcpInterval: 0.4 });
  await using s = await Session.open(srv);
  await s.play();
  assert.ok(await waitUntil(() => s.reports().length >= 5, 3000), "5 reports in 3 s");
  const reports = s.reports();
  const frames = s.frames();
  // Right after the first frame: it counts that frame's packets, and arrives with it.
  assert.ok(reports[0].sr.packetCount >= frames[0].packets, "the first SR follows a frame");
  const firstSr = reports[0].at - frames[0].at;
  assert.ok(Math.abs(firstSr) < 15, `first SR ${firstSr.toFixed(1)} ms after the first frame`);
  for (let i = 1; i < reports.length; i++) {
    const a = reports[i - 1].sr, b = reports[i].sr;
    const ntpMs = ntpToUnixMs(b) - ntpToUnixMs(a);
    const rtpMs = ((b.rtpTimestamp - a.rtpTimestamp) >>> 0) / 90;
    assert.ok(Math.abs(ntpMs - 400) < 20, `SR ${i}: ${ntpMs.toFixed(2)} ms after the last`);
    assert.ok(
      Math.abs(rtpMs - ntpMs) < 0.5,
      `SR ${i}: ΔRTP ${rtpMs.toFixed(3)} ms vs ΔNTP ${ntpMs.toFixed(3)} ms`,
    );
    assert.ok(b.packetCount > a.packetCount, `SR ${i}: packet count grows`);
  }
  for (const [i, { sr }] of reports.entries()) {
    assertLags(lagsAgainst(sr, frames), `SR ${i}`);
  }

  // Paused: no report. Playing again: one right after the first frame.
  const pause = await s.ask("PAUSE");
  assert.equal(pause.status, 200);
  await s.settle();
  const paused = s.reports().length;
  await sleep(1000);
  assert.equal(s.reports().length, paused, "no sender report while paused");
  const count = s.rtp.datagrams.length;
  // And a seek: the reports follow the new media time.
  const seek = await s.play({ Range: "npt=5-" });
  assert.ok(await waitUntil(() => s.reports().length >= paused + 2, 2000), "reports resume");
  const resumed = s.reports()[paused];
  const firstAfter = s.rtp.datagrams[count].at;
  assert.ok(resumed.sr.packetCount > count, "the SR after the seek follows its first frame");
  assert.ok(
    Math.abs(resumed.at - firstAfter) < 15,
    `the SR after the seek ${(resumed.at - firstAfter).toFixed(1)} ms after its first frame`,
  );
  const after = from(s.frames(), s.extend(rtpInfoOf(seek).seq));
  assert.equal(after[0].index, 100);
  for (const { sr } of s.reports().slice(paused)) {
    assertLags(lagsAgainst(sr, after), "SR after the seek");
  }
});

// ---------------------------------------------------------------------------
// Over TCP interleaved

/** An RTSP reply or an interleaved packet read from the connection, and when it was read. */
type TcpItem =
  | { kind: "reply"; reply: Reply; at: number }
  | { kind: "packet"; channel: number; data: Uint8Array; at: number };

/**
 * A raw TCP connection whose bytes are split into replies and `$`-framed
 * packets (RFC 2326 §10.12), read independently of lib/.
 */
class TcpReader implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly items: TcpItem[] = [];
  #buffer: Uint8Array = new Uint8Array(0);
  readonly #reading: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(1 << 16);
    for (;;) {
      const n = await this.conn.read(chunk).catch(() => null);
      if (n === null) return;
      const at = performance.now();
      this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
      this.#split(at);
    }
  }

  #split(at: number): void {
    for (;;) {
      const b = this.#buffer;
      if (b.length === 0) return;
      if (b[0] === 0x24) {
        if (b.length < 4) return;
        const length = (b[2] << 8) | b[3];
        if (b.length < 4 + length) return;
        this.items.push({ kind: "packet", channel: b[1], data: b.slice(4, 4 + length), at });
        this.#buffer = b.slice(4 + length);
        continue;
      }
      const text = new TextDecoder().decode(b);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      assert.ok(!/content-length/i.test(text.slice(0, end)), "no reply body expected");
      this.items.push({ kind: "reply", reply: parseReply(text.slice(0, end + 4)), at });
      this.#buffer = b.slice(new TextEncoder().encode(text.slice(0, end + 4)).length);
    }
  }

  /** Send a request and wait for the reply with its CSeq; returns the reply's place in `items`. */
  async ask(request: string, cseq: number): Promise<number> {
    await this.conn.write(new TextEncoder().encode(request));
    let index = -1;
    const found = () =>
      (index = this.items.findIndex((i) =>
        i.kind === "reply" && i.reply.headers.get("cseq") === String(cseq)
      )) >= 0;
    assert.ok(await waitUntil(found, 3000), `no reply to CSeq ${cseq}`);
    return index;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

Deno.test("over TCP interleaved, each PLAY's reply comes before the packets RTP-Info names, and they follow it at once", async (t) => {
  await using srv = await startServer();
  await using tcp = new TcpReader(
    await Deno.connect({ hostname: "127.0.0.1", port: srv.port, transport: "tcp" }),
  );
  const url = srv.url("video.mjpeg");
  const track = `${url}/trackID=0`;
  const setupAt = await tcp.ask(
    req("SETUP", track, { CSeq: 1, Transport: "RTP/AVP/TCP;unicast;interleaved=0-1" }),
    1,
  );
  const setup = (tcp.items[setupAt] as { reply: Reply }).reply;
  assert.equal(setup.status, 200, setup.raw);
  const session = sessionIdOf(setup);
  let cseq = 2;
  const steps: { name: string; method: string; range?: string; first?: number }[] = [
    { name: "PLAY", method: "PLAY", first: 0 },
    { name: "a seek while playing", method: "PLAY", range: "npt=5-", first: 100 },
    { name: "PAUSE", method: "PAUSE" },
    { name: "a seek while paused", method: "PLAY", range: "npt=2-", first: 40 },
  ];
  for (const { name, method, range, first } of steps) {
    await t.step(name, async () => {
      const headers: Record<string, string | number> = { CSeq: cseq, Session: session };
      if (range) headers.Range = range;
      const at = await tcp.ask(req(method, url, headers), cseq++);
      const { reply, at: replyAt } = tcp.items[at] as { reply: Reply; at: number };
      assert.equal(reply.status, 200, reply.raw);
      if (first === undefined) {
        await sleep(200);
        return;
      }
      const info = rtpInfoOf(reply);
      assert.equal(info.url, track);
      const rtpAfter = () =>
        tcp.items.slice(at + 1).filter((i) => i.kind === "packet" && i.channel === 0) as {
          data: Uint8Array;
          at: number;
        }[];
      assert.ok(await waitUntil(() => rtpAfter().some((p) => rtpView(p.data).marker), 2000));
      const packets = rtpAfter();
      const head = rtpView(packets[0].data);
      assert.equal(head.sequenceNumber, info.seq, "the first packet after the reply is RTP-Info's");
      assert.equal(head.timestamp, info.rtptime);
      const end = packets.findIndex((p) => rtpView(p.data).marker);
      const depacketizer = new Rfc2435Depacketizer();
      const events = packets.slice(0, end + 1).flatMap((p, k) => {
        const v = rtpView(p.data);
        return depacketizer.push({ ...v, sequence: k, payload: v.payload });
      });
      assert.equal(events.at(-1)?.kind, "frame");
      assert.equal(FINDER.indexOf((events.at(-1) as { jpeg: Uint8Array }).jpeg), first);
      // Over UDP the first packet follows the reply within a millisecond. On the RTSP
      // connection it is a second small write right after the reply's: with Nagle's
      // algorithm on (no TCP_NODELAY) it waits for the client's delayed ACK, 40 ms on Linux.
      const delay = packets[0].at - replyAt;
      assert.ok(delay < 25, `the first packet came ${delay.toFixed(1)} ms after the reply`);
      await sleep(200);
    });
  }
});
