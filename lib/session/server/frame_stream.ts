/**
 * One session's playback of a file (a {@linkcode Player}): which frame comes
 * next, when it is due, and the RTP fields that go with it.
 *
 * - Pacing is on an absolute schedule: frame k of a PLAY leaves at
 *   start + k × period / scale, so the rate does not drift, and paused time
 *   is excluded because each PLAY starts a new schedule.
 * - Seeking is frame-accurate: frame k (0-based) has media time k / fps; a
 *   PLAY from A starts at the first frame at or after A and one until B stops
 *   after the last frame before B (RFC 2326 §12.29).
 * - RTP timestamps follow media time (base + 90000 × k / fps), so a receiver
 *   places the frames of a seek or of a faster Scale where they belong; with
 *   `loop` they keep increasing from pass to pass.
 *
 * @module
 */
import { VIDEO_CLOCK_RATE } from "../../wire/rtp_packet.ts";
import type { PacedTask } from "./pacer.ts";
import {
  InvalidRangeError,
  type OutgoingFrame,
  type Player,
  type PlayRequest,
  type PlayStart,
} from "./served_stream.ts";

/** Where a {@linkcode FrameStream} puts itself on the timeline (a {@linkcode Pacer}). */
export interface TaskScheduler {
  schedule(task: PacedTask, due: number): void;
  cancel(task: PacedTask): void;
}

/** Options for {@linkcode FrameStream}. */
export interface FrameStreamOptions {
  /** The file's JPEGs, in order. */
  frames: readonly Uint8Array[];
  /** Their RFC 2435 payloads, for standard sessions. */
  payloads?: readonly (readonly Uint8Array[])[];
  /** Frames per second. */
  fps: number;
  /** Start again at the first frame after the last. @default {false} */
  loop?: boolean;
  /** RTP timestamp of media time 0. */
  timestampBase: number;
  /** The timer the stream runs on. */
  scheduler: TaskScheduler;
  /** Send one frame. Errors are the caller's to handle; this must not throw. */
  send(frame: OutgoingFrame): void;
  /** Called once each time a play reaches its end (after its last frame was sent). */
  onEnd?(): void;
  /**
   * Most frames sent in one wake-up; when more are due the schedule moves by
   * whole periods instead (no frame is skipped). Sending a backlog in a
   * burst would multiply the load exactly when the process is overloaded,
   * and for a thousand streams that keeps it overloaded. Unpaced: frames per
   * wake-up.
   * @default {1, or 5 ms worth of frames above 200 frames/s; 32 unpaced}
   */
  maxBurst?: number;
  /**
   * Start each play on a shared grid: its first frame leaves at the next
   * multiple of this many ms on the pacer's clock (0: at once). Sessions
   * whose frame period is a multiple of the grid then fall due at the same
   * instants and share wake-ups and batched sends, however their PLAYs were
   * spread; each still starts at its first frame, up to one grid step later.
   * A function is asked at each play (a grid that follows the load).
   * @default {0}
   */
  gridMs?: number | (() => number);
  /**
   * Send frames back to back, as fast as the process can (a burst of
   * `maxBurst` per event-loop turn), for throughput measurements. RTP
   * timestamps keep the spacing of `fps`.
   * @default {false}
   */
  unpaced?: boolean;
  /**
   * Called as the first frame of each play that starts a new schedule is
   * handed to `send`, with the time `play` was called (the pacer's clock).
   */
  onFirstFrame?(playAt: number): void;
}

/** A frame boundary within this much of a time counts as that time (float noise). */
const EPSILON_FRAMES = 1e-6;

/** Frame position, pacing and seeking of one session's playback of a file. */
export class FrameStream implements PacedTask, Player {
  readonly #options: FrameStreamOptions;
  readonly #fps: number;
  /** Next frame's index in the file. */
  #index = 0;
  /** Next frame's place on the media timeline (index plus whole passes of a loop). */
  #timeline = 0;
  /** Frames sent so far in this session. */
  #sent = 0;
  /** Index the current play stops before; undefined: the end of the file (never, with loop). */
  #endIndex: number | undefined;
  #scale = 1;
  /** Wall time (ms) at which the frame at `#anchorTimeline` is due. */
  #anchor = 0;
  #anchorTimeline = 0;
  #playing = false;
  #ended = false;
  /** When the play whose first frame is still to leave was asked for, or undefined. */
  #playAt: number | undefined;

  constructor(options: FrameStreamOptions) {
    if (!(options.fps > 0) || !Number.isFinite(options.fps)) {
      throw new RangeError(`Cannot pace at ${options.fps} frames/s: must be a positive number`);
    }
    if (options.frames.length === 0) throw new RangeError("Cannot play a file without frames");
    this.#options = options;
    this.#fps = options.fps;
  }

  /** Frames sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Whether the stream is being sent. */
  get playing(): boolean {
    return this.#playing;
  }

  /** Whether the current play reached its end (never with `loop` and no end). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Frame number the next frame will carry. */
  get nextFrameNumber(): number {
    return this.#sent + 1;
  }

  /** RTP timestamp of the next frame. */
  get nextTimestamp(): number {
    return this.#timestampOf(this.#timeline);
  }

  /** Media time of the next frame, in seconds. */
  get positionSec(): number {
    return this.#index / this.#fps;
  }

  /** Where the current play stops, in seconds (undefined: it loops on). */
  get endSec(): number | undefined {
    const end = this.#stopIndex();
    return end === undefined ? undefined : end / this.#fps;
  }

  /** Length of the file, in seconds. */
  get durationSec(): number {
    return this.#options.frames.length / this.#fps;
  }

  /** The scale in effect. */
  get scale(): number {
    return this.#scale;
  }

  play(now: number, request: PlayRequest = {}): PlayStart {
    const count = this.#options.frames.length;
    const scale = request.scale ?? 1;
    if (!(scale > 0) || !Number.isFinite(scale)) {
      throw new RangeError(`Cannot play at scale ${scale}: must be a positive number`);
    }
    const seek = typeof request.start === "number";
    let start = this.#index;
    if (typeof request.start === "number") {
      start = Math.max(0, Math.ceil(request.start * this.#fps - EPSILON_FRAMES));
      if (start >= count) {
        throw new InvalidRangeError(
          `the range starts at ${request.start} s, at or after the end (${this.durationSec} s)`,
        );
      }
    }
    let end = this.#endIndex;
    if (request.end !== undefined) {
      end = Math.min(count, Math.ceil(request.end * this.#fps - EPSILON_FRAMES));
      if (end <= start) {
        throw new InvalidRangeError(
          `the range ends at ${request.end} s, before its first frame at ${start / this.#fps} s`,
        );
      }
    } else if (seek || (end !== undefined && end <= start)) {
      end = undefined; // a new start, or an earlier end already reached: on to the end
    }
    const stop = end ?? (this.#options.loop ? undefined : count);
    if (stop !== undefined && start >= stop) {
      throw new InvalidRangeError(
        `the stream is at its end (${start / this.#fps} s); a PLAY needs a Range to play again`,
      );
    }
    const unchanged = this.#playing && !seek && scale === this.#scale && end === this.#endIndex;
    this.#endIndex = end;
    if (!unchanged) {
      if (seek && start !== this.#index) {
        this.#index = start;
        this.#timeline = start;
      }
      this.#scale = scale;
      this.#playing = true;
      this.#ended = false;
      const option = this.#options.gridMs ?? 0;
      const grid = this.#options.unpaced ? 0 : typeof option === "number" ? option : option();
      this.#anchor = grid > 0 ? Math.ceil(now / grid - EPSILON_FRAMES) * grid : now;
      this.#anchorTimeline = this.#timeline;
      this.#playAt = now;
      this.#options.scheduler.schedule(this, this.#anchor);
    }
    return {
      startSec: this.#index / this.#fps,
      endSec: stop === undefined ? undefined : stop / this.#fps,
      rtptime: this.nextTimestamp,
      scale: this.#scale,
    };
  }

  pause(): number {
    this.#stop();
    return this.positionSec;
  }

  /** Stop sending for good (TEARDOWN, or the session ended). */
  stop(): void {
    this.#stop();
  }

  rtpTimeAt(now: number): number {
    if (!this.#playing) return this.nextTimestamp;
    const frames = this.#anchorTimeline + (now - this.#anchor) * this.#fps * this.#scale / 1000;
    return this.#timestampOf(Math.max(this.#anchorTimeline, frames));
  }

  /** Send what is due at `now`; returns the next due time, or undefined when stopped. */
  onDue(now: number): number | undefined {
    if (!this.#playing) return undefined;
    if (this.#options.unpaced) {
      const burst = this.#options.maxBurst ?? 32;
      for (let i = 0; i < burst; i++) {
        this.#sendNext();
        if (!this.#playing) return undefined;
      }
      return now; // again on the next turn of the event loop
    }
    const rate = this.#fps * this.#scale;
    const period = 1000 / rate;
    const maxBurst = this.#options.maxBurst ?? Math.max(1, Math.ceil(rate / 200));
    let due = this.#dueOf(this.#timeline, period);
    for (let burst = 0; due <= now && burst < maxBurst; burst++) {
      this.#sendNext();
      if (!this.#playing) return undefined;
      due = this.#dueOf(this.#timeline, period);
    }
    if (due <= now) {
      // Still behind after a burst: move the schedule by whole periods and
      // keep every frame. Whole periods keep this stream's phase, so streams
      // that fell behind together (a pause of the process) do not come out
      // of it in step, all due at the same instant from then on.
      const periods = Math.floor((now - due) / period) + 1;
      this.#anchor += periods * period;
      due += periods * period;
    }
    return due;
  }

  #stop(): void {
    this.#playing = false;
    this.#playAt = undefined;
    this.#options.scheduler.cancel(this);
  }

  #dueOf(timeline: number, period: number): number {
    return this.#anchor + (timeline - this.#anchorTimeline) * period;
  }

  /** Index the current play stops before, or undefined when it loops on. */
  #stopIndex(): number | undefined {
    return this.#endIndex ?? (this.#options.loop ? undefined : this.#options.frames.length);
  }

  #timestampOf(timeline: number): number {
    return (this.#options.timestampBase + Math.round(timeline * VIDEO_CLOCK_RATE / this.#fps)) >>>
      0;
  }

  #sendNext(): void {
    const { frames, payloads } = this.#options;
    const index = this.#index;
    // One shape for every frame object (payloads undefined for lab sessions).
    const frame: OutgoingFrame = {
      index,
      frameNumber: this.#sent + 1,
      timestamp: this.#timestampOf(this.#timeline),
      jpeg: frames[index],
      payloads: payloads?.[index],
    };
    this.#sent++;
    this.#timeline++;
    this.#index++;
    if (this.#endIndex !== undefined && this.#index >= this.#endIndex) this.#ended = true;
    else if (this.#index >= frames.length) {
      if (this.#options.loop) this.#index = 0;
      else this.#ended = true;
    }
    if (this.#ended) this.#playing = false;
    this.#options.send(frame);
    if (this.#playAt !== undefined) {
      this.#options.onFirstFrame?.(this.#playAt);
      this.#playAt = undefined;
    }
    if (this.#ended) this.#options.onEnd?.();
  }
}
