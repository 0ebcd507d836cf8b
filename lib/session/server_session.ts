/**
 * One RTSP session on the server: its state (INIT → READY → PLAYING, as in
 * the lab and RFC 2326 Appendix A), where its RTP goes, and its stream.
 *
 * @module
 */
import type { MjpegSource, RtpJpegPayloads } from "../media/mjpeg_source.ts";
import {
  MAX_UDP_PAYLOAD,
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  serializeRtpPacket,
} from "../wire/rtp_packet.ts";
import { FrameStream, type OutgoingFrame } from "./frame_stream.ts";

/** Session states of RFC 2326 Appendix A (the lab's INIT, READY, PLAYING). */
export type SessionState = "init" | "ready" | "playing";

/**
 * The dialect a session was set up in: `lab` for the lab's programs (bare
 * names, bare LF, `RTP/UDP`), `rtsp` for standard clients.
 */
export type Dialect = "lab" | "rtsp";

/** Where a session's RTP goes. */
export interface UdpDestination {
  hostname: string;
  rtpPort: number;
}

/** Sends one datagram; must not throw (failures are counted by the caller). */
export type DatagramSender = (data: Uint8Array, hostname: string, port: number) => void;

/** Options for {@linkcode ServerSession}. */
export interface ServerSessionOptions {
  id: string;
  dialect: Dialect;
  /** Stream name as requested, for logs. */
  streamName: string;
  source: MjpegSource;
  destination: UdpDestination;
  ssrc: number;
  timestampBase: number;
  fps: number;
  loop: boolean;
  sendDatagram: DatagramSender;
  /**
   * RTP/JPEG (RFC 2435) payloads of every frame, for standard sessions. Lab
   * sessions leave it out and get the whole JPEG in one datagram.
   */
  payloads?: RtpJpegPayloads;
  /** First RTP sequence number of a standard session (random, RFC 3550). @default {0} */
  initialSequence?: number;
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
  destination: UdpDestination;
  state: SessionState = "ready";
  readonly stream: FrameStream;
  /** Packets and payload bytes sent, frames skipped. */
  packetsSent = 0;
  octetsSent = 0;
  framesSkipped = 0;
  readonly #options: ServerSessionOptions;
  /** Next sequence number of a standard session. */
  #sequence: number;

  constructor(options: ServerSessionOptions) {
    this.#options = options;
    this.id = options.id;
    this.dialect = options.dialect;
    this.streamName = options.streamName;
    this.source = options.source;
    this.ssrc = options.ssrc;
    this.destination = options.destination;
    this.#sequence = options.initialSequence ?? 0;
    this.stream = new FrameStream({
      frames: options.source.frames,
      fps: options.fps,
      loop: options.loop,
      timestampBase: options.timestampBase,
      send: (frame) => this.#send(frame),
      onEnd: () => options.onEnd?.(this),
    });
  }

  /** Sequence number the next packet will carry. */
  get nextSequenceNumber(): number {
    return this.#options.payloads ? this.#sequence & 0xffff : this.stream.nextFrameNumber & 0xffff;
  }

  #send(frame: OutgoingFrame): void {
    if (this.#options.payloads) this.#sendRtpJpeg(frame, this.#options.payloads);
    else this.#sendLab(frame);
  }

  /**
   * Standard RTP/JPEG: the frame's shared RFC 2435 payloads, one sequence
   * number each, one timestamp for all, the marker bit on the last.
   */
  #sendRtpJpeg(frame: OutgoingFrame, payloads: RtpJpegPayloads): void {
    const list = payloads.frames[frame.index];
    for (let i = 0; i < list.length; i++) {
      const packet = serializeRtpPacket({
        payloadType: PAYLOAD_TYPE_JPEG,
        sequenceNumber: this.#sequence++ & 0xffff,
        timestamp: frame.timestamp,
        ssrc: this.ssrc,
        marker: i === list.length - 1,
        payload: list[i],
      });
      this.packetsSent++;
      this.octetsSent += list[i].length;
      this.#options.sendDatagram(packet, this.destination.hostname, this.destination.rtpPort);
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
    const packet = serializeRtpPacket({
      payloadType: PAYLOAD_TYPE_JPEG,
      sequenceNumber: frame.frameNumber & 0xffff,
      timestamp: frame.timestamp,
      ssrc: this.ssrc,
      payload: frame.data,
    });
    this.packetsSent++;
    this.octetsSent += frame.data.length;
    this.#options.sendDatagram(packet, this.destination.hostname, this.destination.rtpPort);
  }
}
