/**
 * Interop of seeking with real players: ffmpeg (`-ss 5` on an RTSP input,
 * which PAUSEs and PLAYs again with `Range: npt=5.000-`) and GStreamer
 * (rtspsrc, seek_simple to 5 s, by `_gst_play.py --seek-to 5`), each over
 * RTP/UDP and over RTSP/TCP interleaved. What they decode after the seek
 * must be frame 101 of video.mjpeg (5 s at 20 fps) and the frames after it,
 * in order, and the first of them must come within a second of the PLAY that
 * carries the Range.
 *
 * The players talk to the server through a small TCP proxy that records
 * every request and reply with the time it passed (RTP and RTCP interleaved
 * on the connection pass through unrecorded), so that the test can say
 * exactly what each player sent around its seek. The times are this
 * process's `performance.now()`: the server runs in it, its log lines are
 * stamped as they are written, and each line a player prints on stdout is
 * stamped as it is read.
 *
 * Needs ffmpeg, and Debian's python3 with GStreamer's introspection data
 * (python3-gi, gstreamer1.0-plugins-good, gstreamer1.0-rtsp). Without them
 * each test prints "SKIPPED: ..." and passes, except in CI (`CI=true`),
 * where it fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { frameMd5s, parseFrameMd5, requirePeer, tail } from "./_peers.ts";
import { readLabFrames } from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";
import { TcpProxy } from "./_tcp_proxy.ts";
import { concat, withTempDir } from "./_helpers.ts";
import { assertSamePicture } from "./_same_picture.ts";

const FRAMES = await readLabFrames();
const VIDEO = "video.mjpeg";
/** The server's default rate: video.mjpeg is 10 s long, and 5 s is frame 101 (index 100). */
const FPS = 20;
const SEEK_TO = 5;
const FIRST_AFTER_SEEK = SEEK_TO * FPS;
/** Frames checked after the seek. */
const AFTER = 20;
/** Debian's python3: `gi` is a Debian package, not in a pyenv or virtualenv python. */
const PYTHON = "/usr/bin/python3";
const GST_PLAY = new URL("./_gst_play.py", import.meta.url).pathname;
const decoder = new TextDecoder();

/** A line and the time it was read (performance.now()). */
interface TimedLine {
  at: number;
  line: string;
}

// ---------------------------------------------------------------------------
// A recording TCP proxy for the RTSP connection

/** One RTSP message that passed the proxy: its head (start line and headers). */
interface Passed {
  dir: "request" | "reply";
  at: number;
  head: string;
}

/**
 * Splits one direction of an RTSP connection into messages, skipping
 * interleaved `$` frames, and records each message's head.
 */
class MessageSplitter {
  #buffer: Uint8Array = new Uint8Array(0);
  constructor(readonly dir: Passed["dir"], readonly record: (p: Passed) => void) {}

  push(chunk: Uint8Array, at: number): void {
    this.#buffer = concat(this.#buffer, chunk);
    for (;;) {
      const b = this.#buffer;
      if (b.length === 0) return;
      if (b[0] === 0x24) {
        if (b.length < 4) return;
        const end = 4 + ((b[2] << 8) | b[3]);
        if (b.length < end) return;
        this.#buffer = b.subarray(end);
        continue;
      }
      const blank = indexOfBlankLine(b);
      if (blank < 0) return;
      const head = decoder.decode(b.subarray(0, blank));
      const length = /^content-length[ \t]*:[ \t]*(\d+)/im.exec(head);
      const end = blank + 4 + (length ? Number(length[1]) : 0);
      if (b.length < end) return;
      this.record({ dir: this.dir, at, head });
      this.#buffer = b.subarray(end);
    }
  }
}

function indexOfBlankLine(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** A TCP proxy to `target` on 127.0.0.1 that records the RTSP messages passing it. */
class RecordingProxy implements AsyncDisposable {
  readonly passed: Passed[] = [];
  readonly #tcp: TcpProxy;

  constructor(target: number) {
    const record = (p: Passed) => this.passed.push(p);
    const through = (splitter: MessageSplitter) => (chunk: Uint8Array) => {
      splitter.push(chunk, performance.now());
      return chunk;
    };
    // No Nagle delay of its own: the proxy must not change the timing it records.
    this.#tcp = new TcpProxy(target, {
      noDelay: true,
      handlers: () => ({
        toServer: through(new MessageSplitter("request", record)),
        toClient: through(new MessageSplitter("reply", record)),
      }),
    });
  }

  get port(): number {
    return this.#tcp.port;
  }

  /** The messages as text, for assertion messages. */
  text(): string {
    return this.passed.map((p) =>
      `${p.at.toFixed(1)} ${p.dir === "request" ? ">>" : "<<"} ${
        p.head.split("\r\n").join("\n      ")
      }`
    ).join("\n");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#tcp.close();
  }
}

/** The value of header `name` in a message head, if present. */
function header(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*?)[ \\t]*$`, "im").exec(head);
  return m?.[1];
}

/** A request and the reply with its CSeq. */
interface Exchange {
  method: string;
  request: Passed;
  reply: Passed | undefined;
}

/** The requests that passed the proxy, each with its reply. */
function exchanges(passed: Passed[]): Exchange[] {
  return passed.filter((p) => p.dir === "request").map((request) => {
    const cseq = header(request.head, "cseq");
    return {
      method: request.head.split(" ")[0],
      request,
      reply: passed.find((p) => p.dir === "reply" && header(p.head, "cseq") === cseq),
    };
  });
}

// ---------------------------------------------------------------------------
// A player whose stdout lines are stamped as they arrive

interface PlayerRun {
  code: number;
  /** Lines of stdout, each with the time it was read. */
  lines: TimedLine[];
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/**
 * Run `cmd` with a hard timeout (SIGKILL), reading its stdout as a stream of
 * lines. Its stdin is a pipe held open until it exits, so a helper that
 * watches stdin cannot outlive the test.
 */
async function runPlayer(cmd: string, args: string[], timeoutMs: number): Promise<PlayerRun> {
  const started = performance.now();
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const stdin = child.stdin.getWriter();
  let timedOut = false;
  let exited = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* it exited meanwhile */ }
    }
  }, timeoutMs);
  const lines: TimedLine[] = [];
  const readLines = async () => {
    let partial = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const at = performance.now();
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      for (const line of parts) lines.push({ at, line });
    }
    if (partial !== "") lines.push({ at: performance.now(), line: partial });
  };
  const [, stderr, status] = await Promise.all([
    readLines(),
    new Response(child.stderr).text(),
    child.status.finally(() => {
      exited = true;
      clearTimeout(timer);
    }),
  ]);
  await stdin.close().catch(() => {});
  return {
    code: status.code,
    lines,
    stderr,
    timedOut,
    ms: Math.round(performance.now() - started),
  };
}

// ---------------------------------------------------------------------------
// What every seek must look like

/**
 * The PLAY that carries `Range: npt=<SEEK_TO>…`: answered 200 with the
 * Range from 5 s and an RTP-Info; and the server's log line for it.
 * Returns the time that PLAY was answered, by the server's log.
 */
function seekPlay(server: TestServer, proxy: RecordingProxy, context: string): number {
  const all = exchanges(proxy.passed);
  const seeks = all.filter((e) =>
    e.method === "PLAY" &&
    /^npt[ \t]*=[ \t]*0*5(\.0*)?[ \t]*-/.test(header(e.request.head, "range") ?? "")
  );
  assert.equal(seeks.length, 1, `one PLAY with Range: npt=5…: ${context}`);
  const [seek] = seeks;
  assert.ok(seek.reply, `the seek's PLAY was answered: ${context}`);
  assert.match(seek.reply.head, /^RTSP\/1\.0 200 /, context);
  assert.equal(header(seek.reply.head, "range"), "npt=5.000-10.000", context);
  const setup = all.find((e) => e.method === "SETUP")!;
  const setupUrl = setup.request.head.split(" ")[1];
  assert.match(
    header(seek.reply.head, "rtp-info") ?? "",
    new RegExp(`^url=${setupUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")};seq=\\d+;rtptime=\\d+$`),
    `RTP-Info names the SETUP URL: ${context}`,
  );
  // The server's log line for it: the PLAY log lines are in the order of the PLAY requests.
  const plays = all.filter((e) => e.method === "PLAY");
  const logged = server.logs.map((line, k) => ({ line, at: server.logTimes[k] }))
    .filter((l) => / PLAY \S+ session=\S+ \d{3}/.test(l.line));
  assert.equal(logged.length, plays.length, `a log line per PLAY: ${context}`);
  const line = logged[plays.indexOf(seek)];
  assert.match(line.line, / 200$/, context);
  assert.ok(line.at <= seek.reply.at, "logged before the reply passed the proxy");
  return line.at;
}

/** Assert that `what`, which came at `at`, came within 1 s of the seek's PLAY (at `playedAt`). */
function assertWithinASecond(at: number, playedAt: number, what: string, context: string): void {
  const latency = at - playedAt;
  assert.ok(
    latency >= 0 && latency < 1000,
    `${what} ${latency.toFixed(1)} ms after the seek's PLAY: ${context}`,
  );
}

/** The requests a player sent, one line each, with the headers that matter for a seek. */
function requestSummary(proxy: RecordingProxy): string[] {
  return exchanges(proxy.passed).map(({ method, request, reply }) => {
    const range = header(request.head, "range");
    const status = reply?.head.split(" ")[1] ?? "-";
    const replyRange = reply && header(reply.head, "range");
    return `${method}${range ? ` (Range: ${range})` : ""} -> ${status}${
      replyRange ? ` (Range: ${replyRange})` : ""
    }`;
  });
}

// ---------------------------------------------------------------------------
// ffmpeg

async function haveFfmpeg(): Promise<boolean> {
  return await requirePeer("ffmpeg", ["-hide_banner", "-version"]);
}

/** Decoded-picture MD5s of frames 101-120 of video.mjpeg, computed once. */
let expectedMd5s: Promise<string[]> | undefined;

async function seekWithFfmpeg(transport: "udp" | "tcp"): Promise<void> {
  expectedMd5s ??= frameMd5s(FRAMES.slice(FIRST_AFTER_SEEK, FIRST_AFTER_SEEK + AFTER));
  await using server = await startServer({ fps: FPS });
  await using proxy = new RecordingProxy(server.port);
  const url = `rtsp://127.0.0.1:${proxy.port}/${VIDEO}`;
  const run = await runPlayer("ffmpeg", [
    ...["-nostdin", "-hide_banner", "-v", "error"],
    ...["-rtsp_transport", transport, "-ss", String(SEEK_TO), "-i", url],
    // Every decoded picture as it is (no frame-rate conversion), each line written at once.
    ...["-frames:v", String(AFTER), "-fps_mode", "passthrough", "-flush_packets", "1"],
    ...["-f", "framemd5", "pipe:1"],
  ], 20_000);
  const context = `ffmpeg -rtsp_transport ${transport} -ss ${SEEK_TO} -i ${url}: status ` +
    `${run.code}${run.timedOut ? " (killed after 20 s)" : ""}, ${run.ms} ms\n` +
    `--- requests\n${requestSummary(proxy).join("\n")}\n--- stderr\n${tail(run.stderr)}\n` +
    `--- server log\n${tail(server.logText({ times: true }))}`;
  assert.equal(run.code, 0, `ffmpeg failed: ${context}`);
  assert.equal(run.stderr, "", `ffmpeg printed errors: ${context}`);

  // ffmpeg's seek: PLAY from 0 (to probe the stream), PAUSE, PLAY from 5 s.
  const methods = exchanges(proxy.passed).map((e) => e.method);
  const pause = methods.indexOf("PAUSE");
  assert.ok(pause > methods.indexOf("PLAY"), `PLAY, then PAUSE: ${context}`);
  const playedAt = seekPlay(server, proxy, context);
  assert.equal(methods[pause + 1], "PLAY", `the seek's PLAY right after the PAUSE: ${context}`);

  const pictures = run.lines.filter((l) => l.line.trim() !== "" && !l.line.startsWith("#"));
  const md5s = parseFrameMd5(pictures.map((l) => l.line).join("\n"));
  const expected = await expectedMd5s;
  assert.equal(md5s.length, AFTER, `pictures decoded: ${context}`);
  const names = md5s.map((md5) => {
    const k = expected.indexOf(md5);
    return k < 0 ? "?" : String(FIRST_AFTER_SEEK + k + 1);
  });
  assert.deepEqual(
    names,
    expected.map((_, k) => String(FIRST_AFTER_SEEK + k + 1)),
    `the pictures ffmpeg decoded after -ss 5, by frame number ("?": none of 101-120): ${context}`,
  );
  assertWithinASecond(pictures[0].at, playedAt, "first picture", context);
}

Deno.test("ffmpeg -ss 5 over RTP/UDP: PAUSE, PLAY npt=5.000-, then frames 101-120, the first within 1 s", async () => {
  if (!await haveFfmpeg()) return;
  await seekWithFfmpeg("udp");
});

Deno.test("ffmpeg -ss 5 over RTSP/TCP interleaved: PAUSE, PLAY npt=5.000-, then frames 101-120, the first within 1 s", async () => {
  if (!await haveFfmpeg()) return;
  await seekWithFfmpeg("tcp");
});

// ---------------------------------------------------------------------------
// GStreamer

const PYTHON_PROBE = [
  "import gi",
  "gi.require_version('Gst', '1.0')",
  "from gi.repository import Gst",
].join("; ");

async function haveGstreamer(): Promise<boolean> {
  if (!await requirePeer(PYTHON, ["-c", PYTHON_PROBE])) return false;
  for (const element of ["rtspsrc", "rtpjpegdepay", "appsink"]) {
    if (!await requirePeer("gst-inspect-1.0", ["--exists", element])) return false;
  }
  return true;
}

/** What `_gst_play.py --seek-to` prints, one JSON object a line. */
type GstEvent =
  | { event: "frame"; phase: "pre" | "post"; n: number; pts: number; stream_time: number }
  | { event: "seek"; ok: boolean }
  | { event: "message"; type: "error" | "warning"; text: string }
  | { event: "done"; reason: string };

async function seekWithGstreamer(protocols: "udp" | "tcp"): Promise<void> {
  await withTempDir(async (out) => {
    await using server = await startServer({ fps: FPS });
    await using proxy = new RecordingProxy(server.port);
    const url = `rtsp://127.0.0.1:${proxy.port}/${VIDEO}`;
    const seekAfter = 10;
    const run = await runPlayer(PYTHON, [
      GST_PLAY,
      ...["--url", url, "--protocols", protocols, "--latency", "100", "--out", out],
      ...["--seek-after", String(seekAfter), "--seek-to", String(SEEK_TO)],
      ...["--seek-flags", "KEY_UNIT", "--frames", String(AFTER), "--lifetime", "15"],
    ], 20_000);
    const events = run.lines.map((l) => ({ ...JSON.parse(l.line) as GstEvent, at: l.at }));
    const context = `_gst_play.py rtspsrc protocols=${protocols} ${url}: status ${run.code}` +
      `${run.timedOut ? " (killed after 20 s)" : ""}, ${run.ms} ms\n` +
      `--- requests\n${requestSummary(proxy).join("\n")}\n--- stdout\n${
        tail(run.lines.map((l) => l.line).join("\n"), 12)
      }\n--- stderr\n${tail(run.stderr)}\n--- server log\n${tail(server.logText({ times: true }))}`;
    assert.equal(run.code, 0, `the GStreamer seek did not complete: ${context}`);
    const messages = events.filter((e) => e.event === "message");
    assert.deepEqual(messages.map((m) => m.text), [], `GStreamer complained: ${context}`);
    assert.ok(events.some((e) => e.event === "seek" && e.ok), `seek_simple failed: ${context}`);

    const playedAt = seekPlay(server, proxy, context);
    const frames = events.filter((e) => e.event === "frame");
    const pre = frames.filter((f) => f.phase === "pre");
    const post = frames.filter((f) => f.phase === "post");
    assert.ok(pre.length >= seekAfter, context);
    assert.equal(post.length, AFTER, context);
    // Before the seek, the file from its start; after it, from frame 101. RFC 2435
    // receivers rebuild the JPEG headers: the pictures are compared, not the bytes.
    for (const [k, f] of pre.entries()) {
      const jpeg = await Deno.readFile(join(out, `pre_${String(f.n).padStart(5, "0")}.jpg`));
      assertSamePicture(
        jpeg,
        FRAMES[k],
        `GStreamer frame ${k} before the seek (file frame ${k + 1})`,
      );
    }
    for (const [k, f] of post.entries()) {
      const jpeg = await Deno.readFile(join(out, `post_${String(f.n).padStart(5, "0")}.jpg`));
      const frame = FIRST_AFTER_SEEK + k;
      assertSamePicture(
        jpeg,
        FRAMES[frame],
        `GStreamer frame ${k} after the seek (file frame ${frame + 1})`,
      );
    }
    // Its stream time is that of the seek: 5 s.
    const streamTime = post[0].stream_time / 1e9;
    assert.ok(Math.abs(streamTime - SEEK_TO) < 0.01, `stream time ${streamTime} s: ${context}`);
    assertWithinASecond(post[0].at, playedAt, "first frame after the seek", context);
  });
}

Deno.test("GStreamer rtspsrc seek_simple(5 s) over RTP/UDP: frames 101-120 follow, the first within 1 s", async () => {
  if (!await haveGstreamer()) return;
  await seekWithGstreamer("udp");
});

Deno.test("GStreamer rtspsrc seek_simple(5 s) over RTSP/TCP interleaved: frames 101-120 follow, the first within 1 s", async () => {
  if (!await haveGstreamer()) return;
  await seekWithGstreamer("tcp");
});
