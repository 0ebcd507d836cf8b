/**
 * The RTSP server: listens, serves each connection (`server_conn.ts`, with
 * the methods of `method_table.ts`), and paces every session's RTP from one
 * shared timer (`pacer.ts`) and one UDP port pair. It tears down sessions
 * whose clients went silent and closes connections that idle without one.
 *
 * The parts, by RFC 2326 name: methods in `methods/`, sessions in
 * `server_session.ts`, transports in `udp_transport.ts` and
 * `interleaved_transport.ts`, RTCP in `server_rtcp.ts`, what is served in
 * `stream_catalog.ts` and `file_stream.ts`; the status in `server_status.ts`
 * and, only when an HTTP port is asked for, the web side in `web/` (loaded
 * then, and not before: without it the server carries none of it).
 *
 * @module
 */
import { realClock, sleep } from "../../net/clock.ts";
import { PreciseSleep, preciseSleepSupport } from "../../net/precise_sleep.ts";
import { TcpDescriptors } from "../../net/tcp_descriptor.ts";
import { processUsage } from "../../net/process_usage.ts";
import { type PairCounters, UdpPortPair } from "../../net/udp_port_pair.ts";
import type { LiveSourceCounters } from "../../media/live_source.ts";
import { RTP_HEADER_SIZE } from "../../wire/rtp_packet.ts";
import { LatencyHistogram, type LatencySummary } from "./latency_histogram.ts";
import { autoGridMs, type PacedTask, Pacer } from "./pacer.ts";
import { SERVER_METHODS } from "./method_table.ts";
import { acceptConnections, type ServerConn } from "./server_conn.ts";
import type { ServerContext, ServerCounters } from "./server_context.ts";
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type RtspServerOptions,
} from "./server_options.ts";
import { RequestCounts } from "./request_counts.ts";
import { ServerAuth } from "./server_auth.ts";
import { ServerRtcp } from "./server_rtcp.ts";
import type { SessionInfo } from "./server_session.ts";
import { type ServerStatus, serverStatus, type StatusOptions } from "./server_status.ts";
import { SessionTable } from "./session_table.ts";
import { StreamCatalog } from "./stream_catalog.ts";
import type { WebServer } from "./web/http_server.ts";

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
  readonly #tcpDescriptors: TcpDescriptors | undefined;
  /** From PLAY to the end of the send call carrying the first frame, per play of a file. */
  readonly #firstFrame = new LatencyHistogram();
  /** When the plays whose first frames this wake-up sends were asked for. */
  readonly #firstFramePending: number[] = [];
  readonly #sessions: SessionTable;
  readonly #rtcp: ServerRtcp;
  readonly #connections = new Set<ServerConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<unknown>;
  readonly #context: ServerContext;
  /** When the server started: Unix time and its clock's reading. */
  readonly #started: { unixMs: number; clock: number };
  /** The web side, when an HTTP port was asked for. */
  #web: WebServer | undefined;
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
    this.#started = { unixMs: Date.now(), clock: clock.now() };
    this.#sessions = new SessionTable(options.maxSessions);
    // Precise wake-ups need the real clock (and Linux with the ffi permission).
    if (options.clock === undefined && options.preciseTimer) {
      try {
        this.#sleeper = preciseSleepSupport().available ? new PreciseSleep() : undefined;
      } catch {
        this.#sleeper = undefined; // e.g. out of descriptors: setTimeout it is
      }
    }
    // Direct interleaved writes look descriptors up on real timers.
    this.#tcpDescriptors = options.clock === undefined ? TcpDescriptors.open() : undefined;
    this.#pacer = new Pacer(clock, {
      sleeper: this.#sleeper,
      slackMs: options.pacingSlackMs,
      afterWake: () => {
        this.#udp.flush();
        const pending = this.#firstFramePending;
        if (pending.length === 0) return;
        const end = clock.now(); // after the send call (interleaved: written this turn)
        for (const playAt of pending) this.#firstFrame.record(end - playAt);
        pending.length = 0;
      },
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
    const sessions = this.#sessions;
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
      get sessionsRefused(): number {
        return sessions.refused; // counted where the cap is checked
      },
    };
    const closing = () => this.#closing;
    const context: ServerContext = {
      options,
      clock,
      log: options.log,
      counters: this.counters,
      requests: new RequestCounts(SERVER_METHODS),
      udp,
      tcpDescriptors: this.#tcpDescriptors,
      streams: new StreamCatalog({
        mediaDir: options.mediaDir,
        fps: options.fps,
        loop: options.loop,
        unpaced: options.unpaced,
        gridMs: options.pacingGridMs === "auto"
          ? () => autoGridMs(this.#sessions.size, 1000 / options.fps)
          : options.pacingGridMs,
        maxPayload: options.maxPacketSize - RTP_HEADER_SIZE,
        scheduler: this.#pacer,
        onFirstFrame: (playAt) => this.#firstFramePending.push(playAt),
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
    this.#context = context;
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
    } catch (error) {
      listeners.plain?.close();
      listeners.tls?.close();
      throw error;
    }
    const server = new RtspServer(listeners, resolved);
    if (resolved.httpPort !== undefined) {
      try {
        // Loaded only now: a server without HTTP does not even load the module.
        const { WebServer } = await import("./web/http_server.ts");
        server.#web = WebServer.start({
          hostname: resolved.httpHost,
          port: resolved.httpPort,
          maxRequests: resolved.httpMaxRequests,
          server: server.#context,
          status: (options) => server.status(options),
        });
      } catch (error) {
        await server.close();
        throw error;
      }
    }
    return server;
  }

  /** The address RTSP is served on (RTSPS when the server serves TLS only). */
  get addr(): Deno.NetAddr {
    return (this.#plain ?? this.#tls)!.addr;
  }

  /** The address RTSPS (RTSP over TLS) is served on, when it is. */
  get tlsAddr(): Deno.NetAddr | undefined {
    return this.#tls?.addr;
  }

  /** The address HTTP (status page, metrics, live views) is served on, when it is. */
  get httpAddr(): Deno.NetAddr | undefined {
    return this.#web?.addr;
  }

  /**
   * A snapshot of the whole server: its files, sessions (and HTTP live
   * views), counters, pacing lateness since the start, and what the process
   * costs. What `/status.json` serves, and what the status page and
   * `/metrics` show. Lists the media directory, loading nothing.
   *
   * @example Count the sessions playing each file
   * ```ts
   * import { RtspServer } from "./mod.ts";
   *
   * const server = await RtspServer.start({ port: 0, hostname: "127.0.0.1", log: () => {} });
   * const status = await server.status();
   * for (const file of status.files) console.log(file.name, file.watchers);
   * await server.close();
   * ```
   */
  status(options: StatusOptions = {}): Promise<ServerStatus> {
    const url = (scheme: string, addr: Deno.NetAddr | undefined) =>
      addr ? `${scheme}://${addr.hostname}:${addr.port}/` : null;
    const context = this.#context;
    return serverStatus({
      now: context.clock.now(),
      startedAt: this.#started,
      server: {
        rtsp: url("rtsp", this.#plain?.addr),
        rtsps: url("rtsps", this.#tls?.addr),
        http: url("http", this.#web?.addr),
        fps: this.#options.fps,
        unpaced: this.#options.unpaced,
        loop: this.#options.loop,
        udpSendMode: this.udpSendMode,
        maxConnections: this.#options.maxConnections,
        maxSessions: this.#options.maxSessions,
        httpMaxRequests: this.#web ? this.#options.httpMaxRequests : null,
      },
      files: (max) => context.streams.files(max),
      sessions: this.#sessions,
      live: context.streams.live,
      counters: this.counters,
      requests: context.requests,
      udp: this.#udp.counters,
      rtcp: this.#rtcp.counters,
      connectionsOpen: this.#connections.size,
      lateness: this.#pacer.lateness,
      http: this.#web?.totals() ?? null,
      process: processUsage(),
    }, options);
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

  /**
   * How long plays of files waited for their first frame, in ms: from the
   * PLAY (its grid wait included) to the end of the send call carrying the
   * frame, since the server started.
   */
  get firstFrameDelay(): LatencySummary {
    return this.#firstFrame.summary();
  }

  /**
   * Each live path on the air: its readers playing, and how long its frames
   * took from the publisher's packets arriving to the readers' packets
   * leaving (after the send call), from the frame's last packet and from its
   * first, in ms, since the path went on the air or the last reset.
   */
  get liveLatency(): {
    path: string;
    readers: number;
    fromLast: LatencySummary;
    fromFirst: LatencySummary;
  }[] {
    return [...this.#context.streams.live.all].filter((claim) => claim.onAir).map((claim) => ({
      path: claim.path,
      readers: claim.stream.playing,
      fromLast: claim.stream.latency.summary(),
      fromFirst: claim.stream.latencyFromFirst.summary(),
    }));
  }

  /** Start measuring {@linkcode liveLatency} afresh, on every live path. */
  resetLiveLatency(): void {
    for (const { stream } of this.#context.streams.live.all) {
      stream.latency.reset();
      stream.latencyFromFirst.reset();
    }
  }

  /**
   * The counters of the live source a publisher of `path` feeds (packets,
   * malformed, foreign, out of order, frames, dropped, capped), while a
   * publisher holds the path; the object goes on counting until that
   * publisher is gone. Read-only: for tests and monitoring.
   */
  liveCounters(path: string): Readonly<LiveSourceCounters> | undefined {
    return this.#context.streams.live.get(path)?.stream.source.counters;
  }

  /** Traffic counters of the RTP/RTCP sockets. */
  get udpCounters(): PairCounters {
    return this.#udp.counters;
  }

  /** Stop accepting, end every session and connection, release every socket and timer. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#web?.close(); // its live views first: they play on the pacer
    for (const listener of [this.#plain, this.#tls]) {
      try {
        listener?.close();
      } catch { /* already closed */ }
    }
    for (const conn of this.#connections) conn.rtsp.close();
    this.#tcpDescriptors?.close();
    await this.#accepting;
    await Promise.all(this.#tasks);
    this.#pacer.close();
    await this.#pacer.idle();
    await this.#sleeper?.close();
    await this.#udp.close();
  }

  /**
   * Tear down standard sessions whose clients have been silent past the
   * timeout, end publishers silent past theirs, and close connections that
   * hold no session and went quiet.
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
        const silent = session.publisher?.silentFor(now) ?? 0;
        if (silent > this.#options.publisherTimeout * 1000) {
          log(
            `session ${session.id}: the publisher of ${session.streamName} sent nothing for ${this.#options.publisherTimeout} s; ended`,
          );
          conn.endSession(session, "publisher timeout");
          continue;
        }
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
