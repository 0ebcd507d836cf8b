/**
 * RTSP/RTP video streaming in Deno: a server and a headless client for the
 * classic "video streaming with RTSP and RTP" lab, speaking both the lab's
 * loose dialect and standard RTSP.
 *
 * Layers, each importing only those below it:
 * 1. wire formats (`lib/wire`): pure functions over bytes; below media, the
 *    batched Linux UDP socket (`lib/net`, through the FFI);
 * 2. media (`lib/media`): files loaded once and shared;
 * 3. sessions (`lib/session`): state machines, pacing, sockets, statistics.
 *
 * @example Serve the current directory and record a stream
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
 * await client.play();
 * await client.receive({ frames: 20 });
 * await client.teardown();
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

// Layer 1: wire formats.
export { ParseError } from "./lib/wire/errors.ts";
export {
  MAX_UDP_PAYLOAD,
  parseRtpPacket,
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  RTP_VERSION,
  type RtpExtension,
  type RtpPacket,
  type RtpPacketInit,
  rtpPacketSize,
  serializeRtpPacket,
  VIDEO_CLOCK_RATE,
  writeRtpHeader,
} from "./lib/wire/rtp_packet.ts";
export {
  createRequest,
  createResponse,
  type InterleavedFrame,
  type MessageEnd,
  type RtspMessage,
  type RtspRequest,
  type RtspResponse,
  serializeInterleaved,
  type SerializeOptions,
  serializeRequest,
  serializeResponse,
} from "./lib/wire/rtsp_message.ts";
export {
  RtspParseError,
  RtspParser,
  type RtspParserItem,
  type RtspParserOptions,
} from "./lib/wire/rtsp_parser.ts";
export {
  parseSession,
  parseTransport,
  type PortRange,
  RtspHeaders,
  serializeSession,
  serializeTransport,
  type SessionHeader,
  type TransportSpec,
} from "./lib/wire/rtsp_headers.ts";
export { reasonPhrase, RTSP_STATUS, type RtspStatus } from "./lib/wire/rtsp_status.ts";
export { parseStreamRef, type StreamRef } from "./lib/wire/rtsp_url.ts";
export {
  isCompleteJpeg,
  type JpegFrameInfo,
  jpegProblem,
  type JpegSegment,
  type JpegStructure,
  parseJpegStructure,
  readJpegFrameInfo,
} from "./lib/wire/jpeg.ts";
export {
  LAB_HEADER_SIZE,
  LAB_MAX_FRAME,
  type LabFrame,
  labFrameHeader,
  LabMjpegError,
  readLabFrames,
  writeLabMjpeg,
} from "./lib/wire/lab_mjpeg.ts";

export {
  type Goodbye,
  NTP_UNIX_OFFSET,
  ntpMiddle,
  parseRtcpPackets,
  type ReceiverReport,
  type ReportBlock,
  RTCP_TYPE,
  type RtcpPacket,
  type SdesChunk,
  type SenderReport,
  serializeRtcpCompound,
  serializeRtcpPacket,
  type SourceDescription,
  toNtpTime,
  type UnknownRtcp,
} from "./lib/wire/rtcp_packet.ts";
export {
  type HuffmanTable,
  isStandardHuffmanSegment,
  scaledQuantTables,
  STANDARD_HUFFMAN_TABLES,
  ZIGZAG,
} from "./lib/wire/jpeg_tables.ts";
export {
  JPEG_HEADER_SIZE,
  parseRfc2435Header,
  RESTART_HEADER_SIZE,
  type Rfc2435Header,
  rfc2435HeaderSize,
  writeRfc2435Header,
} from "./lib/wire/rfc2435_headers.ts";
export {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  type RtpJpegFrame,
  UnsupportedJpegError,
} from "./lib/wire/rfc2435_packetizer.ts";
export {
  buildJpegHeader,
  type DepacketizeEvent,
  Rfc2435Depacketizer,
  type Rfc2435DepacketizerOptions,
  type RtpJpegPacketView,
} from "./lib/wire/rfc2435_depacketizer.ts";
export {
  type JpegSdp,
  type ParsedSdp,
  parseSdp,
  type SdpMedia,
  serializeJpegSdp,
} from "./lib/wire/sdp.ts";

// Layer 1b: batched UDP through the FFI (Linux).
export {
  linuxUdpAvailable,
  type LinuxUdpCounters,
  type LinuxUdpDatagram,
  type LinuxUdpOptions,
  LinuxUdpSocket,
  type LinuxUdpSupport,
  linuxUdpSupport,
} from "./lib/net/linux_udp.ts";

// Layer 2: media.
export {
  loadMjpegSource,
  type MjpegSource,
  parseMjpegSource,
  type RtpJpegPayloads,
  rtpJpegPayloads,
} from "./lib/media/mjpeg_source.ts";
export { MediaError, MediaLibrary } from "./lib/media/media_library.ts";

// Layer 3: sessions.
export { type Clock, realClock, type TimerHandle } from "./lib/session/clock.ts";
export { type PacedTask, Pacer } from "./lib/session/pacer.ts";
export { LatencyHistogram, type LatencySummary } from "./lib/session/latency_histogram.ts";
export {
  FrameStream,
  type FrameStreamOptions,
  type OutgoingFrame,
} from "./lib/session/frame_stream.ts";
export {
  type Dialect,
  MAX_LAB_FRAME,
  ServerSession,
  type ServerSessionOptions,
  type SessionState,
  type SessionTransport,
} from "./lib/session/server_session.ts";
export {
  MAX_SENDS_IN_FLIGHT,
  type PairCounters,
  type PairDatagram,
  UdpPortPair,
  type UdpPortPairOptions,
  type UdpSendMode,
} from "./lib/session/udp_port_pair.ts";
export { ReorderBuffer } from "./lib/session/reorder_buffer.ts";
export {
  RtspError,
  RtspServer,
  type RtspServerOptions,
  SERVER_METHODS,
  type ServerCounters,
} from "./lib/session/rtsp_server.ts";
export { RtspClient, RtspClientError, type RtspClientOptions } from "./lib/session/rtsp_client.ts";
export { type Datagram, RtpReceiver } from "./lib/session/rtp_receiver.ts";
export {
  formatSummary,
  ReceptionStats,
  type ReceptionSummary,
} from "./lib/session/reception_stats.ts";
export { frameFileName, FrameSink } from "./lib/session/frame_sink.ts";
export {
  type ReceiveEnd,
  type ReceiveLimits,
  resolveControl,
  StreamClient,
  type StreamClientOptions,
} from "./lib/session/stream_client.ts";
