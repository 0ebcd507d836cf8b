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
 *   --modes udp,tcp,lab   RTP over UDP (RFC 2435), TCP interleaved, the lab dialect
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
import { type LoadMode, LoadSession } from "./_load_session.ts";
import { epollAvailable, EpollReceiver } from "./_epoll_receiver.ts";
import { clientIngest, serverUnpaced, type ThroughputResult } from "./_load_throughput.ts";
import {
  gstAvailable,
  parsePacing,
  type ServerUnderTest,
  startGstServer,
  startOurServer,
} from "./_load_servers.ts";

const USAGE = `deno task bench:load [--sessions 1,10,100,250,500,1000,2000]
  [--modes udp,tcp,lab] [--gst|--no-gst] [--warmup S] [--duration S] [--fps N]
  [--udp-send gso,sendmmsg,portable] [--scrape-metrics off,idle,on] [--json FILE]`;

/** One measured point. */
export interface LoadResult {
  server: string;
  mode: LoadMode;
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
  /** RTP packets per send system call, from our server's report. */
  packetsPerSendCall?: number;
  /** /metrics responses fetched during warm-up and window (`--scrape-metrics on`). */
  metricsScrapes?: number;
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
  mode: LoadMode,
  count: number,
  warmupS: number,
  durationS: number,
  scrape = false,
): Promise<LoadResult> {
  const drops0 = rcvbufErrors();
  const epoll = epollAvailable() ? new EpollReceiver() : undefined;
  const sessions = Array.from({ length: count }, () => new LoadSession(mode, server.url, epoll));
  const started: LoadSession[] = [];
  let failed = 0;
  let firstError: string | undefined;
  await pool(sessions, 50, async (session) => {
    try {
      await session.start();
      started.push(session);
    } catch (error) {
      failed++;
      firstError ??= error instanceof Error ? error.message : String(error);
      await session.stop();
    }
  });
  await yieldCpuToServer(); // again: threads started since
  const scraper = scrape ? scrapeEverySecond(`${server.httpUrl}metrics`) : undefined;
  await sleep(warmupS * 1000);
  const ours = server.name.startsWith("deno-rtsp-lab");
  if (ours) server.signal("SIGUSR2"); // its pacing lateness counts from here
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
  ["pkt/call", (r) => r.packetsPerSendCall?.toFixed(1) ?? "-"],
  ["scrapes", (r) => r.metricsScrapes?.toString() ?? "-"],
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
      gst: { type: "boolean" },
      "no-gst": { type: "boolean" },
      "gst-sessions": { type: "string", default: "1,10,100,250,500,1000" },
      warmup: { type: "string", default: "2" },
      duration: { type: "string", default: "5" },
      fps: { type: "string", default: "20" },
      "udp-send": { type: "string", default: "auto" },
      "scrape-metrics": { type: "string", default: "off" },
      unpaced: { type: "string", default: "1,10" },
      ingest: { type: "string", default: "6300,12600,16000" },
      json: { type: "string", default: "bench/results/load.json" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const list = (text: string) => text.split(",").filter((x) => x.trim() !== "").map(Number);
  const counts = list(values.sessions);
  const gstCounts = new Set(values["gst-sessions"].split(",").map(Number));
  const modes = values.modes.split(",") as LoadMode[];
  for (const mode of modes) {
    if (!["udp", "tcp", "lab"].includes(mode)) throw new Error(`unknown mode ${mode}\n${USAGE}`);
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
  const withGst = values["no-gst"] ? false : values.gst ?? await gstAvailable();
  if (!withGst) {
    console.log(
      values["no-gst"]
        ? "GStreamer comparison off (--no-gst)"
        : "GStreamer comparison skipped: python3-gi / gir1.2-gst-rtsp-server-1.0 not installed",
    );
  }

  const info = await machine();
  console.log(
    `machine: ${info.cpu}, ${info.cores} cores, Linux ${info.kernel}, Deno ${info.deno}, ${info.gstreamer}`,
  );
  console.log(
    `stream: video.mjpeg at ${fps} fps; window ${duration} s after ${warmup} s warm-up\n`,
  );
  console.log(row(COLUMNS.map(([name]) => name)));
  console.log(row(COLUMNS.map(() => "---")));

  const results: LoadResult[] = [];
  for (const mode of modes) {
    for (const count of counts) {
      const servers: { start(): Promise<ServerUnderTest>; scrape?: boolean }[] = [];
      for (const udpSend of values["udp-send"].split(",")) {
        for (const side of web) {
          servers.push({
            start: async () => {
              const server = await startOurServer({
                fps,
                maxSessions: count,
                udpSend,
                http: side !== "off",
              });
              const suffix = { off: "", idle: " +http", on: " +http /metrics 1/s" }[side];
              return { ...server, name: server.name + suffix };
            },
            scrape: side === "on",
          });
        }
      }
      if (withGst && mode !== "lab" && gstCounts.has(count)) {
        servers.push({ start: () => startGstServer(fps, warmup + duration + 60 + count / 20) });
      }
      for (const { start, scrape } of servers) {
        const server = await start();
        let result: LoadResult;
        let stderr = "";
        try {
          result = await measure(server, mode, count, warmup, duration, scrape);
        } finally {
          stderr = await server.stop();
        }
        const pacing = parsePacing(stderr);
        if (pacing) {
          result.serverLateP99Ms = pacing.p99;
          result.serverLateMaxMs = pacing.max;
          result.packetsPerSendCall = pacing.packetsPerCall;
        }
        results.push(result);
        console.log(row(COLUMNS.map(([, cell]) => cell(result))));
        if (result.firstError) console.log(`  (first failure: ${result.firstError})`);
      }
    }
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
      { date: new Date().toISOString(), machine: info, fps, results, throughput },
      null,
      2,
    ) +
      "\n",
  );
  console.log(`\nresults written to ${values.json}`);
}

if (import.meta.main) await main();
