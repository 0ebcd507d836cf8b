/**
 * RTP data packets (RFC 3550 §5.1): parse and serialize every header field.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  defined by profile (X=1)     |           length              |
 * |                        header extension                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** Size of the fixed RTP header, without CSRCs or extension. */
export const RTP_HEADER_SIZE = 12;
/** The only RTP version in use (RFC 3550). */
export const RTP_VERSION = 2;
/** Static payload type of JPEG video (RFC 3551 §6, RFC 2435). */
export const PAYLOAD_TYPE_JPEG = 26;
/** RTP clock rate of video payloads such as JPEG (RFC 3551 §5). */
export const VIDEO_CLOCK_RATE = 90_000;
/** Largest UDP payload an IPv4 datagram can carry (65535 − 20 − 8). */
export const MAX_UDP_PAYLOAD = 65_507;

/** RTP header extension (RFC 3550 §5.3.1). `data` length is a multiple of 4. */
export interface RtpExtension {
  /** The 16-bit "defined by profile" field. */
  profile: number;
  /** Extension words, without the 4-byte extension header. */
  data: Uint8Array;
}

/** One RTP data packet; field names follow RFC 3550. */
export interface RtpPacket {
  /** Marker bit (M). */
  marker: boolean;
  /** Payload type, 0–127. */
  payloadType: number;
  /** 16-bit sequence number. */
  sequenceNumber: number;
  /** 32-bit RTP timestamp. */
  timestamp: number;
  /** 32-bit synchronization source. */
  ssrc: number;
  /** Contributing sources, at most 15. */
  csrc: number[];
  /** Header extension, when X is set. */
  extension?: RtpExtension;
  /** Count of padding bytes at the end (P bit set when > 0); 0 when none. */
  padding: number;
  /** The payload, without padding. */
  payload: Uint8Array;
}

/** Fields of a packet given to {@linkcode serializeRtpPacket}; the rest default to empty. */
export type RtpPacketInit =
  & Pick<RtpPacket, "payloadType" | "sequenceNumber" | "timestamp" | "ssrc" | "payload">
  & Partial<Pick<RtpPacket, "marker" | "csrc" | "extension" | "padding">>;

/**
 * Decode an RTP packet.
 *
 * The payload is a view into `bytes`, not a copy.
 *
 * @example Read the fields of a datagram
 * ```ts
 * import { parseRtpPacket, serializeRtpPacket } from "../../mod.ts";
 *
 * const bytes = serializeRtpPacket({
 *   payloadType: 26,
 *   sequenceNumber: 101,
 *   timestamp: 450_000,
 *   ssrc: 0x1234abcd,
 *   marker: true,
 *   payload: new Uint8Array([1, 2, 3]),
 * });
 * const packet = parseRtpPacket(bytes);
 * console.log(packet.sequenceNumber, packet.marker, packet.payload.length); // 101 true 3
 * ```
 *
 * @throws {ParseError} when the packet is shorter than its header says, or not version 2.
 */
export function parseRtpPacket(bytes: Uint8Array): RtpPacket {
  if (bytes.length < RTP_HEADER_SIZE) {
    throw new ParseError(
      `Cannot parse RTP packet: ${bytes.length} bytes, the fixed header needs ${RTP_HEADER_SIZE}`,
      bytes.length,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = bytes[0];
  const version = b0 >> 6;
  if (version !== RTP_VERSION) {
    throw new ParseError(`Cannot parse RTP packet: version ${version}, expected 2`, 0);
  }
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_SIZE;
  if (bytes.length < offset + csrcCount * 4) {
    throw new ParseError(
      `Cannot parse RTP packet: ${csrcCount} CSRCs need ${
        offset + csrcCount * 4
      } bytes, got ${bytes.length}`,
      bytes.length,
    );
  }
  const csrc: number[] = [];
  for (let i = 0; i < csrcCount; i++, offset += 4) csrc.push(view.getUint32(offset));
  let extension: RtpExtension | undefined;
  if (hasExtension) {
    if (bytes.length < offset + 4) {
      throw new ParseError("Cannot parse RTP packet: truncated header extension", offset);
    }
    const profile = view.getUint16(offset);
    const words = view.getUint16(offset + 2);
    const end = offset + 4 + words * 4;
    if (bytes.length < end) {
      throw new ParseError(
        `Cannot parse RTP packet: header extension of ${words} words runs past the end`,
        offset,
      );
    }
    extension = { profile, data: bytes.subarray(offset + 4, end) };
    offset = end;
  }
  let end = bytes.length;
  let padding = 0;
  if (hasPadding) {
    padding = bytes[bytes.length - 1];
    if (padding === 0 || end - padding < offset) {
      throw new ParseError(
        `Cannot parse RTP packet: padding count ${padding} does not fit the packet`,
        bytes.length - 1,
      );
    }
    end -= padding;
  }
  const packet: RtpPacket = {
    marker: (bytes[1] & 0x80) !== 0,
    payloadType: bytes[1] & 0x7f,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    csrc,
    padding,
    payload: bytes.subarray(offset, end),
  };
  if (extension) packet.extension = extension;
  return packet;
}

/** Bytes {@linkcode serializeRtpPacket} will produce for `packet`. */
export function rtpPacketSize(packet: RtpPacketInit): number {
  const csrc = packet.csrc?.length ?? 0;
  const ext = packet.extension ? 4 + packet.extension.data.length : 0;
  return RTP_HEADER_SIZE + csrc * 4 + ext + packet.payload.length + (packet.padding ?? 0);
}

/**
 * Encode an RTP packet into a new buffer.
 *
 * @example Make a packet (version 2 is implied)
 * ```ts
 * import { serializeRtpPacket } from "../../mod.ts";
 *
 * const bytes = serializeRtpPacket({
 *   payloadType: 26,
 *   sequenceNumber: 1,
 *   timestamp: 0,
 *   ssrc: 42,
 *   payload: new Uint8Array(100),
 * });
 * console.log(bytes.length); // 112: a 12-byte header and the payload
 * ```
 *
 * @throws {RangeError} when a field is outside its range (PT > 127, > 15 CSRCs,
 * extension not a multiple of 4 bytes, padding not 0–255).
 */
export function serializeRtpPacket(packet: RtpPacketInit): Uint8Array {
  const csrc = packet.csrc ?? [];
  const padding = packet.padding ?? 0;
  if (packet.payloadType < 0 || packet.payloadType > 127 || !Number.isInteger(packet.payloadType)) {
    throw new RangeError(`Cannot serialize RTP packet: payload type ${packet.payloadType}`);
  }
  if (csrc.length > 15) {
    throw new RangeError(`Cannot serialize RTP packet: ${csrc.length} CSRCs, at most 15`);
  }
  if (packet.extension && packet.extension.data.length % 4 !== 0) {
    throw new RangeError("Cannot serialize RTP packet: extension length is not a multiple of 4");
  }
  if (padding < 0 || padding > 255 || !Number.isInteger(padding)) {
    throw new RangeError(`Cannot serialize RTP packet: padding ${padding}, expected 0-255`);
  }
  const out = new Uint8Array(rtpPacketSize(packet));
  const view = new DataView(out.buffer);
  out[0] = (RTP_VERSION << 6) | (padding > 0 ? 0x20 : 0) | (packet.extension ? 0x10 : 0) |
    csrc.length;
  out[1] = (packet.marker ? 0x80 : 0) | packet.payloadType;
  view.setUint16(2, packet.sequenceNumber & 0xffff);
  view.setUint32(4, packet.timestamp >>> 0);
  view.setUint32(8, packet.ssrc >>> 0);
  let offset = RTP_HEADER_SIZE;
  for (const id of csrc) {
    view.setUint32(offset, id >>> 0);
    offset += 4;
  }
  if (packet.extension) {
    view.setUint16(offset, packet.extension.profile);
    view.setUint16(offset + 2, packet.extension.data.length / 4);
    out.set(packet.extension.data, offset + 4);
    offset += 4 + packet.extension.data.length;
  }
  out.set(packet.payload, offset);
  if (padding > 0) out[out.length - 1] = padding;
  return out;
}

/**
 * Write a fixed 12-byte RTP header (V=2, no padding, extension or CSRCs) into
 * `target` at `offset`: the hot-path form of {@linkcode serializeRtpPacket},
 * for a sender that keeps its payloads shared and stamps only the header.
 * Values are taken modulo their field widths (sequence 16 bits, timestamp
 * and SSRC 32 bits, payload type 7 bits).
 *
 * @example Stamp a header in front of a shared payload
 * ```ts
 * const header = new Uint8Array(12);
 * writeRtpHeader(header, 0, 26, true, 7, 90000, 0x1234);
 * // header: 80 9a 00 07 00 01 5f 90 00 00 12 34
 * ```
 */
export function writeRtpHeader(
  target: Uint8Array,
  offset: number,
  payloadType: number,
  marker: boolean,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
): void {
  target[offset] = 0x80;
  target[offset + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  target[offset + 2] = sequenceNumber >>> 8 & 0xff;
  target[offset + 3] = sequenceNumber & 0xff;
  target[offset + 4] = timestamp >>> 24 & 0xff;
  target[offset + 5] = timestamp >>> 16 & 0xff;
  target[offset + 6] = timestamp >>> 8 & 0xff;
  target[offset + 7] = timestamp & 0xff;
  target[offset + 8] = ssrc >>> 24 & 0xff;
  target[offset + 9] = ssrc >>> 16 & 0xff;
  target[offset + 10] = ssrc >>> 8 & 0xff;
  target[offset + 11] = ssrc & 0xff;
}
