/**
 * `/`: the status page, one self-contained HTML file (no external assets)
 * that fetches `status.json` every second and shows the files, the live
 * paths publishers hold (when there are any), the sessions, the totals and
 * the pacing lateness. It writes the server's data into the
 * page only as text (`textContent`, encoded URLs), never as HTML, so a file
 * name cannot inject markup; the Content-Security-Policy allows its one
 * inline script (by hash) and style, and connections to this server only.
 *
 * Every figure shown carries its raw value in `data-value`, so a test (or a
 * scraper) reads exactly what the page shows.
 *
 * @module
 */
import { createHash } from "node:crypto";

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } td.text, th.text { text-align: left; }
#state { color: #666; } #state.stale { color: #b00; font-weight: bold; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.empty { color: #888; font-style: italic; }
`;

const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const num = (n) => n === null || n === undefined ? "\\u2013" : String(n);
const fixed = (n, digits) => n === null || n === undefined ? "\\u2013" : n.toFixed(digits);
function bytes(n) {
  if (n === null || n === undefined) return "\\u2013";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}
function cell(row, text, value, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (value !== undefined && value !== null) td.dataset.value = String(value);
  if (cls) td.className = cls;
  return td;
}
function link(row, text, href) {
  const td = row.insertCell();
  td.className = "text";
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  td.append(a);
  return td;
}
function fill(tbody, items, columns, render) {
  tbody.replaceChildren();
  if (items.length === 0) {
    const td = tbody.insertRow().insertCell();
    td.colSpan = columns;
    td.className = "empty text";
    td.textContent = "none";
    return;
  }
  for (const item of items) render(tbody.insertRow(), item);
}
const TOTALS = [
  ["sessions", "RTSP sessions now"], ["liveViews", "live views now"],
  ["sessionsCreated", "sessions set up"], ["sessionsTimedOut", "sessions timed out"],
  ["sessionsRefused", "sessions refused (cap)"], ["connectionsOpen", "RTSP connections open"],
  ["connections", "RTSP connections served"], ["connectionsRefused", "connections refused (cap)"],
  ["connectionsIdled", "connections closed idle"], ["requests", "RTSP requests"],
  ["badRequests", "RTSP requests with errors"], ["rtpPackets", "RTP packets sent"],
  ["rtpBytes", "RTP payload bytes sent"], ["udpDatagrams", "UDP datagrams sent"],
  ["udpSendCalls", "UDP send calls"], ["sendErrors", "send errors"],
  ["udpDropped", "UDP datagrams dropped"], ["interleavedDropped", "TCP packets dropped"],
  ["rtcpReceived", "RTCP packets received"], ["rtcpMalformed", "RTCP malformed"],
  ["receiverReports", "receiver reports"],
];
function render(s) {
  $("server").textContent = [s.server.rtsp, s.server.rtsps].filter(Boolean).join(", ") +
    " \\u2013 " + s.server.fps + " fps" + (s.server.loop ? ", loop" : "") + ", RTP " +
    s.server.udpSendMode + ", up " + fixed(s.server.uptimeSec, 0) + " s";
  fill($("files"), s.files, 8, (row, f) => {
    row.dataset.file = f.name;
    cell(row, f.name, undefined, "text");
    cell(row, num(f.frames), f.frames);
    cell(row, f.durationSec === null ? "\\u2013" : fixed(f.durationSec, 2) + " s", f.durationSec);
    cell(row, f.width === null ? "\\u2013" : f.width + "\\u00d7" + f.height, undefined);
    cell(row, bytes(f.bytes), f.bytes);
    cell(row, num(f.watchers), f.watchers).dataset.field = "watchers";
    link(row, "live", "live/" + encodeURIComponent(f.name));
    link(row, "snapshot", "snapshot/" + encodeURIComponent(f.name) + "?t=0");
  });
  $("live-section").hidden = s.live.length === 0;
  fill($("live"), s.live, 12, (row, p) => {
    row.dataset.live = p.path;
    const text = (field, value) => { cell(row, value, undefined, "text").dataset.field = field; };
    const count = (field, value) => { cell(row, num(value), value).dataset.field = field; };
    text("path", p.path);
    text("publisher", p.publisher + (p.transport ? " (" + p.transport + ")" : ""));
    text("state", p.state);
    count("fps", p.fps);
    cell(row, p.width === null ? "\\u2013" : p.width + "\\u00d7" + p.height, undefined)
      .dataset.field = "picture";
    count("frames", p.frames);
    count("framesDropped", p.framesDropped);
    count("framesCapped", p.framesCapped);
    count("readers", p.readers);
    const rec = p.recording;
    text("recording", rec ? rec.file + " (" + rec.frames + " frames)" : "\\u2013");
    if (p.state === "announced") {
      cell(row, "\\u2013", undefined, "text");
      cell(row, "\\u2013", undefined, "text");
    } else {
      link(row, "live", "live/" + encodeURIComponent(p.path));
      link(row, "snapshot", "snapshot/" + encodeURIComponent(p.path));
    }
  });
  fill($("sessions"), s.sessions, 14, (row, x) => {
    row.dataset.session = x.id;
    const text = (field, value) => { cell(row, value, undefined, "text").dataset.field = field; };
    text("id", x.id);
    text("client", x.client);
    text("file", x.file);
    text("dialect", x.dialect);
    text("transport", x.transport);
    text("state", x.state);
    cell(row, fixed(x.positionSec, 2) + " s", x.positionSec);
    cell(row, num(x.packetsSent), x.packetsSent).dataset.field = "packetsSent";
    cell(row, bytes(x.bytesSent), x.bytesSent).dataset.field = "bytesSent";
    cell(row, num(x.framesDropped), x.framesDropped);
    const rr = x.receiverReport;
    cell(row, rr ? fixed(100 * rr.fractionLost, 1) + " %" : "\\u2013", rr && rr.fractionLost);
    cell(row, rr ? num(rr.cumulativeLost) : "\\u2013", rr && rr.cumulativeLost);
    cell(row, rr ? fixed(rr.jitterMs, 2) + " ms" : "\\u2013", rr && rr.jitterMs);
    cell(row, fixed(x.ageSec, 0) + " s", x.ageSec);
  });
  fill($("totals"), TOTALS, 2, (row, [key, label]) => {
    cell(row, label, undefined, "text");
    const td = cell(row, num(s.totals[key]), s.totals[key]);
    td.dataset.total = key;
  });
  const requests = s.totals.requestsBy.map((r) => ["RTSP", r]).concat(
    (s.totals.http ? s.totals.http.requests : []).map((r) => ["HTTP", r]),
  );
  fill($("requests"), requests, 4, (row, [protocol, r]) => {
    cell(row, protocol, undefined, "text");
    cell(row, r.method, undefined, "text");
    cell(row, String(r.status), r.status);
    cell(row, num(r.count), r.count);
  });
  const p = s.pacing;
  $("pacing").textContent = "p50 " + fixed(p.p50Ms, 2) + " ms, p99 " + fixed(p.p99Ms, 2) +
    " ms, p99.9 " + fixed(p.p999Ms, 2) + " ms, max " + fixed(p.maxMs, 2) + " ms over " +
    p.count + " paced runs";
  $("pacing").dataset.p50 = String(p.p50Ms);
  $("pacing").dataset.p99 = String(p.p99Ms);
  $("process").textContent = "memory " + bytes(s.process.rssBytes) + ", CPU " +
    fixed(s.process.cpuSeconds, 2) + " s";
  $("state").textContent = "updated " + new Date(s.time).toLocaleTimeString();
  $("state").className = "";
}
// Beside this page, without the name and password a page opened as
// http://name:password@host/ has in its URL (fetch refuses those; the
// browser answers the server's challenge from what it has cached).
const STATUS_URL = new URL("status.json", location.href);
STATUS_URL.username = "";
STATUS_URL.password = "";
async function refresh() {
  try {
    const response = await fetch(STATUS_URL, { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (error) {
    $("state").textContent = "not updated: " + error.message;
    $("state").className = "stale";
  }
}
refresh();
setInterval(refresh, 1000);
`;

const BODY = `<h1>rtsp-server</h1>
<div id="server"></div>
<div id="state">loading\u2026</div>
<h2>Files</h2>
<table><thead><tr><th class="text">file</th><th>frames</th><th>duration</th><th>picture</th>
<th>bytes</th><th>watching</th><th class="text">live</th><th class="text">still</th></tr></thead>
<tbody id="files"></tbody></table>
<div id="live-section" hidden>
<h2>Live paths</h2>
<table><thead><tr><th class="text">path</th><th class="text">publisher</th>
<th class="text">state</th><th>fps</th><th>picture</th><th>frames</th><th>dropped</th>
<th>capped</th><th>readers</th><th class="text">recording</th><th class="text">live</th>
<th class="text">still</th></tr></thead>
<tbody id="live"></tbody></table>
</div>
<h2>Sessions</h2>
<table><thead><tr><th class="text">session</th><th class="text">client</th>
<th class="text">file</th><th class="text">dialect</th><th class="text">transport</th>
<th class="text">state</th><th>position</th><th>packets</th><th>bytes</th><th>dropped</th>
<th>loss</th><th>lost</th><th>jitter</th><th>age</th></tr></thead>
<tbody id="sessions"></tbody></table>
<div class="grid">
<div><h2>Totals</h2><table><tbody id="totals"></tbody></table></div>
<div><h2>Requests</h2><table><thead><tr><th class="text">protocol</th><th class="text">method</th>
<th>status</th><th>count</th></tr></thead><tbody id="requests"></tbody></table></div>
<div><h2>Pacing lateness</h2><div id="pacing"></div><h2>Process</h2><div id="process"></div></div>
</div>`;

/** The page. */
export const STATUS_PAGE_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rtsp-server status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body></html>
`;

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** The page's Content-Security-Policy: its own script and style, fetches to this server. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
