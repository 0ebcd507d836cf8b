/**
 * The RTSP server: listens, serves each connection (`server_conn.ts`, with
 * the methods of `method_table.ts`), and paces every session's RTP from one
 * shared timer (`pacer.ts`) and one UDP port pair. It tears down sessions
 * whose clients went silent and closes connections that idle without one.
 *
 * The parts, by RFC 2326 name: methods in `methods/`, sessions in
 * `server_session.ts`, transports in `udp_transport.ts` and
 * `interleaved_transport.ts`, RTCP in `server_rtcp.ts`, what is served in
 * `stream_catalog.ts` and `file_stream.ts`.
 *
 * @module
 */
import { realClock, sleep } from "../../net/clock.ts";
import { PreciseSleep, preciseSleepSupport } from "../../net/precise_sleep.ts";
import { type PairCounters, UdpPortPair } from "../../net/udp_port_pair.ts";
import { RTP_HEADER_SIZE } from "../../wire/rtp_packet.ts";
import type { LatencySummary } from "./latency_histogram.ts";
import { type PacedTask, Pacer } from "./pacer.ts";
import { SERVER_METHODS } from "./method_table.ts";
import { acceptConnections, type ServerConn } from "./server_conn.ts";
import type { ServerContext, ServerCounters } from "./server_context.ts";
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type RtspServerOptions,
} from "./server_options.ts";
import { ServerAuth } from "./server_auth.ts";
import { ServerRtcp } from "./server_rtcp.ts";
import type { SessionInfo } from "./server_session.ts";
import { SessionTable } from "./session_table.ts";
import { StreamCatalog } from "./stream_catalog.ts";

/** An RTSP server streaming lab MJPEG files. */
export class RtspServer {
  /** Plain RTSP, unless the server serves TLS only. */
  readonly #plain: Deno.TcpListener | undefined;
  /** RTSP over TLS, when asked for. */
  readonly #tls: Deno.TlsListener | undefined;
  readonly #options: ResolvedServerOptions;
  readonly #udp: UdpPortPair;
  readonly #pacer: Pacer;
  readonly #sleeper: PreciseSleep | undefined;
  readonly #sessions: SessionTable;
  readonly #rtcp: ServerRtcp;
  readonly #connections = new Set<ServerConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<unknown>;
  #closing = false;
  /** Server-wide counters. */
  readonly counters: ServerCounters;

  private constructor(
    listeners: { plain?: Deno.TcpListener; tls?: Deno.TlsListener },
    options: ResolvedServerOptions,
  ) {
    this.#plain = listeners.plain;
    this.#tls = listeners.tls;
    this.#options = options;
    const clock = options.clock ?? realClock;
    this.#sessions = new SessionTable(options.maxSessions);
    // Precise wake-ups need the real clock (and Linux with the ffi permission).
    if (options.clock === undefined && options.preciseTimer) {
      try {
        this.#sleeper = preciseSleepSupport().available ? new PreciseSleep() : undefined;
      } catch {
        this.#sleeper = undefined; // e.g. out of descriptors: setTimeout it is
      }
    }
    this.#pacer = new Pacer(clock, {
      sleeper: this.#sleeper,
      slackMs: options.pacingSlackMs,
      afterWake: () => this.#udp.flush(),
    });
    this.#rtcp = new ServerRtcp({
      pacer: this.#pacer,
      clock,
      intervalSec: options.rtcpInterval,
      sessionBySsrc: (ssrc) => this.#sessions.bySsrc(ssrc),
      log: options.log,
    });
    this.#udp = UdpPortPair.bind(
      options.hostname,
      (d) => this.#rtcp.onPacket(d.data, d.from.hostname),
      { sendMode: options.udpSendMode },
    );
    const udp = this.#udp;
    const rtcp = this.#rtcp.counters;
    this.counters = {
      connections: 0,
      requests: 0,
      badRequests: 0,
      sessionsCreated: 0,
      get sendErrors(): number {
        return udp.counters.sendErrors; // counted where the sends happen
      },
      get rtcpReceived(): number {
        return rtcp.received;
      },
      get rtcpMalformed(): number {
        return rtcp.malformed;
      },
      interleavedDropped: 0,
      sessionsTimedOut: 0,
      connectionsIdled: 0,
      connectionsRefused: 0,
    };
    const closing = () => this.#closing;
    const context: ServerContext = {
      options,
      clock,
      log: options.log,
      counters: this.counters,
      udp,
      streams: new StreamCatalog({
        mediaDir: options.mediaDir,
        fps: options.fps,
        loop: options.loop,
        unpaced: options.unpaced,
        maxPayload: options.maxPacketSize - RTP_HEADER_SIZE,
        scheduler: this.#pacer,
        pause: () => sleep(0, clock),
        log: options.log,
      }),
      sessions: this.#sessions,
      rtcp: this.#rtcp,
      auth: new ServerAuth({
        users: options.users,
        realm: options.realm,
        allowBasic: options.allowBasic,
        nonceLifetimeSec: options.nonceLifetime,
        clock,
      }),
      methods: SERVER_METHODS,
      get closing(): boolean {
        return closing();
      },
    };
    const reaper: PacedTask = { onDue: (now) => this.#reap(now) };
    this.#pacer.schedule(reaper, clock.now() + 1000);
    const accept = (listener: Deno.Listener | undefined, secure: boolean) =>
      listener && acceptConnections(listener, context, this.#connections, this.#tasks, secure);
    this.#accepting = Promise.all([accept(this.#plain, false), accept(this.#tls, true)]);
  }

  /**
   * Listen for RTSP on `options.port` and open the UDP sockets RTP and RTCP
   * leave from.
   *
   * @example Serve the current directory on a free port
   * ```ts
   * import { RtspServer } from "./mod.ts";
   *
   * const server = await RtspServer.start({ port: 0, hostname: "127.0.0.1" });
   * console.log(`rtsp://127.0.0.1:${server.addr.port}/video.mjpeg`);
   * await server.close();
   * ```
   *
   * @throws {ServerOptionError} (rejects) naming an option out of range.
   * @throws {Deno.errors.AddrInUse} (rejects) when the port is taken.
   */
  static async start(options: RtspServerOptions): Promise<RtspServer> {
    // Awaited, so that every failure rejects rather than throws.
    await Promise.resolve();
    const resolved = resolveServerOptions(options);
    const { hostname, tls } = resolved;
    const listeners: { plain?: Deno.TcpListener; tls?: Deno.TlsListener } = {};
    try {
      if (resolved.plain) {
        listeners.plain = Deno.listen({ hostname, port: resolved.port, transport: "tcp" });
      }
      if (tls) {
        listeners.tls = Deno.listenTls({ hostname, port: tls.port, cert: tls.cert, key: tls.key });
      }
      return new RtspServer(listeners, resolved);
    } catch (error) {
      listeners.plain?.close();
      listeners.tls?.close();
      throw error;
    }
  }

  /** The address RTSP is served on (RTSPS when the server serves TLS only). */
  get addr(): Deno.NetAddr {
    return (this.#plain ?? this.#tls)!.addr;
  }

  /** The address RTSPS (RTSP over TLS) is served on, when it is. */
  get tlsAddr(): Deno.NetAddr | undefined {
    return this.#tls?.addr;
  }

  /** Live sessions by id. */
  get sessions(): ReadonlyMap<string, SessionInfo> {
    return this.#sessions.byId;
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
   * timed work), in ms, since the server started or the last reset.
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
    for (const listener of [this.#plain, this.#tls]) {
      try {
        listener?.close();
      } catch { /* already closed */ }
    }
    for (const conn of this.#connections) conn.rtsp.close();
    await this.#accepting;
    await Promise.all(this.#tasks);
    this.#pacer.close();
    await this.#pacer.idle();
    await this.#sleeper?.close();
    await this.#udp.close();
  }

  /**
   * Tear down standard sessions whose clients have been silent past the
   * timeout, and close connections that hold no session and went quiet.
   */
  #reap(now: number): number {
    const { sessionTimeout, idleTimeout, log } = this.#options;
    for (const conn of this.#connections) {
      if (conn.sessions.size === 0 && now - conn.rtsp.lastReceived > idleTimeout * 1000) {
        this.counters.connectionsIdled++;
        log(`${conn.peer} idle for ${idleTimeout} s with no session; closed`);
        conn.rtsp.close();
        continue;
      }
      for (const session of conn.sessions) {
        if (session.dialect === "lab" || now - session.lastActivity <= sessionTimeout * 1000) {
          continue;
        }
        this.counters.sessionsTimedOut++;
        log(`session ${session.id}: no request or RTCP for ${sessionTimeout} s; torn down`);
        conn.endSession(session, "session timeout");
      }
    }
    return now + 1000;
  }
}
