/**
 * The server's options: one table of defaults that the library, the
 * `rtsp-server` flag parser and its help text all read, and the check that
 * every option is in range, with an error that names the option and value.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import { UDP_SEND_MODES, type UdpSendMode } from "../../net/udp_port_pair.ts";
import { OptionError } from "../../wire/errors.ts";
import type { ServerUser } from "./server_auth.ts";

/** Every default of {@linkcode RtspServerOptions}, in one place. */
export const SERVER_DEFAULTS = {
  hostname: "0.0.0.0",
  mediaDir: ".",
  fps: 20,
  loop: false,
  unpaced: false,
  sessionTimeout: 60,
  idleTimeout: 30,
  maxConnections: 1000,
  maxSessions: 2000,
  idleFlushMs: 40,
  rtcpInterval: 5,
  maxPacketSize: 1400,
  udpSendMode: "auto" as UdpSendMode,
  preciseTimer: true,
  pacingSlackMs: 0.5,
  pacingGridMs: "auto" as number | "auto",
  users: [] as readonly ServerUser[],
  realm: "rtsp-lab",
  allowBasic: false,
  nonceLifetime: 60,
  plain: true,
  httpMaxRequests: 100,
  publisherTimeout: 10,
} as const;

/** The highest frame rate the server paces (`fps`). */
export const MAX_FPS = 100_000;

/** Scales (RFC 2326 §12.34) the server plays; a request outside is answered with the nearest. */
export const SCALE_LIMITS = { min: 1 / 16, max: 16 } as const;

/** Options for {@linkcode RtspServer.start}; each absent one takes {@linkcode SERVER_DEFAULTS}. */
export interface RtspServerOptions {
  /** TCP port for RTSP; 0 picks a free one. */
  port: number;
  /** Address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** Directory whose lab MJPEG files are served. @default {"."} */
  mediaDir?: string;
  /** Frames per second, above 0 and at most {@linkcode MAX_FPS}. @default {20} */
  fps?: number;
  /** Start each stream again after its last frame. @default {false} */
  loop?: boolean;
  /**
   * Send frames as fast as possible instead of at `fps` (throughput
   * measurements); RTP timestamps keep the spacing of `fps`. @default {false}
   */
  unpaced?: boolean;
  /** Session timeout announced to standard clients, in seconds. @default {60} */
  sessionTimeout?: number;
  /**
   * Close a connection that holds no session and has sent nothing for this
   * many seconds (a client that stalls or never asks). @default {30}
   */
  idleTimeout?: number;
  /** Most RTSP connections at once; more are answered 503 and closed. @default {1000} */
  maxConnections?: number;
  /** Most sessions at once; SETUP beyond it is answered 453. @default {2000} */
  maxSessions?: number;
  /** Quiet time that completes a lab-dialect request, in ms. @default {40} */
  idleFlushMs?: number;
  /** Seconds between RTCP sender reports. @default {5} */
  rtcpInterval?: number;
  /** Largest RTP packet of a standard session, headers included, in bytes. @default {1400} */
  maxPacketSize?: number;
  /**
   * How RTP leaves the server's UDP socket: batched (`gso`, `sendmmsg`: Linux,
   * needs the ffi permission) or one Deno send per packet (`portable`);
   * `auto` takes the best available. @default {"auto"}
   */
  udpSendMode?: UdpSendMode;
  /**
   * Wake the pacer with an FFI sleep precise to ~0.2 ms (Linux, ffi
   * permission) rather than `setTimeout`, which runs 1–2 ms late; not used
   * with a custom `clock`. @default {true}
   */
  preciseTimer?: boolean;
  /**
   * Frames due within this many ms of a wake-up leave in it (up to that much
   * early), so sessions share wake-ups and batched sends. @default {0.5}
   */
  pacingSlackMs?: number;
  /**
   * Start every play on a shared grid of this many ms (0: at once): a
   * session's first frame leaves at the next grid instant, so that sessions
   * that PLAY at different moments share wake-ups. At most 1000. `"auto"`:
   * a grid that follows the number of sessions (`autoGridMs`: at most 50
   * sessions to a wake-up; one frame period for up to 50, finer for more,
   * none for one or for thousands). @default {"auto"}
   */
  pacingGridMs?: number | "auto";
  /**
   * Who may watch: with any user, every request but OPTIONS needs their
   * credentials (Digest, or Basic where allowed) and is answered 401
   * otherwise. @default {[]}
   */
  users?: readonly ServerUser[];
  /** The realm of challenges and of the users' HA1s. @default {"rtsp-lab"} */
  realm?: string;
  /** Accept Basic credentials over plain TCP too (they cross the network readable). @default {false} */
  allowBasic?: boolean;
  /** Seconds a Digest nonce stays good; a later one is answered stale=true. @default {60} */
  nonceLifetime?: number;
  /** Also serve RTSP over TLS (RTSPS). */
  tls?: ServerTlsOptions;
  /** Serve plain RTSP on `port`; false: only TLS (needs `tls`). @default {true} */
  plain?: boolean;
  /**
   * Also serve HTTP on this port (0 picks a free one): a status page,
   * `/status.json`, `/metrics`, `/live/<file>` and `/snapshot/<file>`.
   * Absent: no HTTP at all (nothing of it is made).
   */
  httpPort?: number;
  /** Address HTTP listens on. @default {the RTSP `hostname`} */
  httpHost?: string;
  /**
   * Most HTTP requests in progress at once (a live view is one while it
   * plays); more are answered 503. @default {100}
   */
  httpMaxRequests?: number;
  /**
   * End a live path whose publisher has sent nothing (RTP or RTCP) for this
   * many seconds: its readers get BYE and the path is free. @default {10}
   */
  publisherTimeout?: number;
  /**
   * Also record each published stream into this directory, frame by frame,
   * as a lab MJPEG file (one per publish, named after the path and its start
   * time). Absent: nothing is recorded.
   */
  recordDir?: string;
  /** Where log lines go (one per request). @default {console.error} */
  log?: (line: string) => void;
  /** The clock sessions are paced by. @default {realClock} */
  clock?: Clock;
}

/** RTSP over TLS (RFC 7826 §19.2): where, and with which certificate. */
export interface ServerTlsOptions {
  /** TCP port for RTSPS; 0 picks a free one. */
  port: number;
  /** The certificate chain, PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
}

/** Options with every default filled in (the clock, TLS and HTTP port only when given). */
export type ResolvedServerOptions =
  & Required<Omit<RtspServerOptions, "clock" | "log" | "tls" | "httpPort" | "recordDir">>
  & Pick<RtspServerOptions, "clock" | "tls" | "httpPort" | "recordDir">
  & { log: (line: string) => void };

/** A server option out of range (`option` names it in {@linkcode RtspServerOptions}). */
export class ServerOptionError extends OptionError {
  /** An option out of range: `option` is its name, `rule` what it must be. */
  constructor(option: string, value: unknown, rule: string) {
    super(option, value, rule);
    this.name = "ServerOptionError";
  }
}

type Rule = (value: unknown) => boolean;
/** Not empty, and without control characters or any of `forbidden`. */
function plainText(text: string, forbidden: string): boolean {
  if (text === "") return false;
  for (const c of text) if (c < " " || c === "\x7f" || forbidden.includes(c)) return false;
  return true;
}
const positive: Rule = (v) => typeof v === "number" && v > 0 && Number.isFinite(v);
const wholeAbove0: Rule = (v) => positive(v) && Number.isInteger(v);
const RULES: Partial<Record<keyof RtspServerOptions, [Rule, string]>> = {
  port: [
    (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
    "a port number from 0 to 65535",
  ],
  hostname: [(v) => typeof v === "string" && v !== "", "an address"],
  mediaDir: [(v) => typeof v === "string" && v !== "", "a directory"],
  fps: [(v) => positive(v) && (v as number) <= MAX_FPS, `a number above 0 and at most ${MAX_FPS}`],
  sessionTimeout: [positive, "a number above 0"],
  idleTimeout: [positive, "a number above 0"],
  maxConnections: [wholeAbove0, "a whole number above 0"],
  maxSessions: [wholeAbove0, "a whole number above 0"],
  idleFlushMs: [
    (v) => typeof v === "number" && v >= 0 && Number.isFinite(v),
    "a number of ms, 0 or more",
  ],
  rtcpInterval: [positive, "a number above 0"],
  maxPacketSize: [
    (v) => Number.isInteger(v) && (v as number) >= 256 && (v as number) <= 65507,
    "a whole number of bytes from 256 to 65507",
  ],
  udpSendMode: [
    (v) => (UDP_SEND_MODES as readonly unknown[]).includes(v),
    `one of ${UDP_SEND_MODES.join(", ")}`,
  ],
  pacingGridMs: [
    (v) => v === "auto" || (typeof v === "number" && v >= 0 && v <= 1000),
    "auto, or a number of ms from 0 to 1000",
  ],
  pacingSlackMs: [
    (v) => typeof v === "number" && v >= 0 && v <= 100,
    "a number of ms from 0 to 100",
  ],
  loop: [(v) => typeof v === "boolean", "true or false"],
  users: [
    (v) =>
      Array.isArray(v) &&
      v.every((u) =>
        typeof u?.name === "string" && plainText(u.name, ":") &&
        (typeof u.password === "string" || (typeof u.ha1 === "object" && u.ha1 !== null))
      ),
    'a list of users, each a name without ":" and a password or HA1s',
  ],
  realm: [(v) => typeof v === "string" && plainText(v, '"\\'), "a realm without quotes"],
  allowBasic: [(v) => typeof v === "boolean", "true or false"],
  nonceLifetime: [positive, "a number above 0"],
  plain: [(v) => typeof v === "boolean", "true or false"],
  tls: [
    (v) =>
      v === undefined || (typeof v === "object" && v !== null &&
        Number.isInteger((v as ServerTlsOptions).port) && (v as ServerTlsOptions).port >= 0 &&
        (v as ServerTlsOptions).port <= 65535 &&
        typeof (v as ServerTlsOptions).cert === "string" && (v as ServerTlsOptions).cert !== "" &&
        typeof (v as ServerTlsOptions).key === "string" && (v as ServerTlsOptions).key !== ""),
    "a port and a PEM certificate and key",
  ],
  unpaced: [(v) => typeof v === "boolean", "true or false"],
  httpPort: [
    (v) => v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535),
    "a port number from 0 to 65535",
  ],
  httpHost: [(v) => typeof v === "string" && v !== "", "an address"],
  httpMaxRequests: [wholeAbove0, "a whole number above 0"],
  preciseTimer: [(v) => typeof v === "boolean", "true or false"],
  publisherTimeout: [positive, "a number above 0"],
  recordDir: [(v) => v === undefined || (typeof v === "string" && v !== ""), "a directory"],
};

/**
 * Fill in the defaults and check every option.
 *
 * @throws {ServerOptionError} naming the first option out of range and its value.
 */
export function resolveServerOptions(options: RtspServerOptions): ResolvedServerOptions {
  const resolved: ResolvedServerOptions = {
    ...SERVER_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    log: options.log ?? ((line: string) => console.error(line)),
  } as ResolvedServerOptions;
  resolved.httpHost = options.httpHost ?? resolved.hostname;
  for (const [option, [rule, description]] of Object.entries(RULES)) {
    const value = resolved[option as keyof ResolvedServerOptions];
    // A secret is not shown in the error: the users and the TLS key by what they are.
    if (!rule!(value)) {
      throw new ServerOptionError(
        option,
        option === "users" || option === "tls" ? `(${typeof value})` : value,
        description,
      );
    }
  }
  if (!resolved.plain && !resolved.tls) {
    throw new ServerOptionError("plain", false, "true when no tls is given (nothing to serve)");
  }
  return resolved;
}
