/**
 * `rtsp-server`: serves the lab MJPEG files of a directory over RTSP, with
 * RTP over UDP, to the lab's own client and to standard RTSP clients.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RtspServer, type UdpSendMode } from "./mod.ts";

const USAGE = `Usage: rtsp-server <port> [options]

Serves the lab MJPEG files of a directory over RTSP: the lab's dialect (whole
JPEGs over RTP/UDP) to the lab's client, standard RTSP with RTP/JPEG
(RFC 2435) over UDP or TCP and RTCP to players such as ffplay and GStreamer.
Clients name a file by bare name (the lab's client) or by
rtsp://host:port/<name>.

Options:
  --host ADDR        address to listen on (default 0.0.0.0)
  --media-dir DIR    directory whose files are served (default: current directory)
  --fps N            frames per second (default 20, at most 100000); 0 sends
                     unpaced, as fast as possible, for throughput tests
                     (RTP timestamps keep 20 fps spacing)
  --loop             start each stream again after its last frame
  --session-timeout SEC  tear down a standard session that sends no request or
                     RTCP for SEC seconds (default 60; lab sessions live as
                     long as their connection)
  --idle-timeout SEC close a connection that holds no session and sends nothing
                     for SEC seconds (default 30)
  --max-connections N  answer 503 beyond N connections (default 1000)
  --max-sessions N   answer 453 to SETUP beyond N sessions (default 2000)
  --udp-send MODE    how RTP leaves: auto (default: the best available),
                     gso or sendmmsg (batched system calls on Linux, needs
                     --allow-ffi), portable (one send per packet)
  --quiet            no log line per request (SIGUSR1 still prints statistics:
                     counters, and how late frames left against their schedule)
  -h, --help         this help

Example: rtsp-server 1025`;

function fail(message: string): never {
  console.error(`rtsp-server: ${message}`);
  Deno.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        host: { type: "string", default: "0.0.0.0" },
        "media-dir": { type: "string", default: "." },
        fps: { type: "string", default: "20" },
        loop: { type: "boolean", default: false },
        "session-timeout": { type: "string", default: "60" },
        "idle-timeout": { type: "string", default: "30" },
        "max-connections": { type: "string", default: "1000" },
        "max-sessions": { type: "string", default: "2000" },
        quiet: { type: "boolean", default: false },
        "udp-send": { type: "string", default: "auto" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    fail(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) fail(`expected one port number\n\n${USAGE}`);
  const port = Number(positionals[0]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`port "${positionals[0]}" is not a number from 0 to 65535`);
  }
  const fpsValue = Number(values.fps);
  if (!(fpsValue >= 0) || fpsValue > 100_000 || values.fps.trim() === "") {
    fail(`--fps "${values.fps}" is not a number from 0 (unpaced) to 100000`);
  }
  const unpaced = fpsValue === 0;
  const fps = unpaced ? 20 : fpsValue;
  const limit = (name: string, text: string, whole: boolean): number => {
    const n = Number(text);
    if (!(n > 0) || !Number.isFinite(n) || (whole && !Number.isInteger(n))) {
      fail(`--${name} "${text}" is not a ${whole ? "whole " : ""}number above 0`);
    }
    return n;
  };
  const udpSend = values["udp-send"];
  if (!["auto", "gso", "sendmmsg", "portable"].includes(udpSend)) {
    fail(`--udp-send "${udpSend}" is not one of auto, gso, sendmmsg, portable`);
  }
  const sessionTimeout = limit("session-timeout", values["session-timeout"], false);
  const idleTimeout = limit("idle-timeout", values["idle-timeout"], false);
  const maxConnections = limit("max-connections", values["max-connections"], true);
  const maxSessions = limit("max-sessions", values["max-sessions"], true);
  try {
    const info = await Deno.stat(values["media-dir"]);
    if (!info.isDirectory) fail(`--media-dir ${values["media-dir"]} is not a directory`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      fail(`--media-dir ${values["media-dir"]} does not exist`);
    }
    throw error;
  }

  let server: RtspServer;
  try {
    server = await RtspServer.start({
      port,
      hostname: values.host,
      mediaDir: values["media-dir"],
      fps,
      unpaced,
      udpSendMode: udpSend as UdpSendMode,
      loop: values.loop,
      sessionTimeout,
      idleTimeout,
      maxConnections,
      maxSessions,
      log: values.quiet ? () => {} : (line) => console.error(`${new Date().toISOString()} ${line}`),
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) fail(`port ${port} is already in use`);
    if (error instanceof Deno.errors.PermissionDenied) {
      fail(`not allowed to listen on port ${port} (ports below 1024 need privileges)`);
    }
    fail(
      `cannot listen on ${values.host}:${port}: ${error instanceof Error ? error.message : error}`,
    );
  }
  console.log(
    `rtsp-server: serving ${
      values["media-dir"]
    } on rtsp://${server.addr.hostname}:${server.addr.port}/ at ${
      unpaced ? "full speed (unpaced)" : `${fps} fps`
    } (RTP from UDP port ${server.rtpPort}, ${server.udpSendMode})`,
  );
  /** One line of statistics; pacing lateness covers the time since the last report. */
  const report = (event: string): string => {
    const udp = server.udpCounters;
    const late = server.pacingLateness;
    server.resetPacingLateness();
    return `rtsp-server: ${event}: ${server.sessions.size} sessions now, ` +
      `${server.counters.sessionsCreated} in all; ` +
      `${udp.rtpSent} RTP packets over UDP in ${udp.rtpSendCalls} send calls ` +
      `(${server.udpSendMode}), ${udp.sendErrors} send errors, ${udp.sendDropped} dropped; ` +
      `pacing lateness p50 ${late.p50.toFixed(2)} ms, p99 ${late.p99.toFixed(2)} ms, ` +
      `p99.9 ${late.p999.toFixed(2)} ms, max ${
        late.max.toFixed(2)
      } ms over ${late.count} paced runs`;
  };
  const stop = () => {
    console.error(report("shutting down"));
    server.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (Deno.build.os !== "windows") {
    // kill -USR1: statistics now, and pacing lateness measured afresh from here.
    Deno.addSignalListener("SIGUSR1", () => console.error(report("statistics")));
  }
}

if (import.meta.main) await main();
