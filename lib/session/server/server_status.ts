/**
 * One snapshot of the whole server, as {@linkcode RtspServer.status} gives
 * it: what it serves, who watches, its counters, how late it paces, and
 * what the process costs. The HTTP side's `/status.json` is this, as JSON;
 * its status page and `/metrics` are made from it.
 *
 * Building it reads what the server keeps anyway (counters added to once per
 * request, session or RTCP packet; the sessions' own figures; the pacer's
 * histogram) and walks the sessions once: the cost is the caller's, and
 * nothing is done per packet or frame for it.
 *
 * @module
 */
import type { ProcessUsage } from "../../net/process_usage.ts";
import type { Dialect } from "../../wire/dialect.ts";
import type { LatencyBuckets, LatencyHistogram } from "./latency_histogram.ts";
import type { LivePaths } from "./live_paths.ts";
import type { LiveStream } from "./live_stream.ts";
import type { TransportKind } from "./media_transport.ts";
import type { RequestCount, RequestCounts } from "./request_counts.ts";
import type { ServedStream } from "./served_stream.ts";
import type { ServerCounters } from "./server_context.ts";
import type { ServerSession, SessionState } from "./server_session.ts";
import type { SentTotals, SessionTable } from "./session_table.ts";
import type { CatalogFile } from "./stream_catalog.ts";

/** Upper bounds of the pacing-lateness histogram's buckets, ms. */
export const PACING_BUCKETS_MS: readonly number[] = [
  0.1,
  0.25,
  0.5,
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  250,
];

/** Most files the status lists. */
export const MAX_LISTED_FILES = 1000;

/** A snapshot of the server ({@linkcode RtspServer.status}; `/status.json`). */
export interface ServerStatus {
  /** When the snapshot was taken, ISO 8601 (UTC). */
  time: string;
  /** The server: where it listens and how it is set up. */
  server: ServerInfo;
  /** The lab MJPEG files of the media directory, by name. */
  files: FileStatus[];
  /** Whether the media directory holds more such files than {@linkcode MAX_LISTED_FILES}. */
  filesTruncated: boolean;
  /** Every session (RTSP) and live view (HTTP), oldest first. */
  sessions: SessionStatus[];
  /** The paths publishers hold, by path. */
  live: LivePathStatus[];
  /** Counters since the server started. */
  totals: StatusTotals;
  /** How late the pacer ran frames against their schedule, since the server started. */
  pacing: PacingStatus;
  /** What the process costs. */
  process: ProcessUsage;
}

/** Where the server listens and how it is set up. */
export interface ServerInfo {
  /** When it started, ISO 8601 (UTC). */
  startedAt: string;
  /** Seconds since then. */
  uptimeSec: number;
  /** `rtsp://host:port/`, unless it serves only TLS. */
  rtsp: string | null;
  /** `rtsps://host:port/`, when it serves RTSP over TLS. */
  rtsps: string | null;
  /** `http://host:port/`, when it serves HTTP. */
  http: string | null;
  /** Frames per second of every stream. */
  fps: number;
  /** Whether frames are sent as fast as possible instead. */
  unpaced: boolean;
  /** Whether streams start again after their last frame. */
  loop: boolean;
  /** How RTP leaves (see {@linkcode RtspServer.udpSendMode}). */
  udpSendMode: string;
  /** Most RTSP connections at once. */
  maxConnections: number;
  /** Most sessions and live views at once. */
  maxSessions: number;
  /** Most HTTP requests in progress at once (null without HTTP). */
  httpMaxRequests: number | null;
}

/** One file of the media directory. */
export interface FileStatus {
  /** Its name (what a client asks for). */
  name: string;
  /** Its size, bytes. */
  bytes: number;
  /**
   * Whether it is loaded: a client has asked for it. Frames, duration and
   * picture size are known only then (listing a directory loads nothing).
   */
  loaded: boolean;
  /** Frames in the file. */
  frames: number | null;
  /** Its length at the server's fps, seconds. */
  durationSec: number | null;
  /** Picture size of its first frame. */
  width: number | null;
  /** Picture height of its first frame. */
  height: number | null;
  /** Sessions and live views playing it now. */
  watchers: number;
}

/** The client's last RTCP receiver report on a session (RFC 3550 §6.4.2). */
export interface ReceiverReportStatus {
  /** Fraction lost since its previous report, 0 to 1. */
  fractionLost: number;
  /** Packets lost in all. */
  cumulativeLost: number;
  /** Interarrival jitter, ms. */
  jitterMs: number;
  /** Seconds since it arrived. */
  ageSec: number;
}

/** One session (RTSP) or live view (HTTP). */
export interface SessionStatus {
  /** The session id (or the live view's). */
  id: string;
  /** `host:port` of the client. */
  client: string;
  /** The file, as the client named it. */
  file: string;
  /** `lab`, `rtsp` or `http` (a live view). */
  dialect: Dialect | "http";
  /** `play`, or `record`: a publisher's session (its frames are on its live path's entry). */
  mode: "play" | "record";
  /** How its media leaves: `udp`, `tcp` (interleaved) or `http`. */
  transport: TransportKind | "http";
  /** Where exactly, e.g. `udp 127.0.0.1:5008-5009`, `tcp channels 0-1`, `http multipart`. */
  transportDescription: string;
  /** `ready`, `playing` or (a publisher) `recording`; a live view whose stream ended: `ended`. */
  state: SessionState | "ended";
  /** Media time of the next frame, seconds. */
  positionSec: number;
  /** Frames sent (0 for a publisher's session). */
  framesSent: number;
  /** Frames not sent: too large for a lab datagram, or (live view) not read in time. */
  framesDropped: number;
  /** RTP packets sent (null for a live view or a publisher's session, which send no RTP). */
  packetsSent: number | null;
  /** Bytes sent: RTP payload bytes, or what went into a live view's response. */
  bytesSent: number;
  /** The client's last receiver report, if one came (RTSP sessions only). */
  receiverReport: ReceiverReportStatus | null;
  /** Seconds since it was set up. */
  ageSec: number;
}

/** Where a live path is: announced (not yet RECORDed), recording, or paused by its publisher. */
export type LivePathState = "announced" | "recording" | "paused";

/** Every {@linkcode LivePathState}, in order. */
export const LIVE_PATH_STATES: readonly LivePathState[] = ["announced", "recording", "paused"];

/** One path a publisher holds (ANNOUNCE claimed it). */
export interface LivePathStatus {
  /** The path, e.g. `cam` or `live/door`. */
  path: string;
  /** `host:port` of the publisher's RTSP connection. */
  publisher: string;
  /** How its RTP comes in: `udp` or `tcp` (interleaved); null before its SETUP. */
  transport: TransportKind | null;
  /** `announced` until RECORD, then `recording` (`paused` after a PAUSE). */
  state: LivePathState;
  /** Seconds since it was announced. */
  sinceSec: number;
  /** The frame rate announced (or the server's fps when the SDP gave none). */
  fps: number;
  /** Picture size of its first frame (null before one came). */
  width: number | null;
  /** Picture height of its first frame. */
  height: number | null;
  /** Complete frames taken in and forwarded. */
  frames: number;
  /** Frames that could not be completed (a fragment lost, a bad payload or JPEG). */
  framesDropped: number;
  /** Complete frames dropped for coming faster than twice the announced rate. */
  framesCapped: number;
  /** Datagrams that were not RTP of the announced payload type. */
  malformed: number;
  /** Readers set up on it: RTSP sessions and HTTP live views. */
  readers: number;
  /** Readers playing it now. */
  playing: number;
  /** The recording (`--record-dir`): its file name there and the frames written. */
  recording: { file: string; frames: number } | null;
}

/** The live paths, counted (whether or not the lists are asked for). */
export interface LiveTotals {
  /** Paths held now. */
  paths: number;
  /** Paths held now, by state. */
  pathsBy: Record<LivePathState, number>;
  /** Readers of every path now (RTSP sessions and HTTP live views). */
  readers: number;
  /** Complete frames taken in from every publisher, since the server started. */
  framesReceived: number;
  /** Frames from publishers that could not be completed, since the start. */
  framesDropped: number;
  /** Frames from publishers over their rate cap, since the start. */
  framesCapped: number;
  /** Malformed datagrams from publishers, since the start. */
  malformed: number;
}

/** The HTTP side's counters. */
export interface HttpTotals {
  /** Requests answered, by method (GET, HEAD, other) and status. */
  requests: RequestCount[];
  /** Requests in progress now (a live view is one while it plays). */
  inProgress: number;
  /** Requests refused with 503 for being over the cap. */
  refused: number;
  /** Live views started. */
  liveViews: number;
  /** Frames a live view dropped because its client did not read in time. */
  liveFramesDropped: number;
}

/** Counters since the server started. */
export interface StatusTotals {
  /** RTSP sessions now. */
  sessions: number;
  /** HTTP live views now. */
  liveViews: number;
  /** Sessions now, by dialect and transport (`"rtsp/udp"`, `"lab/udp"`, `"rtsp/tcp"`, `"http/http"`). */
  sessionsBy: Record<string, number>;
  /** Sessions set up. */
  sessionsCreated: number;
  /** Sessions torn down because their clients went silent. */
  sessionsTimedOut: number;
  /** SETUPs and live views refused at the session cap. */
  sessionsRefused: number;
  /** RTSP connections open now. */
  connectionsOpen: number;
  /** RTSP connections accepted and served. */
  connections: number;
  /** RTSP connections refused at the connection cap. */
  connectionsRefused: number;
  /** RTSP connections closed for idling without a session. */
  connectionsIdled: number;
  /** RTSP requests answered. */
  requests: number;
  /** RTSP requests answered with an error status. */
  badRequests: number;
  /** RTSP requests by method and status. */
  requestsBy: RequestCount[];
  /** RTP packets sent by every session, ended or live. */
  rtpPackets: number;
  /** RTP payload bytes sent by every session. */
  rtpBytes: number;
  /** RTP packets and payload bytes by transport. */
  rtpBy: SentTotals;
  /** UDP datagrams the RTP socket sent. */
  udpDatagrams: number;
  /** System calls (or Deno sends) that carried them. */
  udpSendCalls: number;
  /** UDP sends that failed. */
  sendErrors: number;
  /** RTP datagrams dropped because the process could not send them fast enough. */
  udpDropped: number;
  /** RTP packets dropped because a TCP client did not read fast enough. */
  interleavedDropped: number;
  /** RTCP packets received from clients. */
  rtcpReceived: number;
  /** RTCP packets that did not parse. */
  rtcpMalformed: number;
  /** Receiver report blocks about one of the server's sessions. */
  receiverReports: number;
  /** The HTTP side's counters (null without HTTP). */
  http: HttpTotals | null;
  /** The live paths and what their publishers sent. */
  live: LiveTotals;
}

/** Pacing lateness since the server started (SIGUSR2's reset does not apply). */
export interface PacingStatus {
  /** Paced runs measured. */
  count: number;
  /** Median, ms. */
  p50Ms: number;
  /** 99th percentile, ms. */
  p99Ms: number;
  /** 99.9th percentile, ms. */
  p999Ms: number;
  /** Largest, ms. */
  maxMs: number;
  /** Cumulative counts below {@linkcode PACING_BUCKETS_MS}, for a histogram. */
  histogram: LatencyBuckets;
}

/** What a status snapshot is made from (the server's parts). */
export interface StatusSources {
  /** The server's clock now, ms (the sessions' times are on it). */
  now: number;
  /** Unix time (ms) of the server's start, and its clock then. */
  startedAt: { unixMs: number; clock: number };
  server: Omit<ServerInfo, "startedAt" | "uptimeSec">;
  files(max: number): Promise<{ files: CatalogFile[]; truncated: boolean }>;
  sessions: SessionTable;
  /** The paths publishers hold. */
  live: LivePaths;
  counters: ServerCounters;
  requests: RequestCounts;
  udp: { rtpSent: number; rtpSendCalls: number; sendErrors: number; sendDropped: number };
  rtcp: { received: number; malformed: number; receiverReports: number };
  connectionsOpen: number;
  lateness: LatencyHistogram;
  http: HttpTotals | null;
  process: ProcessUsage;
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;

/** What a snapshot includes. */
export interface StatusOptions {
  /**
   * The lists of files, sessions and live paths; without them (`false`)
   * `files`, `sessions` and `live` are empty, the media directory is not
   * read and no row is built per session or path: what `/metrics`, which
   * shows only totals, asks for.
   * @default {true}
   */
  lists?: boolean;
}

/** Build a snapshot of the server from its parts. */
export async function serverStatus(
  sources: StatusSources,
  options: StatusOptions = {},
): Promise<ServerStatus> {
  const { now, sessions, counters, udp, rtcp } = sources;
  const lists = options.lists ?? true;
  const sessionRows = lists ? sessionStatuses(sources.sessions, now) : [];
  const watchers = new Map<ServedStream, number>();
  if (lists) {
    for (const session of sessions.byId.values()) {
      watchers.set(session.stream, (watchers.get(session.stream) ?? 0) + 1);
    }
    for (const viewer of sessions.viewers.values()) {
      watchers.set(viewer.stream, (watchers.get(viewer.stream) ?? 0) + 1);
    }
  }
  const listing = lists ? await sources.files(MAX_LISTED_FILES) : { files: [], truncated: false };
  const files = listing.files.map(({ name, bytes, stream }): FileStatus => ({
    name,
    bytes,
    loaded: stream !== undefined,
    frames: stream?.description.frames ?? null,
    durationSec: stream?.description.durationSec ?? null,
    width: stream?.description.width ?? null,
    height: stream?.description.height ?? null,
    watchers: stream ? watchers.get(stream) ?? 0 : 0,
  }));
  const sessionsBy: Record<string, number> = {};
  const count = (key: string) => sessionsBy[key] = (sessionsBy[key] ?? 0) + 1;
  /** The publisher's session of each live stream set up for recording. */
  const publishers = new Map<LiveStream, ServerSession>();
  for (const session of sessions.byId.values()) {
    count(`${session.dialect}/${session.transport.kind}`);
    if (session.publisher) publishers.set(session.publisher.stream, session);
  }
  const live = liveStatuses(sources.live, publishers, now, lists);
  if (sessions.viewers.size > 0) sessionsBy["http/http"] = sessions.viewers.size;
  const sent = sessions.sent();
  const late = sources.lateness.summarySinceStart();
  return {
    time: new Date(sources.startedAt.unixMs + now - sources.startedAt.clock).toISOString(),
    server: {
      startedAt: new Date(sources.startedAt.unixMs).toISOString(),
      uptimeSec: seconds(now - sources.startedAt.clock),
      ...sources.server,
    },
    files,
    filesTruncated: listing.truncated,
    sessions: sessionRows,
    live: live.rows,
    totals: {
      sessions: sessions.size,
      liveViews: sessions.viewers.size,
      sessionsBy,
      sessionsCreated: counters.sessionsCreated,
      sessionsTimedOut: counters.sessionsTimedOut,
      sessionsRefused: counters.sessionsRefused,
      connectionsOpen: sources.connectionsOpen,
      connections: counters.connections,
      connectionsRefused: counters.connectionsRefused,
      connectionsIdled: counters.connectionsIdled,
      requests: counters.requests,
      badRequests: counters.badRequests,
      requestsBy: sources.requests.entries(),
      rtpPackets: sent.udp.packets + sent.tcp.packets,
      rtpBytes: sent.udp.octets + sent.tcp.octets,
      rtpBy: sent,
      udpDatagrams: udp.rtpSent,
      udpSendCalls: udp.rtpSendCalls,
      sendErrors: udp.sendErrors,
      udpDropped: udp.sendDropped,
      interleavedDropped: counters.interleavedDropped,
      rtcpReceived: rtcp.received,
      rtcpMalformed: rtcp.malformed,
      receiverReports: rtcp.receiverReports,
      http: sources.http,
      live: live.totals,
    },
    pacing: {
      count: late.count,
      p50Ms: late.p50,
      p99Ms: late.p99,
      p999Ms: late.p999,
      maxMs: late.max,
      histogram: sources.lateness.buckets(PACING_BUCKETS_MS),
    },
    process: sources.process,
  };
}

/** The sessions and live views, oldest first. */
function sessionStatuses(table: SessionTable, now: number): SessionStatus[] {
  const rows: (SessionStatus & { started: number })[] = [];
  for (const s of table.byId.values()) {
    const report = s.lastReceiverReport;
    rows.push({
      id: s.id,
      client: s.client,
      file: s.streamName,
      dialect: s.dialect,
      mode: s.mode,
      transport: s.transport.kind,
      transportDescription: s.transportDescription,
      state: s.state,
      positionSec: s.positionSec,
      // A publisher's session sends nothing: what it takes in is on its path's entry.
      framesSent: s.publisher ? 0 : s.framesSent,
      framesDropped: s.framesSkipped,
      packetsSent: s.publisher ? null : s.packetsSent,
      bytesSent: s.octetsSent,
      receiverReport: report
        ? {
          fractionLost: report.fractionLost,
          cumulativeLost: report.cumulativeLost,
          jitterMs: report.jitterMs,
          ageSec: seconds(now - report.receivedAt),
        }
        : null,
      ageSec: seconds(now - s.startedAt),
      started: s.startedAt,
    });
  }
  for (const v of table.viewers.values()) {
    rows.push({
      id: v.id,
      client: v.client,
      file: v.streamName,
      dialect: "http",
      mode: "play",
      transport: "http",
      transportDescription: "http multipart/x-mixed-replace",
      state: v.playing ? "playing" : "ended",
      positionSec: v.positionSec,
      framesSent: v.framesSent,
      framesDropped: v.framesDropped,
      packetsSent: null,
      bytesSent: v.bytesSent,
      receiverReport: null,
      ageSec: seconds(now - v.startedAt),
      started: v.startedAt,
    });
  }
  rows.sort((a, b) => a.started - b.started);
  return rows.map(({ started: _, ...row }) => row);
}

/**
 * The live paths (with `lists`, a row each, by path) and their totals. A
 * path's state and transport are its publisher's session's, found in
 * `publishers`.
 */
function liveStatuses(
  live: LivePaths,
  publishers: ReadonlyMap<LiveStream, ServerSession>,
  now: number,
  lists: boolean,
): { rows: LivePathStatus[]; totals: LiveTotals } {
  const intake = live.intake();
  const totals: LiveTotals = {
    paths: 0,
    pathsBy: { announced: 0, recording: 0, paused: 0 },
    readers: 0,
    framesReceived: intake.frames,
    framesDropped: intake.framesDropped,
    framesCapped: intake.framesCapped,
    malformed: intake.malformed,
  };
  const rows: LivePathStatus[] = [];
  for (const claim of live.all) {
    const { stream } = claim;
    const session = publishers.get(stream);
    const state: LivePathState = !claim.onAir
      ? "announced"
      : session?.state === "recording"
      ? "recording"
      : "paused";
    totals.paths++;
    totals.pathsBy[state]++;
    totals.readers += stream.readers;
    if (!lists) continue;
    const { source } = stream;
    const c = source.counters;
    const recorder = session?.publisher?.recorder;
    rows.push({
      path: claim.path,
      publisher: claim.publisher,
      transport: session?.transport.kind ?? null,
      state,
      sinceSec: seconds(now - claim.claimedAt),
      fps: source.fps,
      width: source.width || null,
      height: source.height || null,
      frames: c.frames,
      framesDropped: c.framesDropped,
      framesCapped: c.framesCapped,
      malformed: c.malformed,
      readers: stream.readers,
      playing: stream.playing,
      recording: recorder
        ? {
          file: recorder.path.slice(recorder.path.lastIndexOf("/") + 1),
          frames: recorder.counters.frames,
        }
        : null,
    });
  }
  rows.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { rows, totals };
}
