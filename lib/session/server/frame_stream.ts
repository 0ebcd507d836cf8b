/**
 * The sending side of one session: which frame comes next, when it is due,
 * and the RTP header fields that go with it. Pacing is on an absolute
 * schedule (frame k of a PLAY leaves at start + k/fps), so the rate does not
 * drift, and paused time is excluded because each PLAY starts a new schedule.
 *
 * @module
 */
import { VIDEO_CLOCK_RATE } from "../wire/rtp_packet.ts";
import type { PacedTask } from "./pacer.ts";

/** A frame ready to go out, with its per-session header fields. */
export interface OutgoingFrame {
  /** Index of the frame in the file. */
  index: number;
  /** Frame number in this session's stream: 1 for the first frame sent, then +1. */
  frameNumber: number;
  /** 90 kHz RTP timestamp of the frame. */
  timestamp: number;
  /** The JPEG. */
  data: Uint8Array;
}

/** Options for {@linkcode FrameStream}. */
export interface FrameStreamOptions {
  frames: readonly Uint8Array[];
  /** Frames per second. */
  fps: number;
  /** Start again at the first frame after the last. @default {false} */
  loop?: boolean;
  /** RTP timestamp of frame number 1. */
  timestampBase: number;
  /** Send one frame. Errors are the caller's to handle; this must not throw. */
  send(frame: OutgoingFrame): void;
  /** Called once when the last frame has been sent (never with `loop`). */
  onEnd?(): void;
  /**
   * Most frames sent in one wake-up; when more are due the schedule moves by
   * whole periods instead (no frame is skipped). Sending a backlog in a
   * burst would multiply the load exactly when the process is overloaded,
   * and for a thousand streams that keeps it overloaded. Unpaced: frames per
   * wake-up.
   * @default {1, or 5 ms worth of frames above 200 fps; 32 unpaced}
   */
  maxBurst?: number;
  /**
   * Send frames back to back, as fast as the process can (a burst of
   * `maxBurst` per event-loop turn), for throughput measurements. RTP
   * timestamps keep the spacing of `fps`.
   * @default {false}
   */
  unpaced?: boolean;
}

/** Frame position and pacing of one session's stream. */
export class FrameStream implements PacedTask {
  readonly #options: FrameStreamOptions;
  readonly #period: number;
  /** Next frame index in the file. */
  #index = 0;
  /** Frames sent so far in this session. */
  #sent = 0;
  /** Start of the current PLAY's schedule and frames sent since then. */
  #anchor = 0;
  #sentSinceAnchor = 0;
  #playing = false;
  #ended = false;

  constructor(options: FrameStreamOptions) {
    if (!(options.fps > 0) || !Number.isFinite(options.fps)) {
      throw new RangeError(`Cannot pace at ${options.fps} frames/s: must be a positive number`);
    }
    this.#options = options;
    this.#period = 1000 / options.fps;
  }

  /** Frames sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Whether the stream is being sent. */
  get playing(): boolean {
    return this.#playing;
  }

  /** Whether the last frame has been sent (never with `loop`). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Frame number the next frame will carry. */
  get nextFrameNumber(): number {
    return this.#sent + 1;
  }

  /** RTP timestamp of the next frame. */
  get nextTimestamp(): number {
    return this.#timestampOf(this.#sent);
  }

  /** Start (or resume) sending at `now`; returns the first due time. */
  play(now: number): number {
    this.#playing = true;
    this.#anchor = now;
    this.#sentSinceAnchor = 0;
    return now;
  }

  /** Stop sending; the position is kept. */
  pause(): void {
    this.#playing = false;
  }

  /** Send what is due at `now`; returns the next due time, or undefined when stopped. */
  onDue(now: number): number | undefined {
    if (!this.#playing || this.#ended) return undefined;
    if (this.#options.unpaced) {
      const burst = this.#options.maxBurst ?? 32;
      for (let i = 0; i < burst; i++) {
        this.#sendNext();
        if (this.#ended || !this.#playing) return undefined;
      }
      return now; // again on the next turn of the event loop
    }
    const maxBurst = this.#options.maxBurst ?? Math.max(1, Math.ceil(this.#options.fps / 200));
    let due = this.#anchor + this.#sentSinceAnchor * this.#period;
    for (let burst = 0; due <= now && burst < maxBurst; burst++) {
      this.#sendNext();
      if (this.#ended || !this.#playing) return undefined;
      due = this.#anchor + this.#sentSinceAnchor * this.#period;
    }
    if (due <= now) {
      // Still behind after a burst: move the schedule by whole periods and
      // keep every frame. Whole periods keep this stream's phase, so streams
      // that fell behind together (a pause of the process) do not come out
      // of it in step, all due at the same instant from then on.
      const periods = Math.floor((now - due) / this.#period) + 1;
      this.#anchor += periods * this.#period;
      due += periods * this.#period;
    }
    return due;
  }

  #timestampOf(sent: number): number {
    return (this.#options.timestampBase +
      Math.round(sent * VIDEO_CLOCK_RATE / this.#options.fps)) >>>
      0;
  }

  #sendNext(): void {
    const frames = this.#options.frames;
    const frame: OutgoingFrame = {
      index: this.#index,
      frameNumber: this.#sent + 1,
      timestamp: this.#timestampOf(this.#sent),
      data: frames[this.#index],
    };
    this.#sent++;
    this.#sentSinceAnchor++;
    this.#index++;
    if (this.#index >= frames.length) {
      if (this.#options.loop) this.#index = 0;
      else {
        this.#ended = true;
        this.#playing = false;
      }
    }
    this.#options.send(frame);
    if (this.#ended) this.#options.onEnd?.();
  }
}
