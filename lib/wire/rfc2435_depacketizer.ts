/**
 * RTP/JPEG payloads → complete JFIF images (RFC 2435 §3 and Appendix B):
 * reassembles the scan data of each frame from its fragments and rebuilds
 * the JPEG headers the payload format leaves out.
 *
 * A frame is emitted only when every fragment arrived in order (each
 * fragment's offset equals the bytes received so far) and the marker bit
 * closed it; anything else drops the frame and says why.
 *
 * @module
 */
import { ParseError } from "./errors.ts";
import { STANDARD_HUFFMAN_TABLES } from "./jpeg_tables.ts";
import { scaledQuantTables } from "./jpeg_tables.ts";
import { parseRfc2435Header } from "./rfc2435_headers.ts";

/** What the depacketizer needs of an RTP packet. */
export interface RtpJpegPacketView {
  /** Sequence number, extended past 16 bits (consecutive packets differ by 1). */
  sequence: number;
  /** RTP timestamp (one per frame). */
  timestamp: number;
  /** RTP marker bit (set on a frame's last packet). */
  marker: boolean;
  /** RTP payload: the RFC 2435 headers and a fragment of scan data. */
  payload: Uint8Array;
}

/** Something a pushed packet completed: a frame, or the loss of one. */
export type DepacketizeEvent =
  | { kind: "frame"; jpeg: Uint8Array; timestamp: number }
  | { kind: "dropped"; reason: string; timestamp: number };

/** Options for {@linkcode Rfc2435Depacketizer}. */
export interface Rfc2435DepacketizerOptions {
  /** Picture size from SDP `a=x-dimensions`, used when the header says 0. */
  dimensions?: { width: number; height: number };
  /** Largest frame to reassemble, in bytes. @default {16777216} */
  maxFrameBytes?: number;
}

interface Tables {
  precision: number;
  data: Uint8Array;
}

interface Assembly {
  timestamp: number;
  nextSequence: number;
  type: number;
  width: number;
  height: number;
  restartInterval: number;
  tables: Tables;
  chunks: Uint8Array[];
  size: number;
}

/** Build the JFIF header (SOI … SOS) RFC 2435 Appendix B describes. */
export function buildJpegHeader(
  type: number,
  width: number,
  height: number,
  tables: Tables,
  restartInterval: number,
): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => {
    out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  };
  // Quantization tables: one (used by all components) or two (luma, chroma).
  const sizes = [];
  let offset = 0;
  for (let i = 0; offset < tables.data.length; i++) {
    const size = (tables.precision >> i) & 1 ? 128 : 64;
    sizes.push(size);
    offset += size;
  }
  const dqt: number[] = [];
  offset = 0;
  sizes.forEach((size, i) => {
    dqt.push(((size === 128 ? 1 : 0) << 4) | i, ...tables.data.subarray(offset, offset + size));
    offset += size;
  });
  segment(0xdb, dqt);
  if (restartInterval > 0) segment(0xdd, [restartInterval >> 8, restartInterval & 0xff]);
  const chromaTable = sizes.length > 1 ? 1 : 0;
  segment(0xc0, [
    8,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    3,
    1,
    (type & 63) === 0 ? 0x21 : 0x22,
    0,
    2,
    0x11,
    chromaTable,
    3,
    0x11,
    chromaTable,
  ]);
  const dht: number[] = [];
  for (const t of STANDARD_HUFFMAN_TABLES) {
    dht.push((t.tableClass << 4) | t.id, ...t.bits, ...t.values);
  }
  segment(0xc4, dht);
  segment(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
  return new Uint8Array(out);
}

/** Reassembles JPEG frames from RTP/JPEG packets of one stream. */
export class Rfc2435Depacketizer {
  readonly #options: Rfc2435DepacketizerOptions;
  readonly #tableCache = new Map<number, Tables>();
  #frame: Assembly | undefined;
  /** Timestamp of the last frame reported dropped, so its other fragments stay quiet. */
  #discarded: number | undefined;
  /**
   * The last JPEG header built, and what it was built from: consecutive
   * frames nearly always share it, and building one (tables included) costs
   * more than the rest of a frame's reassembly.
   */
  #lastHead: { head: Uint8Array; key: string; tables: Uint8Array } | undefined;

  /** A depacketizer; `options` give what the packets cannot say (picture size above 2040 px). */
  constructor(options: Rfc2435DepacketizerOptions = {}) {
    this.#options = options;
  }

  /**
   * Add one packet (in sequence order; reorder before calling).
   *
   * @returns What the packet completed: nothing while a frame is partial, a
   * frame when its last fragment arrives, and a drop (reported once per
   * frame) when a frame cannot be completed. A packet can end one frame's
   * hope and start the next, so both may come back.
   */
  push(packet: RtpJpegPacketView): DepacketizeEvent[] {
    const events: DepacketizeEvent[] = [];
    let header;
    try {
      header = parseRfc2435Header(packet.payload);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      this.#drop(events, error.message, packet.timestamp);
      return events;
    }
    const open = this.#frame;
    if (open && (open.timestamp !== packet.timestamp || header.fragmentOffset === 0)) {
      this.#drop(events, "its last fragment never arrived", open.timestamp);
    }
    if (header.fragmentOffset === 0) {
      const started = this.#start(packet, header);
      if (typeof started === "string") {
        this.#drop(events, started, packet.timestamp);
        return events;
      }
      this.#frame = started;
    } else if (!this.#frame) {
      if (this.#discarded !== packet.timestamp) {
        this.#drop(events, "its first fragment was lost", packet.timestamp);
      }
      return events;
    } else if (
      packet.sequence !== this.#frame.nextSequence || header.fragmentOffset !== this.#frame.size
    ) {
      this.#drop(
        events,
        `fragment at offset ${header.fragmentOffset} where ${this.#frame.size} was expected (packet lost)`,
        this.#frame.timestamp,
      );
      return events;
    }
    const frame = this.#frame!;
    const data = packet.payload.subarray(header.dataOffset);
    const limit = this.#options.maxFrameBytes ?? 16 << 20;
    if (frame.size + data.length > limit) {
      this.#drop(events, `frame exceeds ${limit} bytes`, frame.timestamp);
      return events;
    }
    frame.chunks.push(data);
    frame.size += data.length;
    frame.nextSequence = packet.sequence + 1;
    if (packet.marker) {
      this.#frame = undefined;
      events.push({ kind: "frame", jpeg: this.#assemble(frame), timestamp: frame.timestamp });
    }
    return events;
  }

  /**
   * The stream has ended: a frame still waiting for its last fragment never
   * gets it, so it is reported dropped.
   */
  end(): DepacketizeEvent[] {
    const events: DepacketizeEvent[] = [];
    if (this.#frame) {
      this.#drop(events, "the stream ended before its last fragment", this.#frame.timestamp);
    }
    return events;
  }

  /** Abandon the open frame (if any) and report a drop for `timestamp`, once. */
  #drop(events: DepacketizeEvent[], reason: string, timestamp: number): void {
    this.#frame = undefined;
    if (this.#discarded === timestamp) return;
    this.#discarded = timestamp;
    events.push({ kind: "dropped", reason, timestamp });
  }

  #start(
    packet: RtpJpegPacketView,
    header: ReturnType<typeof parseRfc2435Header>,
  ): Assembly | string {
    const base = header.type & 63;
    if (base > 1 || header.type >= 128) return `unsupported RTP/JPEG type ${header.type}`;
    let tables: Tables;
    if (header.q === 0 || (header.q >= 100 && header.q < 128)) {
      return `reserved Q value ${header.q}`;
    }
    if (header.q < 100) tables = { precision: 0, data: scaledQuantTables(header.q) };
    else if (header.quantTables && header.quantTables.length > 0) {
      const length = header.quantTables.length;
      const precision = header.quantPrecision ?? 0;
      const expected = [64 + ((precision & 1) ? 64 : 0)];
      expected.push(expected[0] + ((precision & 2) ? 128 : 64));
      if (!expected.includes(length)) {
        return `quantization tables of ${length} bytes (precision bits ${precision}) are neither one nor two tables`;
      }
      tables = { precision, data: header.quantTables.slice() };
      if (header.q < 255) this.#tableCache.set(header.q, tables);
    } else if (header.q === 255) {
      return "Q 255 without quantization tables";
    } else {
      const cached = this.#tableCache.get(header.q);
      if (!cached) return `Q ${header.q} refers to tables never received`;
      tables = cached;
    }
    const width = header.width8 ? header.width8 * 8 : this.#options.dimensions?.width ?? 0;
    const height = header.height8 ? header.height8 * 8 : this.#options.dimensions?.height ?? 0;
    if (width === 0 || height === 0) return "picture size 0 and no a=x-dimensions";
    return {
      timestamp: packet.timestamp,
      nextSequence: packet.sequence,
      type: header.type,
      width,
      height,
      restartInterval: header.restartInterval ?? 0,
      tables,
      chunks: [],
      size: 0,
    };
  }

  #headOf(frame: Assembly): Uint8Array {
    const key =
      `${frame.type},${frame.width},${frame.height},${frame.restartInterval},${frame.tables.precision}`;
    const last = this.#lastHead;
    if (last && last.key === key && sameBytes(last.tables, frame.tables.data)) return last.head;
    const head = buildJpegHeader(
      frame.type,
      frame.width,
      frame.height,
      frame.tables,
      frame.restartInterval,
    );
    this.#lastHead = { head, key, tables: frame.tables.data };
    return head;
  }

  #assemble(frame: Assembly): Uint8Array {
    const head = this.#headOf(frame);
    // The scan data may already end with EOI, possibly split over the last two fragments.
    const tail = [];
    for (let i = frame.chunks.length - 1; i >= 0 && tail.length < 2; i--) {
      const chunk = frame.chunks[i];
      for (let j = chunk.length - 1; j >= 0 && tail.length < 2; j--) tail.unshift(chunk[j]);
    }
    const hasEoi = tail[0] === 0xff && tail[1] === 0xd9;
    const out = new Uint8Array(head.length + frame.size + (hasEoi ? 0 : 2));
    out.set(head);
    let offset = head.length;
    for (const chunk of frame.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    if (!hasEoi) out.set([0xff, 0xd9], offset);
    return out;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
