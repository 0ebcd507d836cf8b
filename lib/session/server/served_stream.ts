/**
 * What a session plays, whatever its source: a {@linkcode ServedStream}
 * describes itself (for DESCRIBE's SDP), prepares what its sessions will send
 * (RTP/JPEG payloads, once), and hands each session a {@linkcode Player} that
 * sends it frames. A file is one kind of stream (`file_stream.ts`: each
 * player on its own schedule); a publisher's live stream is another
 * (`live_stream.ts`: every player gets each frame as it arrives), behind the
 * same interface, so that the RTSP methods need not change for it.
 *
 * @module
 */
import type { Dialect } from "../../wire/dialect.ts";

/** What DESCRIBE says about a stream. */
export interface StreamDescription {
  /** Picture size of the first frame. */
  width: number;
  height: number;
  /** Frames per second. */
  fps: number;
  /** Number of frames (of one pass); absent for a stream without an end (a live source). */
  frames?: number;
  /**
   * Length in seconds (of one pass, for a file that loops); absent for a
   * stream without one (a live source).
   */
  durationSec?: number;
  /** Average bit rate of the JPEGs, kbit/s. */
  kbitPerSec: number;
}

/** A frame on its way to one session, with that session's RTP fields. */
export interface OutgoingFrame {
  /** Index of the frame in its source. */
  index: number;
  /** Frame number in this session: 1 for the first frame sent, then +1 (the lab's sequence number). */
  frameNumber: number;
  /** 90 kHz RTP timestamp of the frame, following its media time. */
  timestamp: number;
  /** The whole JPEG (what a lab session sends in one datagram). */
  jpeg: Uint8Array;
  /** The frame's RFC 2435 payloads, shared by every session (standard sessions). */
  payloads?: readonly Uint8Array[];
}

/** What PLAY asks of a player (its Range and Scale, RFC 2326 §12.29, §12.34). */
export interface PlayRequest {
  /**
   * Where to start, in seconds of media time; `"now"` or absent: where the
   * player is (the pause point, or 0 before the first PLAY).
   */
  start?: number | "now";
  /** Where to stop, in seconds: the stream ends after the last frame before it. */
  end?: number;
  /** Playback speed relative to normal, already within the supported range. @default {1} */
  scale?: number;
}

/** What a PLAY started: the actual range and the RTP time of its first frame. */
export interface PlayStart {
  /** Media time of the first frame sent, seconds (may be later than asked: a frame boundary). */
  startSec: number;
  /** Where it stops, seconds; absent when it does not stop (a loop). */
  endSec?: number;
  /** RTP timestamp of the first frame sent. */
  rtptime: number;
  /** Scale in effect. */
  scale: number;
}

/** A PLAY whose Range this stream cannot play (RTSP 457 Invalid Range). */
export class InvalidRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRangeError";
  }
}

/** One session's playback of a stream. */
export interface Player {
  /**
   * Start, seek or resume sending at `now` (ms on the server's clock).
   * PLAY while playing without a new position or scale changes nothing.
   *
   * @throws {InvalidRangeError} when the request asks for a range the stream does not have.
   */
  play(now: number, request: PlayRequest): PlayStart;
  /** Stop sending; the position is kept. Returns it, in seconds of media time. */
  pause(): number;
  /** Media time of the next frame, in seconds. */
  readonly positionSec: number;
  /** Where the current play stops, in seconds, when it stops. */
  readonly endSec: number | undefined;
  /** Whether frames are being sent. */
  readonly playing: boolean;
  /** Whether the play reached its end (never for a loop without an end). */
  readonly ended: boolean;
  /** Frames sent so far. */
  readonly sent: number;
  /** Frame number the next frame will carry (1 for the first). */
  readonly nextFrameNumber: number;
  /** RTP timestamp of the next frame. */
  readonly nextTimestamp: number;
  /**
   * The RTP time that corresponds to `now` while playing (for RTCP sender
   * reports, RFC 3550 §6.4.1): between frames, at sub-frame resolution.
   */
  rtpTimeAt(now: number): number;
  /** The session is over: let go of the stream for good (a live stream forgets the reader). */
  close?(): void;
}

/** Options for {@linkcode ServedStream.player}. */
export interface PlayerOptions {
  /** RTP timestamp of media time 0 (random per session, RFC 3550). */
  timestampBase: number;
  /** Sends one frame; must not throw. */
  send(frame: OutgoingFrame): void;
  /** Called once each time a play reaches its end. */
  onEnd?(): void;
}

/** A stream sessions can play. */
export interface ServedStream {
  /** The name it is served under, e.g. `video.mjpeg` or `live/cam`. */
  readonly name: string;
  /**
   * A live source (a publisher's stream): no duration, no seeking, and its
   * readers end when the publisher does.
   */
  readonly live?: boolean;
  /** What DESCRIBE announces. */
  readonly description: StreamDescription;
  /**
   * Get ready to serve a session of `dialect` (standard sessions need the
   * frames as RFC 2435 payloads, cut once for all).
   *
   * @throws {Error} with a `status` (415) when the stream cannot be served so.
   */
  prepare(dialect: Dialect): Promise<void>;
  /** A player for one session. */
  player(dialect: Dialect, options: PlayerOptions): Player;
  /**
   * The whole JPEG shown at media time `sec` (a snapshot).
   *
   * @throws {InvalidRangeError} when the stream has no frame at that time.
   */
  frameAt(sec: number): Uint8Array;
}
