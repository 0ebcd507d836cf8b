/**
 * RTCP (RFC 3550 §6): sender and receiver reports, source descriptions and
 * BYE, in compound packets. Unknown packet types are kept as they are.
 *
 * Common header of every RTCP packet:
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|   RC    |      PT       |     length (32-bit words - 1) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 * Report block (§6.4.1), 24 bytes:
 * ```text
 * | SSRC of source                                                |
 * | fraction lost |       cumulative number of packets lost       |
 * | extended highest sequence number received                     |
 * | interarrival jitter                                           |
 * | last SR (LSR)                                                 |
 * | delay since last SR (DLSR)                                    |
 * ```
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** RTCP packet types (RFC 3550 §12.1). */
export const RTCP_TYPE = { SR: 200, RR: 201, SDES: 202, BYE: 203, APP: 204 } as const;

/** Reception statistics about one source (RFC 3550 §6.4.1). */
export interface ReportBlock {
  /** The source reported on. */
  ssrc: number;
  /** Fraction lost since the last report, as a fixed-point number /256. */
  fractionLost: number;
  /** Cumulative packets lost (signed 24-bit). */
  cumulativeLost: number;
  /** Highest sequence number received, with its cycle count in the upper 16 bits. */
  extendedHighestSequence: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received. */
  lastSr: number;
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSr: number;
}

/** Sender report (PT 200). */
export interface SenderReport {
  /** Sender report. */
  type: "sr";
  /** The sender. */
  ssrc: number;
  /** NTP timestamp: seconds since 1900 (most significant word). */
  ntpSeconds: number;
  /** NTP timestamp: binary fraction of a second (least significant word). */
  ntpFraction: number;
  /** The RTP time of the same instant as the NTP timestamp. */
  rtpTimestamp: number;
  /** RTP packets sent so far. */
  packetCount: number;
  /** RTP payload bytes sent so far. */
  octetCount: number;
  /** What the sender received from others. */
  reports: ReportBlock[];
}

/** Receiver report (PT 201). */
export interface ReceiverReport {
  /** Receiver report. */
  type: "rr";
  /** The receiver. */
  ssrc: number;
  /** One block per source received. */
  reports: ReportBlock[];
}

/** One SDES chunk: a source and its items (1 = CNAME, 2 = NAME, … 8 = PRIV). */
export interface SdesChunk {
  /** The source described. */
  ssrc: number;
  /** Its items: type (1 = CNAME, …) and text. */
  items: { type: number; text: string }[];
}

/** Source description (PT 202). */
export interface SourceDescription {
  /** Source description. */
  type: "sdes";
  /** One chunk per source. */
  chunks: SdesChunk[];
}

/** Goodbye (PT 203). */
export interface Goodbye {
  /** Goodbye. */
  type: "bye";
  /** The sources that leave. */
  sources: number[];
  /** Why, when given. */
  reason?: string;
}

/** A packet of a type this module does not model (APP, XR, feedback, …). */
export interface UnknownRtcp {
  /** A type not modelled here. */
  type: "unknown";
  /** The packet type byte (e.g. 204 for APP). */
  packetType: number;
  /** The count field of the header. */
  count: number;
  /** The packet after its 4-byte header, padding removed. */
  body: Uint8Array;
}

/** Any RTCP packet. */
export type RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | UnknownRtcp;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function readBlocks(view: DataView, offset: number, count: number, end: number): ReportBlock[] {
  if (offset + count * 24 > end) {
    throw new ParseError(`Cannot parse RTCP report: ${count} report blocks do not fit`, offset);
  }
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i++, offset += 24) {
    const lost = view.getUint32(offset + 4) & 0xffffff;
    blocks.push({
      ssrc: view.getUint32(offset),
      fractionLost: view.getUint8(offset + 4),
      cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
      extendedHighestSequence: view.getUint32(offset + 8),
      jitter: view.getUint32(offset + 12),
      lastSr: view.getUint32(offset + 16),
      delaySinceLastSr: view.getUint32(offset + 20),
    });
  }
  return blocks;
}

function parseOne(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  count: number,
  pt: number,
  end: number,
): RtcpPacket {
  const body = offset + 4;
  switch (pt) {
    case RTCP_TYPE.SR: {
      if (body + 24 > end) throw new ParseError("Cannot parse RTCP SR: too short", offset);
      return {
        type: "sr",
        ssrc: view.getUint32(body),
        ntpSeconds: view.getUint32(body + 4),
        ntpFraction: view.getUint32(body + 8),
        rtpTimestamp: view.getUint32(body + 12),
        packetCount: view.getUint32(body + 16),
        octetCount: view.getUint32(body + 20),
        reports: readBlocks(view, body + 24, count, end),
      };
    }
    case RTCP_TYPE.RR: {
      if (body + 4 > end) throw new ParseError("Cannot parse RTCP RR: too short", offset);
      return {
        type: "rr",
        ssrc: view.getUint32(body),
        reports: readBlocks(view, body + 4, count, end),
      };
    }
    case RTCP_TYPE.SDES: {
      const chunks: SdesChunk[] = [];
      let at = body;
      for (let i = 0; i < count; i++) {
        if (at + 4 > end) throw new ParseError("Cannot parse RTCP SDES: truncated chunk", at);
        const chunk: SdesChunk = { ssrc: view.getUint32(at), items: [] };
        at += 4;
        for (;;) {
          if (at >= end) throw new ParseError("Cannot parse RTCP SDES: items run past the end", at);
          const type = bytes[at];
          if (type === 0) break;
          if (at + 2 > end || at + 2 + bytes[at + 1] > end) {
            throw new ParseError("Cannot parse RTCP SDES: item runs past the end", at);
          }
          chunk.items.push({
            type,
            text: decoder.decode(bytes.subarray(at + 2, at + 2 + bytes[at + 1])),
          });
          at += 2 + bytes[at + 1];
        }
        at = (at + 4) & ~3; // the null item, then padding to a 32-bit boundary
        chunks.push(chunk);
      }
      return { type: "sdes", chunks };
    }
    case RTCP_TYPE.BYE: {
      if (body + count * 4 > end) throw new ParseError("Cannot parse RTCP BYE: truncated", offset);
      const sources: number[] = [];
      for (let i = 0; i < count; i++) sources.push(view.getUint32(body + i * 4));
      const at = body + count * 4;
      const bye: Goodbye = { type: "bye", sources };
      if (at < end) {
        const length = bytes[at];
        if (at + 1 + length > end) {
          throw new ParseError("Cannot parse RTCP BYE: reason runs past the end", at);
        }
        bye.reason = decoder.decode(bytes.subarray(at + 1, at + 1 + length));
      }
      return bye;
    }
    default:
      return { type: "unknown", packetType: pt, count, body: bytes.subarray(body, end) };
  }
}

/**
 * Split a compound RTCP datagram into its packets.
 *
 * @throws {ParseError} on a wrong version, a length past the end, or a packet
 * too short for its type.
 */
export function parseRtcpPackets(bytes: Uint8Array): RtcpPacket[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packets: RtcpPacket[] = [];
  let offset = 0;
  if (bytes.length < 4) throw new ParseError(`Cannot parse RTCP: ${bytes.length} bytes`, 0);
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) {
      throw new ParseError("Cannot parse RTCP: truncated header", offset);
    }
    const b0 = bytes[offset];
    if (b0 >> 6 !== 2) {
      throw new ParseError(`Cannot parse RTCP: version ${b0 >> 6}, expected 2`, offset);
    }
    const pt = bytes[offset + 1];
    const length = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + length > bytes.length) {
      throw new ParseError(
        `Cannot parse RTCP: packet of ${length} bytes runs past the end`,
        offset,
      );
    }
    let end = offset + length;
    if (b0 & 0x20) {
      const padding = bytes[end - 1];
      if (padding === 0 || padding > length - 4) {
        throw new ParseError(`Cannot parse RTCP: padding ${padding} does not fit`, end - 1);
      }
      end -= padding;
    }
    packets.push(parseOne(bytes, view, offset, b0 & 31, pt, end));
    offset += length;
  }
  return packets;
}

function header(out: DataView, offset: number, count: number, pt: number, length: number): void {
  out.setUint8(offset, 0x80 | count);
  out.setUint8(offset + 1, pt);
  out.setUint16(offset + 2, length / 4 - 1);
}

function writeBlocks(view: DataView, offset: number, blocks: ReportBlock[]): void {
  for (const b of blocks) {
    view.setUint32(offset, b.ssrc >>> 0);
    view.setUint32(
      offset + 4,
      ((b.fractionLost & 0xff) << 24 | (b.cumulativeLost & 0xffffff)) >>> 0,
    );
    view.setUint32(offset + 8, b.extendedHighestSequence >>> 0);
    view.setUint32(offset + 12, b.jitter >>> 0);
    view.setUint32(offset + 16, b.lastSr >>> 0);
    view.setUint32(offset + 20, b.delaySinceLastSr >>> 0);
    offset += 24;
  }
}

/** Encode one RTCP packet (padded to a 32-bit boundary where its type needs it). */
export function serializeRtcpPacket(packet: RtcpPacket): Uint8Array {
  switch (packet.type) {
    case "sr": {
      const out = new Uint8Array(28 + packet.reports.length * 24);
      const view = new DataView(out.buffer);
      header(view, 0, packet.reports.length, RTCP_TYPE.SR, out.length);
      view.setUint32(4, packet.ssrc >>> 0);
      view.setUint32(8, packet.ntpSeconds >>> 0);
      view.setUint32(12, packet.ntpFraction >>> 0);
      view.setUint32(16, packet.rtpTimestamp >>> 0);
      view.setUint32(20, packet.packetCount >>> 0);
      view.setUint32(24, packet.octetCount >>> 0);
      writeBlocks(view, 28, packet.reports);
      return out;
    }
    case "rr": {
      const out = new Uint8Array(8 + packet.reports.length * 24);
      const view = new DataView(out.buffer);
      header(view, 0, packet.reports.length, RTCP_TYPE.RR, out.length);
      view.setUint32(4, packet.ssrc >>> 0);
      writeBlocks(view, 8, packet.reports);
      return out;
    }
    case "sdes": {
      const parts: number[] = [];
      for (const chunk of packet.chunks) {
        parts.push(
          chunk.ssrc >>> 24,
          (chunk.ssrc >>> 16) & 255,
          (chunk.ssrc >>> 8) & 255,
          chunk.ssrc & 255,
        );
        for (const item of chunk.items) {
          const text = encoder.encode(item.text).subarray(0, 255);
          parts.push(item.type, text.length, ...text);
        }
        parts.push(0);
        while (parts.length % 4 !== 0) parts.push(0);
      }
      const out = new Uint8Array(4 + parts.length);
      header(new DataView(out.buffer), 0, packet.chunks.length, RTCP_TYPE.SDES, out.length);
      out.set(parts, 4);
      return out;
    }
    case "bye": {
      const reason = packet.reason !== undefined
        ? encoder.encode(packet.reason).subarray(0, 255)
        : undefined;
      const size = 4 + packet.sources.length * 4 +
        (reason ? Math.ceil((1 + reason.length) / 4) * 4 : 0);
      const out = new Uint8Array(size);
      const view = new DataView(out.buffer);
      header(view, 0, packet.sources.length, RTCP_TYPE.BYE, size);
      packet.sources.forEach((s, i) => view.setUint32(4 + i * 4, s >>> 0));
      if (reason) {
        out[4 + packet.sources.length * 4] = reason.length;
        out.set(reason, 5 + packet.sources.length * 4);
      }
      return out;
    }
    case "unknown": {
      const size = 4 + Math.ceil(packet.body.length / 4) * 4;
      const out = new Uint8Array(size);
      header(new DataView(out.buffer), 0, packet.count & 31, packet.packetType, size);
      out.set(packet.body, 4);
      return out;
    }
  }
}

/** Encode packets into one compound datagram. */
export function serializeRtcpCompound(packets: RtcpPacket[]): Uint8Array {
  const parts = packets.map(serializeRtcpPacket);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET = 2_208_988_800;

/** Wall-clock milliseconds since 1970 → NTP seconds and binary fraction. */
export function toNtpTime(unixMs: number): { seconds: number; fraction: number } {
  const seconds = Math.floor(unixMs / 1000);
  const fraction = Math.floor(((unixMs - seconds * 1000) / 1000) * 0x100000000);
  return { seconds: (seconds + NTP_UNIX_OFFSET) >>> 0, fraction: fraction >>> 0 };
}

/** The middle 32 bits of an NTP timestamp, as LSR carries them. */
export function ntpMiddle(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}
