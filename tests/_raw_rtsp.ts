/**
 * Helpers for the server tests (not a test file itself): a raw TCP client
 * that sends exact bytes, standard requests and the lab client's reply
 * parsing, UDP sinks for RTP and RTCP, and small oracles (lab MJPEG frames,
 * RTP headers, standard replies) written independently of `lib/` so they
 * can check it. The server itself is `startServer` of `_server.ts`.
 *
 * Every wait is bounded; every socket and timer is released on dispose, so
 * Deno's sanitizers stay on.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concat } from "./_helpers.ts";
import { PROJECT_ROOT } from "./_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `predicate` every 5 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}

/** `promise`'s value, or `timedOut` after `ms`; the timer is always cleared. */
async function race<T, U>(promise: Promise<T>, ms: number, timedOut: U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// Raw RTSP over TCP

/** Where a reply (or the first of several pipelined ones) ends in `buf`, or -1. */
function replyEnd(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    let blockEnd = -1;
    if (buf[i + 1] === 0x0a) blockEnd = i + 2;
    else if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) blockEnd = i + 3;
    if (blockEnd < 0) continue;
    const head = decoder.decode(buf.subarray(0, i));
    const m = /^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$/im.exec(head);
    const body = m ? Number(m[1]) : 0;
    return buf.length >= blockEnd + body ? blockEnd + body : -1;
  }
  return -1;
}

/** Raised when no reply comes in time or the peer closes first. */
export class NoReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoReplyError";
  }
}

/**
 * A TCP connection that sends exactly the bytes it is given and reads replies
 * with bounded waits.
 */
export class RawConn {
  readonly conn: Deno.Conn;
  /** Received bytes not yet returned by a read method. */
  #buffer: Uint8Array = new Uint8Array(0);
  /** The read in progress; kept across timeouts so no bytes are lost. */
  #pending: Promise<Uint8Array | null> | undefined;
  #eof = false;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connect to `127.0.0.1:port`. */
  static async connect(port: number): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port, transport: "tcp" }));
  }

  /** Connect to `127.0.0.1:port` over TLS, trusting the certificate `caCert` (PEM). */
  static async connectTls(port: number, caCert: string): Promise<RawConn> {
    return new RawConn(
      await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] }),
    );
  }

  /** Whether the peer has closed its side. */
  get eof(): boolean {
    return this.#eof;
  }

  /** The local TCP port of this connection (the server logs it as part of the peer). */
  get localPort(): number {
    return (this.conn.localAddr as Deno.NetAddr).port;
  }

  /** Write all of `data` (a string is UTF-8 encoded) in one write call where possible. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Write `data` one byte per write call. */
  async sendByteByByte(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let i = 0; i < bytes.length; i++) await this.send(bytes.subarray(i, i + 1));
  }

  /** Wait up to `ms` for more bytes; returns what happened. */
  async #fill(ms: number): Promise<"data" | "eof" | "timeout"> {
    if (this.#eof) return "eof";
    this.#pending ??= (async () => {
      const chunk = new Uint8Array(65536);
      const n = await this.conn.read(chunk);
      return n === null ? null : chunk.slice(0, n);
    })().catch(() => null);
    const result = await race(this.#pending, ms, "timeout" as const);
    if (result === "timeout") return "timeout";
    this.#pending = undefined;
    if (result === null) {
      this.#eof = true;
      return "eof";
    }
    this.#buffer = concat(this.#buffer, result);
    return "data";
  }

  #take(n: number): string {
    const text = decoder.decode(this.#buffer.subarray(0, n));
    this.#buffer = this.#buffer.slice(n);
    return text;
  }

  /**
   * Read one reply: up to its blank line (and Content-Length body), or,
   * for a reply without a blank line, whatever came before the peer went
   * quiet for `quietMs`.
   *
   * @throws {NoReplyError} when nothing arrives within `timeoutMs` or the
   * peer closes first.
   */
  async readReply(timeoutMs = 3000, quietMs = 300): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const end = replyEnd(this.#buffer);
      if (end > 0) return this.#take(end);
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      const result = await this.#fill(
        this.#buffer.length > 0 ? Math.min(quietMs, remaining) : remaining,
      );
      if (result === "eof" || (result === "timeout" && this.#buffer.length > 0)) break;
    }
    if (this.#buffer.length > 0) return this.#take(this.#buffer.length);
    throw new NoReplyError(
      this.#eof
        ? "Cannot read a reply: the server closed the connection"
        : `Cannot read a reply: nothing arrived within ${timeoutMs} ms`,
    );
  }

  /** Read `count` replies. */
  async readReplies(count: number, timeoutMs = 3000): Promise<string[]> {
    const replies: string[] = [];
    for (let i = 0; i < count; i++) replies.push(await this.readReply(timeoutMs));
    return replies;
  }

  /** Send `data` and read one reply. */
  async request(data: string | Uint8Array, timeoutMs = 3000): Promise<string> {
    await this.send(data);
    return await this.readReply(timeoutMs);
  }

  /** Everything that arrives within `ms` (returns early when the peer closes). */
  async readFor(ms: number): Promise<string> {
    const deadline = performance.now() + ms;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      if (await this.#fill(remaining) === "eof") break;
    }
    return this.#take(this.#buffer.length);
  }

  /** Wait up to `ms` for the peer to close; returns whether it did (data read meanwhile is kept). */
  async waitClosed(ms = 2000): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!this.#eof) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      await this.#fill(remaining);
    }
    return true;
  }

  /** Close the connection and wait for the read in progress to settle. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.conn.close();
      } catch {
        // already closed
      }
    }
    await this.#pending;
    this.#pending = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

// ---------------------------------------------------------------------------
// Standard requests and replies

/** A standard request: CRLF line ends, the headers in the order given, and a blank line. */
export function req(
  method: string,
  uri: string,
  headers: Record<string, string | number> = {},
  version = "RTSP/1.0",
): string {
  const lines = [`${method} ${uri} ${version}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/** What the lab client takes from a reply. */
export interface LabReply {
  status: number;
  cseq: number;
  session: number;
}

/** What Python's `int()` strips: the characters for which `str.isspace()` is true. */
const PY_SPACE =
  "[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const PY_INT = new RegExp(`^${PY_SPACE}*([+-]?[0-9](?:_?[0-9])*)${PY_SPACE}*$`);

/** Python's `int(text)` for base 10: throws where Python raises ValueError. */
export function pyInt(text: string): number {
  const m = PY_INT.exec(text);
  if (!m) {
    throw new Error(`ValueError: invalid literal for int() with base 10: ${JSON.stringify(text)}`);
  }
  return Number(m[1].replaceAll("_", ""));
}

/** Python's `list[i]`: throws where Python raises IndexError. */
function pyIndex(list: string[], i: number): string {
  if (i >= list.length) {
    throw new Error(`IndexError: list index out of range (${i} of ${list.length})`);
  }
  return list[i];
}

/**
 * Parse a reply exactly as the lab's Python client does:
 *
 * ```python
 * lines = data.split('\n')
 * cseq = int(lines[1].split(' ')[1])
 * session = int(lines[2].split(' ')[1])
 * status = int(lines[0].split(' ')[1])
 * ```
 *
 * @throws {Error} wherever that code would raise (IndexError, ValueError).
 */
export function labParseReply(text: string): LabReply {
  const lines = text.split("\n");
  const cseq = pyInt(pyIndex(pyIndex(lines, 1).split(" "), 1));
  const session = pyInt(pyIndex(pyIndex(lines, 2).split(" "), 1));
  const status = pyInt(pyIndex(pyIndex(lines, 0).split(" "), 1));
  return { status, cseq, session };
}

/** A standard reply: status line and headers (names lower-cased). */
export interface Reply {
  version: string;
  status: number;
  reason: string;
  headers: Map<string, string>;
  /** Header lines in order, as `[name, value]` with the name as sent. */
  lines: [string, string][];
  raw: string;
}

/** Parse a standard RTSP reply (CRLF or LF line ends). */
export function parseReply(raw: string): Reply {
  const head = raw.split(/\r?\n\r?\n/)[0];
  const [statusLine, ...rest] = head.split(/\r?\n/);
  const m = /^(RTSP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
  if (!m) throw new Error(`Cannot parse status line ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  const lines: [string, string][] = [];
  for (const line of rest) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`Cannot parse header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    lines.push([name, value]);
    if (!headers.has(name.toLowerCase())) headers.set(name.toLowerCase(), value);
  }
  return { version: m[1], status: Number(m[2]), reason: m[3], headers, lines, raw };
}

/** `name=value` parameters of a `;`-separated header value (names lower-cased; bare names map to ""). */
export function paramsOf(value: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    params.set(
      (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase(),
      eq < 0 ? "" : part.slice(eq + 1).trim(),
    );
  }
  return params;
}

/** The session id of a reply's Session header, which must be there. */
export function sessionIdOf(reply: Reply): string {
  const value = reply.headers.get("session");
  assert.ok(value !== undefined, `no Session in ${JSON.stringify(reply.raw)}`);
  return value.split(";")[0];
}

// ---------------------------------------------------------------------------
// RTP over UDP

/** One datagram and when it arrived (performance.now()). */
export interface Datagram {
  data: Uint8Array;
  at: number;
  from: Deno.NetAddr;
}

/** A UDP socket on 127.0.0.1 that collects every datagram it receives. */
export interface UdpSink {
  port: number;
  datagrams: Datagram[];
  /** Wait until at least `count` datagrams arrived or `timeoutMs` passed; returns whether they did. */
  waitFor(count: number, timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Bind a UDP socket on 127.0.0.1, port 0, and collect datagrams until closed. */
export function udpSink(): UdpSink {
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const datagrams: Datagram[] = [];
  const waiters = new Set<{ count: number; done: (ok: boolean) => void }>();
  const notify = () => {
    for (const waiter of waiters) if (datagrams.length >= waiter.count) waiter.done(true);
  };
  let closed = false;
  const loop = (async () => {
    while (!closed) {
      try {
        const [data, from] = await socket.receive(new Uint8Array(65536));
        datagrams.push({ data: data.slice(), at: performance.now(), from: from as Deno.NetAddr });
        notify();
      } catch {
        return; // closed
      }
    }
  })();
  const close = async () => {
    if (!closed) {
      closed = true;
      socket.close();
    }
    await loop;
    for (const waiter of waiters) waiter.done(false);
  };
  return {
    port: (socket.addr as Deno.NetAddr).port,
    datagrams,
    waitFor(count, timeoutMs = 3000) {
      if (datagrams.length >= count) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const waiter = {
          count,
          done: (ok: boolean) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(ok);
          },
        };
        const timer = setTimeout(() => waiter.done(false), timeoutMs);
        waiters.add(waiter);
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** What a sink for RTP must offer {@linkcode sinkPair}. */
export interface PortSink {
  port: number;
  close(): Promise<void>;
}

/** RTP and RTCP sinks for one session: RTP on the lower port, as `client_port=a-b` needs. */
export interface SinkPair<R extends PortSink = UdpSink> {
  rtp: R;
  rtcp: UdpSink;
  /** `RTP/AVP;unicast;client_port=<rtp>-<rtcp>`. */
  transport: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * An RTP sink from `makeRtp` (default {@linkcode udpSink}) and an RTCP sink
 * on a higher port.
 */
export async function sinkPair<R extends PortSink = UdpSink>(
  makeRtp?: () => R,
): Promise<SinkPair<R>> {
  // Without makeRtp, R is UdpSink (its default).
  const make = makeRtp ?? (udpSink as unknown as () => R);
  for (let attempt = 0; attempt < 50; attempt++) {
    const rtp = make();
    const rtcp = udpSink();
    if (rtcp.port > rtp.port) {
      return {
        rtp,
        rtcp,
        transport: `RTP/AVP;unicast;client_port=${rtp.port}-${rtcp.port}`,
        [Symbol.asyncDispose]: async () => {
          await rtp.close();
          await rtcp.close();
        },
      };
    }
    await rtp.close();
    await rtcp.close();
  }
  throw new Error("Cannot bind an RTCP sink above the RTP sink's port");
}

/** The fixed RTP header fields and payload, decoded independently of lib/. */
export interface RtpView {
  version: number;
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
}

/** Decode the 12-byte RTP header of `data` (RFC 3550 §5.1). */
export function rtpView(data: Uint8Array): RtpView {
  if (data.length < 12) throw new Error(`Cannot read RTP header: ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    version: data[0] >> 6,
    padding: (data[0] & 0x20) !== 0,
    extension: (data[0] & 0x10) !== 0,
    csrcCount: data[0] & 0x0f,
    marker: (data[1] & 0x80) !== 0,
    payloadType: data[1] & 0x7f,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: data.subarray(12),
  };
}

// ---------------------------------------------------------------------------
// Media

/** The JPEGs of a lab MJPEG file (5 ASCII digits of length, then the JPEG), read independently of lib/. */
export async function readLabFrames(path = `${PROJECT_ROOT}/video.mjpeg`): Promise<Uint8Array[]> {
  const bytes = await Deno.readFile(path);
  const frames: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = Number(decoder.decode(bytes.subarray(offset, offset + 5)));
    if (!Number.isInteger(length) || length <= 0) throw new Error(`Bad lab header at ${offset}`);
    frames.push(bytes.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return frames;
}

/** `frames` in the lab MJPEG format: each JPEG preceded by its length as 5 ASCII digits. */
export function labFile(frames: readonly Uint8Array[]): Uint8Array {
  return concat(...frames.flatMap((f) => [String(f.length).padStart(5, "0"), f]));
}

/** A temporary media directory, removed on dispose. */
export interface TempMediaDir {
  path: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Make a temporary directory holding `files` (name to contents). */
export async function tempMediaDir(files: Record<string, Uint8Array>): Promise<TempMediaDir> {
  const path = await Deno.makeTempDir({ prefix: "rtsp_test_media_" });
  try {
    for (const [name, data] of Object.entries(files)) await Deno.writeFile(`${path}/${name}`, data);
  } catch (error) {
    await Deno.remove(path, { recursive: true });
    throw error;
  }
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
