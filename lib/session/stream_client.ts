/**
 * The headless client: the lab's four buttons (SETUP, PLAY, PAUSE, TEARDOWN)
 * over an {@linkcode RtspClient}, an RTP receiver with the lab's 0.5 s
 * timeout, statistics, and verified frames written to a directory.
 *
 * @module
 */
import { ParseError } from "../wire/errors.ts";
import { parseRtpPacket, PAYLOAD_TYPE_JPEG } from "../wire/rtp_packet.ts";
import type { RtspResponse } from "../wire/rtsp_message.ts";
import { type Clock, realClock } from "./clock.ts";
import { FrameSink } from "./frame_sink.ts";
import { ReceptionStats, type ReceptionSummary } from "./reception_stats.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import { RtpReceiver } from "./rtp_receiver.ts";
import type { Dialect } from "./server_session.ts";

/** Options for {@linkcode StreamClient.open}. */
export interface StreamClientOptions {
  /** RTSP server host and port. */
  host: string;
  port: number;
  /** UDP port to receive RTP on; 0 picks a free one. */
  rtpPort: number;
  /** The stream: a file name such as `video.mjpeg`, or an `rtsp://` URL. */
  resource: string;
  /** @default {"lab"} */
  dialect?: Dialect;
  /** Directory for `frame_NNNNNN.jpg` files; frames are not written when absent. */
  outDir?: string;
  /** Wait for each RTP datagram this long, in ms (the lab's 0.5 s). @default {500} */
  receiveTimeoutMs?: number;
  /** Wait for each RTSP reply this long, in ms. @default {5000} */
  replyTimeoutMs?: number;
  /** Called after every receive wait with the statistics so far. */
  onProgress?(summary: ReceptionSummary): void;
  clock?: Clock;
}

/** When {@linkcode StreamClient.receive} stops. */
export interface ReceiveLimits {
  /** Stop after this many complete frames. */
  frames?: number;
  /** Stop this many seconds after the call. */
  durationSec?: number;
  /** Stop when no packet came for this long after the stream began, in seconds. */
  endAfterSec?: number;
  /** Fail when no packet comes within this many seconds. */
  firstPacketTimeoutSec?: number;
  /** Stop when aborted. */
  signal?: AbortSignal;
}

/** Why {@linkcode StreamClient.receive} returned. */
export type ReceiveEnd = "frames" | "duration" | "end-of-stream" | "aborted";

/** A client session: control connection, RTP socket, statistics, frame sink. */
export class StreamClient {
  readonly rtsp: RtspClient;
  readonly receiver: RtpReceiver;
  readonly stats: ReceptionStats = new ReceptionStats();
  readonly uri: string;
  readonly #options: StreamClientOptions;
  readonly #clock: Clock;
  readonly #sink: FrameSink | undefined;
  #ssrc: number | undefined;
  /** SSRCs other than the session's that sent to our port. */
  foreignPackets = 0;
  /** Frames refused and why (the last few), for reporting. */
  readonly damaged: string[] = [];

  private constructor(rtsp: RtspClient, receiver: RtpReceiver, options: StreamClientOptions) {
    this.rtsp = rtsp;
    this.receiver = receiver;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#sink = options.outDir !== undefined ? new FrameSink(options.outDir) : undefined;
    const dialect = options.dialect ?? "lab";
    this.uri = dialect === "lab" || /^rtsp:\/\//i.test(options.resource)
      ? options.resource
      : `rtsp://${
        options.host.includes(":") ? `[${options.host}]` : options.host
      }:${options.port}/${options.resource.replace(/^\/+/, "")}`;
  }

  /**
   * Bind the RTP port, then connect to the server.
   *
   * @throws {Error} when the port is in use or the server cannot be reached.
   */
  static async open(options: StreamClientOptions): Promise<StreamClient> {
    const receiver = RtpReceiver.bind(options.rtpPort, "0.0.0.0", options.clock);
    try {
      const rtsp = await RtspClient.connect(options.host, options.port, {
        dialect: options.dialect ?? "lab",
        replyTimeoutMs: options.replyTimeoutMs,
        clock: options.clock,
      });
      return new StreamClient(rtsp, receiver, options);
    } catch (error) {
      receiver.close();
      throw error;
    }
  }

  #expectOk(method: string, reply: RtspResponse): RtspResponse {
    if (reply.status !== 200) {
      throw new RtspClientError(
        `${method} ${this.uri} was refused: ${reply.status} ${reply.reason}`,
        reply.status,
      );
    }
    return reply;
  }

  /** SETUP with the RTP port in the Transport header. */
  async setup(): Promise<RtspResponse> {
    const port = this.receiver.port;
    const transport = this.rtsp.dialect === "lab"
      ? `RTP/UDP; client_port= ${port}`
      : `RTP/AVP;unicast;client_port=${port}-${port + 1}`;
    const reply = this.#expectOk(
      "SETUP",
      await this.rtsp.request("SETUP", this.uri, { Transport: transport }),
    );
    if (this.rtsp.session === undefined) {
      throw new RtspClientError(`The reply to SETUP has no Session header`, reply.status);
    }
    return reply;
  }

  /** PLAY; the first PLAY starts the time-to-first-frame clock. */
  async play(): Promise<RtspResponse> {
    this.stats.playSentAt ??= this.#clock.now();
    return this.#expectOk("PLAY", await this.rtsp.request("PLAY", this.uri));
  }

  /** PAUSE. */
  async pause(): Promise<RtspResponse> {
    return this.#expectOk("PAUSE", await this.rtsp.request("PAUSE", this.uri));
  }

  /** TEARDOWN. */
  async teardown(): Promise<RtspResponse> {
    return this.#expectOk("TEARDOWN", await this.rtsp.request("TEARDOWN", this.uri));
  }

  /**
   * Receive RTP until a limit is reached.
   *
   * @throws {RtspClientError} when no packet arrives within `firstPacketTimeoutSec`.
   */
  async receive(limits: ReceiveLimits = {}): Promise<ReceiveEnd> {
    const start = this.#clock.now();
    const timeoutMs = this.#options.receiveTimeoutMs ?? 500;
    let lastPacketAt = start;
    for (;;) {
      const now = this.#clock.now();
      if (limits.signal?.aborted) return "aborted";
      if (limits.frames !== undefined && this.stats.framesReceived >= limits.frames) {
        return "frames";
      }
      if (limits.durationSec !== undefined && now - start >= limits.durationSec * 1000) {
        return "duration";
      }
      if (this.stats.started && limits.endAfterSec !== undefined) {
        if (now - lastPacketAt >= limits.endAfterSec * 1000) return "end-of-stream";
      } else if (!this.stats.started && limits.firstPacketTimeoutSec !== undefined) {
        if (now - start >= limits.firstPacketTimeoutSec * 1000) {
          throw new RtspClientError(
            `No RTP arrived on UDP port ${this.receiver.port} within ${limits.firstPacketTimeoutSec} s`,
          );
        }
      }
      let wait = timeoutMs;
      if (limits.durationSec !== undefined) {
        wait = Math.max(1, Math.min(wait, start + limits.durationSec * 1000 - now));
      }
      const datagram = await this.receiver.receive(wait);
      if (datagram) {
        if (await this.#onDatagram(datagram.data, datagram.at)) lastPacketAt = datagram.at;
      }
      this.#options.onProgress?.(this.stats.summary());
    }
  }

  /** Account for one datagram; returns whether it was this session's RTP. */
  async #onDatagram(data: Uint8Array, at: number): Promise<boolean> {
    let packet;
    try {
      packet = parseRtpPacket(data);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      this.stats.malformed++;
      return false;
    }
    if (packet.payloadType !== PAYLOAD_TYPE_JPEG) {
      this.stats.malformed++;
      return false;
    }
    this.#ssrc ??= packet.ssrc;
    if (packet.ssrc !== this.#ssrc) {
      this.foreignPackets++;
      return false;
    }
    const { extended, duplicate } = this.stats.onPacket(
      packet.sequenceNumber,
      packet.timestamp,
      at,
      packet.payload.length,
    );
    if (duplicate) return true;
    // Lab RTP: one whole JPEG per packet, sequence number = frame number.
    const problem = this.#sink
      ? await this.#sink.write(extended, packet.payload)
      : (await import("../wire/jpeg.ts")).jpegProblem(packet.payload);
    if (problem) {
      this.stats.framesDamaged++;
      if (this.damaged.length < 20) this.damaged.push(`frame ${extended}: ${problem}`);
    } else {
      this.stats.framesReceived++;
    }
    return true;
  }

  /** Close the RTSP connection and the RTP socket. */
  async close(): Promise<void> {
    this.receiver.close();
    await this.rtsp.close();
  }
}
