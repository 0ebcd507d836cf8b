/**
 * What the parts of a server share: its options, clock and log, its
 * counters, its sockets, streams, sessions and RTCP. The connection and the
 * method handlers see the server only through this.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import type { RtspConnection } from "../../net/rtsp_connection.ts";
import type { UdpPortPair } from "../../net/udp_port_pair.ts";
import type { TcpDescriptors } from "../../net/tcp_descriptor.ts";
import type { RtspRequest } from "../../wire/rtsp_message.ts";
import type { InterleavedBatch } from "./interleaved_batch.ts";
import type { RequestCounts } from "./request_counts.ts";
import type { ServerAuth } from "./server_auth.ts";
import type { ResolvedServerOptions } from "./server_options.ts";
import type { ServerRtcp } from "./server_rtcp.ts";
import type { ServerSession } from "./server_session.ts";
import type { SessionTable } from "./session_table.ts";
import type { StreamCatalog } from "./stream_catalog.ts";

/** Counters for the whole server. */
export interface ServerCounters {
  /** Connections accepted. */
  connections: number;
  /** Requests answered. */
  requests: number;
  /** Requests answered with an error status. */
  badRequests: number;
  /** Sessions set up. */
  sessionsCreated: number;
  /** UDP sends that failed (such as an ICMP port unreachable from a vanished client). */
  readonly sendErrors: number;
  /** RTCP packets received from clients, and those that did not parse. */
  readonly rtcpReceived: number;
  /** RTCP packets from clients that did not parse. */
  readonly rtcpMalformed: number;
  /** RTP packets dropped because a TCP client could not keep up. */
  interleavedDropped: number;
  /** Sessions torn down because their client went silent. */
  sessionsTimedOut: number;
  /** Connections closed for being idle (no session, nothing sent for the idle timeout). */
  connectionsIdled: number;
  /** Connections refused for being over the limit. */
  connectionsRefused: number;
  /** SETUPs (and HTTP live views) refused for being over the session limit. */
  readonly sessionsRefused: number;
}

/** The server as its connections and handlers see it. */
export interface ServerContext {
  readonly options: ResolvedServerOptions;
  readonly clock: Clock;
  log(line: string): void;
  readonly counters: ServerCounters;
  /** RTSP requests answered, by method and status. */
  readonly requests: RequestCounts;
  readonly udp: UdpPortPair;
  /**
   * Finds plain TCP connections' descriptors, so that interleaved RTP is
   * written with one system call (Linux with ffi; undefined elsewhere).
   */
  readonly tcpDescriptors: TcpDescriptors | undefined;
  readonly streams: StreamCatalog;
  readonly sessions: SessionTable;
  readonly rtcp: ServerRtcp;
  /** Who may watch (disabled when no user is configured). */
  readonly auth: ServerAuth;
  /** Whether the server is shutting down (no new sessions). */
  readonly closing: boolean;
  /** The methods the server implements, as OPTIONS lists them. */
  readonly methods: readonly string[];
}

/** The RTSP connection a request came on (`server_conn.ts`), as a handler sees it. */
export interface RequestConnection {
  readonly rtsp: RtspConnection;
  /** `host:port` of the client. */
  readonly peer: string;
  /** Whether the connection is RTSP over TLS. */
  readonly secure: boolean;
  /** The sessions set up on this connection (only it may use them). */
  readonly sessions: Set<ServerSession>;
  /** Interleaved RTP of this connection's sessions (made on first use). */
  readonly interleaved: InterleavedBatch;
  /** Interleaved channels the connection's sessions use. */
  readonly usedChannels: ReadonlySet<number>;
  /** End one of this connection's sessions: it leaves the server and says BYE. */
  endSession(session: ServerSession, reason: string): void;
}

/** One request as a method handler sees it. */
export interface RequestContext {
  readonly server: ServerContext;
  readonly conn: RequestConnection;
  readonly request: RtspRequest;
  /** The session the request names, found and state-checked (when the method takes one). */
  readonly session?: ServerSession;
  /** The user whose credentials the request carries (when users are configured). */
  readonly user?: string;
}
