/**
 * The proof that `rtsp-client --report` makes a page a browser shows as
 * intended: the client (a subprocess, unmodified) plays 60 frames from our
 * server through the seeded impairment proxy (tests/_impairment_proxy.ts),
 * which loses one middle fragment of frame 10, every packet of frame 20 and
 * the last fragment of frame 30, and duplicates, swaps and delays packets
 * of later frames. Headless Chromium then loads the report from the file,
 * offline:
 *
 * - `--dump-dom`: 57 thumbnails (every complete frame: 57 ≤ 60), frame 10
 *   and 30 marked incomplete and frame 20 missing, and no other mark; every
 *   chart drew (uPlot's draw hook counted on its element) with data; the
 *   timeline lists the gaps, the reordering and the duplicate; the page
 *   recorded no error (window.onerror, console.error) and Chromium logged
 *   no console message;
 * - `--screenshot`: the charts' colours are on the picture (decoded with
 *   ffmpeg), so the canvases hold drawn lines, not just elements.
 *
 * Every Chromium run has its own fresh profile and a hard time limit. In CI
 * a missing chromium or ffmpeg fails the test (requirePeer).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { jpegToRtpFrame, packetizeRtpJpeg } from "../lib/wire/rfc2435_packetizer.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { RTP_HEADER_SIZE } from "../lib/wire/rtp_packet.ts";
import { type Impairment, RtspPortRewriter, UdpImpairmentProxy } from "./_impairment_proxy.ts";
import { labFile, tempMediaDir } from "./_raw_rtsp.ts";
import { PROJECT_ROOT, startServer } from "./_server.ts";
import { requirePeer, runCommand, tail } from "./_peers.ts";
import { withTempDir } from "./_helpers.ts";
import { CHROMIUM_FLAGS as WEB_CHROMIUM_FLAGS } from "./_web.ts";

const VIDEO = await Deno.readFile(join(PROJECT_ROOT, "video.mjpeg"));
const FRAMES = [...readLabFrames(VIDEO)].slice(0, 60).map((f) => f.data);
const FPS = 20;
/** The server's default largest RTP packet, headers included. */
const MAX_PACKET = 1400;
const decoder = new TextDecoder();

/** The shared headless flags, and Chromium's console on stderr (to find page errors). */
const CHROMIUM_FLAGS = [
  ...WEB_CHROMIUM_FLAGS,
  "--disable-extensions",
  "--enable-logging=stderr",
  "--v=0",
];

/** The indices of each frame's RTP packets, as the server packetizes them. */
function packetsOfFrames(): number[][] {
  let next = 0;
  return FRAMES.map((frame) => {
    const count = packetizeRtpJpeg(jpegToRtpFrame(frame), MAX_PACKET - RTP_HEADER_SIZE).length;
    return Array.from({ length: count }, () => next++);
  });
}

/** Frame numbers (from 1) and what happens to their packets. */
function makePlan(): Map<number, Impairment> {
  const frames = packetsOfFrames();
  const of = (frame: number) => frames[frame - 1];
  for (const frame of [10, 20, 30, 40, 45, 50]) {
    assert.ok(of(frame).length >= 3, `frame ${frame} has at least 3 packets`);
  }
  const plan = new Map<number, Impairment>();
  plan.set(of(10)[1], { kind: "drop" }); // a middle fragment: incomplete
  for (const i of of(20)) plan.set(i, { kind: "drop" }); // every packet: missing
  plan.set(of(30).at(-1)!, { kind: "drop" }); // the last fragment: incomplete
  plan.set(of(40)[1], { kind: "duplicate" });
  plan.set(of(45)[0], { kind: "swap" }); // with the next: reordered, still complete
  plan.set(of(50)[1], { kind: "delay", ms: 30 });
  return plan;
}

/** Run Chromium on `url` with `flags`, in a fresh profile, for at most 60 s. */
async function chromium(dir: string, name: string, flags: string[], url: string) {
  const profile = join(dir, `profile-${name}`);
  await Deno.mkdir(profile);
  const result = await runCommand(
    "chromium",
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...flags, url],
    { timeoutMs: 60_000, stopSignal: "SIGTERM", graceMs: 2000 },
  );
  assert.ok(!result.timedOut, `chromium ${name} did not finish in 60 s:\n${tail(result.stderr)}`);
  assert.equal(result.code, 0, `chromium ${name} exited ${result.code}:\n${tail(result.stderr)}`);
  return result;
}

/** The attributes of the first element with `id`, from serialized HTML. */
function attributesOf(html: string, id: string): Record<string, string> {
  const tag = new RegExp(`<[a-z]+ [^>]*\\bid="${id}"[^>]*>`).exec(html);
  assert.ok(tag, `an element #${id}`);
  return Object.fromEntries(
    [...tag[0].matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
}

/** Pixels of `rgb` (within a small distance) in a raw RGB24 picture. */
function pixelsOf(raw: Uint8Array, rgb: [number, number, number]): number {
  let n = 0;
  for (let i = 0; i + 2 < raw.length; i += 3) {
    const d = Math.abs(raw[i] - rgb[0]) + Math.abs(raw[i + 1] - rgb[1]) +
      Math.abs(raw[i + 2] - rgb[2]);
    if (d <= 24) n++;
  }
  return n;
}

Deno.test("report in Chromium: a run through the impairment proxy shows its thumbnails, lost frames and charts", async () => {
  if (!await requirePeer("chromium", ["--version"])) return;
  if (!await requirePeer("ffmpeg", ["-version"])) return;
  const plan = makePlan();
  await using media = await tempMediaDir({ "clip.mjpeg": labFile(FRAMES) });
  await using srv = await startServer({ mediaDir: media.path, fps: FPS });
  await using proxy = new UdpImpairmentProxy(plan);
  await using rewriter = new RtspPortRewriter(srv.port, proxy);
  await withTempDir(async (dir) => {
    const report = join(dir, "report.html");
    const run = await runCommand(
      Deno.execPath(),
      [
        ...["run", "-P=client", join(PROJECT_ROOT, "client.ts")],
        `rtsp://127.0.0.1:${rewriter.port}/clip.mjpeg`,
        ...["--report", report, "--stats", join(dir, "stats.json"), "--quiet"],
        ...["--end-after", "1"],
      ],
      { timeoutMs: 30_000, env: { NO_COLOR: "1" } },
    );
    const stdout = decoder.decode(run.stdout);
    assert.equal(run.code, 0, `the client: ${stdout}\n${run.stderr}`);
    assert.equal(rewriter.rewritten, 1, "the SETUP was pointed at the proxy");
    assert.equal(proxy.counters.dropped, 2 + packetsOfFrames()[19].length);
    const stats = JSON.parse(await Deno.readTextFile(join(dir, "stats.json")));
    assert.equal(stats.framesReceived, 57, stdout);
    assert.equal(stats.framesIncomplete, 2, stdout);

    // The page, as Chromium builds it after running its scripts.
    const url = `file://${report}`;
    const dom = await chromium(dir, "dom", ["--dump-dom"], url);
    const html = decoder.decode(dom.stdout);
    const consoleLines = dom.stderr.split("\n").filter((line) => /:CONSOLE[:(]/.test(line));
    assert.deepEqual(consoleLines, [], "Chromium logged no console message");
    const root = attributesOf(html.replace(/<html\b/, '<html id="root"'), "root");
    assert.equal(root["data-errors"], "0", "the page recorded no error");
    assert.equal(root["data-charts"], "done", "the page's script ran to its end");
    assert.match(html, /<pre id="report-errors" hidden="">\s*<\/pre>/, "no error text");

    const thumbs = [...html.matchAll(/<figure class="thumb" data-frame="(\d+)"><img [^>]*>/g)];
    assert.equal(thumbs.length, 57, "a thumbnail per complete frame");
    const lost = new Set([10, 20, 30]);
    assert.deepEqual(
      thumbs.map((m) => Number(m[1])),
      FRAMES.map((_, i) => i + 1).filter((f) => !lost.has(f)),
    );
    assert.ok(thumbs.every((m) => m[0].includes('src="data:image/jpeg;base64,/9j/')));
    const marks = [...html.matchAll(/<figure class="mark (\w+)" data-frame="(\d+)"/g)]
      .map((m) => `${m[2]} ${m[1]}`);
    assert.deepEqual(marks, ["10 incomplete", "20 missing", "30 incomplete"]);

    for (const chart of ["frames", "kbit", "lost", "jitter", "timeline"]) {
      const attributes = attributesOf(html, `chart-${chart}`);
      assert.ok(Number(attributes["data-drawn"]) >= 1, `chart ${chart} was drawn`);
      assert.ok(Number(attributes["data-points"]) > 0, `chart ${chart} has data`);
    }
    assert.ok(
      (html.match(/<canvas\b/g) ?? []).length >= 5,
      "a canvas per chart (uPlot draws on canvas)",
    );
    const events = [...html.matchAll(/<tr class="(gap|reordered|duplicate)">/g)].map((m) => m[1]);
    // Three losses, and the swap: its second packet came first, skipping the first one.
    assert.equal(events.filter((k) => k === "gap").length, 4, "four gaps");
    assert.ok(events.includes("reordered") && events.includes("duplicate"), events.join(" "));

    // The picture: the charts' colours are drawn (1100 px wide, the whole page).
    const png = join(dir, "report.png");
    await chromium(
      dir,
      "screenshot",
      ["--hide-scrollbars", "--window-size=1100,4600", `--screenshot=${png}`],
      url,
    );
    const decoded = await runCommand(
      "ffmpeg",
      ["-v", "error", "-i", png, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
      { timeoutMs: 20_000 },
    );
    assert.ok(decoded.success, `ffmpeg decodes the screenshot: ${decoded.stderr}`);
    assert.equal(decoded.stdout.length, 1100 * 4600 * 3, "the screenshot is 1100×4600");
    const colours: Record<string, [number, number, number]> = {
      "frames line (#1f77b4)": [0x1f, 0x77, 0xb4],
      "kbit/s line (#2ca02c)": [0x2c, 0xa0, 0x2c],
      "jitter line (#8c564b)": [0x8c, 0x56, 0x4b],
      "in-order packets (#7f7f7f)": [0x7f, 0x7f, 0x7f],
    };
    for (const [what, rgb] of Object.entries(colours)) {
      const n = pixelsOf(decoded.stdout, rgb);
      assert.ok(n >= 100, `${what}: ${n} pixels`);
    }
  });
});
