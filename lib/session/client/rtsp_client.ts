/**
 * The client's RTSP control connection: CSeq from 1, up by one per request;
 * the Session id from the SETUP reply on every later request; replies
 * matched to requests by CSeq, each with a timeout.
 *
 * @module
 */
import {
  createRequest,
  type InterleavedFrame,
  type RtspResponse,
  serializeInterleaved,
  serializeRequest,
} from "../../wire/rtsp_message.ts";
import { parseSession } from "../../wire/session_header.ts";
import { type Clock, realClock, withTimeout } from "../../net/clock.ts";
import { RtspConnection } from "../../net/rtsp_connection.ts";
import type { Dialect } from "../../wire/dialect.ts";

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
  /** The clock timeouts are measured on. @default {realClock} */
  clock?: Clock;
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
   * Open a TCP connection to the server.
   *
   * @throws {RtspClientError} when the server cannot be reached.
   */
  static async connect(
    hostname: string,
    port: number,
    options: RtspClientOptions = {},
  ): Promise<RtspClient> {
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

  async #read(): Promise<void> {
    try {
      for await (const item of this.#rtsp.items()) {
        if (item.kind === "response") this.#replies.push(item);
        else if (item.kind === "interleaved") this.#options.onInterleaved?.(item);
        // Requests from the server (e.g. ANNOUNCE) are not supported and ignored.
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
   * Send a request and wait for its reply.
   *
   * CSeq is stamped; Session is added once known (and not for SETUP or
   * OPTIONS in the lab dialect, which never carries it there).
   *
   * @throws {RtspClientError} on no reply, a closed connection, a reply with
   * the wrong CSeq, or a Session that changes.
   */
  request(
    method: string,
    uri: string,
    headers: Record<string, string> = {},
    options: { timeoutMs?: number } = {},
  ): Promise<RtspResponse> {
    const result = this.#queue.then(() => this.#exchange(method, uri, headers, options));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #exchange(
    method: string,
    uri: string,
    headers: Record<string, string>,
    options: { timeoutMs?: number },
  ): Promise<RtspResponse> {
    const cseq = ++this.#cseq;
    this.lastRequestAt = (this.#options.clock ?? realClock).now();
    const all: Record<string, string> = { CSeq: String(cseq) };
    if (this.session !== undefined && method !== "SETUP") all.Session = this.session;
    Object.assign(all, headers);
    if (this.dialect === "rtsp") all["User-Agent"] ??= "deno-rtsp-lab/0.1";
    const request = createRequest(method, uri, all);
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

  /** Close the connection and wait for the reader to finish. */
  async close(): Promise<void> {
    this.#rtsp.close();
    await this.#reader;
  }
}
