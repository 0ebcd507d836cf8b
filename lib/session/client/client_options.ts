/**
 * The client's options: one table of defaults that the library, the
 * `rtsp-client` flag parser and its help text all read, and the checks that
 * every option, receive limit and play range is in range, with an error
 * that names the option and its value.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import type { Dialect } from "../../wire/dialect.ts";
import { OptionError } from "../../wire/errors.ts";
import type { ReceptionSummary } from "./reception_stats.ts";
import { isRtspsUrl, parseClientUrl, redactUrl } from "./client_url.ts";

/** The dialect to speak; `auto` tries standard RTSP and falls back to the lab's. */
export type ClientDialect = Dialect | "auto";

/** How standard RTSP carries RTP: UDP, or interleaved on the RTSP connection. */
export type ClientTransport = "udp" | "tcp";

/** The dialects {@linkcode StreamClientOptions.dialect} takes. */
export const CLIENT_DIALECTS: readonly ClientDialect[] = ["auto", "lab", "rtsp"];

/** The transports {@linkcode StreamClientOptions.transport} takes. */
export const CLIENT_TRANSPORTS: readonly ClientTransport[] = ["udp", "tcp"];

/**
 * Every default of the client, in one place: those of
 * {@linkcode StreamClientOptions}, and the receive limits a plain
 * `rtsp-client` run uses (`endAfterSec`, `firstPacketTimeoutSec`; the
 * library's `receive()` applies a limit only when it is given).
 * `transport` is the default over plain TCP; over TLS (an `rtsps://`
 * resource) it is `tlsTransport`, the only one TLS takes. `fps`, `loop` and
 * `maxPacketSize` are those of `PublisherOptions` (publishing a file).
 */
export const CLIENT_DEFAULTS = {
  dialect: "auto" as ClientDialect,
  transport: "udp" as ClientTransport,
  tlsTransport: "tcp" as ClientTransport,
  allowBasic: false,
  rtpPort: 0,
  receiveTimeoutMs: 500,
  replyTimeoutMs: 5000,
  autoTimeoutMs: 500,
  rtcpIntervalSec: 5,
  endAfterSec: 2,
  firstPacketTimeoutSec: 10,
  thumbnails: 0,
  /** The thumbnails `rtsp-client --report` keeps. */
  reportThumbnails: 60,
  /** Publishing (`RtspPublisher`, `rtsp-client --publish`): frames sent per second. */
  fps: 20,
  /** Publishing: start the file again after its last frame, forever. */
  loop: false,
  /** Publishing: the largest RTP packet sent, RTP header included, in bytes. */
  maxPacketSize: 1400,
} as const;

/** Options for `StreamClient.open`; each absent one takes {@linkcode CLIENT_DEFAULTS}. */
export interface StreamClientOptions {
  /** RTSP server host. */
  host: string;
  /** RTSP server port, 1 to 65535. */
  port: number;
  /**
   * UDP port to receive RTP on (RTCP on the one above in standard RTSP),
   * 0 to 65534; 0 picks free ones. @default {0}
   */
  rtpPort?: number;
  /**
   * The stream: a file name such as `video.mjpeg`, or an `rtsp://` or
   * `rtsps://` URL. `rtsps://` is RTSP over TLS. A URL's userinfo
   * (`rtsp://name:pa%40ss@host/cam`, percent-decoded) gives `username` and
   * `password` when those are not given; requests never carry it.
   */
  resource: string;
  /** The dialect to speak; `auto` asks with OPTIONS. @default {"auto"} */
  dialect?: ClientDialect;
  /**
   * How standard RTSP carries RTP: UDP, or interleaved on the RTSP
   * connection (not in the lab dialect). Over TLS only `tcp`: media goes
   * inside the encrypted connection. @default {"udp", or "tcp" over TLS}
   */
  transport?: ClientTransport;
  /**
   * User name for a server that asks for credentials (401): Digest
   * (RFC 7616; SHA-256, else MD5) or Basic (RFC 7617). @default {the resource URL's}
   */
  username?: string;
  /** Password that goes with `username`; it is never shown. @default {the resource URL's} */
  password?: string;
  /**
   * Answer a Basic challenge over plain TCP, which sends the password
   * readable to anyone on the path (over TLS Basic is always allowed).
   * @default {false}
   */
  allowBasic?: boolean;
  /**
   * Certificates (PEM) trusted over TLS in addition to the system's roots,
   * e.g. a server's self-signed certificate or its private CA.
   */
  caCerts?: string[];
  /** Directory for `frame_NNNNNN.jpg` files; frames are not written when absent. */
  outDir?: string;
  /** Also record complete frames into this lab MJPEG file. */
  mjpegFile?: string;
  /**
   * Keep the JPEGs of up to this many evenly spaced complete frames (every
   * frame, every 2nd, every 4th, ...) in `StreamClient.frameLog`, for a
   * report; 0 keeps none. @default {0}
   */
  thumbnails?: number;
  /** Wait for each RTP datagram this long, in ms (the lab's 0.5 s). @default {500} */
  receiveTimeoutMs?: number;
  /** Wait for each RTSP reply this long, in ms. @default {5000} */
  replyTimeoutMs?: number;
  /** With `auto`, wait this long for an answer to OPTIONS before speaking the lab dialect. @default {500} */
  autoTimeoutMs?: number;
  /** Seconds between RTCP receiver reports. @default {5} */
  rtcpIntervalSec?: number;
  /** Called with the statistics so far, at most every 100 ms while packets arrive. */
  onProgress?(summary: ReceptionSummary): void;
  /** The clock timeouts and arrival times are read from. @default {realClock} */
  clock?: Clock;
}

/** Options with every default filled in, and whether the connection is TLS. */
export type ResolvedClientOptions =
  & Required<
    Omit<
      StreamClientOptions,
      "outDir" | "mjpegFile" | "onProgress" | "clock" | "username" | "password" | "caCerts"
    >
  >
  & Pick<
    StreamClientOptions,
    "outDir" | "mjpegFile" | "onProgress" | "clock" | "username" | "password" | "caCerts"
  >
  & {
    /** RTSP over TLS: the resource is an `rtsps://` URL. */
    tls: boolean;
  };

/** When `StreamClient.receive` stops; each limit applies only when given. */
export interface ReceiveLimits {
  /** Stop after this many complete frames (a whole number above 0). */
  frames?: number;
  /** Stop this many seconds after the call. */
  durationSec?: number;
  /** Stop when no packet came for this long after the stream began, in seconds. */
  endAfterSec?: number;
  /** Fail when no packet comes within this many seconds. */
  firstPacketTimeoutSec?: number;
  /** Stop when aborted (receiving also stops, as `"aborted"`, when the client is closed). */
  signal?: AbortSignal;
}

/**
 * What part of the stream a PLAY asks for, in seconds of normal play time
 * (RFC 2326 §3.6); standard RTSP only.
 */
export interface PlayRange {
  /**
   * Where to start: the stream seeks to the first frame at or after it.
   * Absent: where the stream is (the beginning before the first PLAY, else
   * the position PAUSE left it at).
   */
  start?: number;
  /** Where to stop: the stream ends after the last frame before it. Absent: at the end. */
  end?: number;
}

/**
 * A client option, receive limit or play range out of range (`option`:
 * e.g. `rtpPort`, `endAfterSec` or `start`).
 */
export class ClientOptionError extends OptionError {
  /** An option out of range: `option` is its name, `rule` what it must be. */
  constructor(option: string, value: unknown, rule: string) {
    super(option, value, rule);
    this.name = "ClientOptionError";
  }
}

type Rule = [check: (value: unknown) => boolean, rule: string];

/** A user name: no ":" (Basic's separator, RFC 7617 §2) and no control character (CR, LF, ...). */
function isUserName(name: string): boolean {
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (char === ":" || code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

const positive = (v: unknown) => typeof v === "number" && v > 0 && Number.isFinite(v);
const text = (v: unknown) => typeof v === "string" && v !== "";
const ABOVE_0: Rule = [positive, "a number above 0"];

const OPEN_RULES: Record<string, Rule> = {
  host: [text, "a host name or address"],
  port: [
    (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535,
    "a port number from 1 to 65535",
  ],
  rtpPort: [
    (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65534,
    "a port number from 0 to 65534",
  ],
  resource: [text, "a file name or an rtsp:// or rtsps:// URL"],
  dialect: [(v) => CLIENT_DIALECTS.includes(v as ClientDialect), CLIENT_DIALECTS.join(", ")],
  transport: [
    (v) => CLIENT_TRANSPORTS.includes(v as ClientTransport),
    CLIENT_TRANSPORTS.join(" or "),
  ],
  username: [
    (v) => v === undefined || (typeof v === "string" && isUserName(v)),
    'a name without ":" or control characters',
  ],
  allowBasic: [(v) => typeof v === "boolean", "true or false"],
  caCerts: [
    (v) => v === undefined || (Array.isArray(v) && v.every((c) => text(c))),
    "a list of PEM certificates",
  ],
  outDir: [(v) => v === undefined || text(v), "a directory"],
  mjpegFile: [(v) => v === undefined || text(v), "a file name"],
  thumbnails: [
    (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 10_000,
    "a whole number from 0 to 10000",
  ],
  receiveTimeoutMs: ABOVE_0,
  replyTimeoutMs: ABOVE_0,
  autoTimeoutMs: ABOVE_0,
  rtcpIntervalSec: ABOVE_0,
};

const LIMIT_RULES: Record<string, Rule> = {
  frames: [(v) => positive(v) && Number.isInteger(v), "a whole number above 0"],
  durationSec: ABOVE_0,
  endAfterSec: ABOVE_0,
  firstPacketTimeoutSec: ABOVE_0,
};

const SECONDS: Rule = [
  (v) => typeof v === "number" && v >= 0 && Number.isFinite(v),
  "a number of seconds, 0 or more",
];

function check(rules: Record<string, Rule>, values: Record<string, unknown>): void {
  for (const [option, [rule, description]] of Object.entries(rules)) {
    if (!rule(values[option])) throw new ClientOptionError(option, values[option], description);
  }
}

/**
 * Fill in the defaults and check every option.
 *
 * @param options The options as given.
 * @returns The options with every default filled in.
 * @throws {ClientOptionError} naming the first option out of range and its
 * value; also for `transport: "tcp"` with `dialect: "lab"`.
 */
export function resolveClientOptions(options: StreamClientOptions): ResolvedClientOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const tls = typeof options.resource === "string" && isRtspsUrl(options.resource);
  const resolved = {
    dialect: CLIENT_DEFAULTS.dialect,
    transport: tls ? CLIENT_DEFAULTS.tlsTransport : CLIENT_DEFAULTS.transport,
    allowBasic: CLIENT_DEFAULTS.allowBasic,
    rtpPort: CLIENT_DEFAULTS.rtpPort,
    thumbnails: CLIENT_DEFAULTS.thumbnails,
    receiveTimeoutMs: CLIENT_DEFAULTS.receiveTimeoutMs,
    replyTimeoutMs: CLIENT_DEFAULTS.replyTimeoutMs,
    autoTimeoutMs: CLIENT_DEFAULTS.autoTimeoutMs,
    rtcpIntervalSec: CLIENT_DEFAULTS.rtcpIntervalSec,
    ...given,
    tls,
  } as ResolvedClientOptions;
  check(OPEN_RULES, resolved as unknown as Record<string, unknown>);
  if (tls) {
    if (resolved.transport !== "tcp") {
      throw new ClientOptionError(
        "transport",
        resolved.transport,
        "tcp over TLS (rtsps://), where media goes interleaved inside the encrypted connection",
      );
    }
    if (resolved.dialect === "lab") {
      throw new ClientOptionError("dialect", "lab", "auto or rtsp over TLS (rtsps://)");
    }
  } else if (resolved.caCerts !== undefined) {
    throw new ClientOptionError(
      "caCerts",
      `${resolved.caCerts.length} certificate(s)`,
      "left out without TLS (an rtsps:// resource)",
    );
  }
  if (resolved.transport === "tcp" && resolved.dialect === "lab") {
    throw new ClientOptionError(
      "transport",
      "tcp",
      "udp in the lab dialect, which carries RTP over UDP only",
    );
  }
  resolveCredentials(resolved);
  return resolved;
}

/**
 * Credentials: the options given, else the resource URL's userinfo. A
 * password is never shown: its errors show `***`.
 */
function resolveCredentials(resolved: ResolvedClientOptions): void {
  if (/^rtsps?:\/\//i.test(resolved.resource)) {
    let url;
    try {
      url = parseClientUrl(resolved.resource);
    } catch {
      // The error shows the URL without its password.
      throw new ClientOptionError(
        "resource",
        redactUrl(resolved.resource),
        "an rtsp:// or rtsps:// URL with a host, a port from 1 to 65535 and good percent-encoding",
      );
    }
    if (resolved.username === undefined && resolved.password === undefined) {
      resolved.username = url.username;
      resolved.password = url.password;
    }
  }
  check({ username: OPEN_RULES.username }, resolved as unknown as Record<string, unknown>);
  if (resolved.password !== undefined) {
    if (typeof resolved.password !== "string") {
      throw new ClientOptionError("password", "***", "a string");
    }
    if (resolved.username === undefined) {
      throw new ClientOptionError("password", "***", "given with a username");
    }
  }
}

/**
 * Check the limits of a `receive()` call.
 *
 * @throws {ClientOptionError} naming the first limit out of range and its value.
 */
export function checkReceiveLimits(limits: ReceiveLimits): void {
  const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  for (const [option, [rule, description]] of Object.entries(LIMIT_RULES)) {
    if (option in given && !rule(given[option])) {
      throw new ClientOptionError(option, given[option], description);
    }
  }
}

/**
 * Check a play range: start and end are seconds, 0 or more, and the end
 * comes after the start (after 0 when there is no start).
 *
 * @throws {ClientOptionError} naming `start` or `end` and its value.
 */
export function checkPlayRange(range: PlayRange): void {
  const [seconds, description] = SECONDS;
  if (range.start !== undefined && !seconds(range.start)) {
    throw new ClientOptionError("start", range.start, description);
  }
  if (range.end !== undefined) {
    if (!seconds(range.end)) throw new ClientOptionError("end", range.end, description);
    const start = range.start ?? 0;
    if (!(range.end > start)) {
      throw new ClientOptionError("end", range.end, `after start ${start}`);
    }
  }
}
