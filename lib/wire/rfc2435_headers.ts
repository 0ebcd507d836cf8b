/**
 * The headers RFC 2435 (RTP payload format for JPEG) puts before the scan
 * data in every packet.
 *
 * Main JPEG header (§3.1), every packet:
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Type-specific |              Fragment Offset                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Type     |       Q       |     Width     |     Height    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 * Restart Marker header (§3.1.7), types 64–127, every packet:
 * ```text
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       Restart Interval        |F|L|       Restart Count       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 * Quantization Table header (§3.1.8), Q ≥ 128, first packet of a frame:
 * ```text
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      MBZ      |   Precision   |             Length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Quantization Table Data                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** Size of the main JPEG header. */
export const JPEG_HEADER_SIZE = 8;
/** Size of the Restart Marker header. */
export const RESTART_HEADER_SIZE = 4;

/** The fields of one RFC 2435 payload's headers, and where its scan data starts. */
export interface Rfc2435Header {
  typeSpecific: number;
  /** Offset of this packet's scan data in the frame's scan data. */
  fragmentOffset: number;
  /** 0/1 (4:2:2 / 4:2:0), 64/65 with restart markers. */
  type: number;
  /** 1–99 scaled standard tables, 128–255 tables in-band. */
  q: number;
  /** Width and height in 8-pixel blocks (0 when the picture is wider/taller than 2040). */
  width8: number;
  height8: number;
  /** Restart interval, for types 64–127. */
  restartInterval?: number;
  /** The F/L/count word, for types 64–127. */
  restartWord?: number;
  /** In-band quantization tables (Q ≥ 128, offset 0): precision bits and table bytes. */
  quantPrecision?: number;
  quantTables?: Uint8Array;
  /** Where the scan data starts in the payload. */
  dataOffset: number;
}

/**
 * Read the headers of an RFC 2435 payload.
 *
 * @throws {ParseError} when the payload is too short for its headers.
 */
export function parseRfc2435Header(payload: Uint8Array): Rfc2435Header {
  if (payload.length < JPEG_HEADER_SIZE) {
    throw new ParseError(
      `Cannot parse RTP/JPEG payload: ${payload.length} bytes, the main header needs 8`,
      payload.length,
    );
  }
  const header: Rfc2435Header = {
    typeSpecific: payload[0],
    fragmentOffset: (payload[1] << 16) | (payload[2] << 8) | payload[3],
    type: payload[4],
    q: payload[5],
    width8: payload[6],
    height8: payload[7],
    dataOffset: JPEG_HEADER_SIZE,
  };
  let offset = JPEG_HEADER_SIZE;
  if (header.type >= 64 && header.type < 128) {
    if (payload.length < offset + RESTART_HEADER_SIZE) {
      throw new ParseError(
        "Cannot parse RTP/JPEG payload: truncated restart marker header",
        offset,
      );
    }
    header.restartInterval = (payload[offset] << 8) | payload[offset + 1];
    header.restartWord = (payload[offset + 2] << 8) | payload[offset + 3];
    offset += RESTART_HEADER_SIZE;
  }
  if (header.q >= 128 && header.fragmentOffset === 0) {
    if (payload.length < offset + 4) {
      throw new ParseError(
        "Cannot parse RTP/JPEG payload: truncated quantization table header",
        offset,
      );
    }
    const length = (payload[offset + 2] << 8) | payload[offset + 3];
    if (payload.length < offset + 4 + length) {
      throw new ParseError(
        `Cannot parse RTP/JPEG payload: quantization tables of ${length} bytes run past the packet`,
        offset,
      );
    }
    header.quantPrecision = payload[offset + 1];
    header.quantTables = payload.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
  }
  header.dataOffset = offset;
  return header;
}

/** Write the headers of one payload into `out` at 0; returns the bytes written. */
export function writeRfc2435Header(
  out: Uint8Array,
  header: Omit<Rfc2435Header, "dataOffset">,
): number {
  out[0] = header.typeSpecific;
  out[1] = header.fragmentOffset >> 16;
  out[2] = header.fragmentOffset >> 8;
  out[3] = header.fragmentOffset;
  out[4] = header.type;
  out[5] = header.q;
  out[6] = header.width8;
  out[7] = header.height8;
  let offset = JPEG_HEADER_SIZE;
  if (header.type >= 64 && header.type < 128) {
    const interval = header.restartInterval ?? 0;
    const word = header.restartWord ?? 0xffff;
    out[offset] = interval >> 8;
    out[offset + 1] = interval;
    out[offset + 2] = word >> 8;
    out[offset + 3] = word;
    offset += RESTART_HEADER_SIZE;
  }
  if (header.quantTables) {
    out[offset] = 0;
    out[offset + 1] = header.quantPrecision ?? 0;
    out[offset + 2] = header.quantTables.length >> 8;
    out[offset + 3] = header.quantTables.length;
    out.set(header.quantTables, offset + 4);
    offset += 4 + header.quantTables.length;
  }
  return offset;
}

/** Bytes {@linkcode writeRfc2435Header} writes for `header`. */
export function rfc2435HeaderSize(header: Pick<Rfc2435Header, "type" | "quantTables">): number {
  return JPEG_HEADER_SIZE + (header.type >= 64 && header.type < 128 ? RESTART_HEADER_SIZE : 0) +
    (header.quantTables ? 4 + header.quantTables.length : 0);
}
