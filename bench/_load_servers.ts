/**
 * The servers the load generator measures, each in its own process so its
 * CPU time and memory can be read from /proc: ours (`server.ts`) and, when
 * installed, GStreamer's RTSP server (gst-rtsp-server through python3-gi,
 * `tests/_gst_rtsp_server.py`) on the same JPEGs.
 *
 * @module
 */
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";

const ROOT = new URL("..", import.meta.url);

/** A server process under test. */
export interface ServerUnderTest {
  /** "deno-rtsp-lab" or "gst-rtsp-server". */
  readonly name: string;
  readonly pid: number;
  /** rtsp:// URL of the stream. */
  readonly url: string;
  /** The server's HTTP side (ours with --http-port), e.g. `http://127.0.0.1:8080/`. */
  readonly httpUrl?: string;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  /** CPU seconds in the kernel (system time) so far. */
  systemSeconds(): number;
  /** Peak resident set size so far, in bytes. */
  peakRss(): number;
  /** Send a signal to the server process (ours prints statistics on SIGUSR2). */
  signal(signal: Deno.Signal): void;
  /** Stop the server; resolves to what it printed on stderr. */
  stop(): Promise<string>;
}

/** Pacing lateness from our server's shutdown line, in ms. */
export interface ServerPacing {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** RTP packets per send system call (batched sending), when reported. */
  packetsPerCall: number;
  /** From PLAY to the send of the first frame, per play since the server started, ms. */
  firstFrame?: { p50: number; p99: number; max: number };
}

/**
 * Read the pacing figures out of the last statistics line server.ts printed
 * (on SIGUSR2: lateness since the previous one), if there is one.
 */
export function parsePacing(stderr: string): ServerPacing | undefined {
  const lines = stderr.split("\n").filter((line) => line.startsWith("rtsp-server: statistics"));
  const line = lines.at(-1);
  if (line === undefined) return undefined;
  const late =
    /pacing lateness p50 ([\d.]+) ms, p99 ([\d.]+) ms, p99\.9 ([\d.]+) ms, max ([\d.]+) ms/
      .exec(line);
  if (!late) return undefined;
  const calls = /(\d+) RTP packets over UDP in (\d+) send calls/.exec(line);
  const first = /first frame after PLAY p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms/
    .exec(line);
  return {
    firstFrame: first
      ? { p50: Number(first[1]), p99: Number(first[2]), max: Number(first[3]) }
      : undefined,
    p50: Number(late[1]),
    p99: Number(late[2]),
    p999: Number(late[3]),
    max: Number(late[4]),
    packetsPerCall: calls ? Number(calls[1]) / Math.max(1, Number(calls[2])) : NaN,
  };
}

/** A live path's latency from our server's last statistics line, in ms. */
export interface ServerLiveLatency {
  /** Readers playing the path when the line was printed. */
  readers: number;
  /** From a frame's last packet arriving from the publisher to its packets leaving for every reader. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** The same from the frame's first packet arriving. */
  fromFirstP50: number;
  fromFirstP99: number;
  fromFirstMax: number;
  /** Frames fanned out to the readers over the period the line covers. */
  frames: number;
}

/**
 * Read live path `path`'s latency out of the last statistics line server.ts
 * printed (on SIGUSR2: since the previous one), if it lists the path.
 */
export function parseLiveLatency(stderr: string, path: string): ServerLiveLatency | undefined {
  const lines = stderr.split("\n").filter((line) => line.startsWith("rtsp-server: statistics"));
  const line = lines.at(-1);
  if (line === undefined) return undefined;
  const escaped = path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const n = "([\\d.]+)";
  const match = new RegExp(
    `; live ${escaped}: (\\d+) readers, latency from a frame's last packet p50 ${n} ms, ` +
      `p99 ${n} ms, p99\\.9 ${n} ms, max ${n} ms, from its first p50 ${n} ms, p99 ${n} ms, ` +
      `max ${n} ms over (\\d+) frames × readers`,
  ).exec(line);
  if (!match) return undefined;
  const [readers, p50, p99, p999, max, fromFirstP50, fromFirstP99, fromFirstMax, frames] = match
    .slice(1).map(Number);
  return { readers, p50, p99, p999, max, fromFirstP50, fromFirstP99, fromFirstMax, frames };
}

/** RTP packets sent so far, from each statistics line server.ts printed (SIGUSR2), in order. */
export function parseRtpSent(stderr: string): number[] {
  return stderr.split("\n")
    .filter((line) => line.startsWith("rtsp-server: statistics"))
    .map((line) => Number(/(\d+) RTP packets over UDP/.exec(line)?.[1] ?? NaN));
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** User and system CPU seconds of a process so far. */
function procCpu(pid: number): { user: number; system: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may contain spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14 of the full line
  const stime = Number(fields[12]); // field 15
  return { user: utime / USER_HZ, system: stime / USER_HZ };
}

function procPeakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Read lines from a child's stream until one matches, or fail after `timeoutMs`. */
async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<RegExpExecArray> {
  const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not start in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([lines.read(), timeout]);
      if (done) throw new Error(`${what} exited before it was ready: ${buffered.trim()}`);
      buffered += value;
      const match = pattern.exec(buffered);
      if (match) {
        // Keep draining so the child never blocks on a full pipe.
        (async () => {
          try {
            while (!(await lines.read()).done);
          } catch { /* closed */ }
        })();
        return match;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Collect a child's stderr as text. */
function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text().catch(() => "");
}

function underTest(
  name: string,
  child: Deno.ChildProcess,
  url: string,
  cleanup: () => Promise<void> = async () => {},
): ServerUnderTest {
  const stderr = collect(child.stderr);
  return {
    name,
    pid: child.pid,
    url,
    cpuSeconds: () => {
      const { user, system } = procCpu(child.pid);
      return user + system;
    },
    systemSeconds: () => procCpu(child.pid).system,
    peakRss: () => procPeakRss(child.pid),
    signal: (signal) => child.kill(signal),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await cleanup();
      return await stderr;
    },
  };
}

/** Options for {@linkcode startOurServer}. */
export interface OurServerOptions {
  fps: number;
  maxSessions: number;
  /** How RTP leaves (server.ts --udp-send). @default {"auto"} */
  udpSend?: string;
  /** Extra command-line flags. */
  flags?: string[];
  /** Also serve the web side (`--http-port 0`); its URL becomes `httpUrl`. @default {false} */
  http?: boolean;
}

/** Start `server.ts` on a free port, serving video.mjpeg in a loop. */
export async function startOurServer(options: OurServerOptions): Promise<ServerUnderTest> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=server",
      "server.ts",
      "0",
      "--host",
      "127.0.0.1",
      "--quiet",
      "--loop",
      "--fps",
      String(options.fps),
      "--max-connections",
      String(options.maxSessions + 100),
      "--max-sessions",
      String(options.maxSessions + 100),
      "--udp-send",
      options.udpSend ?? "auto",
      ...options.http ? ["--http-port", "0"] : [],
      ...options.flags ?? [],
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const match = await waitForLine(
    child.stdout,
    options.http
      ? /on (rtsp:\/\/[^ ]+\/) .*, ([a-z+]+)[^,]*\)$[\s\S]*?HTTP on (http:\/\/[^ ]+\/)/m
      : /on (rtsp:\/\/[^ ]+\/) .*, ([a-z+]+)[^,]*\)$/m,
    20_000,
    "server.ts",
  );
  const server = underTest(`deno-rtsp-lab ${match[2]}`, child, `${match[1]}video.mjpeg`);
  return options.http ? { ...server, httpUrl: match[3] } : server;
}

/** Whether GStreamer's RTSP server can be started (python3-gi and gst-rtsp-server). */
export async function gstAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Start GStreamer's RTSP server (shared media, rtpjpegpay) on video.mjpeg's
 * own JPEGs, repeated to last `seconds`: imagesequencesrc cannot loop, so the
 * sequence is the file's frames over and over (hard links, no copies).
 */
export async function startGstServer(
  fps: number,
  seconds: number,
  perClient = false,
): Promise<ServerUnderTest> {
  const dir = await Deno.makeTempDir({ prefix: "rtsp-bench-gst-" });
  const video = await Deno.readFile(new URL("video.mjpeg", ROOT));
  const frames = [...readLabFrames(video)].map((f) => f.data);
  const count = Math.ceil(seconds * fps);
  for (let i = 0; i < frames.length; i++) {
    await Deno.writeFile(`${dir}/${String(i).padStart(6, "0")}.jpg`, frames[i]);
  }
  for (let i = frames.length; i < count; i++) {
    await Deno.link(
      `${dir}/${String(i % frames.length).padStart(6, "0")}.jpg`,
      `${dir}/${String(i).padStart(6, "0")}.jpg`,
    );
  }
  const child = new Deno.Command("/usr/bin/python3", {
    args: [
      new URL("tests/_gst_rtsp_server.py", ROOT).pathname,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--mount",
      "/video.mjpeg",
      "--jpeg-pattern",
      `${dir}/%06d.jpg`,
      "--frames",
      String(Math.max(count, frames.length)),
      "--fps",
      String(fps),
      "--lifetime",
      String(seconds + 60),
      ...perClient ? ["--per-client"] : [],
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const match = await waitForLine(child.stdout, /READY (\d+)/, 20_000, "gst-rtsp-server");
  return underTest(
    perClient ? "gst-rtsp-server per-client" : "gst-rtsp-server",
    child,
    `rtsp://127.0.0.1:${match[1]}/video.mjpeg`,
    () => Deno.remove(dir, { recursive: true }),
  );
}

/** A publisher process feeding a live path (`client.ts --publish`). */
export interface LivePublisher {
  readonly pid: number;
  /** Resolves when the process has exited, to its exit code. */
  readonly exited: Promise<number>;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  /**
   * Stop publishing (SIGINT: RTCP BYE and TEARDOWN); resolves to what it
   * printed, stdout then stderr.
   */
  stop(): Promise<string>;
}

/**
 * Start `client.ts --publish` sending video.mjpeg in a loop at `fps` to
 * `url` (rtsp://host:port/path) over UDP, on an absolute schedule, as its
 * own process at normal priority: its CPU is not the server's.
 */
export function startLivePublisher(url: string, fps: number): LivePublisher {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=client",
      "client.ts",
      "--publish",
      "video.mjpeg",
      url,
      "--fps",
      String(fps),
      "--loop",
      "--transport",
      "udp",
      "--quiet",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const exited = child.status.then((status) => status.code);
  return {
    pid: child.pid,
    exited,
    cpuSeconds: () => {
      const { user, system } = procCpu(child.pid);
      return user + system;
    },
    async stop() {
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await exited;
      clearTimeout(timer);
      return (await stdout) + (await stderr);
    },
  };
}

/** The frame rate the publisher reports in its summary line, if it printed one. */
export function parsePublisherFps(output: string): number | undefined {
  const match = /published \d+ frames .*: ([\d.]+) frames\/s/.exec(output);
  return match ? Number(match[1]) : undefined;
}
