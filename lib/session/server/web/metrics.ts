/**
 * `/metrics`: a {@linkcode ServerStatus} in the Prometheus text exposition
 * format, version 0.0.4 (`# HELP`, `# TYPE`, then one sample per line).
 *
 * Labels take only values from small fixed sets (dialect, transport, method,
 * status code, cap, reason, state): nothing per session, client, file or
 * live path, so the number of series stays bounded whatever the clients
 * (and publishers) do.
 *
 * @module
 */
import type { RequestCount } from "../request_counts.ts";
import { LIVE_PATH_STATES, type ServerStatus } from "../server_status.ts";

/** The Content-Type of the exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The prefix of the server's own metrics (the process ones are Prometheus' standard names). */
const PREFIX = "rtsp_server_";

/** Session kinds always exported (zero when there are none), as dialect/transport. */
const SESSION_KINDS = ["lab/udp", "rtsp/udp", "rtsp/tcp", "http/http"];

type Labels = Record<string, string>;
type Sample = readonly [Labels, number];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** Lines of one metric family. */
class Exposition {
  readonly #lines: string[] = [];

  family(
    name: string,
    type: "counter" | "gauge",
    help: string,
    samples: readonly Sample[],
  ): void {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    }
  }

  histogram(
    name: string,
    help: string,
    h: { bounds: readonly number[]; counts: readonly number[]; count: number; sum: number },
  ): void {
    this.#lines.push(`# HELP ${name} ${help}`);
    this.#lines.push(`# TYPE ${name} histogram`);
    h.bounds.forEach((bound, i) => {
      this.#lines.push(`${name}_bucket{le="${formatValue(bound)}"} ${h.counts[i]}`);
    });
    this.#lines.push(`${name}_bucket{le="+Inf"} ${h.count}`);
    this.#lines.push(`${name}_sum ${formatValue(h.sum)}`);
    this.#lines.push(`${name}_count ${h.count}`);
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function byMethodStatus(counts: readonly RequestCount[]): Sample[] {
  return counts.map(({ method, status, count }) => [{ method, status: String(status) }, count]);
}

/** The exposition of `status`. */
export function formatMetrics(status: ServerStatus): string {
  const t = status.totals;
  const out = new Exposition();
  const kinds = new Set([...SESSION_KINDS, ...Object.keys(t.sessionsBy)]);
  out.family(
    `${PREFIX}sessions`,
    "gauge",
    "Sessions now, by dialect (lab, rtsp; http: a live view) and transport (udp, tcp, http).",
    [...kinds].map((kind) => {
      const [dialect, transport] = kind.split("/");
      return [{ dialect, transport }, t.sessionsBy[kind] ?? 0];
    }),
  );
  out.family(`${PREFIX}sessions_created_total`, "counter", "RTSP sessions set up.", [
    [{}, t.sessionsCreated],
  ]);
  out.family(
    `${PREFIX}sessions_timed_out_total`,
    "counter",
    "RTSP sessions torn down because their client went silent.",
    [[{}, t.sessionsTimedOut]],
  );
  out.family(`${PREFIX}connections`, "gauge", "RTSP connections open now.", [
    [{}, t.connectionsOpen],
  ]);
  out.family(
    `${PREFIX}connections_accepted_total`,
    "counter",
    "RTSP connections accepted and served.",
    [[{}, t.connections]],
  );
  out.family(
    `${PREFIX}connections_idled_total`,
    "counter",
    "RTSP connections closed for idling without a session.",
    [[{}, t.connectionsIdled]],
  );
  out.family(
    `${PREFIX}refused_total`,
    "counter",
    "Refused at a cap: RTSP connections (503), sessions and live views (453), " +
      "HTTP requests in progress (503).",
    [
      [{ cap: "connections" }, t.connectionsRefused],
      [{ cap: "sessions" }, t.sessionsRefused],
      [{ cap: "http_requests" }, t.http?.refused ?? 0],
    ],
  );
  out.family(
    `${PREFIX}requests_total`,
    "counter",
    "RTSP requests answered, by method (other: a method the server does not implement) " +
      "and status code.",
    byMethodStatus(t.requestsBy),
  );
  out.family(
    `${PREFIX}http_requests_total`,
    "counter",
    "HTTP requests answered, by method (GET, HEAD, other) and status code.",
    byMethodStatus(t.http?.requests ?? []),
  );
  out.family(
    `${PREFIX}http_requests_in_progress`,
    "gauge",
    "HTTP requests being answered now (a live view is one while it plays).",
    [[{}, t.http?.inProgress ?? 0]],
  );
  out.family(
    `${PREFIX}rtp_packets_sent_total`,
    "counter",
    "RTP packets sent by every session, by transport.",
    [[{ transport: "udp" }, t.rtpBy.udp.packets], [{ transport: "tcp" }, t.rtpBy.tcp.packets]],
  );
  out.family(
    `${PREFIX}rtp_payload_bytes_sent_total`,
    "counter",
    "RTP payload bytes sent by every session, by transport.",
    [[{ transport: "udp" }, t.rtpBy.udp.octets], [{ transport: "tcp" }, t.rtpBy.tcp.octets]],
  );
  out.family(
    `${PREFIX}rtp_send_errors_total`,
    "counter",
    "UDP sends of RTP or RTCP that failed (such as an ICMP port unreachable).",
    [[{}, t.sendErrors]],
  );
  out.family(
    `${PREFIX}rtp_dropped_total`,
    "counter",
    "RTP packets not sent: the process could not send UDP fast enough, " +
      "or a TCP client did not read.",
    [[{ reason: "udp_send_queue" }, t.udpDropped], [
      { reason: "tcp_backlog" },
      t.interleavedDropped,
    ]],
  );
  out.family(
    `${PREFIX}rtcp_packets_received_total`,
    "counter",
    "RTCP packets received from clients.",
    [[{}, t.rtcpReceived]],
  );
  out.family(
    `${PREFIX}rtcp_malformed_total`,
    "counter",
    "RTCP packets from clients that did not parse.",
    [[{}, t.rtcpMalformed]],
  );
  out.family(
    `${PREFIX}rtcp_receiver_reports_total`,
    "counter",
    "RTCP receiver report blocks about one of the server's sessions, from its client.",
    [[{}, t.receiverReports]],
  );
  out.family(
    `${PREFIX}live_frames_dropped_total`,
    "counter",
    "Frames of HTTP live views dropped because the client had not read the previous one.",
    [[{}, t.http?.liveFramesDropped ?? 0]],
  );
  const live = t.live;
  out.family(
    `${PREFIX}live_paths`,
    "gauge",
    "Paths publishers hold now, by state (announced: before RECORD; recording; paused).",
    LIVE_PATH_STATES.map((state) => [{ state }, live.pathsBy[state]]),
  );
  out.family(
    `${PREFIX}live_path_readers`,
    "gauge",
    "Readers of every live path now: RTSP sessions and HTTP live views.",
    [[{}, live.readers]],
  );
  out.family(
    `${PREFIX}live_path_frames_received_total`,
    "counter",
    "Complete frames taken in from publishers and forwarded to the readers.",
    [[{}, live.framesReceived]],
  );
  out.family(
    `${PREFIX}live_path_frames_dropped_total`,
    "counter",
    "Frames from publishers not forwarded: incomplete (a fragment lost, a bad payload or JPEG), " +
      "or capped (faster than twice the announced rate).",
    [[{ reason: "incomplete" }, live.framesDropped], [{ reason: "capped" }, live.framesCapped]],
  );
  out.family(
    `${PREFIX}live_path_malformed_packets_total`,
    "counter",
    "Datagrams from publishers that were not RTP of the announced payload type.",
    [[{}, live.malformed]],
  );
  const h = status.pacing.histogram;
  out.histogram(
    `${PREFIX}pacing_lateness_seconds`,
    "How far from its schedule each paced run (a session's frame, an RTCP report) left; " +
      "the sum is estimated from 0.05 ms buckets.",
    {
      bounds: h.boundsMs.map((ms) => ms / 1000),
      counts: h.counts,
      count: h.count,
      sum: h.sumMs / 1000,
    },
  );
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [
    [{}, status.process.rssBytes],
  ]);
  out.family(
    "process_cpu_seconds_total",
    "counter",
    "Total user and system CPU time spent in seconds.",
    [[{}, status.process.cpuSeconds]],
  );
  out.family(
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since unix epoch in seconds.",
    [[{}, status.process.startTimeSeconds]],
  );
  return out.toString();
}
