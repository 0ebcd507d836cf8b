/**
 * Load generator: opens N sessions against a server running in its own
 * process and measures, per session, the frames per second it achieved, the
 * packets it lost, how far each frame's arrival strayed from the stream's own
 * schedule, and the time to the first packet; and for the server process its
 * CPU seconds per streamed session-second and its peak memory.
 *
 * `deno task bench:load` (or `deno task bench`, which runs the
 * micro-benchmarks first). Flags:
 *
 *   --sessions 1,10,100   session counts, one server process per point
 *   --modes udp,tcp,lab,live  RTP over UDP (RFC 2435), TCP interleaved, the lab
 *                         dialect, or UDP readers of a live path (below); a mode
 *                         may be listed again (udp,live,udp,live: run in that order)
 *   --repeats N           run the whole list of modes and counts N times over,
 *                         interleaved (udp, live, udp, live, ...), then print a
 *                         summary per point: mean and spread of the runs
 *   --gst / --no-gst      also run GStreamer's RTSP server (udp and tcp modes),
 *                         default: when python3-gi and gst-rtsp-server are installed
 *   --warmup 2 --duration 5   seconds before and of the measurement window
 *   --fps 20              frame rate of the stream
 *   --udp-send auto       how our server sends RTP, one run per mode listed:
 *                         gso, sendmmsg (batched, Linux FFI), portable, auto
 *   --unpaced 1,10        unpaced sessions (server.ts --fps 0): packets/s out of the
 *                         server for each --udp-send mode; "" to skip
 *   --ingest 6300,12600,16000  frame rates at which client.ts receives one
 *                         session (×~8 packets per frame): packets/s in and loss; "" to skip
 *   --scrape-metrics off,idle,on  one run of our server per value: "idle" also
 *                         serves its web side (--http-port 0), "on" also fetches
 *                         /metrics from it once a second through warm-up and
 *                         window, as Prometheus would
 *   --json FILE           where to write the results (default bench/results/load.json)
 *
 * Live (`--modes live`): the server starts with no reader; one publisher
 * process (`client.ts --publish video.mjpeg rtsp://…/live/bench --loop
 * --fps F`, over UDP, on an absolute schedule) feeds it, and once a probe
 * reader gets packets from the path, the N readers join it over UDP exactly
 * as in `udp` mode (the same receivers, start-up, warm-up and window). The
 * CPU figures are the server process's alone, not the publisher's. Columns
 * that mean something else for live: "late" is against the publisher's
 * RTP timestamps, so it includes the publisher's own pacing jitter; "1st
 * pkt" includes waiting for the publisher's next frame (up to a frame
 * period); "srv late" (the pacer's lateness) is "-" since the pacer sends no
 * live frame. In their place the server's own record, from its SIGUSR2
 * statistics over the window: "live p50/p99 ms", from a frame's last packet
 * arriving from the publisher to its packets leaving for every reader
 * (after the send call), and "from first p99", from its first packet.
 * GStreamer has no live equivalent here: live runs ours only.
 *
 * Send-time error: for each session, frame k's arrival minus (its RTP time
 * since the session's first frame in the window), less the smallest such
 * value in the session; so 0 is the least-delayed frame and the figure is
 * the lateness of the others against a drift-free schedule (sending and
 * receiving delays together, as a player would see them).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { machine } from "./_machine.ts";
import { SERVER_DEFAULTS } from "../lib/session/server/server_options.ts";
import { type LoadMode, LoadSession, waitUntilPlaying } from "./_load_session.ts";
import { epollAvailable, EpollReceiver } from "./_epoll_receiver.ts";
import { clientIngest, serverUnpaced, type ThroughputResult } from "./_load_throughput.ts";
import {
  gstAvailable,
  type LivePublisher,
  parseLiveLatency,
  parsePacing,
  parsePublisherFps,
  type ServerUnderTest,
  startGstServer,
  startLivePublisher,
  startOurServer,
} from "./_load_servers.ts";

/** The path the live mode's publisher publishes to. */
const LIVE_PATH = "live/bench";

const USAGE = `deno task bench:load [--sessions 1,10,100,250,500,1000,2000]
  [--modes udp,tcp,lab,live] [--repeats N] [--gst|--no-gst] [--warmup S] [--duration S]
  [--fps N] [--udp-send gso,sendmmsg,portable] [--grid 0,10,50] [--spread-ms MS]
  [--gst-kind shared,per-client] [--scrape-metrics off,idle,on]
  [--unpaced 1,10] [--ingest 6300,12600,16000] [--json FILE]`;

const HELP = `${USAGE}

Opens N sessions against a server in its own process and measures per session
frames/s, packets lost and arrival lateness, and for the server process CPU ms
per session-second, its kernel share and peak RSS. Markdown tables on stdout,
JSON to --json.

  --sessions LIST   session counts, one server process per point
  --modes LIST      udp (RTP over UDP), tcp (interleaved), lab (the lab dialect),
                    live (UDP readers of a live path: one publisher process,
                    client.ts --publish video.mjpeg at --fps, looping, feeds
                    rtsp://.../${LIVE_PATH}; the readers join once it plays).
                    Modes run in the order listed and may repeat: udp,live,udp,live
  --repeats N       run modes x counts N times over, interleaved; a summary per
                    point follows (mean and sd; live against udp at the same count)
  --gst, --no-gst   also run gst-rtsp-server (udp, tcp; never live: it has no
                    publishing equivalent here); default: when installed
  --gst-sessions L  counts GStreamer runs at (default 1,10,100,250,500,1000)
  --gst-kind LIST   shared (one pipeline for every client, the default) and/or
                    per-client (factory.set_shared(false): one pipeline each,
                    the like-for-like of our per-session timelines)
  --gst-per-client-sessions L  counts the per-client kind runs at, when only
                    some (default: those of --gst-sessions)
  --grid LIST       our server's --pacing-grid (ms, or auto), one run each
                    (default ${SERVER_DEFAULTS.pacingGridMs}, the server's)
  --spread-ms MS    send the sessions' PLAYs spread evenly over MS ms, as
                    independent clients would (default: one frame period);
                    every SETUP is done before the first PLAY
  --warmup S        seconds between the last session starting and the window (2)
  --duration S      seconds of the window (5)
  --fps N           frame rate of the file streams and of the publisher (20)
  --udp-send LIST   our server's --udp-send, one run each: gso, sendmmsg, portable, auto
  --scrape-metrics LIST  off, idle (--http-port 0), on (GET /metrics once a second)
  --unpaced LIST    unpaced sessions per --udp-send mode, packets/s; "" to skip
  --ingest LIST     frame rates client.ts takes in one session at; "" to skip
  --json FILE       results (default bench/results/load.json)

Live rows: "live p50/p99 ms" is the server's own record (SIGUSR2 statistics,
reset at the window's start) of the time from a frame's last packet arriving
from the publisher to its packets leaving for every reader, after the send
call; "from first p99" the same from its first packet. "late" is against the
publisher's RTP timestamps (its pacing jitter included), "1st pkt" includes
waiting for its next frame; "srv late" (the pacer) is "-". CPU is the
server's alone, not the publisher's.`;

/** What a point measures: a mode of `LoadSession`, or UDP readers of a live path. */
export type BenchMode = LoadMode | "live";

/** One measured point. */
export interface LoadResult {
  server: string;
  mode: BenchMode;
  /** Which pass over the modes and counts (`--repeats`), from 1. */
  run: number;
  sessions: number;
  /** Sessions that failed to start (with the first error). */
  failed: number;
  firstError?: string;
  windowSeconds: number;
  fpsMin: number;
  fpsMean: number;
  packetsPerSecond: number;
  mbitPerSecond: number;
  lostPackets: number;
  sessionsWithLoss: number;
  /** Datagrams the kernel dropped at full receive buffers during the point (all sockets). */
  receiverDrops: number;
  sendErrorP50Ms: number;
  sendErrorP99Ms: number;
  sendErrorMaxMs: number;
  firstPacketP50Ms: number;
  firstPacketP99Ms: number;
  firstPacketMaxMs: number;
  serverCpuSeconds: number;
  /** Server CPU ms per streamed session-second. */
  cpuMsPerSessionSecond: number;
  /** Share of that CPU time spent in the kernel (on loopback it includes delivering to the receivers). */
  kernelShare: number;
  serverPeakRssMb: number;
  /** Our server's own record of how late it sent frames (whole run), when it reports it. */
  serverLateP99Ms?: number;
  serverLateMaxMs?: number;
  /**
   * Our server's own record of the time from each PLAY to the send of its
   * first frame (grid wait included), over every play of the run.
   */
  serverFirstFrameP50Ms?: number;
  serverFirstFrameP99Ms?: number;
  serverFirstFrameMaxMs?: number;
  /** RTP packets per send system call, from our server's report. */
  packetsPerSendCall?: number;
  /** /metrics responses fetched during warm-up and window (`--scrape-metrics on`). */
  metricsScrapes?: number;
  /**
   * Live mode, the server's own record over the window: ms from a frame's
   * last packet arriving from the publisher to its packets leaving for every
   * reader (after the send call).
   */
  liveLatencyP50Ms?: number;
  liveLatencyP99Ms?: number;
  liveLatencyP999Ms?: number;
  liveLatencyMaxMs?: number;
  /** The same from the frame's first packet arriving. */
  liveFromFirstP50Ms?: number;
  liveFromFirstP99Ms?: number;
  liveFromFirstMaxMs?: number;
  /** Frames the server fanned out over the window, and the readers it counted. */
  liveFrames?: number;
  liveReaders?: number;
  /** Frames/s the publisher reports having sent, over its whole run. */
  publisherFps?: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Datagrams dropped at full receive buffers, machine-wide (/proc/net/snmp Udp RcvbufErrors). */
function rcvbufErrors(): number {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Udp:")
    );
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf("RcvbufErrors")]);
  } catch {
    return NaN;
  }
}

/**
 * Lower the generator's own priority (nice +10 on each of its threads):
 * server and generator share the machine's cores, and the server under test
 * should not wait for them. Servers run at normal priority, ours and
 * GStreamer's alike. Linux; best effort.
 */
async function yieldCpuToServer(): Promise<void> {
  try {
    const threads = [...Deno.readDirSync("/proc/self/task")].map((entry) => entry.name);
    await new Deno.Command("renice", {
      args: ["-n", "10", "-p", ...threads],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch { /* not Linux, or no renice: measure as we are */ }
}

/** Run `work` over `items`, at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(runners);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(
  server: ServerUnderTest,
  mode: BenchMode,
  count: number,
  warmupS: number,
  durationS: number,
  scrape = false,
  url = server.url,
  spreadMs = 0,
): Promise<Omit<LoadResult, "run">> {
  const drops0 = rcvbufErrors();
  const epoll = epollAvailable() ? new EpollReceiver() : undefined;
  const sessionMode: LoadMode = mode === "live" ? "udp" : mode;
  const sessions = Array.from({ length: count }, () => new LoadSession(sessionMode, url, epoll));
  const started: LoadSession[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const fail = async (session: LoadSession, error: unknown) => {
    failed++;
    firstError ??= error instanceof Error ? error.message : String(error);
    await session.stop();
  };
  const ready: LoadSession[] = [];
  await pool(sessions, 50, async (session) => {
    try {
      await session.setup();
      ready.push(session);
    } catch (error) {
      await fail(session, error);
    }
  });
  // PLAYs at spread times, as independent clients would send them: session
  // k of n at k/n of the spread.
  const t = performance.now();
  await Promise.all(ready.map(async (session, k) => {
    const at = t + (ready.length > 1 ? k * spreadMs / ready.length : 0);
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    try {
      await session.play();
      started.push(session);
    } catch (error) {
      await fail(session, error);
    }
  }));
  await yieldCpuToServer(); // again: threads started since
  const scraper = scrape ? scrapeEverySecond(`${server.httpUrl}metrics`) : undefined;
  await sleep(warmupS * 1000);
  const ours = server.name.startsWith("deno-rtsp-lab");
  if (ours) server.signal("SIGUSR2"); // its pacing lateness (and live latency) counts from here
  const cpu0 = server.cpuSeconds();
  const sys0 = server.systemSeconds();
  const t0 = performance.now();
  await sleep(durationS * 1000);
  const t1 = performance.now();
  const cpu1 = server.cpuSeconds();
  const sys1 = server.systemSeconds();
  if (ours) server.signal("SIGUSR2"); // and is reported up to here
  const peakRss = server.peakRss();
  const scrapes = await scraper?.stop();
  await pool(started, 100, (session) => session.stop());
  await epoll?.close();
  const drops = rcvbufErrors() - drops0;

  const window = (t1 - t0) / 1000;
  const fps: number[] = [];
  const errors: number[] = [];
  const firsts: number[] = [];
  let packets = 0;
  let bytes = 0;
  let lost = 0;
  let withLoss = 0;
  for (const { record } of started) {
    if (record.firstPacketMs !== undefined) firsts.push(record.firstPacketMs);
    packets += record.packets;
    bytes += record.bytes;
    lost += record.lost;
    if (record.lost > 0) withLoss++;
    let frames = 0;
    let firstTs: number | undefined;
    const late: number[] = [];
    for (let i = 0; i < record.frameArrivals.length; i++) {
      const at = record.frameArrivals[i];
      if (at < t0 || at >= t1) continue;
      frames++;
      const ts = record.frameTimestamps[i];
      firstTs ??= ts;
      late.push(at - ((ts - firstTs) >>> 0) / 90);
    }
    fps.push(frames / window);
    const base = Math.min(...late);
    for (const value of late) errors.push(value - base);
  }
  errors.sort((a, b) => a - b);
  firsts.sort((a, b) => a - b);
  // Packets and bytes over the whole session, rates over the window's share of it.
  const totalFrames = started.reduce((n, s) => n + s.record.frameArrivals.length, 0);
  const windowFrames = fps.reduce((a, b) => a + b, 0) * window;
  const share = totalFrames > 0 ? windowFrames / totalFrames : 0;
  return {
    server: server.name,
    mode,
    sessions: count,
    failed,
    firstError,
    windowSeconds: window,
    fpsMin: fps.length ? Math.min(...fps) : 0,
    fpsMean: fps.length ? fps.reduce((a, b) => a + b, 0) / fps.length : 0,
    packetsPerSecond: packets * share / window,
    mbitPerSecond: bytes * share * 8 / window / 1e6,
    lostPackets: lost,
    sessionsWithLoss: withLoss,
    receiverDrops: drops,
    sendErrorP50Ms: percentile(errors, 0.5),
    sendErrorP99Ms: percentile(errors, 0.99),
    sendErrorMaxMs: errors.length ? errors[errors.length - 1] : NaN,
    firstPacketP50Ms: percentile(firsts, 0.5),
    firstPacketP99Ms: percentile(firsts, 0.99),
    firstPacketMaxMs: firsts.length ? firsts[firsts.length - 1] : NaN,
    serverCpuSeconds: cpu1 - cpu0,
    cpuMsPerSessionSecond: (cpu1 - cpu0) * 1000 / (started.length * window),
    kernelShare: cpu1 > cpu0 ? (sys1 - sys0) / (cpu1 - cpu0) : NaN,
    serverPeakRssMb: peakRss / 1048576,
    metricsScrapes: scrapes,
  };
}

/**
 * Fetch `url` once a second, as a Prometheus scrape would, until stopped;
 * each response must be 200 and read whole. Resolves to the scrape count.
 */
function scrapeEverySecond(url: string): { stop(): Promise<number> } {
  let count = 0;
  let failure: Error | undefined;
  let last: Promise<void> = Promise.resolve();
  const scrape = async () => {
    const response = await fetch(url);
    const body = await response.text();
    if (response.status !== 200 || !body.includes("# TYPE rtsp_server_sessions gauge")) {
      throw new Error(`GET ${url}: ${response.status}`);
    }
    count++;
  };
  const timer = setInterval(() => {
    last = scrape().catch((error) => {
      failure ??= error;
    });
  }, 1000);
  return {
    async stop() {
      clearInterval(timer);
      await last;
      if (failure) throw failure;
      return count;
    },
  };
}

const COLUMNS: [string, (r: LoadResult) => string][] = [
  ["run", (r) => String(r.run)],
  ["server", (r) => r.server],
  ["mode", (r) => r.mode],
  ["sessions", (r) => String(r.sessions - r.failed) + (r.failed ? `(-${r.failed})` : "")],
  ["fps min", (r) => r.fpsMin.toFixed(2)],
  ["fps mean", (r) => r.fpsMean.toFixed(2)],
  ["pkt/s", (r) => Math.round(r.packetsPerSecond).toString()],
  ["Mbit/s", (r) => r.mbitPerSecond.toFixed(1)],
  ["lost", (r) => `${r.lostPackets}${r.sessionsWithLoss ? ` (${r.sessionsWithLoss} sess)` : ""}`],
  ["rcvbuf drops", (r) => String(r.receiverDrops)],
  ["late p50 ms", (r) => r.sendErrorP50Ms.toFixed(2)],
  ["late p99 ms", (r) => r.sendErrorP99Ms.toFixed(2)],
  ["late max ms", (r) => r.sendErrorMaxMs.toFixed(1)],
  ["1st pkt p50 ms", (r) => r.firstPacketP50Ms.toFixed(1)],
  ["1st pkt p99 ms", (r) => r.firstPacketP99Ms.toFixed(1)],
  ["CPU ms/sess-s", (r) => r.cpuMsPerSessionSecond.toFixed(3)],
  ["kernel %", (r) => (r.kernelShare * 100).toFixed(0)],
  ["peak RSS MB", (r) => r.serverPeakRssMb.toFixed(0)],
  ["srv late p99 ms", (r) => r.serverLateP99Ms?.toFixed(2) ?? "-"],
  [
    "srv 1st p50/p99 ms",
    (r) =>
      r.serverFirstFrameP99Ms === undefined
        ? "-"
        : `${r.serverFirstFrameP50Ms?.toFixed(1)} / ${r.serverFirstFrameP99Ms.toFixed(1)}`,
  ],
  ["live p50 ms", (r) => r.liveLatencyP50Ms?.toFixed(2) ?? "-"],
  ["live p99 ms", (r) => r.liveLatencyP99Ms?.toFixed(2) ?? "-"],
  ["from first p99", (r) => r.liveFromFirstP99Ms?.toFixed(2) ?? "-"],
  ["pkt/call", (r) => r.packetsPerSendCall?.toFixed(1) ?? "-"],
  ["scrapes", (r) => r.metricsScrapes?.toString() ?? "-"],
];

/** Mean and (sample) standard deviation of the numbers that are not NaN. */
function meanSd(values: (number | undefined)[]): { mean: number; sd: number } {
  const xs = values.filter((x): x is number => x !== undefined && !Number.isNaN(x));
  if (xs.length === 0) return { mean: NaN, sd: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1
    ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1))
    : 0;
  return { mean, sd };
}

/** The runs of one point (server, mode, sessions), over `--repeats` and repeated modes. */
interface PointSummary {
  server: string;
  mode: BenchMode;
  sessions: number;
  runs: number;
  /** Slowest session of any run. */
  fpsMin: number;
  lostPackets: number;
  failed: number;
  cpuMsPerSessionSecond: { mean: number; sd: number };
  /** Live: CPU against `udp` at the same server and count, as a ratio of the means. */
  cpuVsFile?: number;
  /**
   * Our server's CPU over GStreamer's (shared, and per-client) at the same
   * mode and count, one ratio per run from the pair measured in that run:
   * the median, and the lowest and highest.
   */
  vsGst?: { median: number; min: number; max: number };
  vsGstPerClient?: { median: number; min: number; max: number };
  liveLatencyP50Ms?: { mean: number; sd: number };
  liveLatencyP99Ms?: { mean: number; sd: number };
  liveLatencyP99MaxMs?: number;
  liveFromFirstP99Ms?: { mean: number; sd: number };
  /** Our server's pacing lateness p99, lowest and highest of the runs. */
  serverLateP99Ms?: { min: number; max: number };
  /** Our server's PLAY-to-first-frame p99, lowest and highest of the runs. */
  serverFirstFrameP99Ms?: { min: number; max: number };
}

/** Lowest and highest of the numbers given, or undefined when there are none. */
function span(values: (number | undefined)[]): { min: number; max: number } | undefined {
  const xs = values.filter((x): x is number => x !== undefined && !Number.isNaN(x));
  return xs.length === 0 ? undefined : { min: Math.min(...xs), max: Math.max(...xs) };
}

/** Group the runs by point, in the order the points first ran. */
function summarize(results: LoadResult[]): PointSummary[] {
  const groups = new Map<string, LoadResult[]>();
  for (const r of results) {
    const key = `${r.server}|${r.mode}|${r.sessions}`;
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  const points: PointSummary[] = [...groups.values()].map((runs) => {
    const [first] = runs;
    const point: PointSummary = {
      server: first.server,
      mode: first.mode,
      sessions: first.sessions,
      runs: runs.length,
      fpsMin: Math.min(...runs.map((r) => r.fpsMin)),
      lostPackets: runs.reduce((n, r) => n + r.lostPackets, 0),
      failed: runs.reduce((n, r) => n + r.failed, 0),
      cpuMsPerSessionSecond: meanSd(runs.map((r) => r.cpuMsPerSessionSecond)),
      serverLateP99Ms: span(runs.map((r) => r.serverLateP99Ms)),
      serverFirstFrameP99Ms: span(runs.map((r) => r.serverFirstFrameP99Ms)),
    };
    if (first.mode === "live") {
      point.liveLatencyP50Ms = meanSd(runs.map((r) => r.liveLatencyP50Ms));
      point.liveLatencyP99Ms = meanSd(runs.map((r) => r.liveLatencyP99Ms));
      point.liveLatencyP99MaxMs = Math.max(...runs.map((r) => r.liveLatencyP99Ms ?? NaN));
      point.liveFromFirstP99Ms = meanSd(runs.map((r) => r.liveFromFirstP99Ms));
    }
    return point;
  });
  const ratios = (point: PointSummary, gstName: string) => {
    const values: number[] = [];
    for (const r of results) {
      if (r.server !== point.server || r.mode !== point.mode || r.sessions !== point.sessions) {
        continue;
      }
      const gst = results.find((g) =>
        g.server === gstName && g.run === r.run && g.mode === r.mode && g.sessions === r.sessions
      );
      if (gst && gst.cpuMsPerSessionSecond > 0) {
        values.push(r.cpuMsPerSessionSecond / gst.cpuMsPerSessionSecond);
      }
    }
    if (values.length === 0) return undefined;
    values.sort((a, b) => a - b);
    const mid = values.length >> 1;
    const median = values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    return { median, min: values[0], max: values.at(-1)! };
  };
  for (const point of points) {
    if (!point.server.startsWith("deno-rtsp-lab")) continue;
    point.vsGst = ratios(point, "gst-rtsp-server");
    point.vsGstPerClient = ratios(point, "gst-rtsp-server per-client");
  }
  for (const point of points) {
    if (point.mode !== "live") continue;
    const file = points.find((p) =>
      p.mode === "udp" && p.server === point.server && p.sessions === point.sessions
    );
    if (file) point.cpuVsFile = point.cpuMsPerSessionSecond.mean / file.cpuMsPerSessionSecond.mean;
  }
  return points;
}

const pm = (v: { mean: number; sd: number } | undefined, digits: number) =>
  v === undefined || Number.isNaN(v.mean)
    ? "-"
    : `${v.mean.toFixed(digits)} ± ${v.sd.toFixed(digits)}`;

const ratioCell = (r: { median: number; min: number; max: number } | undefined) =>
  r === undefined
    ? "-"
    : r.min === r.max
    ? r.median.toFixed(2)
    : `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;

const spanCell = (r: { min: number; max: number } | undefined) =>
  r === undefined
    ? "-"
    : r.min === r.max
    ? r.min.toFixed(2)
    : `${r.min.toFixed(2)}–${r.max.toFixed(2)}`;

const SUMMARY_COLUMNS: [string, (p: PointSummary) => string][] = [
  ["server", (p) => p.server],
  ["mode", (p) => p.mode],
  ["sessions", (p) => String(p.sessions) + (p.failed ? ` (${p.failed} failed)` : "")],
  ["runs", (p) => String(p.runs)],
  ["fps min (any run)", (p) => p.fpsMin.toFixed(2)],
  ["lost (all runs)", (p) => String(p.lostPackets)],
  ["CPU ms/sess-s mean ± sd", (p) => pm(p.cpuMsPerSessionSecond, 3)],
  [
    "CPU vs udp",
    (p) =>
      p.cpuVsFile === undefined
        ? "-"
        : `${p.cpuVsFile >= 1 ? "+" : ""}${((p.cpuVsFile - 1) * 100).toFixed(1)}%`,
  ],
  ["vs GStreamer (median, min–max)", (p) => ratioCell(p.vsGst)],
  ["vs GStreamer per-client", (p) => ratioCell(p.vsGstPerClient)],
  ["srv late p99 ms (min–max)", (p) => spanCell(p.serverLateP99Ms)],
  ["srv 1st frame p99 ms (min–max)", (p) => spanCell(p.serverFirstFrameP99Ms)],
  ["live p50 ms", (p) => pm(p.liveLatencyP50Ms, 2)],
  ["live p99 ms", (p) => pm(p.liveLatencyP99Ms, 2)],
  ["live p99 max", (p) => p.liveLatencyP99MaxMs?.toFixed(2) ?? "-"],
  ["from first p99", (p) => pm(p.liveFromFirstP99Ms, 2)],
];

const THROUGHPUT_COLUMNS: [string, (r: ThroughputResult) => string][] = [
  ["test", (r) => r.test],
  ["udp send", (r) => r.udpSend],
  ["sessions", (r) => String(r.sessions)],
  ["fps", (r) => r.fps === 0 ? "unpaced" : String(r.fps)],
  ["server pkt/s", (r) => Math.round(r.serverPacketsPerSecond).toString()],
  ["server Mbit/s", (r) => r.serverMbitPerSecond.toFixed(0)],
  [
    "received pkt/s",
    (r) => Number.isNaN(r.receivedPerSecond) ? "-" : Math.round(r.receivedPerSecond).toString(),
  ],
  ["lost %", (r) => r.lostPercent.toFixed(2)],
];

/** A markdown table row. */
function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "1,10,100,250,500,1000,2000" },
      modes: { type: "string", default: "udp" },
      repeats: { type: "string", default: "1" },
      gst: { type: "boolean" },
      "no-gst": { type: "boolean" },
      "gst-sessions": { type: "string", default: "1,10,100,250,500,1000" },
      warmup: { type: "string", default: "2" },
      duration: { type: "string", default: "5" },
      fps: { type: "string", default: "20" },
      "udp-send": { type: "string", default: "auto" },
      grid: { type: "string", default: String(SERVER_DEFAULTS.pacingGridMs) },
      "spread-ms": { type: "string" },
      "gst-kind": { type: "string", default: "shared" },
      "gst-per-client-sessions": { type: "string" },
      "scrape-metrics": { type: "string", default: "off" },
      unpaced: { type: "string", default: "1,10" },
      ingest: { type: "string", default: "6300,12600,16000" },
      json: { type: "string", default: "bench/results/load.json" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const list = (text: string) => text.split(",").filter((x) => x.trim() !== "").map(Number);
  const counts = list(values.sessions);
  const gstCounts = new Set(values["gst-sessions"].split(",").map(Number));
  const modes = values.modes.split(",") as BenchMode[];
  for (const mode of modes) {
    if (!["udp", "tcp", "lab", "live"].includes(mode)) {
      throw new Error(`unknown mode ${mode}\n${USAGE}`);
    }
  }
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new Error(`--repeats takes a whole number from 1\n${USAGE}`);
  }
  const web = values["scrape-metrics"].split(",").map((value) => {
    if (!["off", "idle", "on"].includes(value)) {
      throw new Error(`--scrape-metrics takes off, idle and on\n${USAGE}`);
    }
    return value as "off" | "idle" | "on";
  });
  const warmup = Number(values.warmup);
  const duration = Number(values.duration);
  const fps = Number(values.fps);
  const grids = values.grid.split(",").map((g) => g.trim()).filter((g) => g !== "");
  if (
    grids.length === 0 || grids.some((g) => g !== "auto" && !(Number(g) >= 0 && Number(g) <= 1000))
  ) {
    throw new Error(`--grid takes auto, or ms from 0 to 1000\n${USAGE}`);
  }
  const spreadMs = values["spread-ms"] === undefined ? 1000 / fps : Number(values["spread-ms"]);
  if (!(spreadMs >= 0)) throw new Error(`--spread-ms takes a number of ms, 0 or more\n${USAGE}`);
  const gstKinds = values["gst-kind"].split(",");
  const perClientCounts = values["gst-per-client-sessions"] === undefined
    ? undefined
    : new Set(list(values["gst-per-client-sessions"]));
  if (gstKinds.some((k) => k !== "shared" && k !== "per-client")) {
    throw new Error(`--gst-kind takes shared and per-client\n${USAGE}`);
  }
  const withGst = values["no-gst"] ? false : values.gst ?? await gstAvailable();
  if (!withGst) {
    console.log(
      values["no-gst"]
        ? "GStreamer comparison off (--no-gst)"
        : "GStreamer comparison skipped: python3-gi / gir1.2-gst-rtsp-server-1.0 not installed",
    );
  }

  if (withGst && modes.includes("live")) {
    console.log("GStreamer: no live (publishing) equivalent here; live runs ours only");
  }

  const info = await machine();
  console.log(
    `machine: ${info.cpu}, ${info.cores} cores, Linux ${info.kernel}, Deno ${info.deno}, ${info.gstreamer}`,
  );
  console.log(
    `stream: video.mjpeg at ${fps} fps; window ${duration} s after ${warmup} s warm-up` +
      (modes.includes("live")
        ? `; live: one publisher (client.ts --publish, UDP, looping) to /${LIVE_PATH}`
        : "") +
      (repeats > 1 ? `; ${repeats} passes, interleaved` : "") + "\n",
  );
  console.log(row(COLUMNS.map(([name]) => name)));
  console.log(row(COLUMNS.map(() => "---")));

  const results: LoadResult[] = [];
  for (let run = 1; run <= repeats; run++) {
    for (const mode of modes) {
      for (const count of counts) {
        await point(run, mode, count);
      }
    }
  }

  /** One mode at one count: against each server configuration in turn. */
  async function point(run: number, mode: BenchMode, count: number): Promise<void> {
    const servers: { start(): Promise<ServerUnderTest>; scrape?: boolean }[] = [];
    for (const udpSend of values["udp-send"].split(",")) {
      for (const grid of grids) {
        for (const side of web) {
          servers.push({
            start: async () => {
              const server = await startOurServer({
                fps,
                maxSessions: count,
                udpSend,
                http: side !== "off",
                flags: ["--pacing-grid", String(grid)],
              });
              const suffix = (grids.length > 1 ? ` grid ${grid}` : "") +
                { off: "", idle: " +http", on: " +http /metrics 1/s" }[side];
              return { ...server, name: server.name + suffix };
            },
            scrape: side === "on",
          });
        }
      }
    }
    if (withGst && mode !== "lab" && mode !== "live" && gstCounts.has(count)) {
      for (const kind of gstKinds) {
        if (kind === "per-client" && perClientCounts && !perClientCounts.has(count)) continue;
        servers.push({
          start: () =>
            startGstServer(fps, warmup + duration + 60 + count / 20, kind === "per-client"),
        });
      }
    }
    for (const { start, scrape } of servers) {
      const server = await start();
      let measured: Omit<LoadResult, "run">;
      let stderr = "";
      let publisher: LivePublisher | undefined;
      let published = "";
      try {
        let url = server.url;
        if (mode === "live") {
          url = server.url.replace(/video\.mjpeg$/, LIVE_PATH);
          const live = startLivePublisher(url, fps);
          publisher = live;
          const died = live.exited.then((code) =>
            live.stop().then((output) => {
              throw new Error(`the publisher exited (${code}): ${output.trim()}`);
            })
          );
          died.catch(() => {});
          await Promise.race([waitUntilPlaying(url, 20_000), died]);
        }
        measured = await measure(server, mode, count, warmup, duration, scrape, url, spreadMs);
      } finally {
        if (publisher) published = await publisher.stop();
        stderr = await server.stop();
      }
      const result: LoadResult = { run, ...measured };
      const pacing = parsePacing(stderr);
      if (pacing) {
        // Live frames do not go through the pacer: its lateness is not theirs.
        if (mode !== "live") {
          result.serverLateP99Ms = pacing.p99;
          result.serverLateMaxMs = pacing.max;
          result.serverFirstFrameP50Ms = pacing.firstFrame?.p50;
          result.serverFirstFrameP99Ms = pacing.firstFrame?.p99;
          result.serverFirstFrameMaxMs = pacing.firstFrame?.max;
        }
        result.packetsPerSendCall = pacing.packetsPerCall;
      }
      if (mode === "live") {
        const live = parseLiveLatency(stderr, LIVE_PATH);
        if (live) {
          result.liveLatencyP50Ms = live.p50;
          result.liveLatencyP99Ms = live.p99;
          result.liveLatencyP999Ms = live.p999;
          result.liveLatencyMaxMs = live.max;
          result.liveFromFirstP50Ms = live.fromFirstP50;
          result.liveFromFirstP99Ms = live.fromFirstP99;
          result.liveFromFirstMaxMs = live.fromFirstMax;
          result.liveFrames = live.frames;
          result.liveReaders = live.readers;
        }
        result.publisherFps = parsePublisherFps(published);
      }
      results.push(result);
      console.log(row(COLUMNS.map(([, cell]) => cell(result))));
      if (result.firstError) console.log(`  (first failure: ${result.firstError})`);
    }
  }
  const summary = summarize(results);
  if (summary.some((p) => p.runs > 1 || p.cpuVsFile !== undefined || p.vsGst !== undefined)) {
    console.log("\nper point, over its runs\n");
    console.log(row(SUMMARY_COLUMNS.map(([name]) => name)));
    console.log(row(SUMMARY_COLUMNS.map(() => "---")));
    for (const p of summary) console.log(row(SUMMARY_COLUMNS.map(([, cell]) => cell(p))));
  }
  const throughput: ThroughputResult[] = [];
  if (list(values.unpaced).length + list(values.ingest).length > 0) {
    console.log("\nthroughput (one window of " + duration + " s each)\n");
    console.log(row(THROUGHPUT_COLUMNS.map(([name]) => name)));
    console.log(row(THROUGHPUT_COLUMNS.map(() => "---")));
    const show = (result: ThroughputResult) => {
      throughput.push(result);
      console.log(row(THROUGHPUT_COLUMNS.map(([, cell]) => cell(result))));
    };
    for (const udpSend of ["gso", "sendmmsg", "portable"]) {
      for (const count of list(values.unpaced)) {
        try {
          show(await serverUnpaced(udpSend, count, duration));
        } catch (error) {
          console.log(
            `| ${udpSend} | unpaced ${count}: ${error instanceof Error ? error.message : error} |`,
          );
        }
      }
    }
    for (const rate of list(values.ingest)) show(await clientIngest(rate, duration));
  }

  await Deno.mkdir(new URL(".", new URL(values.json, `file://${Deno.cwd()}/`)), {
    recursive: true,
  });
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { date: new Date().toISOString(), machine: info, fps, results, summary, throughput },
      null,
      2,
    ) +
      "\n",
  );
  console.log(`\nresults written to ${values.json}`);
}

if (import.meta.main) await main();
