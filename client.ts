/**
 * `rtsp-client`: the lab's client without a window. It sets up and plays a
 * stream, writes every complete frame as a JPEG, and reports statistics.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  formatSummary,
  frameFileName,
  type ReceptionSummary,
  RtspClientError,
  StreamClient,
} from "./mod.ts";

const USAGE = `Usage: rtsp-client <server_host> <server_port> <rtp_port> <video_file> [options]
       rtsp-client rtsp://host[:port]/path [options]

Plays <video_file> from an RTSP server, receiving RTP on UDP <rtp_port>
(0 picks a free port; in standard RTSP, RTCP uses the port above), and
reports statistics. A plain run does SETUP and PLAY (DESCRIBE first in
standard RTSP), receives until the stream ends (an RTCP BYE, or silence, or
--frames/--duration), then TEARDOWN.

Options:
  --out DIR          write each complete frame as DIR/frame_NNNNNN.jpg
  --frames N         stop after N complete frames
  --duration SEC     stop after SEC seconds of receiving
  --end-after SEC    the stream has ended when no packet came for SEC s (default 2)
  --mjpeg FILE       also record complete frames into FILE in the lab MJPEG format
  --stats FILE       also write the statistics as JSON to FILE
  --dialect D        auto (default: standard RTSP, or the lab's dialect when the
                     server does not answer OPTIONS within 0.5 s), lab (the lab's
                     exact format) or rtsp (standard RTSP)
  --transport T      udp (default) or tcp (RTP interleaved on the RTSP connection;
                     standard RTSP only)
  --rtp-port N       RTP port for the rtsp:// form (default 0: a free one)
  --interactive      read commands from stdin, one per line: setup, play,
                     pause, teardown, stats, quit (the lab's four buttons)
  --quiet            no live status line
  -h, --help         this help

Example: rtsp-client 127.0.0.1 1025 5008 video.mjpeg --out frames/`;

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function usageError(message: string): never {
  console.error(`rtsp-client: ${message}\n\n${USAGE}`);
  Deno.exit(EXIT_USAGE);
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) usageError(`${name} "${text}" is not a positive number`);
  return n;
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        out: { type: "string" },
        frames: { type: "string" },
        duration: { type: "string" },
        "end-after": { type: "string", default: "2" },
        stats: { type: "string" },
        mjpeg: { type: "string" },
        dialect: { type: "string", default: "auto" },
        transport: { type: "string", default: "udp" },
        "rtp-port": { type: "string", default: "0" },
        interactive: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  let host: string, portText: string, rtpText: string, resource: string;
  if (positionals.length === 1 && /^rtsp:\/\//i.test(positionals[0])) {
    let url: URL;
    try {
      url = new URL(positionals[0].replace(/^rtsp:/i, "http:"));
    } catch {
      usageError(`"${positionals[0]}" is not a valid rtsp:// URL`);
    }
    host = url.hostname.replace(/^\[|\]$/g, "");
    portText = url.port || "554";
    rtpText = values["rtp-port"];
    resource = positionals[0];
  } else if (positionals.length === 4) {
    [host, portText, rtpText, resource] = positionals;
  } else {
    usageError("expected <server_host> <server_port> <rtp_port> <video_file>, or an rtsp:// URL");
  }
  const port = Number(portText);
  const rtpPort = Number(rtpText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    usageError(`server_port "${portText}" is not a port number`);
  }
  if (!Number.isInteger(rtpPort) || rtpPort < 0 || rtpPort > 65534) {
    usageError(`rtp_port "${rtpText}" is not a port number`);
  }
  if (!["auto", "lab", "rtsp"].includes(values.dialect)) {
    usageError(`--dialect "${values.dialect}" must be auto, lab or rtsp`);
  }
  if (values.transport !== "udp" && values.transport !== "tcp") {
    usageError(`--transport "${values.transport}" must be udp or tcp`);
  }
  if (values.transport === "tcp" && values.dialect === "lab") {
    usageError("--transport tcp needs standard RTSP; the lab dialect carries RTP over UDP only");
  }
  const frames = positiveNumber("--frames", values.frames);
  if (frames !== undefined && !Number.isInteger(frames)) {
    usageError("--frames must be a whole number");
  }
  return {
    host,
    port,
    rtpPort,
    resource,
    dialect: values.dialect as "auto" | "lab" | "rtsp",
    transport: values.transport as "udp" | "tcp",
    outDir: values.out,
    mjpegFile: values.mjpeg,
    frames,
    durationSec: positiveNumber("--duration", values.duration),
    endAfterSec: positiveNumber("--end-after", values["end-after"])!,
    statsFile: values.stats,
    interactive: values.interactive,
    quiet: values.quiet,
  };
}

type Options = ReturnType<typeof parse>;

/** A live status line on stderr, only when stderr is a terminal. */
function statusLine(options: Options): (s: ReceptionSummary) => void {
  if (options.quiet || !Deno.stderr.isTerminal()) return () => {};
  const encoder = new TextEncoder();
  let last = 0;
  return (s) => {
    const now = performance.now();
    if (now - last < 250) return;
    last = now;
    Deno.stderr.writeSync(encoder.encode(
      `\r\x1b[K${s.framesReceived} frames, ${s.packetsLost} lost, ${s.framesPerSec} fps, ${s.kbitPerSec} kbit/s, jitter ${s.jitterMs} ms`,
    ));
  };
}

function clearStatus(options: Options): void {
  if (!options.quiet && Deno.stderr.isTerminal()) {
    Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  }
}

async function report(client: StreamClient, options: Options): Promise<void> {
  clearStatus(options);
  const summary = client.stats.summary();
  console.log(formatSummary(summary));
  if (options.outDir !== undefined && summary.framesReceived > 0) {
    console.log(`frames written to ${options.outDir} (${frameFileName(1)}, ...)`);
  }
  if (options.mjpegFile !== undefined && summary.framesReceived > 0) {
    console.log(`recording written to ${options.mjpegFile} (lab MJPEG)`);
  }
  for (const line of client.damaged) console.error(`rtsp-client: damaged ${line}`);
  if (options.statsFile !== undefined) {
    await Deno.writeTextFile(options.statsFile, JSON.stringify(summary, null, 2) + "\n");
  }
}

async function plainRun(
  client: StreamClient,
  options: Options,
  signal: AbortSignal,
): Promise<number> {
  await client.setup();
  await client.play();
  const end = await client.receive({
    frames: options.frames,
    durationSec: options.durationSec,
    endAfterSec: options.endAfterSec,
    firstPacketTimeoutSec: 10,
    signal,
  });
  await client.teardown();
  if (end === "aborted") console.error("rtsp-client: interrupted; session torn down");
  if (client.stats.framesReceived === 0) {
    console.error("rtsp-client: no complete frame was received");
    return EXIT_FAILURE;
  }
  return 0;
}

/** Lines of standard input, as they are typed. */
async function* stdinLines(): AsyncGenerator<string> {
  let pending = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const parts = (pending + text).split("\n");
    pending = parts.pop()!;
    yield* parts;
  }
  if (pending !== "") yield pending;
}

async function interactiveRun(
  client: StreamClient,
  options: Options,
  signal: AbortSignal,
): Promise<number> {
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort());
  let receiving: Promise<unknown> | undefined;
  const lines = stdinLines();
  console.log("commands: setup, play, pause, teardown, stats, quit");
  for await (const raw of lines) {
    const command = raw.trim().toLowerCase();
    if (command === "") continue;
    try {
      if (command === "quit" || command === "exit") break;
      if (command === "stats") {
        console.log(formatSummary(client.stats.summary()));
        continue;
      }
      const action = {
        setup: () => client.setup(),
        play: () => client.play(),
        pause: () => client.pause(),
        teardown: () => client.teardown(),
      }[command];
      if (!action) {
        console.log(
          `unknown command "${command}"; commands: setup, play, pause, teardown, stats, quit`,
        );
        continue;
      }
      const reply = await action();
      console.log(
        `${command.toUpperCase()}: ${reply.status} ${reply.reason}${
          client.rtsp.session ? ` (session ${client.rtsp.session})` : ""
        }`,
      );
      if (command === "setup") {
        receiving = client.receive({ signal: stop.signal, frames: options.frames }).catch((e) =>
          console.error(`rtsp-client: ${e instanceof Error ? e.message : e}`)
        );
      }
      if (command === "teardown") {
        break;
      }
    } catch (error) {
      if (!(error instanceof RtspClientError)) throw error;
      console.log(`${command.toUpperCase()} failed: ${error.message}`);
      if (error.status === undefined) return EXIT_FAILURE; // connection lost
    }
  }
  stop.abort();
  await receiving;
  return 0;
}

async function main(): Promise<number> {
  const options = parse();
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let client: StreamClient;
  try {
    client = await StreamClient.open({
      host: options.host,
      port: options.port,
      rtpPort: options.rtpPort,
      resource: options.resource,
      dialect: options.dialect,
      transport: options.transport,
      outDir: options.outDir,
      mjpegFile: options.mjpegFile,
      onProgress: statusLine(options),
    });
  } catch (error) {
    console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
    Deno.removeSignalListener("SIGINT", onSignal);
    return EXIT_FAILURE;
  }
  let code: number;
  try {
    code = options.interactive
      ? await interactiveRun(client, options, interrupt.signal)
      : await plainRun(client, options, interrupt.signal);
  } catch (error) {
    clearStatus(options);
    console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
    code = EXIT_FAILURE;
  }
  // Statistics are reported whenever a session was set up, even after a failure.
  if (client.rtsp.session !== undefined) await report(client, options);
  await client.close();
  Deno.removeSignalListener("SIGINT", onSignal);
  return code;
}

if (import.meta.main) Deno.exit(await main());
