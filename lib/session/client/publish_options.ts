/**
 * The publisher's options (`RtspPublisher`, `rtsp-client --publish`): their
 * defaults come from `CLIENT_DEFAULTS`, and each is checked with an error
 * that names the option and its value, as the player's are.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import { RTP_HEADER_SIZE } from "../../wire/rtp_packet.ts";
import {
  CLIENT_DEFAULTS,
  CLIENT_TRANSPORTS,
  ClientOptionError,
  type ClientTransport,
} from "./client_options.ts";
import { isRtspsUrl, parseClientUrl, redactUrl } from "./client_url.ts";

/** Most frames per second a publisher paces (its timers have millisecond resolution). */
export const MAX_PUBLISH_FPS = 1000;

/** Options for `RtspPublisher.open`; each absent one takes its `CLIENT_DEFAULTS` value. */
export interface PublisherOptions {
  /**
   * Where to publish: an `rtsp://` or `rtsps://` (RTSP over TLS) URL; its
   * userinfo (`rtsp://name:pa%40ss@host/live/cam`, percent-decoded) gives
   * `username` and `password` when those are not given, and never goes on
   * the wire.
   */
  url: string;
  /** The lab MJPEG file to publish (5-digit length, then the JPEG, per frame). */
  file: string;
  /** Frames sent per second, above 0 and up to 1000. @default {20} */
  fps?: number;
  /**
   * How RTP goes to the server: UDP from our port pair, or interleaved on
   * the RTSP connection. Over TLS only `tcp`. @default {"udp", or "tcp" over TLS}
   */
  transport?: ClientTransport;
  /** Start the file again after its last frame, forever (RTP time goes on increasing). @default {false} */
  loop?: boolean;
  /** User name for a server that answers 401 (Digest, or Basic over TLS). @default {the URL's} */
  username?: string;
  /** Password that goes with `username`; it is never shown. @default {the URL's} */
  password?: string;
  /** Answer a Basic challenge over plain TCP too (the password goes readable). @default {false} */
  allowBasic?: boolean;
  /** Certificates (PEM) trusted over TLS in addition to the system's roots. */
  caCerts?: string[];
  /** The largest RTP packet, header included, from 100 to 65507 bytes. @default {1400} */
  maxPacketSize?: number;
  /** Wait for each RTSP reply this long, in ms. @default {5000} */
  replyTimeoutMs?: number;
  /** Seconds between RTCP sender reports. @default {5} */
  rtcpIntervalSec?: number;
  /** The clock frames are paced on. @default {realClock} */
  clock?: Clock;
}

/** Publisher options with every default filled in, and what the URL says. */
export type ResolvedPublisherOptions =
  & Required<Omit<PublisherOptions, "username" | "password" | "caCerts" | "clock">>
  & Pick<PublisherOptions, "username" | "password" | "caCerts" | "clock">
  & {
    /** RTSP over TLS (an `rtsps://` URL). */
    tls: boolean;
    /** Server host, from the URL. */
    host: string;
    /** Server port, from the URL (or the scheme's default). */
    port: number;
    /** The URL without userinfo: the request URI of ANNOUNCE and RECORD. */
    uri: string;
  };

/** When `RtspPublisher.publish` stops, besides the end of the file (without `loop`). */
export interface PublishLimits {
  /** Stop after this many frames (a whole number above 0). */
  frames?: number;
  /** Stop after this many seconds of publishing. */
  durationSec?: number;
  /** Stop when aborted. */
  signal?: AbortSignal;
}

type Rule = [check: (value: unknown) => boolean, rule: string];

const positive = (v: unknown) => typeof v === "number" && v > 0 && Number.isFinite(v);
const ABOVE_0: Rule = [positive, "a number above 0"];

const RULES: Record<string, Rule> = {
  url: [
    (v) => typeof v === "string" && /^rtsps?:\/\//i.test(v),
    "an rtsp:// or rtsps:// URL",
  ],
  file: [(v) => typeof v === "string" && v !== "", "a lab MJPEG file name"],
  fps: [
    (v) => positive(v) && (v as number) <= MAX_PUBLISH_FPS,
    `a number above 0, up to ${MAX_PUBLISH_FPS}`,
  ],
  transport: [
    (v) => CLIENT_TRANSPORTS.includes(v as ClientTransport),
    CLIENT_TRANSPORTS.join(" or "),
  ],
  loop: [(v) => typeof v === "boolean", "true or false"],
  allowBasic: [(v) => typeof v === "boolean", "true or false"],
  caCerts: [
    (v) =>
      v === undefined || (Array.isArray(v) && v.every((c) => typeof c === "string" && c !== "")),
    "a list of PEM certificates",
  ],
  maxPacketSize: [
    (v) => Number.isInteger(v) && (v as number) >= 100 && (v as number) <= 65_507,
    "a whole number of bytes from 100 to 65507",
  ],
  replyTimeoutMs: ABOVE_0,
  rtcpIntervalSec: ABOVE_0,
};

const LIMIT_RULES: Record<string, Rule> = {
  frames: [(v) => positive(v) && Number.isInteger(v), "a whole number above 0"],
  durationSec: ABOVE_0,
};

/** A user name: no ":" and no control character. */
function isUserName(name: unknown): boolean {
  if (typeof name !== "string") return false;
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (char === ":" || code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/**
 * Fill in the defaults and check every option.
 *
 * @throws {ClientOptionError} naming the first option out of range and its
 * value (a URL shown without its password, a password never).
 */
export function resolvePublisherOptions(options: PublisherOptions): ResolvedPublisherOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const tls = typeof options.url === "string" && isRtspsUrl(options.url);
  const values: Record<string, unknown> = {
    fps: CLIENT_DEFAULTS.fps,
    transport: tls ? CLIENT_DEFAULTS.tlsTransport : CLIENT_DEFAULTS.transport,
    loop: CLIENT_DEFAULTS.loop,
    allowBasic: CLIENT_DEFAULTS.allowBasic,
    maxPacketSize: CLIENT_DEFAULTS.maxPacketSize,
    replyTimeoutMs: CLIENT_DEFAULTS.replyTimeoutMs,
    rtcpIntervalSec: CLIENT_DEFAULTS.rtcpIntervalSec,
    ...given,
  };
  for (const [option, [rule, description]] of Object.entries(RULES)) {
    if (!rule(values[option])) {
      const shown = option === "url" && typeof values.url === "string"
        ? redactUrl(values.url)
        : values[option];
      throw new ClientOptionError(option, shown, description);
    }
  }
  let url;
  try {
    url = parseClientUrl(values.url as string);
  } catch {
    throw new ClientOptionError(
      "url",
      redactUrl(values.url as string),
      "an rtsp:// or rtsps:// URL with a host, a port from 1 to 65535 and good percent-encoding",
    );
  }
  if (tls && values.transport !== "tcp") {
    throw new ClientOptionError(
      "transport",
      values.transport,
      "tcp over TLS (rtsps://), where media goes inside the encrypted connection",
    );
  }
  if (!tls && values.caCerts !== undefined) {
    throw new ClientOptionError(
      "caCerts",
      `${(values.caCerts as string[]).length} certificate(s)`,
      "left out without TLS (an rtsps:// URL)",
    );
  }
  if (values.username === undefined && values.password === undefined) {
    values.username = url.username;
    values.password = url.password;
  }
  if (values.username !== undefined && !isUserName(values.username)) {
    throw new ClientOptionError(
      "username",
      values.username,
      'a name without ":" or control characters',
    );
  }
  if (values.password !== undefined) {
    if (typeof values.password !== "string") {
      throw new ClientOptionError("password", "***", "a string");
    }
    if (values.username === undefined) {
      throw new ClientOptionError("password", "***", "given with a username");
    }
  }
  return {
    ...values,
    tls,
    host: url.host,
    port: url.port,
    uri: url.uri,
  } as ResolvedPublisherOptions;
}

/** The largest RFC 2435 payload a packet of `maxPacketSize` bytes carries. */
export function maxPayloadOf(maxPacketSize: number): number {
  return maxPacketSize - RTP_HEADER_SIZE;
}

/**
 * Check the limits of a `publish()` call.
 *
 * @throws {ClientOptionError} naming the first limit out of range and its value.
 */
export function checkPublishLimits(limits: PublishLimits): void {
  for (const [option, [rule, description]] of Object.entries(LIMIT_RULES)) {
    const value = (limits as Record<string, unknown>)[option];
    if (value !== undefined && !rule(value)) {
      throw new ClientOptionError(option, value, description);
    }
  }
}
