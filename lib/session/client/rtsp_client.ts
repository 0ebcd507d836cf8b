/**
 * The client's RTSP control connection, over TCP or TLS (`rtsps://`): CSeq
 * from 1, up by one per request; the Session id from the SETUP reply on
 * every later request; replies matched to requests by CSeq, each with a
 * timeout. A 401 is answered once with credentials (Digest or Basic, see
 * `client_auth.ts`), and every later request carries them from the start.
 *
 * @module
 */
import {
  createRequest,
  type InterleavedFrame,
  type RtspRequest,
  type RtspResponse,
  serializeInterleaved,
  serializeRequest,
  serializeResponse,
} from "../../wire/rtsp_message.ts";
import { parseSession } from "../../wire/session_header.ts";
import { type Clock, realClock, withTimeout } from "../../net/clock.ts";
import { RtspConnection } from "../../net/rtsp_connection.ts";
import type { Dialect } from "../../wire/dialect.ts";
import type { ClientAuthenticator } from "./client_auth.ts";

/** A failed exchange with the server, with a one-line message. */
export class RtspClientError extends Error {
  /** The reply's status, when there was a reply. */
  readonly status: number | undefined;

  /** A failed exchange; `status` is the reply's, when there was a reply. */
  constructor(message: string, status?: number) {
    super(message);
    this.name = "RtspClientError";
    this.status = status;
  }
}

/** Options for {@linkcode RtspClient.connect}. */
export interface RtspClientOptions {
  /** How requests are written. @default {"rtsp"} */
  dialect?: Dialect;
  /** How long to wait for each reply, in ms. @default {5000} */
  replyTimeoutMs?: number;
  /** Quiet time that completes a reply without a blank line (lab servers), in ms. @default {40} */
  idleFlushMs?: number;
  /** Receives interleaved frames, if any arrive. */
  onInterleaved?(frame: InterleavedFrame): void;
  /**
   * Answers a request from the server (such as a keep-alive OPTIONS): the
   * response returned is sent. Without it, or when it returns nothing,
   * requests from the server are ignored.
   */
  onRequest?(request: RtspRequest): RtspResponse | undefined;
  /**
   * Connect over TLS (RTSP over TLS, `rtsps://`): the server's certificate
   * must verify for `hostname`, against the system's roots and `caCerts`.
   * @default {false}
   */
  tls?: boolean;
  /** Certificates (PEM) trusted over TLS in addition to the system's roots. */
  caCerts?: string[];
  /**
   * Answers a 401: without it a 401 is an error that says credentials are
   * needed.
   */
  auth?: ClientAuthenticator;
  /** The clock timeouts are measured on. @default {realClock} */
  clock?: Clock;
}

/** Options for one {@linkcode RtspClient.request}. */
export interface RequestOptions {
  /** How long to wait for the reply, in ms. @default {the client's replyTimeoutMs} */
  timeoutMs?: number;
  /** The request's body (e.g. the SDP of an ANNOUNCE); Content-Length is written from it. */
  body?: Uint8Array | string;
}

/** An RTSP control connection to one server. */
export class RtspClient {
  readonly #rtsp: RtspConnection;
  readonly #options: RtspClientOptions;
  readonly #replies: RtspResponse[] = [];
  #wake: (() => void) | undefined;
  #readerError: Error | undefined;
  #readerDone = false;
  readonly #reader: Promise<void>;
  #cseq = 0;
  /** Session id from the SETUP reply. */
  session: string | undefined;
  /** Session timeout the server announced, in seconds. */
  sessionTimeout: number | undefined;
  /** Dialect requests are written in. */
  dialect: Dialect;
  /** When the last request was sent (clock ms), for keep-alive timing. */
  lastRequestAt = 0;
  /** Requests one at a time: each waits for the previous reply. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(conn: Deno.Conn, options: RtspClientOptions) {
    this.#options = options;
    this.dialect = options.dialect ?? "rtsp";
    this.#rtsp = new RtspConnection(conn, {
      idleFlushMs: options.idleFlushMs,
      clock: options.clock,
    });
    this.#reader = this.#read();
  }

  /**
   * Open a TCP connection to the server; with `tls`, complete the TLS
   * handshake too, within the reply timeout.
   *
   * @throws {RtspClientError} when the server cannot be reached, its
   * certificate does not verify, or it does not complete a TLS handshake.
   */
  static async connect(
    hostname: string,
    port: number,
    options: RtspClientOptions = {},
  ): Promise<RtspClient> {
    if (options.tls) return new RtspClient(await connectTls(hostname, port, options), options);
    try {
      const conn = await Deno.connect({ hostname, port, transport: "tcp" });
      return new RtspClient(conn, options);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new RtspClientError(`Cannot connect to RTSP server ${hostname}:${port}: ${why}`);
    }
  }

  /** The CSeq of the last request sent (0 before the first). */
  get cseq(): number {
    return this.#cseq;
  }

  /** The server's address. */
  get remoteAddr(): Deno.NetAddr {
    return this.#rtsp.remoteAddr;
  }

  /** Our end of the connection. */
  get localAddr(): Deno.NetAddr {
    return this.#rtsp.conn.localAddr as Deno.NetAddr;
  }

  /** Whether the connection has ended: the server closed it, or it was closed here. */
  get ended(): boolean {
    return this.#readerDone;
  }

  async #read(): Promise<void> {
    try {
      for await (const item of this.#rtsp.items()) {
        if (item.kind === "response") this.#replies.push(item);
        else if (item.kind === "interleaved") this.#options.onInterleaved?.(item);
        else {
          // Requests from the server are answered only when onRequest says how.
          const response = this.#options.onRequest?.(item);
          if (response) this.#rtsp.write(serializeResponse(response)).catch(() => {});
        }
        this.#wake?.();
      }
    } catch (error) {
      this.#readerError = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#readerDone = true;
      this.#wake?.();
    }
  }

  async #nextReply(timeoutMs: number): Promise<RtspResponse> {
    const clock = this.#options.clock ?? realClock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const reply = this.#replies.shift();
      if (reply) return reply;
      if (this.#readerError) {
        throw new RtspClientError(`Cannot read the server's reply: ${this.#readerError.message}`);
      }
      if (this.#readerDone) throw new RtspClientError("The server closed the RTSP connection");
      const left = deadline - clock.now();
      if (left <= 0) {
        throw new RtspClientError(`No reply from the server within ${timeoutMs / 1000} s`);
      }
      await withTimeout(new Promise<void>((resolve) => this.#wake = resolve), left, clock);
      this.#wake = undefined;
    }
  }

  /**
   * Send a request (with `options.body`, when given, and its
   * Content-Length) and wait for its reply.
   *
   * CSeq is stamped; Session is added once known (and not for SETUP or
   * OPTIONS in the lab dialect, which never carries it there); so is
   * Authorization once a 401 chose a challenge. A 401 is answered once: the
   * request is sent again (with the next CSeq) with credentials, or with the
   * new nonce when the server said `stale=true`.
   *
   * @throws {RtspClientError} on no reply, a closed connection, a reply with
   * the wrong CSeq, or a Session that changes; with status 401 when the
   * server wants credentials and none were given, when it offers no scheme
   * that can be answered, or when it refuses them
   * (`401 Unauthorized: wrong name or password for URI`).
   */
  request(
    method: string,
    uri: string,
    headers: Record<string, string> = {},
    options: RequestOptions = {},
  ): Promise<RtspResponse> {
    const result = this.#queue.then(() => this.#exchange(method, uri, headers, options));
    this.#queue = result.catch(() => {});
    return result;
  }

  /** One request, and once more with credentials after a 401 that asks for them. */
  async #exchange(
    method: string,
    uri: string,
    headers: Record<string, string>,
    options: RequestOptions,
  ): Promise<RtspResponse> {
    const auth = this.#options.auth;
    const first = auth?.authorization(method, uri);
    const reply = await this.#send(method, uri, headers, first, options);
    if (reply.status !== 401) return reply;
    const unauthorized = (why: string) => new RtspClientError(`401 Unauthorized: ${why}`, 401);
    if (auth === undefined) {
      throw unauthorized(
        `${uri} needs a name and password (in the URL, rtsp://name:password@host/…, or --user)`,
      );
    }
    const wrong = unauthorized(`wrong name or password for ${uri}`);
    const result = auth.challenge(reply.headers.getAll("www-authenticate"));
    if (!result.usable) throw unauthorized(`cannot answer for ${uri}: ${result.reason}`);
    // Credentials refused on the nonce they were made for, without stale=true, are wrong
    // (RFC 7616 §3.3); a new nonce, or stale=true, gets one more try.
    if (first !== undefined && !result.stale && !result.renewed) throw wrong;
    const second = await this.#send(method, uri, headers, auth.authorization(method, uri), options);
    if (second.status === 401) {
      auth.challenge(second.headers.getAll("www-authenticate"));
      throw wrong;
    }
    return second;
  }

  async #send(
    method: string,
    uri: string,
    headers: Record<string, string>,
    authorization: string | undefined,
    options: RequestOptions,
  ): Promise<RtspResponse> {
    const cseq = ++this.#cseq;
    this.lastRequestAt = (this.#options.clock ?? realClock).now();
    const all: Record<string, string> = { CSeq: String(cseq) };
    if (this.session !== undefined && method !== "SETUP") all.Session = this.session;
    Object.assign(all, headers);
    if (authorization !== undefined) all.Authorization = authorization;
    if (this.dialect === "rtsp") all["User-Agent"] ??= "deno-rtsp-lab/0.1";
    const request = createRequest(method, uri, all, options.body);
    await this.#rtsp.write(serializeRequest(request, { dialect: this.dialect })).catch((e) => {
      throw new RtspClientError(`Cannot send ${method}: ${e instanceof Error ? e.message : e}`);
    });
    const timeoutMs = options.timeoutMs ?? this.#options.replyTimeoutMs ?? 5000;
    let reply = await this.#nextReply(timeoutMs);
    // A late reply to an earlier request that timed out is skipped.
    while (Number(reply.headers.get("cseq")) < cseq) reply = await this.#nextReply(timeoutMs);
    const replyCseq = reply.headers.get("cseq")?.trim();
    if (replyCseq === undefined) {
      throw new RtspClientError(`The reply to ${method} has no CSeq`, reply.status);
    }
    if (replyCseq !== String(cseq)) {
      throw new RtspClientError(
        `The reply to ${method} has CSeq ${replyCseq}, expected ${cseq}`,
        reply.status,
      );
    }
    const sessionHeader = reply.headers.get("session");
    if (reply.status === 200 && sessionHeader !== undefined) {
      let parsed;
      try {
        parsed = parseSession(sessionHeader);
      } catch {
        throw new RtspClientError(`The reply to ${method} has a bad Session "${sessionHeader}"`);
      }
      if (this.session === undefined) {
        this.session = parsed.id;
        this.sessionTimeout = parsed.timeout;
      } else if (parsed.id !== this.session) {
        throw new RtspClientError(
          `The server changed the session from ${this.session} to ${parsed.id}`,
          reply.status,
        );
      }
    }
    return reply;
  }

  /** Send an interleaved frame (RTCP of a TCP-interleaved session) on the connection. */
  sendInterleaved(channel: number, data: Uint8Array): void {
    this.#rtsp.write(serializeInterleaved(channel, data)).catch(() => {});
  }

  /**
   * Send packets as interleaved frames on `channel`, in one write.
   *
   * @returns When the write is done: a slow server makes it wait (TCP flow control).
   * @throws {RtspClientError} when the connection cannot be written.
   */
  async writeInterleaved(channel: number, packets: readonly Uint8Array[]): Promise<void> {
    let size = 0;
    for (const packet of packets) size += 4 + packet.length;
    const out = new Uint8Array(size);
    let offset = 0;
    for (const packet of packets) {
      out.set(serializeInterleaved(channel, packet), offset);
      offset += 4 + packet.length;
    }
    if (this.#rtsp.closed) throw new RtspClientError("The RTSP connection is closed");
    await this.#rtsp.write(out).catch((e) => {
      throw new RtspClientError(
        `Cannot send RTP on the RTSP connection: ${e instanceof Error ? e.message : e}`,
      );
    });
  }

  /** Whether the connection is TLS. */
  get tls(): boolean {
    return this.#options.tls ?? false;
  }

  /** Close the connection and wait for the reader to finish. */
  async close(): Promise<void> {
    this.#rtsp.close();
    await this.#reader;
  }
}

/**
 * A TLS connection whose handshake completed within the reply timeout: a
 * certificate that does not verify, or a server that does not speak TLS, is
 * an error now rather than a hang at the first request.
 */
async function connectTls(
  hostname: string,
  port: number,
  options: RtspClientOptions,
): Promise<Deno.TlsConn> {
  const where = `RTSP server ${hostname}:${port} over TLS`;
  let conn: Deno.TlsConn;
  try {
    // TCP first, then TLS on it: a Deno.TlsConn has no setNoDelay, and small
    // requests and RTCP reports should not wait for Nagle's algorithm.
    const tcp = await Deno.connect({ hostname, port, transport: "tcp" });
    tcp.setNoDelay(true);
    conn = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts }).catch((error) => {
      try {
        tcp.close();
      } catch { /* startTls took it */ }
      throw error;
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new RtspClientError(`Cannot connect to ${where}: ${why}`);
  }
  const timeoutMs = options.replyTimeoutMs ?? 5000;
  let done;
  try {
    done = await withTimeout(conn.handshake(), timeoutMs, options.clock ?? realClock);
  } catch (error) {
    conn.close();
    throw new RtspClientError(`Cannot connect to ${where}: ${tlsProblem(error)}`);
  }
  if (done === undefined) {
    conn.close();
    throw new RtspClientError(
      `Cannot connect to ${where}: no TLS handshake within ${timeoutMs / 1000} s ` +
        `(is it a TLS server?)`,
    );
  }
  return conn;
}

/** A failed handshake in words, with a hint for the usual causes. */
function tlsProblem(error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  if (/CaUsedAsEndEntity/.test(why)) {
    return `the server's certificate is a CA certificate (basicConstraints CA:TRUE), ` +
      `which TLS does not accept as a server's own (${why})`;
  }
  if (/invalid peer certificate|certificate/i.test(why)) {
    return `the server's certificate does not verify (${why}); ` +
      `trust a self-signed certificate or a private CA with --ca FILE`;
  }
  if (/corrupt message|InvalidContentType|invalid content type|record/i.test(why)) {
    return `the server does not speak TLS (${why})`;
  }
  if (/end of file|eof|reset|broken pipe/i.test(why)) {
    return `the server closed the connection during the TLS handshake (${why}); ` +
      `is it a TLS server?`;
  }
  return why;
}
