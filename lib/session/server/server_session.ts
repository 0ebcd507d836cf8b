/**
 * One RTSP session on the server: its state (RFC 2326 Appendix A: INIT,
 * READY, PLAYING; the lab's three states), the stream it plays, where its
 * packets go, and the RTP it stamps. The session makes its own state
 * changes; the method handlers check the state they need first
 * (`method_table.ts`) and then ask the session.
 *
 * @module
 */
import type { Dialect } from "../../wire/dialect.ts";
import type { ReportBlock } from "../../wire/rtcp_packet.ts";
import {
  MAX_UDP_PAYLOAD,
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  VIDEO_CLOCK_RATE,
  writeRtpHeader,
} from "../../wire/rtp_packet.ts";
import { serializeSession } from "../../wire/session_header.ts";
import type { MediaTransport } from "./media_transport.ts";
import type { Publisher } from "./publisher.ts";
import type {
  OutgoingFrame,
  Player,
  PlayRequest,
  PlayStart,
  ServedStream,
} from "./served_stream.ts";

/**
 * Session states of RFC 2326 Appendix A (the lab's INIT, READY, PLAYING),
 * and RECORDING for a publisher's session (`mode=record`).
 */
export type SessionState = "init" | "ready" | "playing" | "recording";

/** What a session tells its RTCP sender (`server_rtcp.ts`). */
export interface SessionRtcp {
  /** The session plays: send sender reports (one at once, then periodically). */
  start(session: ServerSession): void;
  /** The session paused: no reports while no RTP flows. */
  pause(session: ServerSession): void;
  /** The stream reached its end: BYE once the last frame's time is over. */
  endOfStream(session: ServerSession): void;
  /** The session is over: a last report with BYE, if it ever played. */
  bye(session: ServerSession, reason: string): void;
}

/** Options for {@linkcode ServerSession}. */
export interface ServerSessionOptions {
  id: string;
  dialect: Dialect;
  /** Stream name as requested, for logs. */
  streamName: string;
  /** `host:port` of the client's RTSP connection. */
  client: string;
  /** The URL SETUP named (the track's control URL), for RTP-Info. */
  controlUrl: string;
  stream: ServedStream;
  transport: MediaTransport;
  /**
   * A publisher's session (`mode=record`): its publisher, which stands in
   * for the player (RECORD starts it) and takes the RTP that comes in.
   */
  publisher?: Publisher;
  ssrc: number;
  /** RTP timestamp of media time 0 (random, RFC 3550). */
  timestampBase: number;
  /** First RTP sequence number of a standard session (random, RFC 3550). @default {0} */
  initialSequence?: number;
  rtcp: SessionRtcp;
  /** Session timeout announced to standard clients, in seconds. */
  timeoutSec: number;
  /** The user who set it up, when users are configured. */
  user?: string;
  /** Monotonic clock, ms. */
  now(): number;
  /** Called when a frame cannot be sent (too large for a lab datagram). */
  onSkip?(session: ServerSession, frame: OutgoingFrame, reason: string): void;
  /** Called when the stream has sent its last frame. */
  onEnd?(session: ServerSession): void;
}

/** What a session is for: playing a stream, or taking one from a publisher (RFC 2326 §10.11). */
export type SessionMode = "play" | "record";

/** What a PLAY started, for the reply's Range, RTP-Info and Scale. */
export interface SessionPlayStart extends PlayStart {
  /** Sequence number of the first packet sent. */
  seq: number;
}

/** Largest JPEG that fits one RTP datagram with the 12-byte header. */
export const MAX_LAB_FRAME = MAX_UDP_PAYLOAD - RTP_HEADER_SIZE;

/** What the client said in its last RTCP receiver report block on a session (RFC 3550 §6.4.2). */
export interface ReceiverReportInfo {
  /** Fraction of packets lost since the client's previous report, 0 to 1. */
  readonly fractionLost: number;
  /** Packets lost since the start of reception (may be negative with duplicates). */
  readonly cumulativeLost: number;
  /** Interarrival jitter, in ms (from 90 kHz RTP units). */
  readonly jitterMs: number;
  /** When it arrived, on the server's clock, ms. */
  readonly receivedAt: number;
}

/** What the server tells about one of its sessions ({@linkcode RtspServer.sessions}). */
export interface SessionInfo {
  /** The session id (the Session header). */
  readonly id: string;
  /** `host:port` of the client's RTSP connection. */
  readonly client: string;
  /** The dialect it was set up in. */
  readonly dialect: Dialect;
  /** The stream's name as requested, e.g. `video.mjpeg`. */
  readonly streamName: string;
  /** READY or PLAYING (a session that ended is no longer listed). */
  readonly state: SessionState;
  /** Where its packets go, e.g. `udp 127.0.0.1:5008-5009` or `tcp channels 0-1`. */
  readonly transportDescription: string;
  /** The SSRC of its RTP. */
  readonly ssrc: number;
  /** RTP packets and payload bytes sent (RFC 3550 sender counts). */
  readonly packetsSent: number;
  /** Payload bytes sent. */
  readonly octetsSent: number;
  /** Frames sent, and frames skipped (too large for a lab datagram). */
  readonly framesSent: number;
  /** Frames skipped (too large for a lab datagram). */
  readonly framesSkipped: number;
  /** Media time of the next frame, in seconds. */
  readonly positionSec: number;
  /** When the client last showed it is alive (a request or RTCP), on the server's clock, ms. */
  readonly lastActivity: number;
  /** When SETUP made it, on the server's clock, ms. */
  readonly startedAt: number;
  /** The client's last receiver report on it, if any came. */
  readonly lastReceiverReport: ReceiverReportInfo | undefined;
}

/** A session's state, stream and transport. */
export class ServerSession implements SessionInfo {
  readonly id: string;
  readonly dialect: Dialect;
  readonly streamName: string;
  readonly client: string;
  readonly startedAt: number;
  /** The URL SETUP named, for RTP-Info. */
  readonly controlUrl: string;
  /** What it plays. */
  readonly stream: ServedStream;
  readonly ssrc: number;
  /** Where its packets go. */
  readonly transport: MediaTransport;
  /** Its playback of the stream (for a publisher's session, its {@linkcode Publisher}). */
  readonly player: Player;
  /** The publisher, for a session set up with `mode=record`. */
  readonly publisher: Publisher | undefined;
  /** The user who set it up (only they may use it), when users are configured. */
  readonly user: string | undefined;
  packetsSent = 0;
  octetsSent = 0;
  framesSkipped = 0;
  lastActivity: number;
  #lastReport: ReceiverReportInfo | undefined;
  #state: SessionState = "ready";
  readonly #options: ServerSessionOptions;
  /** Next sequence number of a standard session. */
  #sequence: number;
  /** The RTP header, stamped in place for each packet (no allocation per packet). */
  readonly #header = new Uint8Array(RTP_HEADER_SIZE);

  constructor(options: ServerSessionOptions) {
    this.#options = options;
    this.id = options.id;
    this.dialect = options.dialect;
    this.streamName = options.streamName;
    this.client = options.client;
    this.controlUrl = options.controlUrl;
    this.stream = options.stream;
    this.ssrc = options.ssrc;
    this.transport = options.transport;
    this.user = options.user;
    this.#sequence = options.initialSequence ?? 0;
    this.lastActivity = options.now();
    this.startedAt = this.lastActivity;
    this.publisher = options.publisher;
    this.player = options.publisher ?? options.stream.player(options.dialect, {
      timestampBase: options.timestampBase,
      send: (frame) => this.#send(frame),
      onEnd: () => {
        options.onEnd?.(this);
        if (this.#state !== "init") options.rtcp.endOfStream(this);
      },
    });
  }

  /** Playing, or recording a publisher's stream. */
  get mode(): SessionMode {
    return this.publisher ? "record" : "play";
  }

  /**
   * The Session header of replies: the id and timeout (RFC 2326 §12.37), or
   * the bare id the lab's client reads from a reply's third line.
   */
  get header(): string {
    return this.dialect === "lab"
      ? this.id
      : serializeSession({ id: this.id, timeout: this.#options.timeoutSec });
  }

  get transportDescription(): string {
    return this.transport.description;
  }

  get framesSent(): number {
    return this.player.sent;
  }

  get positionSec(): number {
    return this.player.positionSec;
  }

  /** INIT (torn down), READY or PLAYING. */
  get state(): SessionState {
    return this.#state;
  }

  /** Sequence number the next packet will carry. */
  get nextSequenceNumber(): number {
    return this.dialect === "lab" ? this.player.nextFrameNumber & 0xffff : this.#sequence & 0xffff;
  }

  get lastReceiverReport(): ReceiverReportInfo | undefined {
    return this.#lastReport;
  }

  /** Note that the client is alive. */
  touch(): void {
    this.lastActivity = this.#options.now();
  }

  /** Keep what the client's receiver report says about this session (and note it is alive). */
  noteReceiverReport(block: ReportBlock): void {
    this.touch();
    this.#lastReport = {
      fractionLost: block.fractionLost / 256,
      cumulativeLost: block.cumulativeLost,
      jitterMs: block.jitter * 1000 / VIDEO_CLOCK_RATE,
      receivedAt: this.lastActivity,
    };
  }

  /**
   * PLAY: start, seek or resume; READY → PLAYING.
   *
   * @throws {InvalidRangeError} when the stream does not have the range asked for.
   */
  play(request: PlayRequest): SessionPlayStart {
    this.#expect("PLAY", "ready", "playing");
    const start = this.player.play(this.#options.now(), request);
    this.#state = "playing";
    if (this.player.playing) this.#options.rtcp.start(this);
    return { ...start, seq: this.nextSequenceNumber };
  }

  /** RECORD: a publisher's session starts taking its RTP; READY → RECORDING. */
  record(): PlayStart {
    this.#expect("RECORD", "ready", "recording");
    if (!this.publisher) throw new Error(`Cannot RECORD session ${this.id}: it was set up to play`);
    const start = this.player.play(this.#options.now(), {});
    this.#state = "recording";
    return start;
  }

  /** PAUSE: PLAYING (or RECORDING) → READY. Returns the position paused at, in seconds. */
  pause(): number {
    this.#expect("PAUSE", "playing", "recording");
    const recording = this.#state === "recording";
    this.#state = "ready";
    const position = this.player.pause();
    if (!recording) this.#options.rtcp.pause(this);
    return position;
  }

  /**
   * TEARDOWN, a timeout or a closed connection: → INIT, with an RTCP BYE; a
   * publisher's session ends its live stream.
   */
  end(reason: string): void {
    if (this.#state === "init") return;
    this.#state = "init";
    this.player.pause();
    this.#options.rtcp.bye(this, reason);
    this.player.close?.();
  }

  #expect(method: string, ...states: SessionState[]): void {
    if (!states.includes(this.#state)) {
      throw new Error(`Cannot ${method} session ${this.id} in state ${this.#state}`);
    }
  }

  #send(frame: OutgoingFrame): void {
    if (this.dialect === "rtsp" && frame.payloads) this.#sendRtpJpeg(frame, frame.payloads);
    else this.#sendLab(frame);
  }

  /**
   * Standard RTP/JPEG: the frame's shared RFC 2435 payloads, one sequence
   * number each, one timestamp for all, the marker bit on the last.
   */
  #sendRtpJpeg(frame: OutgoingFrame, payloads: readonly Uint8Array[]): void {
    const last = payloads.length - 1;
    for (let i = 0; i <= last; i++) {
      writeRtpHeader(
        this.#header,
        0,
        PAYLOAD_TYPE_JPEG,
        i === last,
        this.#sequence,
        frame.timestamp,
        this.ssrc,
      );
      this.#sequence = (this.#sequence + 1) & 0xffff;
      this.packetsSent++;
      this.octetsSent += payloads[i].length;
      this.transport.sendRtp(this.#header, payloads[i]);
    }
  }

  /**
   * Lab RTP (as the lab specifies): the whole JPEG in one datagram, V=2,
   * P=X=CC=M=0, PT=26, sequence number = frame number.
   */
  #sendLab(frame: OutgoingFrame): void {
    if (frame.jpeg.length > MAX_LAB_FRAME) {
      this.framesSkipped++;
      this.#options.onSkip?.(
        this,
        frame,
        `frame ${frame.index} is ${frame.jpeg.length} bytes; one RTP datagram carries at most ${MAX_LAB_FRAME}`,
      );
      return;
    }
    writeRtpHeader(
      this.#header,
      0,
      PAYLOAD_TYPE_JPEG,
      false,
      frame.frameNumber,
      frame.timestamp,
      this.ssrc,
    );
    this.packetsSent++;
    this.octetsSent += frame.jpeg.length;
    this.transport.sendRtp(this.#header, frame.jpeg);
  }
}
