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
  type ReceiveEnd,
  type ReceptionSummary,
  RtspClientError,
  StreamClient,
} from "./mod.ts";
import type { RtspResponse } from "./lib/wire/rtsp_message.ts";
import {
  checkPlayRange,
  checkReceiveLimits,
  CLIENT_DEFAULTS as D,
  ClientOptionError,
  type PlayRange,
  type ReceiveLimits,
  resolveClientOptions,
  type StreamClientOptions,
} from "./lib/session/client/client_options.ts";
import {
  isRtspUrl,
  parseClientUrl,
  redactUrl,
  RTSP_DEFAULT_PORTS,
} from "./lib/session/client/client_url.ts";
import { clientReportInput, writeClientReport } from "./lib/session/client/client_report.ts";
import { formatPublishSummary, RtspPublisher } from "./lib/session/client/rtsp_publisher.ts";
import {
  checkPublishLimits,
  MAX_PUBLISH_FPS,
  type PublisherOptions,
  type PublishLimits,
  resolvePublisherOptions,
} from "./lib/session/client/publish_options.ts";

/** The interactive commands, as the help and the prompt list them. */
const COMMANDS = "setup, play, pause, seek SEC, teardown, stats, quit";

const USAGE = `Usage: rtsp-client <server_host> <server_port> <rtp_port> <video_file> [options]
       rtsp-client rtsp://[name:password@]host[:port]/path [options]
       rtsp-client rtsps://[name:password@]host[:port]/path [options]
       rtsp-client --publish FILE rtsp://[name:password@]host[:port]/path [publish options]

Plays <video_file> from an RTSP server, receiving RTP on UDP <rtp_port>
(0 picks a free port; in standard RTSP, RTCP uses the port above), and
reports statistics. A plain run does SETUP and PLAY (DESCRIBE first in
standard RTSP), receives until the stream ends (an RTCP BYE, or silence, or
--frames/--duration), then TEARDOWN.

Options:
  --out DIR          write each complete frame as DIR/frame_NNNNNN.jpg
                     (NNNNNN = its frame number in the file, from 1)
  --frames N         stop after N complete frames
  --duration SEC     stop after SEC seconds of receiving
  --end-after SEC    the stream has ended when no packet came for SEC s (default ${D.endAfterSec})
  --start SEC        play from SEC seconds into the stream (PLAY with a Range;
                     standard RTSP only)
  --end SEC          stop the stream at SEC seconds (after --start)
  --mjpeg FILE       also record complete frames into FILE in the lab MJPEG format
  --stats FILE       also write the statistics as JSON to FILE, with per-second
                     series and a packet timeline
  --report FILE      also write a report of the run as one HTML file (works
                     offline): statistics, source and SDP, up to ${D.reportThumbnails} thumbnails
                     with missing and incomplete frames marked, per-second
                     charts, packet timeline
  --dialect D        auto (default: standard RTSP, or the lab's dialect when the
                     server does not answer OPTIONS within ${
  D.autoTimeoutMs / 1000
} s), lab (the lab's
                     exact format) or rtsp (standard RTSP)
  --transport T      ${D.transport} (default) or tcp (RTP interleaved on the RTSP connection;
                     standard RTSP only); rtsps:// takes only ${D.tlsTransport}, its default
  --rtp-port N       RTP port for the rtsp:// form (default ${D.rtpPort}: a free one)
  --user NAME:PASSWORD
                     credentials for a server that asks (401), instead of the
                     URL's name:password@ (percent-encoded there); the password
                     may contain ":". Digest SHA-256, then MD5, then Basic.
                     Either way it shows in the process list
  --allow-basic      answer Basic over plain rtsp:// too (it sends the password
                     readable; over rtsps:// it is always allowed)
  --ca FILE          trust the PEM certificate(s) in FILE for rtsps:// (a
                     self-signed certificate or a private CA)
  --interactive      read commands from stdin, one per line: setup, play,
                     pause, seek SEC, teardown, stats, quit (the lab's four
                     buttons; seek SEC plays from SEC seconds, standard RTSP)
  --quiet            no live status line
  -h, --help         this help

Publishing (--publish FILE URL): sends the lab MJPEG FILE to an RTSP server
that takes streams, as ffmpeg -re -i FILE -f rtsp URL does: ANNOUNCE (SDP of
one JPEG track), SETUP <URL>/streamid=0 with mode=record, RECORD, then the
frames as RTP/JPEG (RFC 2435) paced at --fps, RTCP sender reports, and at
the end (or on Ctrl-C) an RTCP BYE and TEARDOWN, then one summary line.
  --fps N            frames per second, above 0 and up to ${MAX_PUBLISH_FPS} (default ${D.fps})
  --loop             start the file again after its last frame, until stopped
  --transport T      ${D.transport} (default) or tcp (interleaved on the RTSP connection);
                     rtsps:// takes only ${D.tlsTransport}
  --frames N         stop after N frames
  --duration SEC     stop after SEC seconds
  --user, --allow-basic, --ca, --quiet as above

URLs: rtsp:// (port ${RTSP_DEFAULT_PORTS.rtsp} unless given) or rtsps:// (RTSP over TLS, port
${RTSP_DEFAULT_PORTS.rtsps} unless given; media interleaved on the encrypted connection). A
password is never printed: URLs are shown as rtsp://name@host:port/path.

Examples: rtsp-client 127.0.0.1 1025 5008 video.mjpeg --out frames/
          rtsp-client --publish video.mjpeg rtsp://127.0.0.1:8554/live/cam --fps 20`;

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function usageError(message: string): never {
  console.error(`rtsp-client: ${message}\n\n${USAGE}`);
  Deno.exit(EXIT_USAGE);
}

/** A flag's number; NaN for an empty value, so that the library refuses it. */
function numberOf(text: string): number;
function numberOf(text: string | undefined): number | undefined;
function numberOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return text.trim() === "" ? NaN : Number(text);
}

/** Where each library option comes from on the command line, for usage errors. */
const FLAGS: Record<string, string> = {
  port: "server_port",
  dialect: "--dialect",
  transport: "--transport",
  frames: "--frames",
  durationSec: "--duration",
  endAfterSec: "--end-after",
  start: "--start",
  end: "--end",
  username: "--user",
  password: "--user",
  allowBasic: "--allow-basic",
  caCerts: "--ca",
};

/**
 * A usage error for an option the library refused: its flag, the text given, and the rule.
 *
 * @param texts What was given on the command line for each option, and its flag when not in FLAGS.
 */
function optionError(
  error: ClientOptionError,
  texts: Record<string, string | undefined>,
  flags: Record<string, string>,
): never {
  const flag = flags[error.option] ?? FLAGS[error.option] ?? error.option;
  const text = texts[error.option] ?? String(error.value);
  usageError(`${flag} "${text}" is not valid: must be ${error.rule}`);
}

/** The command line, read; `given` holds the flags given explicitly (without their "--"). */
function readArgs() {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      tokens: true,
      options: {
        out: { type: "string" },
        frames: { type: "string" },
        duration: { type: "string" },
        "end-after": { type: "string", default: String(D.endAfterSec) },
        start: { type: "string" },
        end: { type: "string" },
        stats: { type: "string" },
        report: { type: "string" },
        mjpeg: { type: "string" },
        dialect: { type: "string", default: D.dialect },
        // No default here: the library's depends on the URL (tcp for rtsps://).
        transport: { type: "string" },
        "rtp-port": { type: "string", default: String(D.rtpPort) },
        user: { type: "string" },
        "allow-basic": { type: "boolean", default: D.allowBasic },
        ca: { type: "string" },
        interactive: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        publish: { type: "string" },
        fps: { type: "string" },
        loop: { type: "boolean", default: D.loop },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const given = new Set<string>(tokens.flatMap((t) => t.kind === "option" ? [t.name] : []));
  return { values, positionals, given };
}

type Args = ReturnType<typeof readArgs>;

/** Flags that only publishing takes. */
const PUBLISH_ONLY = ["fps", "loop"];
/** Flags of playing that publishing does not take. */
const PLAY_ONLY = [
  "out",
  "start",
  "end",
  "stats",
  "report",
  "mjpeg",
  "dialect",
  "rtp-port",
  "end-after",
  "interactive",
];

function parse({ values, positionals, given }: Args) {
  for (const flag of PUBLISH_ONLY) {
    if (given.has(flag)) usageError(`--${flag} goes with --publish FILE`);
  }
  let host: string, portText: string, rtpText: string, resource: string;
  if (positionals.length === 1 && isRtspUrl(positionals[0])) {
    let url;
    try {
      url = parseClientUrl(positionals[0]);
    } catch (error) {
      // The message shows the URL without its password.
      usageError(error instanceof Error ? error.message : String(error));
    }
    host = url.host;
    portText = String(url.port);
    rtpText = values["rtp-port"];
    resource = positionals[0];
  } else if (positionals.length === 1 && /^[a-z][a-z0-9+.-]*:\/\//i.test(positionals[0])) {
    usageError(`"${redactUrl(positionals[0])}" is not an rtsp:// or rtsps:// URL`);
  } else if (positionals.length === 4) {
    [host, portText, rtpText, resource] = positionals;
  } else {
    usageError("expected <server_host> <server_port> <rtp_port> <video_file>, or an rtsp:// URL");
  }
  const client: StreamClientOptions = {
    host,
    port: numberOf(portText),
    rtpPort: numberOf(rtpText),
    resource,
    dialect: values.dialect as StreamClientOptions["dialect"],
    transport: values.transport as StreamClientOptions["transport"],
    outDir: values.out,
    mjpegFile: values.mjpeg,
    thumbnails: values.report === undefined ? undefined : D.reportThumbnails,
    allowBasic: values["allow-basic"],
    ...credentials(values.user),
    caCerts: values.ca === undefined ? undefined : readCaFile(values.ca),
  };
  const limits: ReceiveLimits = {
    frames: numberOf(values.frames),
    durationSec: numberOf(values.duration),
    endAfterSec: numberOf(values["end-after"]),
    firstPacketTimeoutSec: D.firstPacketTimeoutSec,
  };
  const range: PlayRange = { start: numberOf(values.start), end: numberOf(values.end) };
  const texts: Record<string, string | undefined> = {
    port: portText,
    rtpPort: rtpText,
    frames: values.frames,
    durationSec: values.duration,
    endAfterSec: values["end-after"],
    start: values.start,
    end: values.end,
    transport: values.transport,
    caCerts: values.ca,
  };
  const seeking = range.start !== undefined || range.end !== undefined;
  try {
    resolveClientOptions(client);
    checkReceiveLimits(limits);
    if (seeking) checkPlayRange(range);
  } catch (error) {
    if (error instanceof ClientOptionError) {
      optionError(error, texts, { rtpPort: positionals.length === 1 ? "--rtp-port" : "rtp_port" });
    }
    throw error;
  }
  if (seeking && values.dialect === "lab") {
    const flag = range.start !== undefined ? "--start" : "--end";
    usageError(`${flag} needs standard RTSP; the lab dialect's PLAY carries no Range`);
  }
  if (seeking && values.interactive) {
    usageError("--start and --end are for a plain run; in --interactive, use seek SEC");
  }
  return {
    client,
    limits,
    range: seeking ? range : undefined,
    statsFile: values.stats,
    reportFile: values.report,
    interactive: values.interactive,
    quiet: values.quiet,
  };
}

type Options = ReturnType<typeof parse>;

/**
 * `--user NAME:PASSWORD`, split at the first ":" (the password may hold
 * more). The usage error never shows the text: it may be a password.
 */
function credentials(user: string | undefined): { username?: string; password?: string } {
  if (user === undefined) return {};
  const colon = user.indexOf(":");
  if (colon <= 0) usageError('--user must be NAME:PASSWORD, with a name before the first ":"');
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}

/** The PEM certificates of `--ca FILE`. */
function readCaFile(file: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    usageError(`--ca "${file}": ${error instanceof Error ? error.message : error}`);
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!certs) usageError(`--ca "${file}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return certs.map((c) => c + "\n");
}

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

/**
 * The statistics, the per-second series and the packet timeline, as
 * `--stats` writes them.
 */
function statsJson(client: StreamClient): string {
  const document = {
    ...client.stats.summary(),
    perSecond: client.stats.series.perSecond(),
    timeline: client.stats.series.timeline(),
  };
  return JSON.stringify(document, null, 2) + "\n";
}

/** How the run is described in the first line and the report. */
function source(client: StreamClient, options: Options): string {
  const { host, port } = options.client;
  return client.dialect === "lab"
    ? `${host}:${port} ${client.uri} (lab dialect)`
    : `${client.displayUri}${client.tls ? " (TLS)" : ""}`;
}

async function report(
  client: StreamClient,
  options: Options,
  end: ReceiveEnd | undefined,
): Promise<void> {
  clearStatus(options);
  const summary = client.stats.summary();
  console.log(formatSummary(summary));
  const { outDir, mjpegFile } = options.client;
  if (outDir !== undefined && client.firstFrameNumber !== undefined) {
    console.log(`frames written to ${outDir} (${frameFileName(client.firstFrameNumber)}, ...)`);
  }
  if (mjpegFile !== undefined && summary.framesReceived > 0) {
    console.log(`recording written to ${mjpegFile} (lab MJPEG)`);
  }
  for (const line of client.damaged) console.error(`rtsp-client: damaged ${line}`);
  if (options.statsFile !== undefined) {
    await Deno.writeTextFile(options.statsFile, statsJson(client));
  }
  if (options.reportFile !== undefined) {
    await writeClientReport(
      options.reportFile,
      clientReportInput(client, { url: source(client, options), end }),
    );
    console.log(`report written to ${options.reportFile}`);
  }
}

/**
 * A plain run: SETUP, PLAY, receive, TEARDOWN.
 *
 * @param outcome Where it says why receiving ended.
 */
async function plainRun(
  client: StreamClient,
  options: Options,
  signal: AbortSignal,
  outcome: { end?: ReceiveEnd },
): Promise<number> {
  if (options.range !== undefined && client.dialect === "lab") {
    const flag = options.range.start !== undefined ? "--start" : "--end";
    throw new Error(`${flag} needs standard RTSP, and the server speaks the lab dialect`);
  }
  await client.setup();
  await client.play(options.range);
  const end = await client.receive({ ...options.limits, signal });
  outcome.end = end;
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

/**
 * A reply as the interactive mode prints it: status and session, then for
 * PLAY the range played and for PAUSE where it stopped, when the server said.
 */
function describeReply(client: StreamClient, reply: RtspResponse, method: string): string {
  const info = client.playInfo;
  let where = "";
  if (method === "PLAY" && info?.startSec !== undefined) {
    where = `, npt ${info.startSec.toFixed(3)}-${info.endSec?.toFixed(3) ?? ""}`;
  } else if (method === "PAUSE" && client.pausedAtSec !== undefined) {
    where = `, at npt ${client.pausedAtSec.toFixed(3)}`;
  }
  const session = client.rtsp.session ? ` (session ${client.rtsp.session})` : "";
  return `${reply.status} ${reply.reason}${session}${reply.status === 200 ? where : ""}`;
}

async function interactiveRun(
  client: StreamClient,
  options: Options,
  signal: AbortSignal,
): Promise<number> {
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort());
  let receiving: Promise<unknown> | undefined;
  let received = true;
  /** Receive in the background; again after the stream ended (a BYE) when PLAY starts it anew. */
  const startReceiving = () => {
    if (!received) return;
    received = false;
    receiving = client.receive({ signal: stop.signal, frames: options.limits.frames })
      .catch((e) => console.error(`rtsp-client: ${e instanceof Error ? e.message : e}`))
      .finally(() => received = true);
  };
  const lines = stdinLines();
  console.log(`commands: ${COMMANDS}`);
  for await (const raw of lines) {
    const [name = "", ...args] = raw.trim().split(/\s+/);
    const command = name.toLowerCase();
    if (command === "") continue;
    try {
      if (command === "quit" || command === "exit") break;
      if (command === "stats") {
        console.log(formatSummary(client.stats.summary()));
        continue;
      }
      if (command === "seek") {
        const sec = args.length === 1 ? numberOf(args[0]) : NaN;
        if (Number.isNaN(sec)) {
          console.log(`SEEK failed: expected a position in seconds, as in "seek 2"`);
          continue;
        }
        const reply = await client.seek(sec);
        if (reply === undefined) {
          console.log(`SEEK: the next play starts at npt ${sec.toFixed(3)}`);
          continue;
        }
        console.log(`SEEK: ${describeReply(client, reply, "PLAY")}`);
        startReceiving();
        continue;
      }
      const action = {
        setup: () => client.setup(),
        play: () => client.play(),
        pause: () => client.pause(),
        teardown: () => client.teardown(),
      }[command];
      if (!action) {
        console.log(`unknown command "${command}"; commands: ${COMMANDS}`);
        continue;
      }
      const reply = await action();
      const method = command.toUpperCase();
      console.log(`${method}: ${describeReply(client, reply, method)}`);
      if (command === "setup" || command === "play") startReceiving();
      if (command === "teardown") {
        break;
      }
    } catch (error) {
      if (error instanceof ClientOptionError) {
        console.log(`${command.toUpperCase()} failed: ${error.message}`);
        continue;
      }
      if (!(error instanceof RtspClientError)) throw error;
      console.log(`${command.toUpperCase()} failed: ${error.message}`);
      if (error.status === undefined) return EXIT_FAILURE; // connection lost
    }
  }
  stop.abort();
  await receiving;
  return 0;
}

/** Where each publisher option comes from on the command line, for usage errors. */
const PUBLISH_FLAGS: Record<string, string> = {
  url: "URL",
  file: "--publish",
  fps: "--fps",
  transport: "--transport",
  caCerts: "--ca",
  username: "--user",
  password: "--user",
  frames: "--frames",
  durationSec: "--duration",
};

/** `--publish FILE URL` and its flags, checked. */
function parsePublish({ values, positionals, given }: Args) {
  for (const flag of PLAY_ONLY) {
    if (given.has(flag)) usageError(`--${flag} is not used with --publish`);
  }
  if (positionals.length !== 1 || !isRtspUrl(positionals[0])) {
    usageError("--publish FILE takes one rtsp:// or rtsps:// URL to publish to");
  }
  try {
    parseClientUrl(positionals[0]);
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error)); // no password in it
  }
  const publisher: PublisherOptions = {
    url: positionals[0],
    file: values.publish!,
    fps: numberOf(values.fps),
    transport: values.transport as PublisherOptions["transport"],
    loop: values.loop,
    allowBasic: values["allow-basic"],
    ...credentials(values.user),
    caCerts: values.ca === undefined ? undefined : readCaFile(values.ca),
  };
  const limits: PublishLimits = {
    frames: numberOf(values.frames),
    durationSec: numberOf(values.duration),
  };
  const texts: Record<string, string | undefined> = {
    url: redactUrl(positionals[0]),
    file: values.publish,
    fps: values.fps,
    transport: values.transport,
    caCerts: values.ca,
    frames: values.frames,
    durationSec: values.duration,
  };
  try {
    resolvePublisherOptions(publisher);
    checkPublishLimits(limits);
  } catch (error) {
    if (error instanceof ClientOptionError) optionError(error, texts, PUBLISH_FLAGS);
    throw error;
  }
  return { publisher, limits, quiet: values.quiet };
}

/** A live line of what was sent, on stderr, only when stderr is a terminal. */
function publishStatus(publisher: RtspPublisher, quiet: boolean): () => void {
  if (quiet || !Deno.stderr.isTerminal()) return () => {};
  const encoder = new TextEncoder();
  const timer = setInterval(() => {
    const s = publisher.summary();
    Deno.stderr.writeSync(encoder.encode(
      `\r\x1b[K${s.framesSent} frames, ${s.packetsSent} packets, ${s.kbitPerSec} kbit/s`,
    ));
  }, 250);
  return () => {
    clearInterval(timer);
    Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  };
}

/** `rtsp-client --publish FILE URL`: ANNOUNCE, SETUP, RECORD, frames, TEARDOWN. */
async function publishMain(args: Args): Promise<number> {
  const { publisher: options, limits, quiet } = parsePublish(args);
  let publisher: RtspPublisher;
  try {
    publisher = await RtspPublisher.open(options);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? `Cannot read ${options.file}: no such file`
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`rtsp-client: ${why}`);
    return EXIT_FAILURE;
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  const { file } = publisher;
  console.log(
    `rtsp-client: publishing ${options.file} (${file.frames} frames, ` +
      `${file.width}x${file.height}) to ${publisher.displayUri}` +
      `${publisher.tls ? " (TLS)" : ""} over ${publisher.transport.toUpperCase()} at ` +
      `${options.fps ?? D.fps} frames/s${options.loop ? ", looping" : ""}`,
  );
  if (file.converted > 0) {
    console.log(
      `rtsp-client: ${file.converted} frames converted to baseline 4:2:0 JPEG for RTP/JPEG`,
    );
  }
  let code = 0;
  let stopStatus = () => {};
  try {
    await publisher.announce();
    await publisher.setup();
    await publisher.record();
    stopStatus = publishStatus(publisher, quiet);
    const end = await publisher.publish({ ...limits, signal: interrupt.signal });
    stopStatus();
    if (end === "closed") {
      console.error(
        `rtsp-client: ${publisher.failure ?? "the server closed the RTSP connection"}`,
      );
      code = EXIT_FAILURE;
    }
    await publisher.teardown();
    if (end === "aborted") console.error("rtsp-client: interrupted; session torn down");
  } catch (error) {
    stopStatus();
    console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
    code = EXIT_FAILURE;
    await publisher.teardown().catch(() => {});
  }
  if (publisher.summary().framesSent > 0) console.log(formatPublishSummary(publisher.summary()));
  await publisher.close();
  Deno.removeSignalListener("SIGINT", onSignal);
  return code;
}

async function main(): Promise<number> {
  const args = readArgs();
  if (args.values.publish !== undefined) return await publishMain(args);
  const options = parse(args);
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let client: StreamClient;
  try {
    client = await StreamClient.open({ ...options.client, onProgress: statusLine(options) });
  } catch (error) {
    console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
    Deno.removeSignalListener("SIGINT", onSignal);
    return EXIT_FAILURE;
  }
  console.log(`rtsp-client: ${source(client, options)}`);
  let code: number;
  const outcome: { end?: ReceiveEnd } = {};
  try {
    code = options.interactive
      ? await interactiveRun(client, options, interrupt.signal)
      : await plainRun(client, options, interrupt.signal, outcome);
  } catch (error) {
    clearStatus(options);
    console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
    code = EXIT_FAILURE;
  }
  // Statistics are reported whenever a session was set up, even after a failure.
  if (client.rtsp.session !== undefined) {
    try {
      await report(client, options, outcome.end);
    } catch (error) {
      // A --stats or --report file that cannot be written.
      console.error(`rtsp-client: ${error instanceof Error ? error.message : error}`);
      code = EXIT_FAILURE;
    }
  }
  await client.close();
  Deno.removeSignalListener("SIGINT", onSignal);
  return code;
}

if (import.meta.main) Deno.exit(await main());
