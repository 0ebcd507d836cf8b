/**
 * Throughput without pacing, for the load generator: how many packets/s our
 * server sends for unpaced sessions (`server.ts --fps 0`), how many of them
 * the generator's receivers took in, and how many packets/s the project's
 * own client (`client.ts`) takes in without loss from a paced stream.
 *
 * @module
 */
import { epollAvailable, EpollReceiver } from "./_epoll_receiver.ts";
import { LoadSession } from "./_load_session.ts";
import { parseRtpSent, startOurServer } from "./_load_servers.ts";

const ROOT = new URL("..", import.meta.url);

/** One throughput measurement. */
export interface ThroughputResult {
  test: "server unpaced" | "client ingest";
  /** How our server sent RTP (its --udp-send). */
  udpSend: string;
  sessions: number;
  /** Frames/s asked of the server; 0 = unpaced. */
  fps: number;
  seconds: number;
  /** Packets/s the server handed to the kernel (its own count). */
  serverPacketsPerSecond: number;
  serverMbitPerSecond: number;
  /** Packets/s the receiving side took in, and what it counted lost. */
  receivedPerSecond: number;
  lostPercent: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Average bytes of our RTP/JPEG packets of video.mjpeg (1400-byte packets, shorter last ones). */
let meanPacketBytes = 1300;

/** Unpaced sessions: packets/s out of the server, and what the generator's receivers got. */
export async function serverUnpaced(
  udpSend: string,
  sessions: number,
  seconds: number,
): Promise<ThroughputResult> {
  const server = await startOurServer({ fps: 0, maxSessions: sessions, udpSend });
  const epoll = epollAvailable() ? new EpollReceiver() : undefined;
  const started: LoadSession[] = [];
  let stderr = "";
  let window = seconds;
  try {
    for (let i = 0; i < sessions; i++) {
      const session = new LoadSession("udp", server.url, epoll);
      await session.start();
      started.push(session);
    }
    await sleep(500);
    server.signal("SIGUSR2");
    const t0 = performance.now();
    await sleep(seconds * 1000);
    server.signal("SIGUSR2");
    window = (performance.now() - t0) / 1000;
    await sleep(100); // let the statistics line reach the pipe
  } finally {
    for (const session of started) await session.stop();
    await epoll?.close();
    stderr = await server.stop();
  }
  const sent = parseRtpSent(stderr);
  const serverPackets = sent.length >= 2 ? sent[sent.length - 1] - sent[sent.length - 2] : NaN;
  const received = started.reduce((n, s) => n + s.record.packets, 0);
  const bytes = started.reduce((n, s) => n + s.record.bytes, 0);
  const lost = started.reduce((n, s) => n + s.record.lost, 0);
  if (received > 0) meanPacketBytes = bytes / received;
  // Receivers counted over the whole session, the server over the window.
  return {
    test: "server unpaced",
    udpSend,
    sessions,
    fps: 0,
    seconds: window,
    serverPacketsPerSecond: serverPackets / window,
    serverMbitPerSecond: serverPackets * meanPacketBytes * 8 / window / 1e6,
    receivedPerSecond: NaN,
    lostPercent: 100 * lost / Math.max(1, lost + received),
  };
}

/** The project's client on a paced stream at `fps`: packets/s in, and loss. */
export async function clientIngest(fps: number, seconds: number): Promise<ThroughputResult> {
  const server = await startOurServer({ fps, maxSessions: 1 });
  let output = "";
  try {
    const url = new URL(server.url.replace(/^rtsp:/, "http:"));
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=client",
        "client.ts",
        url.hostname,
        url.port,
        "0",
        "video.mjpeg",
        "--dialect",
        "rtsp",
        "--duration",
        String(seconds),
        "--quiet",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
  } finally {
    await server.stop();
  }
  const packets = /packets\s+(\d+) received of (\d+) expected, (\d+) lost/.exec(output);
  const duration = /duration\s+([\d.]+) s/.exec(output);
  if (!packets || !duration) throw new Error(`client.ts printed no statistics:\n${output}`);
  const window = Number(duration[1]);
  return {
    test: "client ingest",
    udpSend: "auto",
    sessions: 1,
    fps,
    seconds: window,
    serverPacketsPerSecond: Number(packets[2]) / window,
    serverMbitPerSecond: Number(packets[2]) * meanPacketBytes * 8 / window / 1e6,
    receivedPerSecond: Number(packets[1]) / window,
    lostPercent: 100 * Number(packets[3]) / Math.max(1, Number(packets[2])),
  };
}
