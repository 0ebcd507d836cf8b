/**
 * The client's report: one self-contained HTML file that tells the story of
 * one run, readable offline. It holds the statistics table; where the
 * stream came from (URL without password, dialect, transport, the server's
 * SDP); a strip of thumbnails (every Nth complete frame, as data: URLs) with
 * the missing, incomplete and damaged frames marked; per-second charts of
 * frames, kbit/s, packets lost and jitter; and a packet timeline of gaps,
 * reorderings and duplicates.
 *
 * The charts are drawn by uPlot (npm `uplot`), whose script and stylesheet
 * are embedded into the page when it is written: they come in here as text
 * imports, which `deno compile` puts into the binary like any module. The
 * page's own script is `client_report_page.js`. The tables, the strip and
 * the event list are plain HTML and need no script.
 *
 * Nothing secret goes in: URLs (in the source and in the SDP) pass through
 * `redactUrl`, and no request or header is included.
 *
 * @module
 */
import UPLOT_JS from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import UPLOT_CSS from "uplot/dist/uPlot.min.css" with { type: "text" };
import PAGE_JS from "./client_report_page.js" with { type: "text" };
import type { FrameLogSnapshot, FrameMark, Thumbnail } from "./frame_log.ts";
import type { PacketTimeline, PerSecondSeries, TimelineEntry } from "./reception_series.ts";
import type { ReceptionSummary } from "./reception_stats.ts";
import type { ReceiveEnd, StreamClient } from "./stream_client.ts";
import { redactUrl } from "./client_url.ts";

/** Where the stream came from. */
export interface ClientReportSource {
  /** The stream's URL or name; any password in it is left out of the report. */
  url: string;
  /** The dialect spoken: `rtsp` or `lab`. */
  dialect: string;
  /** How RTP arrived: `udp` or `tcp` (interleaved). */
  transport: string;
  /** Whether the RTSP connection was TLS. */
  tls?: boolean;
  /** The session description of the DESCRIBE reply (standard RTSP). */
  sdp?: string;
}

/** Everything a report shows. */
export interface ClientReportInput {
  /** Where the stream came from. */
  source: ClientReportSource;
  /** The statistics table. */
  summary: ReceptionSummary;
  /** The charts' data (`ReceptionStats.series.perSecond()`). */
  perSecond: PerSecondSeries;
  /** The packet timeline (`ReceptionStats.series.timeline()`). */
  timeline: PacketTimeline;
  /** The strip's thumbnails and marks (`StreamClient.frameLog()`). */
  frames: FrameLogSnapshot;
  /** Why receiving stopped. */
  end?: ReceiveEnd | string;
  /** When the report was made. @default {the time of the call} */
  generatedAt?: Date;
}

/** The most timeline events listed as a table under the timeline chart. */
export const REPORT_EVENT_ROWS = 200;

/**
 * What a report on `client` shows, from its statistics and frame log.
 *
 * @param options.url The URL to show. @default {`client.displayUri`}
 * @param options.end Why receiving stopped.
 */
export function clientReportInput(
  client: StreamClient,
  options: { url?: string; end?: ReceiveEnd | string } = {},
): ClientReportInput {
  return {
    source: {
      url: options.url ?? client.displayUri,
      dialect: client.dialect,
      transport: client.transport,
      tls: client.tls,
      sdp: client.sdp,
    },
    summary: client.stats.summary(),
    perSecond: client.stats.series.perSecond(),
    timeline: client.stats.series.timeline(),
    frames: client.frameLog(),
    end: options.end,
  };
}

/** Write the report of {@linkcode renderClientReport} to `path`. */
export async function writeClientReport(path: string, input: ClientReportInput): Promise<void> {
  await Deno.writeTextFile(path, renderClientReport(input));
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Text that may sit inside <script> or <style>: no closing tag can end it early. */
function inlineSafe(text: string, tag: "script" | "style"): string {
  return text.replace(new RegExp(`</(${tag})`, "gi"), "<\\/$1");
}

/**
 * Every URL in `text` without a password (an SDP may carry URLs): a
 * userinfo, up to the last "@" before the path, keeps only its name.
 */
function redactUrls(text: string): string {
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)([^/?#\r\n]*)@/gi,
    (_all, scheme: string, userinfo: string) => `${scheme}${userinfo.split(":")[0]}@`,
  );
}

/** Base64 of bytes, in chunks (String.fromCharCode takes a bounded number of arguments). */
function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The statistics table's rows: the summary's fields, their labels and units. */
const SUMMARY_ROWS: readonly [keyof ReceptionSummary, string, string][] = [
  ["framesReceived", "Frames received", "complete, verified"],
  ["framesIncomplete", "Frames incomplete", "a fragment lost; not written"],
  ["framesDamaged", "Frames damaged", "not a complete JPEG; not written"],
  ["packetsReceived", "Packets received", "duplicates excluded"],
  ["packetsExpected", "Packets expected", "from the sequence numbers (RFC 3550 A.3)"],
  ["packetsLost", "Packets lost", ""],
  ["lossPercent", "Loss", "%"],
  ["duplicates", "Duplicates", ""],
  ["outOfOrder", "Out of order", ""],
  ["malformed", "Malformed", "not valid RTP"],
  ["bytes", "Payload bytes", ""],
  ["segments", "Segments", "one per PLAY"],
  ["durationSec", "Time playing", "s"],
  ["framesPerSec", "Frame rate", "frames/s"],
  ["kbitPerSec", "Bit rate", "kbit/s"],
  ["jitterMs", "Interarrival jitter", "ms (RFC 3550 6.4.1)"],
  ["jitterRtp", "Interarrival jitter", "RTP units (90 kHz)"],
  ["firstFrameMs", "First packet after PLAY", "ms"],
  ["startSec", "Started at", "s of normal play time"],
];

function row(label: string, value: string, note = ""): string {
  return `<tr><th scope="row">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td>${
    note === "" ? "<td></td>" : `<td class="note">${escapeHtml(note)}</td>`
  }</tr>`;
}

function statisticsTable(summary: ReceptionSummary): string {
  const rows = SUMMARY_ROWS.map(([key, label, note]) => {
    const value = summary[key];
    return row(label, value === null || value === undefined ? "–" : String(value), note);
  });
  return `<table id="statistics-table">${rows.join("")}</table>`;
}

function sourceSection(source: ClientReportSource, end: string | undefined): string {
  const rows = [
    row("Stream", redactUrl(source.url)),
    row(
      "Dialect",
      source.dialect,
      source.dialect === "lab" ? "the lab's RTSP" : "standard RTSP (RFC 2326)",
    ),
    row(
      "Transport",
      source.transport,
      source.transport === "tcp" ? "RTP interleaved on the RTSP connection" : "RTP over UDP",
    ),
    row("TLS", source.tls ? "yes (rtsps://)" : "no"),
    ...end === undefined ? [] : [row("Receiving ended by", end)],
  ];
  const sdp = source.sdp === undefined
    ? `<p class="note">No session description: the lab dialect has no DESCRIBE.</p>`
    : `<details open><summary>Session description (SDP) from DESCRIBE</summary><pre id="sdp">${
      escapeHtml(redactUrls(source.sdp))
    }</pre></details>`;
  return `<table id="source-table">${rows.join("")}</table>${sdp}`;
}

/** 2nd, 4th, 32nd, ... */
function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ??
    "th";
  return `${n}${suffix}`;
}

function markLabel(mark: FrameMark): string {
  const frames = mark.to === undefined ? `${mark.frame}` : `${mark.frame}–${mark.to}`;
  return `${frames} ${mark.kind}`;
}

/** The strip: thumbnails and marks in frame-number order. */
function frameStrip(frames: FrameLogSnapshot): string {
  type Item = { frame: number; html: string };
  const thumbs: Item[] = frames.thumbnails.map((t: Thumbnail) => ({
    frame: t.frame,
    html:
      `<figure class="thumb" data-frame="${t.frame}"><img alt="frame ${t.frame}" src="data:image/jpeg;base64,${
        base64(t.jpeg)
      }"><figcaption>${t.frame}</figcaption></figure>`,
  }));
  const marks: Item[] = frames.marks.map((m) => ({
    frame: m.frame,
    html: `<figure class="mark ${m.kind}" data-frame="${m.frame}"${
      m.to === undefined ? "" : ` data-to="${m.to}"`
    } data-kind="${m.kind}" title="${escapeHtml(markLabel(m))}"><div class="hole">${
      m.kind === "missing" ? "missing" : m.kind
    }</div><figcaption>${escapeHtml(markLabel(m))}</figcaption></figure>`,
  }));
  const items = [...thumbs, ...marks].sort((a, b) => a.frame - b.frame);
  const count = (kind: string) =>
    frames.marks.filter((m) => m.kind === kind).reduce(
      (n, m) => n + (m.to === undefined ? 1 : m.to - m.frame + 1),
      0,
    );
  const step = frames.every === 1
    ? "every complete frame"
    : `every ${ordinal(frames.every)} complete frame`;
  const notes = [
    `${frames.thumbnails.length} thumbnails of ${frames.complete} complete frames (${step}).`,
    `Marked: ${count("missing")} missing, ${count("incomplete")} incomplete, ${
      count("damaged")
    } damaged.`,
    ...frames.marksLeftOut > 0 ? [`${frames.marksLeftOut} more marks were not kept.`] : [],
    ...frames.unnumbered > 0
      ? [`${frames.unnumbered} incomplete frames have no number (the stream has no frame rate).`]
      : [],
  ];
  return `<p class="note" id="strip-note">${
    escapeHtml(notes.join(" "))
  }</p><div class="strip" id="strip">${items.map((i) => i.html).join("")}</div>`;
}

/** The timeline's events (not the plain in-order packets) as a table. */
function eventTable(timeline: PacketTimeline): string {
  const events = timeline.entries.filter((e: TimelineEntry) => e.kind !== "packet");
  const shown = events.slice(0, REPORT_EVENT_ROWS);
  const rows = shown.map((e) =>
    `<tr class="${e.kind}"><td>${e.t.toFixed(4)}</td><td>${e.seq}</td><td>${e.kind}</td><td>${
      e.count ?? ""
    }</td></tr>`
  );
  const more = events.length - shown.length;
  const bound = `The timeline keeps every packet among the first ${timeline.firstPackets}, ` +
    `then only gaps, reorderings and duplicates, ${timeline.limit} entries at most` +
    (timeline.leftOut > 0 ? `; ${timeline.leftOut} later entries were not kept.` : ".");
  return `<p class="note">${escapeHtml(bound)}</p>` +
    (events.length === 0
      ? `<p id="no-events">No gaps, reorderings or duplicates.</p>`
      : `<details${events.length <= 20 ? " open" : ""}><summary>${events.length} events${
        more > 0 ? ` (the first ${shown.length} listed; all in the --stats JSON)` : ""
      }</summary><table id="events"><thead><tr><th>s</th><th>sequence</th><th>event</th><th>missing</th></tr></thead><tbody>${
        rows.join("")
      }</tbody></table></details>`);
}

/**
 * Records errors into the page itself, before any other script runs: the
 * `data-errors` count on <html> and the text in #report-errors.
 */
const ERROR_RECORDER = `(function () {
  var count = 0, pending = [];
  function note(text) {
    count++;
    document.documentElement.setAttribute("data-errors", String(count));
    var out = document.getElementById("report-errors");
    if (out) { out.hidden = false; out.textContent += text + "\\n"; } else pending.push(text);
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    note(t && t !== window && t.tagName ? "cannot load " + t.tagName.toLowerCase() : "error: " + e.message);
  }, true);
  window.addEventListener("unhandledrejection", function (e) { note("unhandled rejection: " + e.reason); });
  var original = console.error;
  console.error = function () {
    note("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", function () {
    var out = document.getElementById("report-errors");
    if (pending.length) { out.hidden = false; out.textContent += pending.join("\\n") + "\\n"; }
  });
})();`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; }
th, td { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
#statistics-table td:nth-child(2) { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
#report-errors { color: #a00; background: #fee; }
.strip { display: flex; flex-wrap: wrap; gap: 6px; }
.strip figure { margin: 0; width: 120px; font-size: 11px; text-align: center; }
.strip img { width: 120px; height: auto; display: block; border: 2px solid #ccc; }
.strip .hole { height: 66px; display: flex; align-items: center; justify-content: center;
  border: 2px dashed #d62728; color: #d62728; font-weight: bold; }
.strip .incomplete .hole { border-color: #ff7f0e; color: #ff7f0e; }
.strip .damaged .hole { border-color: #9467bd; color: #9467bd; }
.chart { margin: 8px 0 16px; min-height: 40px; }
#events td { font-variant-numeric: tabular-nums; }
#events tr.gap td { color: #d62728; }
#events tr.reordered td { color: #c05f00; }
#events tr.duplicate td { color: #9467bd; }
@media print { .chart { break-inside: avoid; } }
`;

/**
 * The report as one HTML document: uPlot, its stylesheet, the page's
 * script, the data and the thumbnails all inside it.
 */
export function renderClientReport(input: ClientReportInput): string {
  const generated = (input.generatedAt ?? new Date()).toISOString();
  const url = redactUrl(input.source.url);
  const s = input.summary;
  const data = JSON.stringify({ perSecond: input.perSecond, timeline: input.timeline })
    .replace(/</g, "\\u003c");
  const lede =
    `${s.framesReceived} frames, ${s.packetsLost} packets lost (${s.lossPercent}%), ${s.durationSec} s playing; report made ${generated}`;
  return `<!doctype html>
<html lang="en" data-errors="0">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rtsp-client">
<title>Stream report: ${escapeHtml(url)}</title>
<script>${inlineSafe(ERROR_RECORDER, "script")}</script>
<style>${inlineSafe(UPLOT_CSS, "style")}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Stream report: ${escapeHtml(url)}</h1>
<p class="note">${escapeHtml(lede)}</p>
<pre id="report-errors" hidden></pre>
<section id="source"><h2>Source</h2>${sourceSection(input.source, input.end)}</section>
<section id="statistics"><h2>Statistics</h2>${statisticsTable(s)}</section>
<section id="frames"><h2>Frames</h2>${frameStrip(input.frames)}</section>
<section id="charts"><h2>Per second</h2>
<p class="note">Each point is one wall-clock second of the run, from the first packet; the last second is usually partial. Lost is expected minus received (RFC 3550 A.3) in that second: a packet that arrives after a second's end to fill a gap counts back, so it can be negative.</p>
<noscript><p>The charts need JavaScript; the numbers are in the --stats JSON.</p></noscript>
<div class="chart" id="chart-frames" data-chart="frames"></div>
<div class="chart" id="chart-kbit" data-chart="kbit"></div>
<div class="chart" id="chart-lost" data-chart="lost"></div>
<div class="chart" id="chart-jitter" data-chart="jitter"></div>
</section>
<section id="timeline"><h2>Packet timeline</h2>
<div class="chart" id="chart-timeline" data-chart="timeline"></div>
${eventTable(input.timeline)}
</section>
</main>
<script type="application/json" id="report-data">${data}</script>
<script>${inlineSafe(UPLOT_JS, "script")}</script>
<script>${inlineSafe(PAGE_JS, "script")}</script>
</body>
</html>
`;
}
