/**
 * The publishing side of a live path (RFC 2326 §10.11 RECORD): what a
 * `mode=record` session does in place of playing. It takes the publisher's
 * RTP (from its UDP port or its interleaved channel) into the path's
 * {@linkcode LiveSource} while recording, notes when the publisher was last
 * heard from, and, when the session ends, ends the live stream (every reader
 * gets BYE), closes the recording and frees the path.
 *
 * It is the record session's {@linkcode Player}: RECORD is its `play`,
 * PAUSE its `pause`, and "frames sent" counts the frames received.
 *
 * @module
 */
import type { MjpegRecorder } from "../../media/mjpeg_recorder.ts";
import type { LiveStream } from "./live_stream.ts";
import type { Player, PlayRequest, PlayStart } from "./served_stream.ts";

/** Options for {@linkcode Publisher}. */
export interface PublisherOptions {
  /** The live stream it feeds. */
  stream: LiveStream;
  /** The server's clock, ms. */
  now(): number;
  /** Called for every datagram from the publisher (the session is alive). */
  onHeard?(): void;
  /** Called once when the publisher is done, after the readers were ended. */
  onClose?(publisher: Publisher): void | Promise<void>;
}

/** A publisher's side of its session. */
export class Publisher implements Player {
  readonly stream: LiveStream;
  readonly #options: PublisherOptions;
  #recording = false;
  #closed = false;
  #lastHeard: number;
  #recorder: MjpegRecorder | undefined;
  #stopRecording: (() => void) | undefined;

  constructor(options: PublisherOptions) {
    this.stream = options.stream;
    this.#options = options;
    this.#lastHeard = options.now();
  }

  /** The recording of this publish, when `--record-dir` is set and RECORD started. */
  get recorder(): MjpegRecorder | undefined {
    return this.#recorder;
  }

  /** Record the frames into `recorder` from now on. */
  recordInto(recorder: MjpegRecorder): void {
    this.#recorder = recorder;
    this.#stopRecording = this.stream.source.listen({ frame: (f) => recorder.write(f.jpeg) });
  }

  /** Milliseconds since the publisher was last heard from (RTP, RTCP, or its SETUP). */
  silentFor(now: number): number {
    return now - this.#lastHeard;
  }

  /** An RTP packet from the publisher; taken only while recording. */
  receiveRtp(datagram: Uint8Array): void {
    if (this.#closed) return;
    const now = this.#options.now();
    this.#lastHeard = now;
    this.#options.onHeard?.();
    if (this.#recording) this.stream.source.push(datagram, now);
  }

  /** An RTCP packet from the publisher: it is alive. */
  receiveRtcp(_datagram: Uint8Array): void {
    if (this.#closed) return;
    this.#lastHeard = this.#options.now();
    this.#options.onHeard?.();
  }

  // --- Player: RECORD is play, PAUSE pause -------------------------------

  get playing(): boolean {
    return this.#recording;
  }
  get ended(): boolean {
    return this.#closed;
  }
  /** Frames received whole. */
  get sent(): number {
    return this.stream.source.counters.frames;
  }
  get nextFrameNumber(): number {
    return this.sent + 1;
  }
  get positionSec(): number {
    return this.stream.source.latest?.mediaSec ?? 0;
  }
  get endSec(): number | undefined {
    return undefined;
  }
  get nextTimestamp(): number {
    return this.stream.source.latest?.timestamp ?? 0;
  }

  /** RECORD: take the publisher's packets from now on. */
  play(now: number, _request: PlayRequest): PlayStart {
    this.#recording = true;
    this.#lastHeard = now;
    return { startSec: this.positionSec, rtptime: this.nextTimestamp, scale: 1 };
  }

  /** PAUSE: ignore the publisher's packets (readers wait for more). */
  pause(): number {
    this.#recording = false;
    return this.positionSec;
  }

  rtpTimeAt(_now: number): number {
    return this.nextTimestamp;
  }

  /** The session is over: the live stream ends, the recording closes, the path is free. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#recording = false;
    this.#stopRecording?.();
    this.stream.end();
    void this.#options.onClose?.(this);
  }
}
