/**
 * The client's HTML report (lib/session/client/client_report.ts) and the
 * `--stats` JSON's per-second series and timeline:
 *
 * - the page's structure from a made-up run: sections, one figure per
 *   thumbnail (its JPEG as a data: URL), a mark per missing, incomplete or
 *   damaged frame, the data the charts read, uPlot inlined and nothing
 *   loaded from elsewhere;
 * - nothing secret or active gets in: a password in the URL or in the
 *   server's SDP is left out, and SDP text cannot close a tag;
 * - `rtsp-client --report --stats` as a subprocess against a fake server
 *   that demands Digest credentials and streams frames of video.mjpeg: the
 *   JSON's series add up to its totals, the report has a thumbnail per
 *   frame, and neither holds a password, an HA1 or "Authorization".
 *
 * The browser proof (charts drawn, lost frames marked, no console error)
 * is report_chromium_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ClientReportInput, renderClientReport } from "../lib/session/client/client_report.ts";
import { ReceptionStats } from "../lib/session/client/reception_stats.ts";
import { FrameLog } from "../lib/session/client/frame_log.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import type { RtspRequest } from "../lib/wire/rtsp_message.ts";
import {
  FAKE_SDP,
  fakeReply,
  fakeRtspServer,
  type FakeScript,
  interleavedStream,
  standardReply,
} from "./_fake_rtsp.ts";
import { assertNoSecret, demandingScript, REALM, sha256AndMd5 } from "./_auth_check.ts";
import { concat, withTempDir } from "./_helpers.ts";
import { runCommand } from "./_peers.ts";

const PROJECT_ROOT = new URL("..", import.meta.url).pathname;

const FRAMES = [...readLabFrames(await Deno.readFile(`${PROJECT_ROOT}/video.mjpeg`))]
  .slice(0, 12).map((f) => f.data);
const NAME = "cam user";
const PASSWORD = "se@cret:pw ö";

/**
 * A made-up run: 12 frames, 3 and 7-8 missing, 5 incomplete, 10 damaged (7
 * complete); gaps and a duplicate.
 */
function madeUpRun(): ClientReportInput {
  const stats = new ReceptionStats();
  const log = new FrameLog({ thumbnails: 60 });
  let seq = 100;
  const outcomes: Record<number, "missing" | "incomplete" | "damaged"> = {
    3: "missing",
    5: "incomplete",
    7: "missing",
    8: "missing",
    10: "damaged",
  };
  for (let frame = 1; frame <= 12; frame++) {
    const at = frame * 150;
    const outcome = outcomes[frame];
    if (outcome === "missing") {
      seq += 2;
      continue;
    }
    stats.onPacket(seq++ & 0xffff, frame * 4500, at, 700);
    stats.onPacket(seq++ & 0xffff, frame * 4500, at + 5, 700);
    if (frame === 4) stats.onPacket((seq - 1) & 0xffff, frame * 4500, at + 6, 700); // duplicate
    if (outcome === "incomplete") {
      stats.countFrame("incomplete");
      log.onIncomplete(frame);
    } else if (outcome === "damaged") {
      stats.countFrame("damaged");
      log.onDamaged(frame);
    } else {
      stats.countFrame("received");
      log.onComplete(frame, FRAMES[frame - 1]);
    }
  }
  return {
    source: {
      url: `rtsp://cam:${encodeURIComponent(PASSWORD)}@camera.example:8554/cam`,
      dialect: "rtsp",
      transport: "udp",
      tls: false,
      sdp: `${FAKE_SDP}u=rtsp://cam:${PASSWORD}@camera.example/about\r\n` +
        `i=</script><script>alert(1)</script>\r\n`,
    },
    summary: stats.summary(),
    perSecond: stats.series.perSecond(),
    timeline: stats.series.timeline(),
    frames: log.snapshot(),
    end: "bye",
    generatedAt: new Date("2026-01-02T03:04:05Z"),
  };
}

/** How often `pattern` occurs in `text`. */
const count = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].length;

Deno.test("renderClientReport() writes one page with every section", () => {
  const html = renderClientReport(madeUpRun());
  assert.match(html, /^<!doctype html>\n<html lang="en" data-errors="0">/);
  for (const id of ["source", "statistics", "frames", "charts", "timeline"]) {
    assert.match(html, new RegExp(`<section id="${id}">`), id);
  }
  for (const chart of ["frames", "kbit", "lost", "jitter", "timeline"]) {
    assert.match(html, new RegExp(`<div class="chart" id="chart-${chart}"`), chart);
  }
  assert.match(html, /<title>Stream report: rtsp:\/\/cam@camera\.example:8554\/cam<\/title>/);
  assert.match(html, /<th scope="row">Receiving ended by<\/th><td>bye<\/td>/);
  assert.match(html, /<th scope="row">Frames received<\/th><td>7<\/td>/);
  assert.match(html, /<th scope="row">Packets lost<\/th><td>6<\/td>/);
  assert.match(html, /report made 2026-01-02T03:04:05\.000Z/);
});

Deno.test("renderClientReport() has a thumbnail per kept frame and marks the others", () => {
  const input = madeUpRun();
  const html = renderClientReport(input);
  assert.equal(count(html, /<figure class="thumb"/g), 7);
  const figures = [...html.matchAll(/<figure class="(thumb|mark \w+)" data-frame="(\d+)"/g)]
    .map((m) => `${m[2]} ${m[1]}`);
  assert.deepEqual(figures, [
    "1 thumb",
    "2 thumb",
    "3 mark missing",
    "4 thumb",
    "5 mark incomplete",
    "6 thumb",
    "7 mark missing",
    "9 thumb",
    "10 mark damaged",
    "11 thumb",
    "12 thumb",
  ]);
  assert.match(html, /data-frame="7" data-to="8" data-kind="missing"/);
  assert.match(html, /Marked: 3 missing, 1 incomplete, 1 damaged\./);
  // The JPEG of frame 11, whole, as a data: URL.
  const src = /data-frame="11"><img alt="frame 11" src="data:image\/jpeg;base64,([^"]+)"/.exec(
    html,
  );
  assert.ok(src);
  const bytes = Uint8Array.from(atob(src[1]), (c) => c.charCodeAt(0));
  assert.deepEqual(bytes, FRAMES[10]);
});

Deno.test("renderClientReport() embeds the chart data, uPlot and nothing from elsewhere", () => {
  const input = madeUpRun();
  const html = renderClientReport(input);
  const json = /<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html);
  assert.ok(json, "the data island");
  const data = JSON.parse(json[1]);
  assert.deepEqual(data.perSecond, input.perSecond);
  assert.deepEqual(data.timeline, input.timeline);
  assert.ok(data.timeline.entries.some((e: { kind: string }) => e.kind === "gap"));
  assert.ok(data.timeline.entries.some((e: { kind: string }) => e.kind === "duplicate"));
  assert.match(html, /github\.com\/leeoniya\/uPlot \(v1\.6\.32\)/, "uPlot's script, inlined");
  assert.match(html, /\.uplot\s*\{/, "uPlot's stylesheet, inlined");
  assert.match(html, /new uPlot\(/, "the page's script");
  // Offline: no script, stylesheet or image is loaded from a URL.
  assert.equal(count(html, /<script[^>]*\ssrc=/g), 0);
  assert.equal(count(html, /<link\b/g), 0);
  assert.equal(count(html, /<img[^>]*src="(?!data:image\/jpeg;base64,)/g), 0);
  // The event table lists the gaps and the duplicate.
  assert.match(html, /<tr class="gap"><td>[\d.]+<\/td><td>104<\/td><td>gap<\/td><td>2<\/td><\/tr>/);
  assert.match(html, /<tr class="duplicate">/);
});

Deno.test("renderClientReport() leaves out passwords and cannot be closed early by SDP text", () => {
  const html = renderClientReport(madeUpRun());
  assertNoSecret(html, "the report", { username: "cam", password: PASSWORD, realm: REALM });
  assert.ok(!html.includes("cret"), "no part of the password");
  assert.match(html, /u=rtsp:\/\/cam@camera\.example\/about/, "the SDP's URL, without password");
  assert.ok(!html.includes("<script>alert(1)"), "SDP text is escaped");
  assert.match(html, /i=&lt;\/script&gt;&lt;script&gt;alert\(1\)/);
  // Four scripts (error recorder, uPlot, data, page), and the inlined code holds no "</script".
  assert.equal(count(html, /<\/script/gi), 4);
  assert.equal(count(html, /<\/style/gi), 2);
});

Deno.test("renderClientReport() of a run without frames or SDP (the lab dialect, nothing received)", () => {
  const stats = new ReceptionStats();
  const html = renderClientReport({
    source: { url: "127.0.0.1:1025 video.mjpeg (lab dialect)", dialect: "lab", transport: "udp" },
    summary: stats.summary(),
    perSecond: stats.series.perSecond(),
    timeline: stats.series.timeline(),
    frames: new FrameLog({ thumbnails: 60 }).snapshot(),
  });
  assert.match(html, /No session description: the lab dialect has no DESCRIBE\./);
  assert.match(html, /0 thumbnails of 0 complete frames/);
  assert.match(html, /No gaps, reorderings or duplicates\./);
  assert.equal(count(html, /<figure/g), 0);
});

/** PLAY answered with the frames interleaved and a BYE; DESCRIBE with an SDP holding a password. */
function streaming(): FakeScript {
  return (request: RtspRequest, n: number) => {
    if (request.method === "DESCRIBE") {
      const sdp = `${FAKE_SDP}u=rtsp://${encodeURIComponent(NAME)}:${
        encodeURIComponent(PASSWORD)
      }@127.0.0.1/about\r\n`;
      return fakeReply(request, 200, { "Content-Type": "application/sdp" }, sdp);
    }
    if (request.method === "PLAY") {
      return concat(standardReply(request), interleavedStream(FRAMES));
    }
    void n;
    return standardReply(request);
  };
}

Deno.test("rtsp-client --report and --stats: series that add up, a thumbnail per frame, no secret", async () => {
  await using fake = fakeRtspServer(
    demandingScript({ offers: sha256AndMd5, username: NAME, password: PASSWORD }, [], streaming()),
  );
  await withTempDir(async (dir) => {
    const url = `rtsp://${encodeURIComponent(NAME)}:${
      encodeURIComponent(PASSWORD)
    }@127.0.0.1:${fake.port}/video.mjpeg`;
    const result = await runCommand(
      Deno.execPath(),
      [
        ...["run", "-P=client", join(PROJECT_ROOT, "client.ts"), url, "--transport", "tcp"],
        ...["--stats", `${dir}/stats.json`, "--report", `${dir}/report.html`, "--quiet"],
      ],
      { timeoutMs: 20_000, env: { NO_COLOR: "1" } },
    );
    const stdout = new TextDecoder().decode(result.stdout);
    assert.equal(result.code, 0, `${stdout}\n${result.stderr}`);
    assert.match(stdout, new RegExp(`report written to ${dir}/report\\.html`));

    const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
    assert.equal(stats.framesReceived, FRAMES.length);
    const series = stats.perSecond;
    const keys = [
      "second",
      "packets",
      "lost",
      "duplicates",
      "outOfOrder",
      "bytes",
      "kbitPerSec",
      "frames",
      "framesIncomplete",
      "framesDamaged",
      "jitterMs",
    ];
    assert.deepEqual(Object.keys(series), keys);
    const sum = (k: string) => series[k].reduce((a: number, b: number | null) => a + (b ?? 0), 0);
    assert.equal(sum("packets"), stats.packetsReceived);
    assert.equal(sum("bytes"), stats.bytes);
    assert.equal(sum("frames"), stats.framesReceived);
    assert.equal(sum("lost"), stats.packetsLost);
    assert.deepEqual(Object.keys(stats.timeline), ["firstPackets", "limit", "entries", "leftOut"]);
    assert.equal(stats.timeline.entries.length, stats.packetsReceived, "every packet, so few");
    assert.deepEqual(Object.keys(stats.timeline.entries[0]), ["t", "seq", "kind"]);

    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.equal(count(html, /<figure class="thumb"/g), FRAMES.length);
    assert.match(html, /<th scope="row">Transport<\/th><td>tcp<\/td>/);
    assert.match(html, /Stream report: rtsp:\/\/cam%20user@127\.0\.0\.1:\d+\/video\.mjpeg/);
    assert.match(html, /a=framerate:20/, "the server's SDP");
    const credentials = { username: NAME, password: PASSWORD, realm: REALM };
    assertNoSecret(html, "the report", credentials);
    assertNoSecret(await Deno.readTextFile(`${dir}/stats.json`), "the stats", credentials);
    assertNoSecret(stdout + result.stderr, "the output", credentials);
  });
});
