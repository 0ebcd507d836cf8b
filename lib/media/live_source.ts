/**
 * A live source: the RTP/JPEG (RFC 2435) packets a publisher sends, turned
 * into whole frames that every reader shares. Like a file's
 * `MjpegSource`, it serves each frame as a whole JPEG (for lab
 * readers, for recording and snapshots) and as RTP/JPEG payloads (for
 * standard readers) — here the publisher's own payloads, forwarded as they
 * came, never decoded or cut again.
 *
 * A frame is released only when it is complete: every fragment arrived in
 * sequence, the marker bit closed it, and the JPEG it makes is well formed.
 * Anything else is counted and dropped, never forwarded half. A publisher
 * that sends frames far faster than it announced is capped (a token bucket
 * at twice the announced rate), and the excess counted.
 *
 * Pure: packets and times go in, frames come out to the listeners. No I/O.
 *
 * @module
 */
import { ParseError } from "../wire/errors.ts";
import { jpegProblem, parseJpegStructure, readJpegFrameInfo } from "../wire/jpeg.ts";
import { Rfc2435Depacketizer } from "../wire/rfc2435_depacketizer.ts";
import { parseRtpPacket, VIDEO_CLOCK_RATE } from "../wire/rtp_packet.ts";

/** One complete frame of a live source. */
export interface LiveFrame {
  /** Its place in the publish, from 0. */
  readonly index: number;
  /** The publisher's RTP timestamp. */
  readonly timestamp: number;
  /** Media time since the publish's first frame, seconds (from the RTP timestamps). */
  readonly mediaSec: number;
  /** The whole JPEG, verified. */
  readonly jpeg: Uint8Array;
  /** The publisher's RFC 2435 payloads, in order, as they came. */
  readonly payloads: readonly Uint8Array[];
  /** When its first and its last packet arrived (ms, the caller's clock). */
  readonly firstArrival: number;
  readonly lastArrival: number;
}

/** What a live source counted. */
export interface LiveSourceCounters {
  /** RTP packets taken in (every datagram, whatever it is). */
  packets: number;
  /** Bytes of those datagrams. */
  bytes: number;
  /** Datagrams that are not RTP of the announced payload type. */
  malformed: number;
  /** Packets of another SSRC than the publisher's first (ignored). */
  foreign: number;
  /** Packets that came late or twice (behind the highest sequence number seen). */
  outOfOrder: number;
  /** Complete frames released to readers. */
  frames: number;
  /** Frames that could not be completed (a fragment lost, a bad payload or JPEG). */
  framesDropped: number;
  /** Complete frames dropped because they came faster than the cap. */
  framesCapped: number;
}

/** Options for {@linkcode LiveSource}. */
export interface LiveSourceOptions {
  /** The payload type the publisher announced (26, or a dynamic one mapped to JPEG/90000). */
  payloadType: number;
  /** The frame rate the publisher announced; frames beyond twice it are dropped. */
  fps: number;
  /** Largest frame, in bytes of JPEG scan data. @default {8 MiB} */
  maxFrameBytes?: number;
  /** Picture size from the SDP (`a=x-dimensions`), for pictures over 2040 pixels. */
  dimensions?: { width: number; height: number };
}

/** A reason a frame was dropped, and the frame's RTP timestamp. */
export interface LiveDrop {
  reason: string;
  timestamp: number;
}

/** What a live source tells its listeners. */
export interface LiveSourceListener {
  /** A complete frame (called in order, once per frame). */
  frame?(frame: LiveFrame): void;
  /** A frame was dropped (incomplete, malformed, or over the cap). */
  drop?(drop: LiveDrop): void;
}

const DEFAULT_MAX_FRAME_BYTES = 8 << 20;
/** A frame's scan data holds at most this many packets (bounds what one frame keeps). */
const MAX_PACKETS_PER_FRAME = 8192;

/** Frames of one publish, assembled from its RTP. */
export class LiveSource {
  readonly counters: LiveSourceCounters = {
    packets: 0,
    bytes: 0,
    malformed: 0,
    foreign: 0,
    outOfOrder: 0,
    frames: 0,
    framesDropped: 0,
    framesCapped: 0,
  };
  readonly #options: LiveSourceOptions;
  readonly #depacketizer: Rfc2435Depacketizer;
  readonly #listeners = new Set<LiveSourceListener>();
  #ssrc: number | undefined;
  /** Highest extended sequence number seen. */
  #sequence: number | undefined;
  /** Payloads of the frame being assembled, and its timestamp and first arrival. */
  #payloads: Uint8Array[] = [];
  #payloadsTimestamp: number | undefined;
  #firstArrival = 0;
  /** First frame's timestamp and the unwrapped timestamp of the last frame. */
  #firstTimestamp: number | undefined;
  #lastTimestamp = 0;
  #unwrapped = 0;
  /** Token bucket of the frame-rate cap. */
  #tokens: number;
  #tokensAt: number | undefined;
  #last: LiveFrame | undefined;
  #width = 0;
  #height = 0;

  constructor(options: LiveSourceOptions) {
    if (!(options.fps > 0) || !Number.isFinite(options.fps)) {
      throw new RangeError(`Cannot take a live source at ${options.fps} frames/s`);
    }
    this.#options = options;
    this.#depacketizer = new Rfc2435Depacketizer({
      dimensions: options.dimensions,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    });
    this.#tokens = this.#capacity;
  }

  /** The announced frame rate. */
  get fps(): number {
    return this.#options.fps;
  }

  /** The latest complete frame, if one came. */
  get latest(): LiveFrame | undefined {
    return this.#last;
  }

  /** Picture size of the first frame (0 before it). */
  get width(): number {
    return this.#width;
  }
  get height(): number {
    return this.#height;
  }

  /** Listen to frames and drops; returns the function that stops listening. */
  listen(listener: LiveSourceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Take one datagram from the publisher (an RTP packet) that arrived at
   * `now` (ms). Whatever it is, it is counted; a packet that completes a
   * frame releases the frame to the listeners before this returns.
   */
  push(datagram: Uint8Array, now: number): void {
    const c = this.counters;
    c.packets++;
    c.bytes += datagram.length;
    let packet;
    try {
      packet = parseRtpPacket(datagram);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      c.malformed++;
      return;
    }
    if (packet.payloadType !== this.#options.payloadType) {
      c.malformed++;
      return;
    }
    this.#ssrc ??= packet.ssrc;
    if (packet.ssrc !== this.#ssrc) {
      c.foreign++;
      return;
    }
    const sequence = this.#extend(packet.sequenceNumber);
    if (sequence === undefined) {
      c.outOfOrder++;
      return;
    }
    // The publisher's payload, kept for forwarding: copied, so that it does
    // not pin (or change with) the buffer it arrived in.
    const payload = packet.payload.slice();
    const offset = payload.length >= 4 ? (payload[1] << 16) | (payload[2] << 8) | payload[3] : -1;
    if (packet.timestamp !== this.#payloadsTimestamp || offset === 0) {
      this.#payloads = [];
      this.#payloadsTimestamp = packet.timestamp;
      this.#firstArrival = now;
    }
    if (this.#payloads.length < MAX_PACKETS_PER_FRAME) this.#payloads.push(payload);
    for (
      const event of this.#depacketizer.push({
        sequence,
        timestamp: packet.timestamp,
        marker: packet.marker,
        payload,
      })
    ) {
      if (event.kind === "dropped") this.#drop(event.reason, event.timestamp);
      else this.#complete(event.jpeg, event.timestamp, now);
    }
  }

  /** The publish is over: a frame still missing its end is dropped. */
  end(): void {
    for (const event of this.#depacketizer.end()) {
      if (event.kind === "dropped") this.#drop(event.reason, event.timestamp);
    }
    this.#payloads = [];
  }

  /** Frames the cap lets through in a burst: one second at the announced rate. */
  get #capacity(): number {
    return Math.max(2, this.#options.fps);
  }

  /** The extended sequence number, or undefined for a packet behind the highest seen. */
  #extend(sequenceNumber: number): number | undefined {
    if (this.#sequence === undefined) {
      this.#sequence = sequenceNumber;
      return sequenceNumber;
    }
    const delta = ((sequenceNumber - this.#sequence + 0x8000) & 0xffff) - 0x8000;
    if (delta <= 0) return undefined;
    this.#sequence += delta;
    return this.#sequence;
  }

  #drop(reason: string, timestamp: number): void {
    this.counters.framesDropped++;
    for (const listener of this.#listeners) listener.drop?.({ reason, timestamp });
  }

  #complete(jpeg: Uint8Array, timestamp: number, now: number): void {
    const payloads = this.#payloadsTimestamp === timestamp ? this.#payloads : [];
    this.#payloads = [];
    this.#payloadsTimestamp = undefined;
    if (payloads.length === 0 || payloads.length >= MAX_PACKETS_PER_FRAME) {
      return this.#drop(`more than ${MAX_PACKETS_PER_FRAME} packets`, timestamp);
    }
    const problem = jpegProblem(jpeg);
    if (problem !== undefined) return this.#drop(problem, timestamp);
    if (!this.#admit(now)) {
      this.counters.framesCapped++;
      for (const listener of this.#listeners) {
        listener.drop?.({
          reason: `faster than twice the announced ${this.#options.fps} frames/s`,
          timestamp,
        });
      }
      return;
    }
    if (this.#firstTimestamp === undefined) {
      this.#firstTimestamp = timestamp;
      this.#lastTimestamp = timestamp;
      const info = readJpegFrameInfo(parseJpegStructure(jpeg));
      this.#width = info.width;
      this.#height = info.height;
    }
    // Unwrapped across the 32-bit wrap; a timestamp that goes back counts as no time.
    const delta = (timestamp - this.#lastTimestamp) | 0;
    this.#unwrapped += Math.max(0, delta);
    this.#lastTimestamp = timestamp;
    const frame: LiveFrame = {
      index: this.counters.frames,
      timestamp,
      mediaSec: this.#unwrapped / VIDEO_CLOCK_RATE,
      jpeg,
      payloads,
      firstArrival: this.#firstArrival,
      lastArrival: now,
    };
    this.counters.frames++;
    this.#last = frame;
    for (const listener of this.#listeners) listener.frame?.(frame);
  }

  /** The cap: a token per frame, refilled at twice the announced rate. */
  #admit(now: number): boolean {
    const rate = 2 * this.#options.fps;
    if (this.#tokensAt !== undefined) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#tokensAt) * rate / 1000);
    }
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
