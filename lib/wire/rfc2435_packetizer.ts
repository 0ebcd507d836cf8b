/**
 * JPEG → RTP/JPEG payloads (RFC 2435): check that a JPEG is one RFC 2435 can
 * carry (baseline, 8-bit, Y/Cb/Cr with 4:2:2 or 4:2:0 sampling, standard
 * Huffman tables), take its quantization tables, restart interval and scan
 * data, and cut the scan data into payloads that fit a packet.
 *
 * @module
 */
import { type JpegStructure, parseJpegStructure, readJpegFrameInfo } from "./jpeg.ts";
import { isStandardHuffmanSegment } from "./jpeg_tables.ts";
import { rfc2435HeaderSize, writeRfc2435Header } from "./rfc2435_headers.ts";

/** A JPEG that RFC 2435 cannot carry as it is; `reason` says why. */
export class UnsupportedJpegError extends Error {
  /** A JPEG RFC 2435 cannot carry as it is, and `reason` why. */
  constructor(reason: string) {
    super(`Cannot send this JPEG as RTP/JPEG (RFC 2435): ${reason}`);
    this.name = "UnsupportedJpegError";
  }
}

/** What RFC 2435 needs of one JPEG. */
export interface RtpJpegFrame {
  /** 0 (4:2:2) or 1 (4:2:0), plus 64 when the JPEG has restart markers. */
  type: number;
  /** Picture size in pixels. */
  width: number;
  /** Picture height in pixels. */
  height: number;
  /** DRI restart interval, 0 when none. */
  restartInterval: number;
  /** Bit 0: luma table is 16-bit; bit 1: chroma table is 16-bit. */
  quantPrecision: number;
  /** Luma then chroma quantization table, zig-zag order, 64 or 128 bytes each. */
  quantTables: Uint8Array;
  /** Entropy-coded scan data (without the EOI). */
  scan: Uint8Array;
}

function readQuantTables(
  structure: JpegStructure,
): Map<number, { precision: number; data: Uint8Array }> {
  const tables = new Map<number, { precision: number; data: Uint8Array }>();
  for (const segment of structure.segments) {
    if (segment.marker !== 0xdb) continue;
    let offset = 0;
    const d = segment.data;
    while (offset < d.length) {
      const precision = d[offset] >> 4;
      const id = d[offset] & 15;
      const size = precision ? 128 : 64;
      if (precision > 1 || offset + 1 + size > d.length) {
        throw new UnsupportedJpegError(`malformed DQT segment at offset ${segment.offset}`);
      }
      tables.set(id, { precision, data: d.subarray(offset + 1, offset + 1 + size) });
      offset += 1 + size;
    }
  }
  return tables;
}

/**
 * Take apart a JPEG for RFC 2435.
 *
 * @throws {UnsupportedJpegError} naming what RFC 2435 cannot express
 * (progressive or extended coding, other samplings, greyscale, custom Huffman
 * tables, 12-bit samples, sizes over 2040 are fine and handled by the caller
 * through `a=x-dimensions`).
 * @throws {ParseError} when the bytes are not a complete JPEG.
 */
export function jpegToRtpFrame(jpeg: Uint8Array): RtpJpegFrame {
  const structure = parseJpegStructure(jpeg);
  const info = readJpegFrameInfo(structure);
  if (info.sofMarker !== 0xc0) {
    const kind = info.sofMarker === 0xc2 ? "progressive" : `SOF 0x${info.sofMarker.toString(16)}`;
    throw new UnsupportedJpegError(`it is ${kind}; only baseline (SOF0) can be sent`);
  }
  if (info.precision !== 8) {
    throw new UnsupportedJpegError(`${info.precision}-bit samples; only 8-bit can be sent`);
  }
  if (info.components.length !== 3) {
    throw new UnsupportedJpegError(
      `${info.components.length} components; only Y, Cb, Cr (3) can be sent`,
    );
  }
  const [y, cb, cr] = info.components;
  const ySampling = (y.h << 4) | y.v;
  if (
    (ySampling !== 0x21 && ySampling !== 0x22) || cb.h !== 1 || cb.v !== 1 || cr.h !== 1 ||
    cr.v !== 1
  ) {
    throw new UnsupportedJpegError(
      `sampling Y ${y.h}x${y.v}, Cb ${cb.h}x${cb.v}, Cr ${cr.h}x${cr.v}; only 4:2:2 (Y 2x1) and 4:2:0 (Y 2x2) with chroma 1x1 can be sent`,
    );
  }
  if (cb.tq !== cr.tq) {
    throw new UnsupportedJpegError("Cb and Cr use different quantization tables");
  }
  let restartInterval = 0;
  for (const segment of structure.segments) {
    if (segment.marker === 0xc4 && !isStandardHuffmanSegment(segment.data)) {
      throw new UnsupportedJpegError(
        "it uses its own Huffman tables; RFC 2435 implies the standard ones (ITU T.81 K.3)",
      );
    }
    if (segment.marker === 0xdd && segment.data.length >= 2) {
      restartInterval = (segment.data[0] << 8) | segment.data[1];
    }
  }
  const tables = readQuantTables(structure);
  const luma = tables.get(y.tq);
  const chroma = tables.get(cb.tq);
  if (!luma || !chroma) throw new UnsupportedJpegError("a quantization table it uses is missing");
  const quantTables = new Uint8Array(luma.data.length + chroma.data.length);
  quantTables.set(luma.data);
  quantTables.set(chroma.data, luma.data.length);
  return {
    type: (ySampling === 0x21 ? 0 : 1) + (restartInterval > 0 ? 64 : 0),
    width: info.width,
    height: info.height,
    restartInterval,
    quantPrecision: luma.precision | (chroma.precision << 1),
    quantTables,
    scan: jpeg.subarray(structure.scanOffset, jpeg.length - 2),
  };
}

/**
 * Cut a frame into RTP/JPEG payloads of at most `maxPayload` bytes each
 * (headers included): Q = 255 with the tables in the first payload, the
 * restart header (F=L=1, count 0x3FFF) in every payload for types 64–127,
 * width and height 0 when a side exceeds 2040 pixels.
 *
 * @throws {RangeError} when `maxPayload` leaves no room for scan data.
 */
export function packetizeRtpJpeg(frame: RtpJpegFrame, maxPayload: number): Uint8Array[] {
  if (frame.scan.length >= 1 << 24) {
    throw new RangeError(
      `Cannot packetize ${frame.scan.length} bytes of scan data: the limit is 16 MiB`,
    );
  }
  const w8 = Math.ceil(frame.width / 8);
  const h8 = Math.ceil(frame.height / 8);
  const base = {
    typeSpecific: 0,
    type: frame.type,
    q: 255,
    width8: w8 > 255 || h8 > 255 ? 0 : w8,
    height8: w8 > 255 || h8 > 255 ? 0 : h8,
    restartInterval: frame.restartInterval,
    restartWord: 0xffff,
  };
  const payloads: Uint8Array[] = [];
  let offset = 0;
  do {
    const header = {
      ...base,
      fragmentOffset: offset,
      ...(offset === 0
        ? { quantTables: frame.quantTables, quantPrecision: frame.quantPrecision }
        : {}),
    };
    const headerSize = rfc2435HeaderSize(header);
    const room = maxPayload - headerSize;
    if (room <= 0) {
      throw new RangeError(
        `Cannot packetize into ${maxPayload}-byte payloads: headers need ${headerSize}`,
      );
    }
    const chunk = Math.min(room, frame.scan.length - offset);
    const payload = new Uint8Array(headerSize + chunk);
    writeRfc2435Header(payload, header);
    payload.set(frame.scan.subarray(offset, offset + chunk), headerSize);
    payloads.push(payload);
    offset += chunk;
  } while (offset < frame.scan.length);
  return payloads;
}
