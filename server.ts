/**
 * `rtsp-server`: serves the lab MJPEG files of a directory over RTSP, with
 * RTP over UDP, to the lab's own client and to standard RTSP clients.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  MAX_FPS,
  RtspServer,
  SERVER_DEFAULTS as D,
  ServerOptionError,
  UDP_SEND_MODES,
  type UdpSendMode,
} from "./mod.ts";
import { closeInspectorSignal } from "./lib/net/inspector_signal.ts";
import { parseHtdigest } from "./lib/wire/htdigest.ts";
import type { ServerUser } from "./lib/session/server/server_auth.ts";

const USAGE = `Usage: rtsp-server <port> [options]

Serves the lab MJPEG files of a directory over RTSP: the lab's dialect (whole
JPEGs over RTP/UDP) to the lab's client, standard RTSP with RTP/JPEG
(RFC 2435) over UDP or TCP and RTCP to players such as ffplay and GStreamer,
with seeking (PLAY with Range) and Scale. Clients name a file by bare name
(the lab's client) or by rtsp://host:port/<name>. Publishers (ffmpeg -f rtsp,
GStreamer's rtspclientsink, rtsp-client --publish) may push a live MJPEG
stream to rtsp://host:port/<path>, which any reader can then play.

Options:
  --host ADDR        address to listen on (default ${D.hostname})
  --media-dir DIR    directory whose files are served (default: current directory)
  --fps N            frames per second (default ${D.fps}, at most ${MAX_FPS}); 0 sends
                     unpaced, as fast as possible, for throughput tests
                     (RTP timestamps keep ${D.fps} fps spacing)
  --loop             start each stream again after its last frame (the SDP
                     range and seeking are per pass of the file)
  --session-timeout SEC  tear down a standard session that sends no request or
                     RTCP for SEC seconds (default ${D.sessionTimeout}; lab sessions live as
                     long as their connection)
  --idle-timeout SEC close a connection that holds no session and sends nothing
                     for SEC seconds (default ${D.idleTimeout})
  --max-connections N  answer 503 beyond N connections (default ${D.maxConnections})
  --max-sessions N   answer 453 to SETUP beyond N sessions (default ${D.maxSessions})
  --pacing-grid MS   start every play on a shared grid of MS ms: a session's
                     first frame leaves at the next grid instant, so sessions
                     share wake-ups; auto: a grid that follows the number of
                     sessions, at most 50 to a wake-up: one frame period for
                     up to 50 (the first frame up to a period after PLAY),
                     finer for more, none for one or thousands (default
                     ${D.pacingGridMs}; 0: every play starts at once)
  --udp-send MODE    how RTP leaves: auto (default: the best available),
                     gso or sendmmsg (batched system calls on Linux, needs
                     --allow-ffi), portable (one send per packet)
  --quiet            no log line per request (SIGUSR2 still prints statistics:
                     counters, how late frames left against their schedule, and
                     per live path how long frames took from publisher to readers)

Who may watch (with none of these, everyone):
  --user NAME:PASSWORD  a user (may be repeated); every request but OPTIONS
                     then needs credentials: Digest (SHA-256 or MD5), or
                     Basic over TLS. The password shows in the process list:
                     prefer --auth-file
  --auth-file FILE   users from an htdigest file (name:realm:HA1 per line;
                     HA1 of 32 hex digits is MD5, of 64 SHA-256); lines of
                     another realm are ignored
  --realm R          the realm of challenges and HA1s (default ${D.realm})
  --allow-basic      accept Basic credentials over plain TCP too (readable by
                     anyone on the path)

RTSP over TLS (rtsps://):
  --tls-port N       also serve RTSPS on port N (0 picks a free one); media of
                     a TLS session goes inside it (TCP interleaved), UDP is 461
  --tls-cert FILE    the certificate chain (PEM)
  --tls-key FILE     its private key (PEM)
  --no-plain         serve RTSPS only (the <port> is not listened on)

The web side (none of it without --http-port):
  --http-port N      also serve HTTP on port N (0 picks a free one): a status
                     page at /, /status.json, /metrics (Prometheus),
                     /live/<file> (the file as MJPEG, for a browser's <img>;
                     counts as a session) and /snapshot/<file>?t=SEC (a JPEG);
                     the same users as RTSP, if any
  --http-host ADDR   address HTTP listens on (default: that of RTSP, --host)
  --http-max-requests N  answer 503 beyond N HTTP requests in progress (a
                     live view is one while it plays; default ${D.httpMaxRequests})

Live streams (publishers push with ANNOUNCE and RECORD; readers play the path):
  --publisher-timeout SEC  end a live path whose publisher sends nothing for
                     SEC seconds: its readers get BYE (default ${D.publisherTimeout})
  --record-dir DIR   also write each published stream to DIR as a lab MJPEG
                     file (one per publish: <path>-<UTC start>.mjpeg)

  -h, --help         this help

Example: rtsp-server 1025`;

/** The flag of each library option, for error messages. */
const FLAGS: Record<string, string> = {
  hostname: "--host",
  mediaDir: "--media-dir",
  fps: "--fps",
  sessionTimeout: "--session-timeout",
  idleTimeout: "--idle-timeout",
  maxConnections: "--max-connections",
  maxSessions: "--max-sessions",
  udpSendMode: "--udp-send",
  pacingGridMs: "--pacing-grid",
  realm: "--realm",
  users: "--user",
  tls: "--tls-port",
  plain: "--no-plain",
  httpPort: "--http-port",
  httpHost: "--http-host",
  httpMaxRequests: "--http-max-requests",
  publisherTimeout: "--publisher-timeout",
  recordDir: "--record-dir",
};

/** A file the server needs, or a one-line error naming the flag. */
async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    fail(`${flag} ${path}: cannot read it (${error instanceof Error ? error.message : error})`);
  }
}

/** The users of --user NAME:PASSWORD and --auth-file FILE (the HA1s of `realm`). */
async function usersOf(
  specs: readonly string[],
  authFile: string | undefined,
  realm: string,
): Promise<ServerUser[]> {
  const users = new Map<string, ServerUser>();
  for (const spec of specs) {
    const colon = spec.indexOf(":");
    // The password is not repeated in the message.
    if (colon <= 0) {
      fail(`--user needs NAME:PASSWORD (got ${colon < 0 ? "no" : "an empty name before the"} ":")`);
    }
    users.set(spec.slice(0, colon), {
      name: spec.slice(0, colon),
      password: spec.slice(colon + 1),
    });
  }
  if (authFile !== undefined) {
    let entries;
    try {
      entries = parseHtdigest(await readFlagFile("--auth-file", authFile), authFile);
    } catch (error) {
      fail(`--auth-file ${error instanceof Error ? error.message : error}`);
    }
    let other = 0;
    for (const entry of entries) {
      if (entry.realm !== realm) {
        other++;
        continue;
      }
      const user: ServerUser = users.get(entry.username) ?? { name: entry.username, ha1: {} };
      user.ha1 = { ...user.ha1, [entry.algorithm]: entry.ha1 };
      users.set(entry.username, user);
    }
    if (other > 0) {
      console.error(
        `rtsp-server: ${other} line(s) of ${authFile} are for another realm than "${realm}"; ignored`,
      );
    }
  }
  return [...users.values()];
}

function fail(message: string): never {
  console.error(`rtsp-server: ${message}`);
  Deno.exit(2);
}

/** A flag's number; NaN for an empty value, so that the library refuses it. */
function numberOf(text: string): number {
  return text.trim() === "" ? NaN : Number(text);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        host: { type: "string", default: D.hostname },
        "media-dir": { type: "string", default: D.mediaDir },
        fps: { type: "string", default: String(D.fps) },
        loop: { type: "boolean", default: D.loop },
        "session-timeout": { type: "string", default: String(D.sessionTimeout) },
        "idle-timeout": { type: "string", default: String(D.idleTimeout) },
        "max-connections": { type: "string", default: String(D.maxConnections) },
        "max-sessions": { type: "string", default: String(D.maxSessions) },
        quiet: { type: "boolean", default: false },
        "udp-send": { type: "string", default: D.udpSendMode },
        "pacing-grid": { type: "string", default: String(D.pacingGridMs) },
        user: { type: "string", multiple: true, default: [] },
        "auth-file": { type: "string" },
        realm: { type: "string", default: D.realm },
        "allow-basic": { type: "boolean", default: D.allowBasic },
        "tls-port": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "no-plain": { type: "boolean", default: !D.plain },
        "http-port": { type: "string" },
        "http-host": { type: "string" },
        "http-max-requests": { type: "string", default: String(D.httpMaxRequests) },
        "publisher-timeout": { type: "string", default: String(D.publisherTimeout) },
        "record-dir": { type: "string" },
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
  // --fps 0 is the CLI's way to ask for unpaced sending.
  const unpaced = numberOf(values.fps) === 0;
  if (!(UDP_SEND_MODES as readonly string[]).includes(values["udp-send"])) {
    fail(`--udp-send "${values["udp-send"]}" is not one of ${UDP_SEND_MODES.join(", ")}`);
  }
  try {
    const info = await Deno.stat(values["media-dir"]);
    if (!info.isDirectory) fail(`--media-dir ${values["media-dir"]} is not a directory`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      fail(`--media-dir ${values["media-dir"]} does not exist`);
    }
    throw error;
  }

  const recordDir = values["record-dir"];
  if (recordDir !== undefined) {
    try {
      const info = await Deno.stat(recordDir);
      if (!info.isDirectory) fail(`--record-dir ${recordDir} is not a directory`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) fail(`--record-dir ${recordDir} does not exist`);
      throw error;
    }
  }

  const users = await usersOf(values.user, values["auth-file"], values.realm);
  let tls;
  if (values["tls-port"] !== undefined) {
    if (values["tls-cert"] === undefined || values["tls-key"] === undefined) {
      fail("--tls-port needs --tls-cert FILE and --tls-key FILE");
    }
    tls = {
      port: numberOf(values["tls-port"]),
      cert: await readFlagFile("--tls-cert", values["tls-cert"]),
      key: await readFlagFile("--tls-key", values["tls-key"]),
    };
  } else if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
    fail("--tls-cert and --tls-key go with --tls-port N");
  }

  let server: RtspServer;
  try {
    server = await RtspServer.start({
      port,
      hostname: values.host,
      mediaDir: values["media-dir"],
      fps: unpaced ? D.fps : numberOf(values.fps),
      unpaced,
      udpSendMode: values["udp-send"] as UdpSendMode,
      pacingGridMs: values["pacing-grid"] === "auto" ? "auto" : numberOf(values["pacing-grid"]),
      loop: values.loop,
      sessionTimeout: numberOf(values["session-timeout"]),
      idleTimeout: numberOf(values["idle-timeout"]),
      maxConnections: numberOf(values["max-connections"]),
      maxSessions: numberOf(values["max-sessions"]),
      users,
      realm: values.realm,
      allowBasic: values["allow-basic"],
      tls,
      plain: !values["no-plain"],
      httpPort: values["http-port"] === undefined ? undefined : numberOf(values["http-port"]),
      httpHost: values["http-host"],
      httpMaxRequests: numberOf(values["http-max-requests"]),
      publisherTimeout: numberOf(values["publisher-timeout"]),
      recordDir,
      log: values.quiet ? () => {} : (line) => console.error(`${new Date().toISOString()} ${line}`),
    });
  } catch (error) {
    if (error instanceof ServerOptionError) {
      const flag = FLAGS[error.option] ?? error.option;
      const text = flag === "--fps"
        ? values.fps
        : flag === "--tls-port"
        ? values["tls-port"]
        : flag === "--http-port"
        ? values["http-port"]
        : String(error.value);
      fail(
        `${flag} "${text}" is not valid: must be ${error.rule}${
          flag === "--fps" ? " (or 0: unpaced)" : ""
        }`,
      );
    }
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `port ${port}${
          values["http-port"] === undefined ? "" : ` or HTTP port ${values["http-port"]}`
        } is already in use`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      fail(`not allowed to listen on port ${port} (ports below 1024 need privileges)`);
    }
    fail(
      `cannot listen on ${values.host}:${port}: ${error instanceof Error ? error.message : error}`,
    );
  }
  // SIGUSR1 would open Deno's inspector (debugger) on port 9229: ignored from
  // here (the runtime installs its handler about 0.5 s after start), before
  // the banner says the server is up.
  const inspector = await closeInspectorSignal();
  console.log(
    `rtsp-server: serving ${values["media-dir"]} on ${
      values["no-plain"] ? "rtsps" : "rtsp"
    }://${server.addr.hostname}:${server.addr.port}/ at ${
      unpaced ? "full speed (unpaced)" : `${numberOf(values.fps)} fps`
    } (RTP from UDP port ${server.rtpPort}, ${server.udpSendMode})`,
  );
  const tlsAddr = server.tlsAddr;
  if (tlsAddr && !values["no-plain"]) {
    console.log(`rtsp-server: and RTSP over TLS on rtsps://${tlsAddr.hostname}:${tlsAddr.port}/`);
  }
  const httpAddr = server.httpAddr;
  if (httpAddr) {
    console.log(
      `rtsp-server: and HTTP on http://${httpAddr.hostname}:${httpAddr.port}/ ` +
        `(status page; /status.json, /metrics, /live/<file>, /snapshot/<file>)`,
    );
  }
  if (users.length > 0) {
    console.log(
      `rtsp-server: ${users.length} user(s) may watch (realm "${values.realm}": Digest ` +
        `SHA-256 or MD5, Basic ${values["allow-basic"] ? "too" : "over TLS only"})`,
    );
  }
  if (!inspector.closed) {
    console.error(
      `rtsp-server: warning: SIGUSR1 still makes Deno open its debugger on 127.0.0.1:9229 ` +
        `(${inspector.reason}); do not send it, and keep untrusted local users off this machine`,
    );
  }
  /**
   * One line of statistics; pacing lateness and each live path's latency
   * (publisher's packets in to readers' packets out) cover the time since the
   * last report.
   */
  const report = (event: string): string => {
    const udp = server.udpCounters;
    const late = server.pacingLateness;
    server.resetPacingLateness();
    const live = server.liveLatency.map(({ path, readers, fromLast: l, fromFirst: f }) =>
      `; live ${path}: ${readers} readers, latency from a frame's last packet ` +
      `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, p99.9 ${l.p999.toFixed(2)} ms, ` +
      `max ${l.max.toFixed(2)} ms, from its first p50 ${f.p50.toFixed(2)} ms, ` +
      `p99 ${f.p99.toFixed(2)} ms, max ${f.max.toFixed(2)} ms over ${l.count} frames × readers`
    ).join("");
    server.resetLiveLatency();
    const first = server.firstFrameDelay; // since the start: plays begin before a measurement
    const firstFrame = first.count === 0
      ? ""
      : `; first frame after PLAY p50 ${first.p50.toFixed(2)} ms, p99 ${
        first.p99.toFixed(2)
      } ms, max ${first.max.toFixed(2)} ms over ${first.count} plays`;
    return `rtsp-server: ${event}: ${server.sessions.size} sessions now, ` +
      `${server.counters.sessionsCreated} in all; ` +
      `${udp.rtpSent} RTP packets over UDP in ${udp.rtpSendCalls} send calls ` +
      `(${server.udpSendMode}), ${udp.sendErrors} send errors, ${udp.sendDropped} dropped; ` +
      `pacing lateness p50 ${late.p50.toFixed(2)} ms, p99 ${late.p99.toFixed(2)} ms, ` +
      `p99.9 ${late.p999.toFixed(2)} ms, max ${
        late.max.toFixed(2)
      } ms over ${late.count} paced runs${firstFrame}${live}`;
  };
  const stop = () => {
    console.error(report("shutting down"));
    server.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (Deno.build.os !== "windows") {
    // kill -USR2: statistics now, and pacing lateness and live latency measured afresh from here.
    // (Not SIGUSR1: Deno opens its inspector on that one; see closeInspectorSignal.)
    Deno.addSignalListener("SIGUSR2", () => console.error(report("statistics")));
  }
}

if (import.meta.main) await main();
