/**
 * One RTSP session on the server: its state (INIT → READY → PLAYING, as in
 * the lab and RFC 2326 Appendix A), where its RTP and RTCP go, its stream,
 * and the RTCP it sends (sender reports, SDES, BYE).
 *
 * @module
 */
import type { MjpegSource, RtpJpegPayloads } from "../media/mjpeg_source.ts";
import {
  MAX_UDP_PAYLOAD,
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  VIDEO_CLOCK_RATE,
  writeRtpHeader,
} from "../wire/rtp_packet.ts";
import { type RtcpPacket, serializeRtcpCompound, toNtpTime } from "../wire/rtcp_packet.ts";
import { FrameStream, type OutgoingFrame } from "./frame_stream.ts";

/** Session states of RFC 2326 Appendix A (the lab's INIT, READY, PLAYING). */
export type SessionState = "init" | "ready" | "playing";

/**
 * The dialect a session was set up in: `lab` for the lab's programs (bare
 * names, bare LF, `RTP/UDP`), `rtsp` for standard clients.
 */
export type Dialect = "lab" | "rtsp";

/** Where a session's packets go: UDP ports of the client, or channels of its RTSP connection. */
export interface SessionTransport {
  /** For logs, e.g. `udp 127.0.0.1:5008-5009` or `tcp channels 0-1`. */
  readonly description: string;
  /** The client's address, for UDP. */
  readonly host?: string;
  /** RTP and RTCP channels, for TCP interleaving. */
  readonly channels?: readonly [number, number];
  /**
   * Send one RTP packet made of a 12-byte header and a payload; must not
   * throw. The header is valid only during the call (the session re-stamps
   * it for the next packet), so a transport that sends later copies it; the
   * payload is shared between sessions and never changes, so it may be sent
   * by reference later in the same event-loop turn.
   */
  sendRtp(header: Uint8Array, payload: Uint8Array): void;
  /** Send one RTCP datagram; must not throw. */
  sendRtcp(packet: Uint8Array): void;
}

/** Options for {@linkcode ServerSession}. */
export interface ServerSessionOptions {
  id: string;
  dialect: Dialect;
  /** Stream name as requested, for logs. */
  streamName: string;
  source: MjpegSource;
  transport: SessionTransport;
  ssrc: number;
  timestampBase: number;
  fps: number;
  loop: boolean;
  /** Frames back to back rather than at `fps` (the stream's `unpaced` option). */
  unpaced?: boolean;
  /**
   * RTP/JPEG (RFC 2435) payloads of every frame, for standard sessions. Lab
   * sessions leave it out and get the whole JPEG in one datagram.
   */
  payloads?: RtpJpegPayloads;
  /** First RTP sequence number of a standard session (random, RFC 3550). @default {0} */
  initialSequence?: number;
  /** SDES CNAME. @default {"rtsp-lab"} */
  cname?: string;
  /** Monotonic clock, ms (for the RTP time of sender reports). */
  now(): number;
  /** Called when a frame cannot be sent (too large for a datagram). */
  onSkip?(session: ServerSession, frame: OutgoingFrame, reason: string): void;
  /** Called when the last frame has been sent. */
  onEnd?(session: ServerSession): void;
}

/** Largest JPEG that fits one RTP datagram with the 12-byte header. */
export const MAX_LAB_FRAME = MAX_UDP_PAYLOAD - RTP_HEADER_SIZE;

/** A session's state and stream. */
export class ServerSession {
  readonly id: string;
  readonly dialect: Dialect;
  readonly streamName: string;
  readonly source: MjpegSource;
  readonly ssrc: number;
  readonly transport: SessionTransport;
  state: SessionState = "ready";
  readonly stream: FrameStream;
  /** Packets and payload bytes sent (RFC 3550 sender counts), frames skipped. */
  packetsSent = 0;
  octetsSent = 0;
  framesSkipped = 0;
  /** Last time (monotonic ms) the client showed it is alive: a request or RTCP. */
  lastActivity: number;
  readonly #options: ServerSessionOptions;
  /** Next sequence number of a standard session. */
  #sequence: number;
  /** RTP timestamp and monotonic time of the last frame sent, for sender reports. */
  #lastTimestamp: number | undefined;
  #lastSentAt = 0;
  /** The RTP header, stamped in place for each packet (no allocation per packet). */
  readonly #header = new Uint8Array(RTP_HEADER_SIZE);

  constructor(options: ServerSessionOptions) {
    this.#options = options;
    this.id = options.id;
    this.dialect = options.dialect;
    this.streamName = options.streamName;
    this.source = options.source;
    this.ssrc = options.ssrc;
    this.transport = options.transport;
    this.#sequence = options.initialSequence ?? 0;
    this.lastActivity = options.now();
    this.stream = new FrameStream({
      frames: options.source.frames,
      fps: options.fps,
      loop: options.loop,
      unpaced: options.unpaced,
      timestampBase: options.timestampBase,
      send: (frame) => this.#send(frame),
      onEnd: () => options.onEnd?.(this),
    });
  }

  /** Sequence number the next packet will carry. */
  get nextSequenceNumber(): number {
    return this.#options.payloads ? this.#sequence & 0xffff : this.stream.nextFrameNumber & 0xffff;
  }

  /** Note that the client is alive. */
  touch(): void {
    this.lastActivity = this.#options.now();
  }

  /**
   * A compound RTCP packet: a sender report (NTP time now and the RTP time
   * it corresponds to) and an SDES CNAME, plus BYE when `bye` is set.
   */
  rtcpReport(bye?: string): Uint8Array {
    const now = this.#options.now();
    const rtpNow = this.#lastTimestamp === undefined
      ? this.stream.nextTimestamp
      : (this.#lastTimestamp + Math.round((now - this.#lastSentAt) * VIDEO_CLOCK_RATE / 1000)) >>>
        0;
    const ntp = toNtpTime(Date.now());
    const packets: RtcpPacket[] = [
      {
        type: "sr",
        ssrc: this.ssrc,
        ntpSeconds: ntp.seconds,
        ntpFraction: ntp.fraction,
        rtpTimestamp: rtpNow,
        packetCount: this.packetsSent >>> 0,
        octetCount: this.octetsSent >>> 0,
        reports: [],
      },
      {
        type: "sdes",
        chunks: [{
          ssrc: this.ssrc,
          items: [{ type: 1, text: this.#options.cname ?? "rtsp-lab" }],
        }],
      },
    ];
    if (bye !== undefined) packets.push({ type: "bye", sources: [this.ssrc], reason: bye });
    return serializeRtcpCompound(packets);
  }

  #send(frame: OutgoingFrame): void {
    this.#lastTimestamp = frame.timestamp;
    this.#lastSentAt = this.#options.now();
    if (this.#options.payloads) this.#sendRtpJpeg(frame, this.#options.payloads);
    else this.#sendLab(frame);
  }

  /**
   * Standard RTP/JPEG: the frame's shared RFC 2435 payloads, one sequence
   * number each, one timestamp for all, the marker bit on the last.
   */
  #sendRtpJpeg(frame: OutgoingFrame, payloads: RtpJpegPayloads): void {
    const list = payloads.frames[frame.index];
    const last = list.length - 1;
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
      this.octetsSent += list[i].length;
      this.transport.sendRtp(this.#header, list[i]);
    }
  }

  /**
   * Lab RTP (as the lab specifies): the whole JPEG in one datagram, V=2,
   * P=X=CC=M=0, PT=26, sequence number = frame number.
   */
  #sendLab(frame: OutgoingFrame): void {
    if (frame.data.length > MAX_LAB_FRAME) {
      this.framesSkipped++;
      this.#options.onSkip?.(
        this,
        frame,
        `frame ${frame.index} is ${frame.data.length} bytes; one RTP datagram carries at most ${MAX_LAB_FRAME}`,
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
    this.octetsSent += frame.data.length;
    this.transport.sendRtp(this.#header, frame.data);
  }
}
