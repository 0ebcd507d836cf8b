/**
 * A publisher's live stream, served (a {@linkcode ServedStream}): readers
 * DESCRIBE, SETUP and PLAY it like a file, and each playing reader gets every
 * complete frame as it arrives.
 *
 * - A reader joins at the next frame boundary: frames are released whole
 *   (`live_source.ts`), so its first packet is a frame's first.
 * - Standard readers get the publisher's RFC 2435 payloads as they came;
 *   only the RTP header is the reader's own (SSRC, sequence numbers, and
 *   timestamps that keep the publisher's spacing from a random base). Lab
 *   readers get the whole JPEG, reassembled once for all of them.
 * - There is no seeking: a PLAY from the start (`npt=0-`, which ffmpeg and
 *   GStreamer send on their first PLAY) or `now` joins the live edge; any
 *   other Range is 457. PLAY after PAUSE joins the live edge again.
 * - When the publisher goes, every reader's play ends (then its session ends
 *   with RTCP BYE).
 *
 * @module
 */
import type { LiveFrame, LiveSource } from "../../media/live_source.ts";
import type { Dialect } from "../../wire/dialect.ts";
import { VIDEO_CLOCK_RATE } from "../../wire/rtp_packet.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import {
  InvalidRangeError,
  type OutgoingFrame,
  type Player,
  type PlayerOptions,
  type PlayRequest,
  type PlayStart,
  type ServedStream,
  type StreamDescription,
} from "./served_stream.ts";

/** Readers whose packets are handed to the kernel together, at most. */
export const FAN_OUT_CHUNK = 100;

/** Options for {@linkcode LiveStream}. */
export interface LiveStreamOptions {
  /** The server's clock, ms. */
  now(): number;
  /**
   * Called after a frame went to every reader: where the batched UDP sender
   * hands the packets to the kernel, so that the latency is measured after it.
   */
  afterFanOut?(): void;
}

/** A live path, served. */
export class LiveStream implements ServedStream {
  readonly name: string;
  readonly live = true;
  readonly source: LiveSource;
  /**
   * From a frame's packets arriving to its packets leaving for each reader
   * (after the send call that carried them), ms: from its last packet, and
   * from its first. One value per reader and frame.
   */
  readonly latency: LatencyHistogram = new LatencyHistogram();
  readonly latencyFromFirst: LatencyHistogram = new LatencyHistogram();
  readonly #options: LiveStreamOptions;
  readonly #players = new Set<LivePlayer>();
  #ended = false;
  /** Frames forwarded and their bytes, for the bit rate DESCRIBE announces. */
  #bytes = 0;

  constructor(name: string, source: LiveSource, options: LiveStreamOptions) {
    this.name = name;
    this.source = source;
    this.#options = options;
    source.listen({ frame: (frame) => this.#fanOut(frame) });
  }

  /** What DESCRIBE says: picture size of the first frame (0 before one came), no duration. */
  get description(): StreamDescription {
    const sec = this.source.latest?.mediaSec ?? 0;
    return {
      width: this.source.width,
      height: this.source.height,
      fps: this.source.fps,
      kbitPerSec: sec > 0 ? this.#bytes * 8 / sec / 1000 : 0,
    };
  }

  /** Whether the publisher has gone. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Readers (sessions holding a player), and how many of them play. */
  get readers(): number {
    return this.#players.size;
  }
  get playing(): number {
    let n = 0;
    for (const player of this.#players) if (player.playing) n++;
    return n;
  }

  /** Nothing to cut: the publisher's payloads are forwarded. */
  prepare(_dialect: Dialect): Promise<void> {
    return Promise.resolve();
  }

  player(_dialect: Dialect, options: PlayerOptions): Player {
    const player = new LivePlayer(this, options, () => this.#players.delete(player));
    if (this.#ended) player.finish();
    else this.#players.add(player);
    return player;
  }

  /** The latest frame, whatever `sec` asks (a live stream has only its now). */
  frameAt(_sec: number): Uint8Array {
    const latest = this.source.latest;
    if (!latest) throw new InvalidRangeError("no frame has arrived from the publisher yet");
    return latest.jpeg;
  }

  /** The publisher has gone: every reader's play ends. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.source.end();
    const players = [...this.#players];
    this.#players.clear();
    for (const player of players) player.finish();
  }

  /**
   * Send `frame` to every playing reader, handing the packets to the kernel
   * every {@linkcode FAN_OUT_CHUNK} readers: the first readers' packets
   * leave while the rest are still being stamped, instead of all waiting
   * for one system call that carries every reader's (thousands of packets).
   * The latency is recorded per reader.
   */
  #fanOut(frame: LiveFrame): void {
    for (const payload of frame.payloads) this.#bytes += payload.length;
    let pending = 0;
    for (const player of this.#players) {
      if (player.deliver(frame) && ++pending === FAN_OUT_CHUNK) {
        this.#flush(frame, pending);
        pending = 0;
      }
    }
    if (pending > 0) this.#flush(frame, pending);
  }

  #flush(frame: LiveFrame, readers: number): void {
    this.#options.afterFanOut?.();
    const now = this.#options.now();
    for (let i = 0; i < readers; i++) {
      this.latency.record(now - frame.lastArrival);
      this.latencyFromFirst.record(now - frame.firstArrival);
    }
  }
}

/** One reader's playback of a live stream. */
export class LivePlayer implements Player {
  readonly #stream: LiveStream;
  readonly #options: PlayerOptions;
  readonly #forget: () => void;
  #playing = false;
  #ended = false;
  #sent = 0;
  /** The publisher's timestamp that maps to the reader's timestamp base. */
  #origin: number | undefined;
  /** The reader's timestamp of the last frame sent, and when (ms). */
  #lastTimestamp: number;
  #lastSentAt = 0;
  #position = 0;

  constructor(stream: LiveStream, options: PlayerOptions, forget: () => void) {
    this.#stream = stream;
    this.#options = options;
    this.#forget = forget;
    this.#lastTimestamp = options.timestampBase >>> 0;
  }

  get playing(): boolean {
    return this.#playing;
  }
  get ended(): boolean {
    return this.#ended;
  }
  get sent(): number {
    return this.#sent;
  }
  get nextFrameNumber(): number {
    return this.#sent + 1;
  }
  /** Media time of the live edge (the latest frame), seconds. */
  get positionSec(): number {
    return this.#stream.source.latest?.mediaSec ?? this.#position;
  }
  get endSec(): number | undefined {
    return undefined;
  }
  /**
   * The timestamp the next frame will carry: the base for the first frame a
   * reader gets (exact), then as far as it can be known, one period after
   * the live edge.
   */
  get nextTimestamp(): number {
    const latest = this.#stream.source.latest;
    if (this.#origin === undefined || !latest) return this.#lastTimestamp;
    const period = Math.round(VIDEO_CLOCK_RATE / this.#stream.source.fps);
    return (this.#timestampOf(latest.timestamp) + period) >>> 0;
  }

  play(now: number, request: PlayRequest): PlayStart {
    if (this.#ended) throw new InvalidRangeError("the publisher has gone: the stream is over");
    const start = request.start;
    if ((typeof start === "number" && start !== 0) || request.end !== undefined) {
      throw new InvalidRangeError(
        "a live stream cannot seek: PLAY it without a Range, or from npt=now- (or 0-)",
      );
    }
    if ((request.scale ?? 1) !== 1) {
      throw new InvalidRangeError("a live stream plays at scale 1 only");
    }
    if (!this.#playing) {
      this.#playing = true;
      this.#lastSentAt = now;
    }
    // The Range starts where RTP-Info's rtptime is: at the next frame, one
    // period after the live edge (the frame at the edge has already gone).
    const latest = this.#stream.source.latest;
    const startSec = latest ? latest.mediaSec + 1 / this.#stream.source.fps : this.#position;
    return { startSec, rtptime: this.nextTimestamp, scale: 1 };
  }

  pause(): number {
    this.#playing = false;
    this.#position = this.positionSec;
    return this.#position;
  }

  close(): void {
    this.#playing = false;
    this.#forget();
  }

  rtpTimeAt(now: number): number {
    if (!this.#playing) return this.#lastTimestamp;
    const elapsed = Math.max(0, now - this.#lastSentAt);
    return (this.#lastTimestamp + Math.round(elapsed * VIDEO_CLOCK_RATE / 1000)) >>> 0;
  }

  /** Send `frame` if playing; returns whether it did. */
  deliver(frame: LiveFrame): boolean {
    if (!this.#playing) return false;
    const timestamp = this.#timestampOf(frame.timestamp);
    const outgoing: OutgoingFrame = {
      index: frame.index,
      frameNumber: this.#sent + 1,
      timestamp,
      jpeg: frame.jpeg,
      payloads: frame.payloads,
    };
    this.#sent++;
    this.#lastTimestamp = timestamp;
    this.#lastSentAt = frame.lastArrival;
    this.#options.send(outgoing);
    return true;
  }

  /** The publisher went: the play is over. */
  finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#playing = false;
    this.#options.onEnd?.();
  }

  /** The reader's timestamp for a publisher's timestamp: same spacing, the reader's base. */
  #timestampOf(publisherTimestamp: number): number {
    this.#origin ??= publisherTimestamp;
    return (this.#options.timestampBase + (publisherTimestamp - this.#origin)) >>> 0;
  }
}
