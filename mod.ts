/**
 * RTSP/RTP video streaming in Deno: a server and a headless client for the
 * classic "video streaming with RTSP and RTP" lab, speaking both the lab's
 * loose dialect and standard RTSP (RFC 2326, RTP/RTCP per RFC 3550, RTP/JPEG
 * per RFC 2435), with seeking.
 *
 * This module is the public API: the server, the client, and the codecs of
 * the formats they speak. The layers behind it (`lib/wire`, `lib/net`,
 * `lib/media`, `lib/session`) are internal.
 *
 * @example Serve the current directory and record a stream from it
 * ```ts
 * import { RtspServer, StreamClient } from "./mod.ts";
 *
 * const server = await RtspServer.start({ port: 0, hostname: "127.0.0.1", log: () => {} });
 * const client = await StreamClient.open({
 *   host: "127.0.0.1",
 *   port: server.addr.port,
 *   rtpPort: 0,
 *   resource: "video.mjpeg",
 *   outDir: "frames",
 * });
 * await client.setup();
 * await client.play({ start: 5, end: 7 }); // frames 101 to 140
 * await client.receive({ endAfterSec: 1 });
 * await client.teardown();
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

// The server.
export { RtspServer } from "./lib/session/server/rtsp_server.ts";
export {
  MAX_FPS,
  type RtspServerOptions,
  SCALE_LIMITS,
  SERVER_DEFAULTS,
  ServerOptionError,
  type ServerTlsOptions,
} from "./lib/session/server/server_options.ts";
export type { ServerUser } from "./lib/session/server/server_auth.ts";
export {
  type FileStatus,
  type HttpTotals,
  LIVE_PATH_STATES,
  type LivePathState,
  type LivePathStatus,
  type LiveTotals,
  MAX_LISTED_FILES,
  PACING_BUCKETS_MS,
  type PacingStatus,
  type ReceiverReportStatus,
  type ServerInfo,
  type ServerStatus,
  type SessionStatus,
  type StatusOptions,
  type StatusTotals,
} from "./lib/session/server/server_status.ts";
export type { ReceiverReportInfo } from "./lib/session/server/server_session.ts";
export type { RequestCount } from "./lib/session/server/request_counts.ts";
export type { SentTotals } from "./lib/session/server/session_table.ts";
export type { LatencyBuckets } from "./lib/session/server/latency_histogram.ts";
export type { TransportKind } from "./lib/session/server/media_transport.ts";
export type { ProcessUsage } from "./lib/net/process_usage.ts";
export type { ServerCounters } from "./lib/session/server/server_context.ts";
export type { LiveSourceCounters } from "./lib/media/live_source.ts";
export type { SessionInfo, SessionState } from "./lib/session/server/server_session.ts";
export type { Clock, TimerHandle } from "./lib/net/clock.ts";
export { SERVER_METHODS } from "./lib/session/server/method_table.ts";
export type { LatencySummary } from "./lib/session/server/latency_histogram.ts";
export { type PairCounters, UDP_SEND_MODES, type UdpSendMode } from "./lib/net/udp_port_pair.ts";

// The client.
export {
  type PlayInfo,
  type ReceiveEnd,
  StreamClient,
} from "./lib/session/client/stream_client.ts";
export {
  CLIENT_DEFAULTS,
  type ClientDialect,
  ClientOptionError,
  type ClientTransport,
  type PlayRange,
  type ReceiveLimits,
  type StreamClientOptions,
} from "./lib/session/client/client_options.ts";
export {
  type RequestOptions,
  RtspClient,
  RtspClientError,
  type RtspClientOptions,
} from "./lib/session/client/rtsp_client.ts";
export {
  formatPublishSummary,
  PUBLISH_CONTROL,
  type PublishedFile,
  type PublishEnd,
  type PublishSummary,
  type RtpRtcpPair,
  RtspPublisher,
} from "./lib/session/client/rtsp_publisher.ts";
export {
  MAX_PUBLISH_FPS,
  type PublisherOptions,
  type PublishLimits,
} from "./lib/session/client/publish_options.ts";
export { type Datagram, RtpReceiver } from "./lib/session/client/rtp_receiver.ts";
export {
  formatSummary,
  type FrameOutcome,
  ReceptionStats,
  type ReceptionSummary,
} from "./lib/session/client/reception_stats.ts";
export {
  type PacketTimeline,
  type PerSecondSeries,
  ReceptionSeries,
  type ReceptionSeriesOptions,
  type ReceptionTotals,
  TIMELINE_DEFAULTS,
  type TimelineEntry,
  type TimelineKind,
} from "./lib/session/client/reception_series.ts";
export {
  type FrameLogSnapshot,
  type FrameMark,
  type FrameMarkKind,
  type Thumbnail,
} from "./lib/session/client/frame_log.ts";
export {
  type ClientReportInput,
  clientReportInput,
  type ClientReportSource,
  renderClientReport,
  writeClientReport,
} from "./lib/session/client/client_report.ts";
export { frameFileName } from "./lib/session/client/frame_sink.ts";
export {
  type ChallengeResult,
  ClientAuthenticator,
  type ClientAuthenticatorOptions,
  type ClientCredentials,
} from "./lib/session/client/client_auth.ts";
export {
  type ClientUrl,
  displayUrl,
  parseClientUrl,
  redactUrl,
  RTSP_DEFAULT_PORTS,
} from "./lib/session/client/client_url.ts";

// The formats, each a parse/serialize pair.
export { OptionError, ParseError } from "./lib/wire/errors.ts";
export type { Dialect } from "./lib/wire/dialect.ts";
export {
  parseRtpPacket,
  PAYLOAD_TYPE_JPEG,
  type RtpExtension,
  type RtpPacket,
  type RtpPacketInit,
  serializeRtpPacket,
  VIDEO_CLOCK_RATE,
} from "./lib/wire/rtp_packet.ts";
export {
  type Goodbye,
  parseRtcpPackets,
  type ReceiverReport,
  type ReportBlock,
  type RtcpPacket,
  type SdesChunk,
  type SenderReport,
  serializeRtcpCompound,
  type SourceDescription,
  type UnknownRtcp,
} from "./lib/wire/rtcp_packet.ts";
export {
  type LabFrame,
  LabMjpegError,
  readLabFrames,
  writeLabMjpeg,
} from "./lib/wire/lab_mjpeg.ts";
export {
  type JpegSdp,
  type ParsedSdp,
  parseSdp,
  type SdpMedia,
  serializeJpegSdp,
} from "./lib/wire/sdp.ts";
export {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  type RtpJpegFrame,
  UnsupportedJpegError,
} from "./lib/wire/rfc2435_packetizer.ts";
export {
  type DepacketizeEvent,
  Rfc2435Depacketizer,
  type Rfc2435DepacketizerOptions,
  type RtpJpegPacketView,
} from "./lib/wire/rfc2435_depacketizer.ts";
export { isCompleteJpeg, jpegProblem } from "./lib/wire/jpeg.ts";
export type {
  InterleavedFrame,
  MessageEnd,
  RtspRequest,
  RtspResponse,
} from "./lib/wire/rtsp_message.ts";
export { RtspHeaders } from "./lib/wire/rtsp_headers.ts";
export {
  parseTransport,
  type PortRange,
  serializeTransport,
  type TransportSpec,
} from "./lib/wire/transport_header.ts";
export { parseSession, serializeSession, type SessionHeader } from "./lib/wire/session_header.ts";
export {
  type NptRange,
  type NptTime,
  type OtherRange,
  parseRange,
  type RangeHeader,
  serializeRange,
} from "./lib/wire/range_header.ts";
export { parseRtpInfo, type RtpInfoEntry, serializeRtpInfo } from "./lib/wire/rtp_info_header.ts";
export { parseScale, serializeScale } from "./lib/wire/scale_header.ts";
export {
  type Authorization,
  type BasicCredentials,
  type DigestCredentials,
  type OtherCredentials,
  parseAuthorization,
  serializeAuthorization,
} from "./lib/wire/authorization_header.ts";
export {
  type AuthChallenge,
  type BasicChallenge,
  type DigestChallenge,
  type OtherChallenge,
  parseWwwAuthenticate,
  serializeWwwAuthenticate,
} from "./lib/wire/www_authenticate_header.ts";
export {
  type DigestAlgorithm,
  digestHa1,
  digestResponse,
  type DigestResponseInput,
} from "./lib/wire/digest.ts";
export { type HtdigestEntry, parseHtdigest, serializeHtdigest } from "./lib/wire/htdigest.ts";
