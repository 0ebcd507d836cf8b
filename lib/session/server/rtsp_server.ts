/**
 * The RTSP server: accepts connections, runs one state machine per session,
 * and paces every session's RTP from one shared timer and one UDP socket.
 *
 * Each method has a small handler that decides; one outer function stamps
 * CSeq and Session, logs, and writes the reply.
 *
 * @module
 */
import { MediaError, MediaLibrary } from "../media/media_library.ts";
import { type MjpegSource, type RtpJpegPayloads, rtpJpegPayloads } from "../media/mjpeg_source.ts";
import { LabMjpegError } from "../wire/lab_mjpeg.ts";
import { RTP_HEADER_SIZE } from "../wire/rtp_packet.ts";
import { serializeJpegSdp } from "../wire/sdp.ts";
import { ParseError } from "../wire/errors.ts";
import {
  createResponse,
  type RtspRequest,
  type RtspResponse,
  serializeResponse,
} from "../wire/rtsp_message.ts";
import { parseSession, parseTransport, type TransportSpec } from "../wire/rtsp_headers.ts";
import { serializeSession, serializeTransport } from "../wire/rtsp_headers.ts";
import { RtspParseError } from "../wire/rtsp_parser.ts";
import { parseStreamRef, type StreamRef } from "../wire/rtsp_url.ts";
import { type Clock, realClock, sleep } from "./clock.ts";
import { type PacedTask, Pacer } from "./pacer.ts";
import { InterleavedBatch } from "./interleaved_batch.ts";
import { PreciseSleep, preciseSleepSupport } from "../net/precise_sleep.ts";
import type { LatencySummary } from "./latency_histogram.ts";
import { type PairCounters, UdpPortPair, type UdpSendMode } from "./udp_port_pair.ts";
import { parseRtcpPackets } from "../wire/rtcp_packet.ts";
import { RtspConnection } from "./rtsp_connection.ts";
import { type Dialect, ServerSession, type SessionTransport } from "./server_session.ts";

/** A request that gets an error status; `message` goes to the log. */
export class RtspError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "RtspError";
    this.status = status;
  }
}

/** Options for {@linkcode RtspServer.start}. */
export interface RtspServerOptions {
  /** TCP port for RTSP; 0 picks a free one. */
  port: number;
  /** Address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** Directory whose lab MJPEG files are served. @default {"."} */
  mediaDir?: string;
  /** Frames per second. @default {20} */
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
  /** Where log lines go (one per request). @default {console.error} */
  log?: (line: string) => void;
  clock?: Clock;
}

/** Methods the server implements, in the order OPTIONS lists them. */
export const SERVER_METHODS = [
  "OPTIONS",
  "DESCRIBE",
  "SETUP",
  "PLAY",
  "PAUSE",
  "TEARDOWN",
  "GET_PARAMETER",
  "SET_PARAMETER",
] as const;

interface Connection {
  rtsp: RtspConnection;
  peer: string;
  sessions: Set<ServerSession>;
  /** Interleaved RTP of this connection's sessions, written once per turn (made on first use). */
  interleaved?: InterleavedBatch;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Most interleaved writes (each one turn's packets) queued on a connection
 * before RTP packets are dropped.
 */
const MAX_INTERLEAVED_BACKLOG = 64;

type Handler = (conn: Connection, req: RtspRequest) => Promise<RtspResponse> | RtspResponse;

function randomUint32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Counters for the whole server. */
export interface ServerCounters {
  connections: number;
  requests: number;
  badRequests: number;
  sessionsCreated: number;
  /** UDP sends that failed (such as an ICMP port unreachable from a vanished client). */
  readonly sendErrors: number;
  /** RTCP packets received from clients, and those that did not parse. */
  rtcpReceived: number;
  rtcpMalformed: number;
  /** RTP packets dropped because a TCP client could not keep up. */
  interleavedDropped: number;
  /** Sessions torn down because their client went silent. */
  sessionsTimedOut: number;
  /** Connections closed for being idle, and refused for being over the limit. */
  connectionsIdled: number;
  connectionsRefused: number;
}

/** An RTSP server streaming lab MJPEG files. */
export class RtspServer {
  readonly #listener: Deno.TcpListener;
  readonly #udp: UdpPortPair;
  /** Sessions by their SSRC, to match RTCP receiver reports. */
  readonly #bySsrc = new Map<number, ServerSession>();
  /** Each playing session's RTCP sender-report task. */
  readonly #rtcpTasks = new Map<ServerSession, PacedTask>();
  readonly #reaper: PacedTask;
  /** Converted files already reported in the log. */
  readonly #conversionsLogged = new WeakSet<object>();
  readonly #options: Required<Omit<RtspServerOptions, "hostname" | "port">>;
  readonly #library: MediaLibrary;
  readonly #pacer: Pacer;
  readonly #sleeper: PreciseSleep | undefined;
  readonly #connections = new Set<Connection>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  /** Live sessions by id. */
  readonly sessions: Map<string, ServerSession> = new Map();
  /** Server-wide counters. */
  readonly counters: ServerCounters;
  #closing = false;

  private constructor(
    listener: Deno.TcpListener,
    hostname: string,
    options: RtspServerOptions,
  ) {
    this.#listener = listener;
    // Counters first: the sockets below may deliver RTCP at once.
    const pair = () => this.#udp as UdpPortPair | undefined;
    this.counters = {
      connections: 0,
      requests: 0,
      badRequests: 0,
      sessionsCreated: 0,
      get sendErrors(): number {
        return pair()?.counters.sendErrors ?? 0; // counted where the sends happen
      },
      rtcpReceived: 0,
      rtcpMalformed: 0,
      interleavedDropped: 0,
      sessionsTimedOut: 0,
      connectionsIdled: 0,
      connectionsRefused: 0,
    };
    this.#udp = UdpPortPair.bind(hostname, (d) => this.#onRtcp(d.data, d.from.hostname), {
      sendMode: options.udpSendMode,
    });
    this.#options = {
      mediaDir: options.mediaDir ?? ".",
      fps: options.fps ?? 20,
      loop: options.loop ?? false,
      unpaced: options.unpaced ?? false,
      udpSendMode: options.udpSendMode ?? "auto",
      preciseTimer: options.preciseTimer ?? true,
      pacingSlackMs: options.pacingSlackMs ?? 0.5,
      sessionTimeout: options.sessionTimeout ?? 60,
      idleFlushMs: options.idleFlushMs ?? 40,
      idleTimeout: options.idleTimeout ?? 30,
      maxConnections: options.maxConnections ?? 1000,
      maxSessions: options.maxSessions ?? 2000,
      maxPacketSize: options.maxPacketSize ?? 1400,
      rtcpInterval: options.rtcpInterval ?? 5,
      log: options.log ?? ((line) => console.error(line)),
      clock: options.clock ?? realClock,
    };
    if (!(this.#options.fps > 0)) throw new RangeError(`Cannot serve at ${this.#options.fps} fps`);
    this.#library = new MediaLibrary(this.#options.mediaDir);
    // Precise wake-ups need the real clock (and Linux with the ffi permission).
    if (options.clock === undefined && options.preciseTimer !== false) {
      try {
        this.#sleeper = preciseSleepSupport().available ? new PreciseSleep() : undefined;
      } catch {
        this.#sleeper = undefined; // e.g. out of descriptors: setTimeout it is
      }
    }
    this.#pacer = new Pacer(this.#options.clock, {
      sleeper: this.#sleeper,
      slackMs: this.#options.pacingSlackMs,
      afterWake: () => this.#udp.flush(),
    });
    this.#reaper = { onDue: (now) => this.#reap(now) };
    this.#pacer.schedule(this.#reaper, this.#options.clock.now() + 1000);
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Listen for RTSP on `options.port` and open the UDP socket RTP leaves from.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken.
   */
  static start(options: RtspServerOptions): Promise<RtspServer> {
    const hostname = options.hostname ?? "0.0.0.0";
    const listener = Deno.listen({ hostname, port: options.port, transport: "tcp" });
    try {
      return Promise.resolve(new RtspServer(listener, hostname, options));
    } catch (error) {
      listener.close();
      throw error;
    }
  }

  /** The address RTSP is served on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** The UDP port RTP is sent from (even); RTCP uses the one above. */
  get rtpPort(): number {
    return this.#udp.rtpPort;
  }

  /**
   * How RTP leaves: "sendmmsg+gso", "sendmmsg" or "portable", and why not
   * batched when portable (e.g. "portable: no ffi permission (run with --allow-ffi)").
   */
  get udpSendMode(): string {
    const why = this.#udp.portableReason;
    return why === undefined ? this.#udp.sendMode : `${this.#udp.sendMode}: ${why}`;
  }

  /**
   * How late the pacer sent frames against their schedule (and ran its other
   * timed work), in ms, since the server started.
   */
  get pacingLateness(): LatencySummary {
    return this.#pacer.lateness.summary();
  }

  /** Start measuring {@linkcode pacingLateness} afresh. */
  resetPacingLateness(): void {
    this.#pacer.lateness.reset();
  }

  /** Traffic counters of the RTP/RTCP sockets. */
  get udpCounters(): PairCounters {
    return this.#udp.counters;
  }

  /** Stop accepting, end every session and connection, release every socket and timer. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const conn of this.#connections) conn.rtsp.close();
    await this.#accepting;
    await Promise.all(this.#tasks);
    this.#pacer.close();
    await this.#pacer.idle();
    await this.#sleeper?.close();
    await this.#udp.close();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#closing) {
        tcp.close();
        return;
      }
      const task = this.#serve(tcp).finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  async #serve(tcp: Deno.TcpConn): Promise<void> {
    const rtsp = new RtspConnection(tcp, {
      idleFlushMs: this.#options.idleFlushMs,
      clock: this.#options.clock,
    });
    const remote = rtsp.remoteAddr;
    const conn: Connection = {
      rtsp,
      peer: `${remote.hostname}:${remote.port}`,
      sessions: new Set(),
    };
    const refuse = this.#connections.size >= this.#options.maxConnections;
    this.#connections.add(conn); // so that close() reaches it either way
    if (refuse) {
      await this.#refuse(conn);
      this.#connections.delete(conn);
      return;
    }
    this.counters.connections++;
    try {
      for await (const item of rtsp.items()) {
        if (item.kind === "interleaved") {
          const session = [...conn.sessions].find((s) =>
            s.transport.channels?.[1] === item.channel
          );
          if (session) this.#onRtcp(item.data, undefined, session);
          continue; // RTP from a client (e.g. NAT punching) is ignored
        }
        if (item.kind !== "request") continue; // a client's responses are not expected
        const response = await this.#respond(conn, item);
        await rtsp.write(serializeResponse(response));
      }
    } catch (error) {
      if (error instanceof RtspParseError) {
        this.counters.badRequests++;
        this.#options.log(`${conn.peer} - - session=- ${error.status} (${error.message})`);
        await rtsp.write(serializeResponse(createResponse(error.status))).catch(() => {});
      } else if (!rtsp.closed) {
        this.#options.log(`${conn.peer} connection error: ${error}`);
      }
    } finally {
      for (const session of conn.sessions) this.#endSession(session);
      conn.sessions.clear();
      rtsp.close();
      this.#connections.delete(conn);
    }
  }

  /** Over the connection limit: answer the first request 503 and close. */
  async #refuse(conn: Connection): Promise<void> {
    this.counters.connectionsRefused++;
    const timer = this.#options.clock.setTimeout(() => conn.rtsp.close(), 5000);
    try {
      for await (const item of conn.rtsp.items()) {
        if (item.kind !== "request") continue;
        const response = createResponse(503);
        const cseq = item.headers.get("cseq")?.trim();
        if (cseq && /^\d{1,10}$/.test(cseq)) response.headers.set("CSeq", cseq);
        this.#options.log(
          `${conn.peer} ${item.method} ${item.uri} session=- 503 (more than ${this.#options.maxConnections} connections)`,
        );
        await conn.rtsp.write(serializeResponse(response));
        break;
      }
    } catch {
      // whatever it sent, it is refused
    } finally {
      this.#options.clock.clearTimeout(timer);
      conn.rtsp.close();
    }
  }

  /** Run the handler for `req`, turn errors into statuses, stamp CSeq and Session, log. */
  async #respond(conn: Connection, req: RtspRequest): Promise<RtspResponse> {
    this.counters.requests++;
    const cseq = req.headers.get("cseq")?.trim();
    let response: RtspResponse;
    let reason = "";
    try {
      if (cseq === undefined || !/^\d{1,10}$/.test(cseq)) {
        throw new RtspError(400, "missing or invalid CSeq");
      }
      if (req.version !== "RTSP/1.0") {
        throw new RtspError(505, `version ${req.version} is not supported`);
      }
      const handler = this.#handlers[req.method];
      if (!handler) throw new RtspError(501, `method ${req.method} is not implemented`);
      response = await handler(conn, req);
    } catch (error) {
      const status = error instanceof RtspError || error instanceof MediaError
        ? error.status
        : error instanceof ParseError
        ? 400
        : 500;
      reason = error instanceof Error ? error.message : String(error);
      if (status === 500) console.error(error);
      response = createResponse(status);
      if (status === 405 || status === 501) {
        response.headers.set("Allow", SERVER_METHODS.join(", "));
      }
      this.counters.badRequests++;
    }
    if (cseq !== undefined && /^\d{1,10}$/.test(cseq)) response.headers.set("CSeq", cseq);
    const sessionId = (response.headers.get("session") ?? req.headers.get("session"))?.split(";")[0]
      .trim() ?? "-";
    this.#options.log(
      `${conn.peer} ${req.method} ${req.uri} session=${sessionId} ${response.status}${
        reason ? ` (${reason})` : ""
      }`,
    );
    return response;
  }

  readonly #handlers: Record<string, Handler> = {
    OPTIONS: (conn, req) => {
      // Clients use OPTIONS with their Session as a keep-alive: refresh it (or say it is gone).
      const headers: Record<string, string> = { Public: SERVER_METHODS.join(", ") };
      if (req.headers.has("session")) {
        headers.Session = this.#sessionHeader(this.#session(conn, req));
      }
      return createResponse(200, headers);
    },
    DESCRIBE: (conn, req) => this.#describe(conn, req),
    SETUP: (conn, req) => this.#setup(conn, req),
    PLAY: (conn, req) => this.#play(conn, req),
    PAUSE: (conn, req) => this.#pause(conn, req),
    TEARDOWN: (conn, req) => this.#teardown(conn, req),
    GET_PARAMETER: (conn, req) => this.#parameter(conn, req),
    SET_PARAMETER: (conn, req) => this.#parameter(conn, req),
  };

  #sessionHeader(session: ServerSession): string {
    return session.dialect === "lab"
      ? session.id
      : serializeSession({ id: session.id, timeout: this.#options.sessionTimeout });
  }

  /** The session a request names; it must belong to this connection. */
  #session(conn: Connection, req: RtspRequest): ServerSession {
    const header = req.headers.get("session");
    if (header === undefined) throw new RtspError(454, `${req.method} without a Session header`);
    let id: string;
    try {
      id = parseSession(header).id;
    } catch {
      throw new RtspError(454, `bad Session header "${header}"`);
    }
    const session = this.sessions.get(id);
    if (!session || !conn.sessions.has(session)) {
      throw new RtspError(454, `no session ${id} on this connection`);
    }
    session.touch();
    return session;
  }

  async #setup(conn: Connection, req: RtspRequest): Promise<RtspResponse> {
    if (req.headers.has("session")) {
      this.#session(conn, req);
      throw new RtspError(455, "session is already set up (one stream per session)");
    }
    const ref = parseStreamRef(req.uri);
    if (!ref || ref.name === "") throw new RtspError(400, "SETUP needs a stream name");
    const transportHeader = req.headers.get("transport");
    if (transportHeader === undefined) throw new RtspError(461, "SETUP without a Transport header");
    const spec = this.#chooseTransport(conn, parseTransport(transportHeader));
    if (this.sessions.size >= this.#options.maxSessions) {
      throw new RtspError(453, `more than ${this.#options.maxSessions} sessions`);
    }
    const source = await this.#library.open(ref.name);
    if (this.#closing || conn.rtsp.closed) throw new RtspError(503, "server is closing");
    const dialect = this.#dialectOf(req, ref, spec);
    const payloads = dialect === "rtsp" ? await this.#payloadsOf(source) : undefined;
    const { transport, reply } = this.#openTransport(conn, spec, dialect);
    const session = new ServerSession({
      id: this.#newSessionId(),
      dialect,
      payloads,
      initialSequence: randomUint32() & 0xffff,
      streamName: ref.name,
      source,
      transport,
      ssrc: this.#newSsrc(),
      timestampBase: randomUint32(),
      fps: this.#options.fps,
      loop: this.#options.loop,
      unpaced: this.#options.unpaced,
      now: () => this.#options.clock.now(),
      onSkip: (s, _frame, why) => this.#options.log(`session ${s.id}: skipped ${why}`),
      onEnd: (s) => {
        this.#options.log(`session ${s.id}: end of stream after ${s.stream.sent} frames`);
        // BYE once the last frame's time is over, so it cannot overtake that frame.
        const bye: PacedTask = { onDue: () => void this.#stopRtcp(s, "end of stream") };
        this.#pacer.schedule(bye, this.#options.clock.now() + 1000 / this.#options.fps);
      },
    });
    this.sessions.set(session.id, session);
    this.#bySsrc.set(session.ssrc, session);
    conn.sessions.add(session);
    this.counters.sessionsCreated++;
    const response = createResponse(200, { Session: this.#sessionHeader(session) });
    if (session.dialect === "rtsp") {
      response.headers.set("Transport", serializeTransport({ ...reply, ssrc: session.ssrc }));
    }
    return response;
  }

  /**
   * Where a new session's packets go. UDP: to the requester's client ports,
   * from the server's port pair (the lab gets no RTCP, which its client does
   * not expect). TCP: interleaved on the RTSP connection.
   */
  #openTransport(
    conn: Connection,
    spec: TransportSpec,
    dialect: Dialect,
  ): { transport: SessionTransport; reply: TransportSpec } {
    if (spec.lowerTransport === "TCP") {
      const rtp = spec.interleaved!.start;
      const rtcp = spec.interleaved!.end ?? rtp + 1;
      // One batch per connection, shared by its sessions' RTP and RTCP.
      const batch = conn.interleaved ??= new InterleavedBatch(conn.rtsp, MAX_INTERLEAVED_BACKLOG);
      return {
        transport: {
          description: `tcp channels ${rtp}-${rtcp}`,
          channels: [rtp, rtcp],
          sendRtp: (header, payload) => {
            const dropped = batch.dropped;
            batch.add(rtp, header, payload);
            this.counters.interleavedDropped += batch.dropped - dropped;
          },
          // RTCP in the same batch, so a report or BYE never overtakes the RTP it follows.
          sendRtcp: (packet) => batch.add(rtcp, packet, NO_BYTES),
        },
        reply: {
          protocol: "RTP",
          profile: "AVP",
          lowerTransport: "TCP",
          unicast: true,
          interleaved: { start: rtp, end: rtcp },
          extra: [],
        },
      };
    }
    const host = conn.rtsp.remoteAddr.hostname;
    const rtpPort = spec.clientPort!.start;
    const rtcpPort = spec.clientPort!.end ?? rtpPort + 1;
    return {
      transport: {
        description: `udp ${host}:${rtpPort}-${rtcpPort}`,
        host,
        sendRtp: (header, payload) => this.#udp.sendRtp(header, payload, host, rtpPort),
        sendRtcp: dialect === "lab"
          ? () => {}
          : (packet) => this.#udp.sendRtcp(packet, host, rtcpPort),
      },
      reply: {
        protocol: "RTP",
        profile: "AVP",
        lowerTransport: "UDP",
        unicast: true,
        clientPort: { start: rtpPort, end: rtcpPort },
        serverPort: { start: this.#udp.rtpPort, end: this.#udp.rtcpPort },
        extra: [],
      },
    };
  }

  #newSsrc(): number {
    for (;;) {
      const ssrc = randomUint32();
      if (!this.#bySsrc.has(ssrc)) return ssrc;
    }
  }

  /** Start sending sender reports for a session: one now, then every few seconds. */
  #startRtcp(session: ServerSession): void {
    if (this.#rtcpTasks.has(session) || session.dialect === "lab") return;
    const interval = this.#options.rtcpInterval * 1000;
    const task: PacedTask = {
      onDue: (now) => {
        session.transport.sendRtcp(session.rtcpReport());
        return now + interval;
      },
    };
    this.#rtcpTasks.set(session, task);
    // Right after the first frame, so the report has RTP time to tie to.
    this.#pacer.schedule(task, this.#options.clock.now() + 1);
  }

  /** Stop the sender reports of a session and say goodbye (RTCP BYE). */
  #stopRtcp(session: ServerSession, reason: string): void {
    const task = this.#rtcpTasks.get(session);
    if (!task) return;
    this.#pacer.cancel(task);
    this.#rtcpTasks.delete(session);
    session.transport.sendRtcp(session.rtcpReport(reason));
  }

  /** RTCP from a client: receiver reports keep its session alive and are logged. */
  #onRtcp(data: Uint8Array, fromHost: string | undefined, via?: ServerSession): void {
    this.counters.rtcpReceived++;
    let packets;
    try {
      packets = parseRtcpPackets(data);
    } catch {
      this.counters.rtcpMalformed++;
      return;
    }
    for (const packet of packets) {
      if (packet.type !== "rr" && packet.type !== "sr") continue;
      for (const block of packet.reports) {
        const session = via ?? this.#bySsrc.get(block.ssrc);
        if (!session || session.ssrc !== block.ssrc) continue;
        // Only the client the session streams to may keep it alive.
        if (fromHost !== undefined && session.transport.host !== fromHost) {
          continue;
        }
        session.touch();
        this.#options.log(
          `session ${session.id}: receiver report: ${
            (100 * block.fractionLost / 256).toFixed(1)
          }% lost recently, ${block.cumulativeLost} in all, jitter ${
            (block.jitter * 1000 / 90000).toFixed(2)
          } ms`,
        );
      }
    }
  }

  /**
   * Tear down standard sessions whose clients have been silent past the
   * timeout, and close connections that hold no session and went quiet.
   */
  #reap(now: number): number {
    const limit = this.#options.sessionTimeout * 1000;
    for (const conn of this.#connections) {
      if (
        conn.sessions.size === 0 &&
        now - conn.rtsp.lastReceived > this.#options.idleTimeout * 1000
      ) {
        this.counters.connectionsIdled++;
        this.#options.log(
          `${conn.peer} idle for ${this.#options.idleTimeout} s with no session; closed`,
        );
        conn.rtsp.close();
        continue;
      }
      for (const session of conn.sessions) {
        if (session.dialect === "lab" || now - session.lastActivity <= limit) continue;
        this.counters.sessionsTimedOut++;
        this.#options.log(
          `session ${session.id}: no request or RTCP for ${this.#options.sessionTimeout} s; torn down`,
        );
        conn.sessions.delete(session);
        this.#endSession(session, "session timeout");
      }
    }
    return now + 1000;
  }

  /** The shared RFC 2435 payloads of a file; 415 when a frame cannot be carried. */
  async #payloadsOf(source: MjpegSource): Promise<RtpJpegPayloads> {
    try {
      const payloads = await rtpJpegPayloads(
        source,
        this.#options.maxPacketSize - RTP_HEADER_SIZE,
        { pause: () => sleep(0, this.#options.clock) },
      );
      if (payloads.converted > 0 && !this.#conversionsLogged.has(payloads)) {
        this.#conversionsLogged.add(payloads);
        this.#options.log(
          `${source.path}: converted ${payloads.converted} of ${source.frames.length} frames to baseline 4:2:0 for RTP/JPEG (${payloads.conversionReason})`,
        );
      }
      return payloads;
    } catch (error) {
      if (error instanceof LabMjpegError) throw new MediaError(error.message, 415);
      throw error;
    }
  }

  /** SDP for a file: one JPEG video track, control `trackID=0` under Content-Base. */
  async #describe(conn: Connection, req: RtspRequest): Promise<RtspResponse> {
    const ref = parseStreamRef(req.uri);
    if (!ref || ref.name === "") throw new RtspError(400, "DESCRIBE needs a stream name");
    const source = await this.#library.open(ref.name);
    await this.#payloadsOf(source); // refuse now what SETUP would refuse
    const local = conn.rtsp.conn.localAddr as Deno.NetAddr;
    const host = local.hostname.includes(":") ? `[${local.hostname}]` : local.hostname;
    const base = ref.form === "url"
      ? req.uri.replace(/[?#].*$/, "").replace(/\/*$/, "/")
      : `rtsp://${host}:${local.port}/${encodeURI(ref.name)}/`;
    const durationSec = source.frames.length / this.#options.fps;
    const sdp = serializeJpegSdp({
      sessionId: String(randomUint32()),
      origin: local.hostname,
      name: ref.name,
      durationSec: this.#options.loop ? undefined : durationSec,
      fps: this.#options.fps,
      width: source.width,
      height: source.height,
      kbitPerSec: source.totalBytes * 8 / durationSec / 1000,
      control: "trackID=0",
    });
    return createResponse(
      200,
      { "Content-Base": base, "Content-Type": "application/sdp" },
      sdp,
    );
  }

  /**
   * The first transport this server can serve: RTP over unicast UDP to the
   * requester's own address, or interleaved on the RTSP connection.
   */
  #chooseTransport(conn: Connection, specs: TransportSpec[]): TransportSpec {
    const peer = conn.rtsp.remoteAddr.hostname;
    for (const spec of specs) {
      if (spec.protocol !== "RTP" || !spec.unicast) continue;
      if (spec.profile !== undefined && spec.profile !== "AVP") continue;
      if (spec.destination !== undefined && spec.destination !== peer) {
        throw new RtspError(461, `destination ${spec.destination} is not the requester (${peer})`);
      }
      if (spec.lowerTransport === "TCP") {
        if (spec.profile === undefined) continue; // the lab form is UDP only
        const used = new Set<number>();
        for (const s of conn.sessions) {
          for (const channel of s.transport.channels ?? []) used.add(channel);
        }
        let start = spec.interleaved?.start;
        if (start === undefined) { // the client left the choice to us
          start = 0;
          while (used.has(start) || used.has(start + 1)) start += 2;
        }
        const end = spec.interleaved?.end ?? start + 1;
        if (end > 255 || used.has(start) || used.has(end)) {
          throw new RtspError(461, `interleaved channels ${start}-${end} are not free`);
        }
        return { ...spec, interleaved: { start, end } };
      }
      if (spec.lowerTransport !== "UDP" || !spec.clientPort || spec.clientPort.start === 0) {
        continue;
      }
      return spec;
    }
    throw new RtspError(
      461,
      "no supported transport (RTP/AVP unicast UDP with client_port, or RTP/AVP/TCP interleaved)",
    );
  }

  #dialectOf(req: RtspRequest, ref: StreamRef, spec: TransportSpec): Dialect {
    return req.end === "idle" || ref.form === "bare" || spec.profile === undefined ? "lab" : "rtsp";
  }

  #newSessionId(): string {
    for (;;) {
      const id = String(10_000_000 + (randomUint32() % 90_000_000));
      if (!this.sessions.has(id)) return id;
    }
  }

  #play(conn: Connection, req: RtspRequest): RtspResponse {
    const session = this.#session(conn, req);
    if (session.state === "ready") {
      session.state = "playing";
      this.#pacer.schedule(session.stream, session.stream.play(this.#options.clock.now()));
      this.#startRtcp(session);
    }
    const response = createResponse(200, { Session: this.#sessionHeader(session) });
    if (session.dialect === "rtsp") {
      response.headers.set(
        "RTP-Info",
        `url=${req.uri};seq=${session.nextSequenceNumber};rtptime=${session.stream.nextTimestamp}`,
      );
    }
    return response;
  }

  #pause(conn: Connection, req: RtspRequest): RtspResponse {
    const session = this.#session(conn, req);
    if (session.state !== "playing") throw new RtspError(455, `PAUSE in state ${session.state}`);
    session.state = "ready";
    session.stream.pause();
    this.#pacer.cancel(session.stream);
    return createResponse(200, { Session: this.#sessionHeader(session) });
  }

  #teardown(conn: Connection, req: RtspRequest): RtspResponse {
    const session = this.#session(conn, req);
    conn.sessions.delete(session);
    this.#endSession(session, "teardown");
    return createResponse(200, { Session: this.#sessionHeader(session) });
  }

  #parameter(conn: Connection, req: RtspRequest): RtspResponse {
    const headers: Record<string, string> = {};
    if (req.headers.has("session")) {
      headers.Session = this.#sessionHeader(this.#session(conn, req));
    }
    if (req.body.length > 0) throw new RtspError(451, "no parameters are defined");
    return createResponse(200, headers);
  }

  #endSession(session: ServerSession, reason = "connection closed"): void {
    this.#stopRtcp(session, reason);
    session.stream.pause();
    this.#pacer.cancel(session.stream);
    session.state = "init";
    this.sessions.delete(session.id);
    this.#bySsrc.delete(session.ssrc);
  }
}
