/**
 * The headless client: the lab's four buttons (SETUP, PLAY, PAUSE, TEARDOWN)
 * over an {@linkcode RtspClient}, an RTP receiver with the lab's 0.5 s
 * timeout, statistics, and verified frames written to a directory.
 *
 * @module
 */
import { ParseError } from "../wire/errors.ts";
import { jpegProblem } from "../wire/jpeg.ts";
import { Rfc2435Depacketizer } from "../wire/rfc2435_depacketizer.ts";
import { parseRtpPacket, PAYLOAD_TYPE_JPEG, type RtpPacket } from "../wire/rtp_packet.ts";
import { parseSdp } from "../wire/sdp.ts";
import type { RtspResponse } from "../wire/rtsp_message.ts";
import { type Clock, realClock } from "./clock.ts";
import { FrameSink } from "./frame_sink.ts";
import { ReceptionStats, type ReceptionSummary } from "./reception_stats.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import { RtpReceiver } from "./rtp_receiver.ts";
import { ReorderBuffer } from "./reorder_buffer.ts";
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

/** Resolve an SDP `a=control` value against the base URL (RFC 2326 C.1.1). */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === "*" || control === "") return base;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(control)) return control;
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

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
  /** The URL SETUP goes to (the track's control URL after DESCRIBE). */
  setupUri: string;
  /** Frames per second announced in the SDP, used to number frames by timestamp. */
  fps: number | undefined;
  #depacketizer: Rfc2435Depacketizer | undefined;
  readonly #reorder = new ReorderBuffer<{ extended: number; packet: RtpPacket }>();
  #firstTimestamp: number | undefined;
  #framesSeen = 0;
  #writes: Promise<void> = Promise.resolve();
  #pendingWrites = 0;

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
    this.setupUri = this.uri;
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

  /**
   * DESCRIBE (standard RTSP only): read the SDP for the track's control URL,
   * frame rate and picture size, and expect RTP/JPEG (RFC 2435) from then on.
   */
  async describe(): Promise<RtspResponse> {
    const reply = this.#expectOk(
      "DESCRIBE",
      await this.rtsp.request("DESCRIBE", this.uri, { Accept: "application/sdp" }),
    );
    const sdp = parseSdp(new TextDecoder().decode(reply.body));
    const media = sdp.media.find((m) =>
      m.type === "video" && m.formats.includes(PAYLOAD_TYPE_JPEG)
    );
    if (!media) throw new RtspClientError(`${this.uri} has no JPEG video (payload type 26)`);
    const base = reply.headers.get("content-base") ?? reply.headers.get("content-location") ??
      this.uri;
    const control = media.attributes.get("control");
    this.setupUri = resolveControl(base, control);
    const fps = Number(media.attributes.get("framerate") ?? sdp.attributes.get("framerate"));
    if (fps > 0) this.fps = fps;
    const dims = /^\s*(\d+)\s*,\s*(\d+)/.exec(media.attributes.get("x-dimensions") ?? "");
    this.#depacketizer = new Rfc2435Depacketizer(
      dims ? { dimensions: { width: Number(dims[1]), height: Number(dims[2]) } } : {},
    );
    return reply;
  }

  /** SETUP with the RTP port in the Transport header (after DESCRIBE in standard RTSP). */
  async setup(): Promise<RtspResponse> {
    if (this.rtsp.dialect === "rtsp" && !this.#depacketizer) await this.describe();
    const port = this.receiver.port;
    const transport = this.rtsp.dialect === "lab"
      ? `RTP/UDP; client_port= ${port}`
      : `RTP/AVP;unicast;client_port=${port}-${port + 1}`;
    const reply = this.#expectOk(
      "SETUP",
      await this.rtsp.request("SETUP", this.setupUri, { Transport: transport }),
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
    try {
      return await this.#receive(limits);
    } finally {
      for (const held of this.#reorder.flush()) this.#reassemble(held.extended, held.packet);
      await this.#writes;
    }
  }

  async #receive(limits: ReceiveLimits): Promise<ReceiveEnd> {
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
        if (this.#onDatagram(datagram.data, datagram.at)) lastPacketAt = datagram.at;
        if (this.#pendingWrites > 64) await this.#writes; // let a slow disk catch up
      }
      this.#options.onProgress?.(this.stats.summary());
    }
  }

  /** Account for one datagram; returns whether it was this session's RTP. */
  #onDatagram(data: Uint8Array, at: number): boolean {
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
    if (!this.#depacketizer) {
      // Lab RTP: one whole JPEG per packet, sequence number = frame number.
      this.#deliver(extended, packet.payload);
      return true;
    }
    for (const held of this.#reorder.push(extended, { extended, packet })) {
      this.#reassemble(held.extended, held.packet);
    }
    return true;
  }

  /** Feed one in-order RTP/JPEG packet to the depacketizer. */
  #reassemble(extended: number, packet: RtpPacket): void {
    const events = this.#depacketizer!.push({
      sequence: extended,
      timestamp: packet.timestamp,
      marker: packet.marker,
      payload: packet.payload,
    });
    for (const event of events) {
      if (event.kind === "frame") this.#deliver(this.#frameNumber(event.timestamp), event.jpeg);
      else {
        this.stats.framesIncomplete++;
        if (this.damaged.length < 20) {
          this.damaged.push(`frame at RTP time ${event.timestamp}: ${event.reason}`);
        }
      }
    }
  }

  /** Frame number of a standard stream's frame: from its timestamp when the frame rate is known. */
  #frameNumber(timestamp: number): number {
    this.#framesSeen++;
    this.#firstTimestamp ??= timestamp;
    if (this.fps === undefined) return this.#framesSeen;
    const elapsed = (timestamp - this.#firstTimestamp) >>> 0;
    return Math.round(elapsed * this.fps / 90_000) + 1;
  }

  /** Count a frame, and write it when it is a complete JPEG (off the receive path). */
  #deliver(frameNumber: number, jpeg: Uint8Array): void {
    const problem = jpegProblem(jpeg);
    if (problem) {
      this.stats.framesDamaged++;
      if (this.damaged.length < 20) this.damaged.push(`frame ${frameNumber}: ${problem}`);
      return;
    }
    this.stats.framesReceived++;
    const sink = this.#sink;
    if (!sink) return;
    this.#pendingWrites++;
    this.#writes = this.#writes.then(async () => {
      await sink.write(frameNumber, jpeg);
      this.#pendingWrites--;
    });
  }

  /** Close the RTSP connection and the RTP socket. */
  async close(): Promise<void> {
    this.receiver.close();
    await this.rtsp.close();
  }
}
