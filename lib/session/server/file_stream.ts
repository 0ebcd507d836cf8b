/**
 * A lab MJPEG file served as a {@linkcode ServedStream}: described from the
 * file, its RFC 2435 payloads cut once for every standard session, and one
 * seekable {@linkcode FrameStream} per session.
 *
 * @module
 */
import { MediaError } from "../../media/media_library.ts";
import {
  type MjpegSource,
  type RtpJpegPayloads,
  rtpJpegPayloads,
} from "../../media/mjpeg_source.ts";
import type { Dialect } from "../../wire/dialect.ts";
import { LabMjpegError } from "../../wire/lab_mjpeg.ts";
import { FrameStream, type TaskScheduler } from "./frame_stream.ts";
import {
  InvalidRangeError,
  type Player,
  type PlayerOptions,
  type ServedStream,
  type StreamDescription,
} from "./served_stream.ts";

/** Options for {@linkcode FileStream}. */
export interface FileStreamOptions {
  /** Frames per second. */
  fps: number;
  /** Start again at the first frame after the last. */
  loop: boolean;
  /** Send frames back to back (throughput measurements). */
  unpaced: boolean;
  /** The grid plays start on, in ms (0: none); see `FrameStreamOptions.gridMs`. */
  gridMs?: number | (() => number);
  /** Largest RFC 2435 payload, headers included. */
  maxPayload: number;
  /** The pacer every player runs on. */
  scheduler: TaskScheduler;
  /** Awaited between two frame conversions, so playing sessions keep their pace. */
  pause(): Promise<void>;
  /** Called once when frames had to be converted for RTP/JPEG. */
  onConverted?(payloads: RtpJpegPayloads): void;
  /** Called as a play's first frame is sent; see `FrameStreamOptions.onFirstFrame`. */
  onFirstFrame?(playAt: number): void;
}

/** A file, served. */
export class FileStream implements ServedStream {
  readonly name: string;
  readonly source: MjpegSource;
  readonly description: StreamDescription;
  readonly #options: FileStreamOptions;
  #payloads: RtpJpegPayloads | undefined;

  constructor(name: string, source: MjpegSource, options: FileStreamOptions) {
    this.name = name;
    this.source = source;
    this.#options = options;
    const durationSec = source.frames.length / options.fps;
    this.description = {
      width: source.width,
      height: source.height,
      fps: options.fps,
      frames: source.frames.length,
      // With loop too: the range and seeking are per pass of the file.
      durationSec,
      kbitPerSec: source.totalBytes * 8 / durationSec / 1000,
    };
  }

  /**
   * Standard sessions need the RFC 2435 payloads: cut (and converted where
   * needed) once, on first use.
   *
   * @throws {MediaError} 415 naming the first frame RFC 2435 cannot carry.
   */
  async prepare(dialect: Dialect): Promise<void> {
    if (dialect === "lab" || this.#payloads) return;
    try {
      const payloads = await rtpJpegPayloads(this.source, this.#options.maxPayload, {
        pause: this.#options.pause,
      });
      if (payloads.converted > 0 && !this.#payloads) this.#options.onConverted?.(payloads);
      this.#payloads = payloads;
    } catch (error) {
      if (error instanceof LabMjpegError) throw new MediaError(error.message, 415);
      throw error;
    }
  }

  /**
   * Frame k (0-based) is shown from k / fps until the next one, as a player
   * sends it; with loop, `sec` is a time within one pass.
   */
  frameAt(sec: number): Uint8Array {
    const frames = this.source.frames;
    const index = Math.floor(sec * this.#options.fps + 1e-6);
    if (!(index >= 0 && index < frames.length)) {
      throw new InvalidRangeError(
        `there is no frame at ${sec} s: the stream lasts ${this.description.durationSec} s`,
      );
    }
    return frames[index];
  }

  player(dialect: Dialect, options: PlayerOptions): Player {
    const payloads = dialect === "rtsp" ? this.#payloads : undefined;
    if (dialect === "rtsp" && !payloads) {
      throw new Error(`Cannot play ${this.name} as RTP/JPEG before prepare()`);
    }
    return new FrameStream({
      frames: this.source.frames,
      payloads: payloads?.frames,
      fps: this.#options.fps,
      loop: this.#options.loop,
      unpaced: this.#options.unpaced,
      gridMs: this.#options.gridMs,
      timestampBase: options.timestampBase,
      scheduler: this.#options.scheduler,
      send: options.send,
      onEnd: options.onEnd,
      onFirstFrame: this.#options.onFirstFrame,
    });
  }
}
