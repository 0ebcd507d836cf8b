/**
 * The server's RTSP connections: the accept loop with its connection limit,
 * and per connection the loop that reads requests and dispatches them. One
 * outer function answers every request: it checks CSeq and version, finds
 * the method and the session the request names, checks the session's state
 * against the method table, runs the handler, turns errors into statuses,
 * stamps CSeq, and logs one line.
 *
 * @module
 */
import { MediaError } from "../../media/media_library.ts";
import { RtspConnection } from "../../net/rtsp_connection.ts";
import { ParseError } from "../../wire/errors.ts";
import {
  createResponse,
  type RtspRequest,
  type RtspResponse,
  serializeResponse,
} from "../../wire/rtsp_message.ts";
import { RtspParseError } from "../../wire/rtsp_parser.ts";
import { RtspHeaders } from "../../wire/rtsp_headers.ts";
import { parseSession } from "../../wire/session_header.ts";
import { InterleavedBatch } from "./interleaved_batch.ts";
import { METHODS } from "./method_table.ts";
import { RtspError } from "./rtsp_error.ts";
import type { RequestConnection, RequestContext, ServerContext } from "./server_context.ts";
import type { ServerSession } from "./server_session.ts";

/**
 * Most interleaved writes (each one turn's packets) queued on a connection
 * before RTP packets are dropped.
 */
const MAX_INTERLEAVED_BACKLOG = 64;

const CSEQ = /^\d{1,10}$/;

/** Whether `error` is only the client having gone (a reply written after it closed). */
function closedByPeer(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset;
}

/** Pause after a failed accept before the next, ms. */
const ACCEPT_RETRY_MS = 20;

/** Failed authentications after which a connection is closed. */
export const MAX_AUTH_FAILURES = 10;

/**
 * Text as the log shows it: URLs without their userinfo (`rtsp://name:password@…`),
 * which a request line or a parse error may hold.
 */
function loggable(text: string): string {
  // Up to the last "@" before the path: a password may hold a raw "@" or '"'.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\r\n]*@/gi, "$1");
}

/**
 * Accept connections until the listener closes; each is served by a
 * {@linkcode ServerConn}, tracked in `connections` while it lives.
 * Resolves once the listener has closed.
 */
export async function acceptConnections(
  listener: Deno.Listener,
  server: ServerContext,
  connections: Set<ServerConn>,
  tasks: Set<Promise<void>>,
  secure = false,
): Promise<void> {
  for (;;) {
    let tcp: Deno.Conn;
    try {
      tcp = await listener.accept();
    } catch (error) {
      if (server.closing || error instanceof Deno.errors.BadResource) return; // listener closed
      // One connection failed (a TLS handshake, say), or the process is out of
      // descriptors: the others are served, after a pause so that an error
      // that repeats does not become a busy loop.
      await new Promise<void>((resolve) => server.clock.setTimeout(resolve, ACCEPT_RETRY_MS));
      continue;
    }
    if (server.closing) {
      tcp.close();
      return;
    }
    const conn = new ServerConn(tcp, server, secure);
    const refuse = connections.size >= server.options.maxConnections;
    connections.add(conn); // so that the server's close() reaches it either way
    const task = (refuse ? conn.refuse() : conn.serve())
      .finally(() => {
        connections.delete(conn);
        tasks.delete(task);
      });
    tasks.add(task);
  }
}

/** One RTSP connection and the sessions set up on it. */
export class ServerConn implements RequestConnection {
  readonly rtsp: RtspConnection;
  readonly secure: boolean;
  /** `host:port` of the client, for logs. */
  readonly peer: string;
  /** The sessions set up on this connection (only it may use them). */
  readonly sessions: Set<ServerSession> = new Set();
  readonly #server: ServerContext;
  #interleaved: InterleavedBatch | undefined;
  /** Requests refused for their credentials so far. */
  #authFailures = 0;

  constructor(tcp: Deno.Conn, server: ServerContext, secure: boolean) {
    this.#server = server;
    this.secure = secure;
    this.rtsp = new RtspConnection(tcp, {
      idleFlushMs: server.options.idleFlushMs,
      clock: server.clock,
    });
    const remote = this.rtsp.remoteAddr;
    this.peer = `${remote.hostname}:${remote.port}`;
  }

  /** Interleaved RTP of this connection's sessions, written once per turn (made on first use). */
  get interleaved(): InterleavedBatch {
    if (this.#interleaved) return this.#interleaved;
    const descriptors = this.secure ? undefined : this.#server.tcpDescriptors;
    descriptors?.lookup(this.rtsp.conn).then((fd) => {
      if (fd !== undefined) this.rtsp.useDescriptor(descriptors, fd);
    });
    return this.#interleaved = new InterleavedBatch(this.rtsp, MAX_INTERLEAVED_BACKLOG);
  }

  /** Interleaved channels the connection's sessions use. */
  get usedChannels(): Set<number> {
    const used = new Set<number>();
    for (const session of this.sessions) {
      for (const channel of session.transport.channels ?? []) used.add(channel);
    }
    return used;
  }

  /** End one of this connection's sessions: it leaves the server and says BYE. */
  endSession(session: ServerSession, reason: string): void {
    this.sessions.delete(session);
    this.#server.sessions.remove(session);
    session.end(reason);
  }

  /** Read and answer requests until the connection closes; then end its sessions. */
  async serve(): Promise<void> {
    const { counters, log } = this.#server;
    counters.connections++;
    try {
      for await (const item of this.rtsp.items()) {
        if (item.kind === "interleaved") {
          for (const session of this.sessions) {
            const channels = session.transport.channels;
            if (session.publisher && channels?.[0] === item.channel) {
              session.publisher.receiveRtp(item.data);
            } else if (session.publisher && channels?.[1] === item.channel) {
              session.publisher.receiveRtcp(item.data);
            } else if (channels?.[1] === item.channel) {
              this.#server.rtcp.onPacket(item.data, undefined, session);
            }
          }
          continue; // RTP from a reader (e.g. NAT punching) is ignored
        }
        if (item.kind !== "request") continue; // a client's responses are not expected
        const response = await this.#respond(item);
        await this.rtsp.write(serializeResponse(response));
        if (this.#authFailures >= MAX_AUTH_FAILURES) {
          log(`${this.peer} closed after ${MAX_AUTH_FAILURES} failed authentications`);
          break;
        }
      }
    } catch (error) {
      if (error instanceof RtspParseError) {
        counters.badRequests++;
        this.#server.requests.count(undefined, error.status);
        log(`${this.peer} - - session=- ${error.status} (${loggable(error.message)})`);
        await this.rtsp.write(serializeResponse(createResponse(error.status))).catch(() => {});
      } else if (!this.rtsp.closed && !closedByPeer(error)) {
        log(`${this.peer} connection error: ${error}`);
      }
    } finally {
      for (const session of [...this.sessions]) this.endSession(session, "connection closed");
      // Paths announced here and never set up for recording are free again.
      const live = this.#server.streams.live;
      for (const claim of live.ownedBy(this)) {
        claim.stream.end();
        live.release(claim.path, claim.stream);
      }
      this.rtsp.close();
    }
  }

  /** Over the connection limit: answer the first request 503 and close. */
  async refuse(): Promise<void> {
    const { clock, counters, log, options } = this.#server;
    counters.connectionsRefused++;
    const timer = clock.setTimeout(() => this.rtsp.close(), 5000);
    try {
      for await (const item of this.rtsp.items()) {
        if (item.kind !== "request") continue;
        const response = createResponse(503);
        this.#server.requests.count(item.method, 503);
        const cseq = item.headers.get("cseq")?.trim();
        if (cseq && CSEQ.test(cseq)) response.headers.set("CSeq", cseq);
        log(
          `${this.peer} ${item.method} ${
            loggable(item.uri)
          } session=- 503 (more than ${options.maxConnections} connections)`,
        );
        await this.rtsp.write(serializeResponse(response));
        break;
      }
    } catch {
      // whatever it sent, it is refused
    } finally {
      clock.clearTimeout(timer);
      this.rtsp.close();
    }
  }

  /** Run the handler for `request`, turn errors into statuses, stamp CSeq, log. */
  async #respond(request: RtspRequest): Promise<RtspResponse> {
    const { counters } = this.#server;
    counters.requests++;
    const cseq = request.headers.get("cseq")?.trim();
    let response: RtspResponse;
    let reason = "";
    try {
      if (cseq === undefined || !CSEQ.test(cseq)) {
        throw new RtspError(400, "missing or invalid CSeq");
      }
      if (request.version !== "RTSP/1.0") {
        throw new RtspError(505, `version ${request.version} is not supported`);
      }
      const method = METHODS[request.method];
      if (!method) {
        throw new RtspError(501, `method ${request.method} is not implemented`, [
          ["Allow", this.#server.methods.join(", ")],
        ]);
      }
      const user = this.#authenticate(request);
      const session = method.session === "none" ? undefined : this.#sessionOf(request, user);
      if (session === undefined && method.session === "required") {
        throw new RtspError(454, `${request.method} without a Session header`);
      }
      if (session !== undefined && !method.states.includes(session.state)) {
        throw new RtspError(
          455,
          `${request.method} is not valid in state ${session.state} (valid ${
            method.states.length === 0 ? "only without a session" : `in ${method.states.join(", ")}`
          })`,
        );
      }
      const context: RequestContext = { server: this.#server, conn: this, request, session, user };
      response = await method.handle(context);
    } catch (error) {
      const status = error instanceof RtspError || error instanceof MediaError
        ? error.status
        : error instanceof ParseError
        ? 400
        : 500;
      reason = error instanceof Error ? error.message : String(error);
      if (status === 500) console.error(error);
      response = createResponse(
        status,
        new RtspHeaders(error instanceof RtspError ? error.headers : []),
      );
      counters.badRequests++;
    }
    if (cseq !== undefined && CSEQ.test(cseq)) response.headers.set("CSeq", cseq);
    this.#server.requests.count(request.method, response.status);
    const sessionId =
      (response.headers.get("session") ?? request.headers.get("session"))?.split(";")[0]
        .trim() ?? "-";
    this.#server.log(
      `${this.peer} ${request.method} ${
        loggable(request.uri)
      } session=${sessionId} ${response.status}${reason ? ` (${loggable(reason)})` : ""}`,
    );
    return response;
  }

  /**
   * The user whose credentials `request` carries, when users are configured.
   * OPTIONS without a session needs none (RFC 2326 §10.1: what the server
   * can do is no secret).
   */
  #authenticate(request: RtspRequest): string | undefined {
    const { auth } = this.#server;
    if (!auth.enabled) return undefined;
    if (request.method === "OPTIONS" && !request.headers.has("session")) return undefined;
    try {
      return auth.authenticate(request, this.secure);
    } catch (error) {
      if (error instanceof RtspError && error.status === 401) this.#authFailures++;
      throw error;
    }
  }

  /**
   * The session a request names, if any; it must belong to this connection
   * and to the user who made it.
   */
  #sessionOf(request: RtspRequest, user: string | undefined): ServerSession | undefined {
    const header = request.headers.get("session");
    if (header === undefined) return undefined;
    let id: string;
    try {
      id = parseSession(header).id;
    } catch {
      throw new RtspError(454, `bad Session header "${header}"`);
    }
    const session = this.#server.sessions.get(id);
    if (!session || !this.sessions.has(session) || session.user !== user) {
      throw new RtspError(454, `no session ${id} on this connection`);
    }
    session.touch();
    return session;
  }
}
