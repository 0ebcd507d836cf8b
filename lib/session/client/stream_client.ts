/**
 * The headless client: the lab's four buttons (SETUP, PLAY, PAUSE, TEARDOWN)
 * over an {@linkcode RtspClient}, in the lab's dialect or in standard RTSP
 * (DESCRIBE, RTP/JPEG over UDP or TCP, RTCP receiver reports, keep-alive),
 * with statistics and verified frames written to a directory or a lab MJPEG
 * file.
 *
 * @module
 */
import { ParseError } from "../../wire/errors.ts";
import { jpegProblem } from "../../wire/jpeg.ts";
import { type DepacketizeEvent, Rfc2435Depacketizer } from "../../wire/rfc2435_depacketizer.ts";
import { ntpMiddle, parseRtcpPackets, serializeRtcpCompound } from "../../wire/rtcp_packet.ts";
import { parseRtpPacket, PAYLOAD_TYPE_JPEG, type RtpPacket } from "../../wire/rtp_packet.ts";
import { parseTransport } from "../../wire/transport_header.ts";
import type { RtspResponse } from "../../wire/rtsp_message.ts";
import { parseSdp } from "../../wire/sdp.ts";
import { resolveControl } from "../../wire/rtsp_url.ts";
import { type Clock, realClock } from "../../net/clock.ts";
import { FrameSink, MjpegRecorder } from "./frame_sink.ts";
import { ReceptionStats, type ReceptionSummary } from "./reception_stats.ts";
import { ReorderBuffer } from "./reorder_buffer.ts";
import { RtpReceiver } from "./rtp_receiver.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import type { Dialect } from "../../wire/dialect.ts";

/** The dialect to speak; `auto` tries standard RTSP and falls back to the lab's. */
export type ClientDialect = Dialect | "auto";

/** Options for {@linkcode StreamClient.open}. */
export interface StreamClientOptions {
  /** RTSP server host and port. */
  host: string;
  port: number;
  /** UDP port to receive RTP on (RTCP on the one above in standard RTSP); 0 picks free ones. */
  rtpPort: number;
  /** The stream: a file name such as `video.mjpeg`, or an `rtsp://` URL. */
  resource: string;
  /** @default {"lab"} */
  dialect?: ClientDialect;
  /** How standard RTSP carries RTP: UDP, or interleaved on the RTSP connection. @default {"udp"} */
  transport?: "udp" | "tcp";
  /** Directory for `frame_NNNNNN.jpg` files; frames are not written when absent. */
  outDir?: string;
  /** Also record complete frames into this lab MJPEG file. */
  mjpegFile?: string;
  /** Wait for each RTP datagram this long, in ms (the lab's 0.5 s). @default {500} */
  receiveTimeoutMs?: number;
  /** Wait for each RTSP reply this long, in ms. @default {5000} */
  replyTimeoutMs?: number;
  /** With `auto`, wait this long for an answer to OPTIONS before speaking the lab dialect. @default {500} */
  autoTimeoutMs?: number;
  /** Seconds between RTCP receiver reports. @default {5} */
  rtcpIntervalSec?: number;
  /** Called with the statistics so far, at most every 100 ms while packets arrive. */
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
export type ReceiveEnd = "frames" | "duration" | "end-of-stream" | "bye" | "aborted";

/** How long to keep reading after an RTCP BYE, for packets that were overtaken. */
const BYE_GRACE_MS = 200;
/** Datagrams handled in a row before the loop checks its limits again. */
const DRAIN_BATCH = 256;
/** Least time between two onProgress calls, in ms. */
const PROGRESS_INTERVAL_MS = 100;

/** A client session: control connection, RTP receiver, statistics, frame sinks. */
export class StreamClient {
  readonly rtsp: RtspClient;
  readonly receiver: RtpReceiver;
  readonly stats: ReceptionStats = new ReceptionStats();
  readonly #options: StreamClientOptions;
  readonly #clock: Clock;
  readonly #sink: FrameSink | undefined;
  readonly #recorder: MjpegRecorder | undefined;
  /** Our own SSRC, for receiver reports. */
  readonly #ownSsrc = crypto.getRandomValues(new Uint32Array(1))[0];
  #ssrc: number | undefined;
  /** SSRCs other than the session's that sent to our port. */
  foreignPackets = 0;
  /** Frames refused and why (the last few), for reporting. */
  readonly damaged: string[] = [];
  /** The URL SETUP goes to (the track's control URL after DESCRIBE). */
  setupUri: string | undefined;
  /** Frames per second announced in the SDP, used to number frames by timestamp. */
  fps: number | undefined;
  /** Methods the server listed in its OPTIONS reply. */
  publicMethods: string[] = [];
  /** Where RTCP goes: the server's RTCP port, or our interleaved RTCP channel. */
  #rtcpPort: number | undefined;
  #rtcpChannel: number | undefined;
  #lastSr: { ntpMiddle: number; at: number } | undefined;
  #lastReportAt = 0;
  #byeAt: number | undefined;
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
    this.#recorder = options.mjpegFile !== undefined
      ? new MjpegRecorder(options.mjpegFile)
      : undefined;
  }

  /**
   * Bind the RTP port (or prepare for interleaving), connect to the server,
   * and with `auto` find out which dialect it speaks.
   *
   * @throws {Error} when a port is in use or the server cannot be reached.
   */
  static async open(options: StreamClientOptions): Promise<StreamClient> {
    const dialect = options.dialect ?? "lab";
    const tcp = options.transport === "tcp" && dialect !== "lab";
    const receiver = tcp
      ? RtpReceiver.interleaved({ clock: options.clock })
      : RtpReceiver.bind(options.rtpPort, { rtcp: dialect !== "lab", clock: options.clock });
    let client: StreamClient | undefined;
    try {
      const rtsp = await RtspClient.connect(options.host, options.port, {
        dialect: dialect === "lab" ? "lab" : "rtsp",
        replyTimeoutMs: options.replyTimeoutMs,
        clock: options.clock,
        onInterleaved: (frame) => {
          if (client) client.#onInterleaved(frame.channel, frame.data);
        },
      });
      client = new StreamClient(rtsp, receiver, options);
      if (dialect === "auto") await client.#detectDialect();
      if (tcp && client.dialect === "lab") {
        throw new RtspClientError(
          "The server speaks the lab dialect, which carries RTP over UDP only (not --transport tcp)",
        );
      }
      return client;
    } catch (error) {
      if (client) await client.close();
      else await receiver.close();
      throw error;
    }
  }

  /** The dialect being spoken. */
  get dialect(): Dialect {
    return this.rtsp.dialect;
  }

  /** The request URL: the lab's bare name, or `rtsp://host:port/name`. */
  get uri(): string {
    const { resource, host, port } = this.#options;
    if (this.dialect === "lab" || /^rtsp:\/\//i.test(resource)) return resource;
    const hostPart = host.includes(":") ? `[${host}]` : host;
    return `rtsp://${hostPart}:${port}/${resource.replace(/^\/+/, "")}`;
  }

  /** Standard RTSP answers OPTIONS; the lab's server says nothing, so speak its dialect. */
  async #detectDialect(): Promise<void> {
    try {
      const reply = await this.rtsp.request("OPTIONS", this.uri, {}, {
        timeoutMs: this.#options.autoTimeoutMs ?? 500,
      });
      this.publicMethods = (reply.headers.get("public") ?? "").split(",").map((m) => m.trim());
    } catch (error) {
      if (!(error instanceof RtspClientError) || !/No reply/.test(error.message)) throw error;
      this.rtsp.dialect = "lab";
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
    let sdp;
    try {
      sdp = parseSdp(new TextDecoder().decode(reply.body));
    } catch (error) {
      throw new RtspClientError(
        `The DESCRIBE reply is not SDP: ${error instanceof Error ? error.message : error}`,
      );
    }
    const media = sdp.media.find((m) =>
      m.type === "video" && m.formats.includes(PAYLOAD_TYPE_JPEG)
    );
    if (!media) throw new RtspClientError(`${this.uri} has no JPEG video (payload type 26)`);
    const base = reply.headers.get("content-base") ?? reply.headers.get("content-location") ??
      this.uri;
    this.setupUri = resolveControl(base, media.attributes.get("control"));
    const fps = Number(media.attributes.get("framerate") ?? sdp.attributes.get("framerate"));
    if (fps > 0) this.fps = fps;
    const dims = /^\s*(\d+)\s*,\s*(\d+)/.exec(media.attributes.get("x-dimensions") ?? "");
    this.#depacketizer = new Rfc2435Depacketizer(
      dims ? { dimensions: { width: Number(dims[1]), height: Number(dims[2]) } } : {},
    );
    return reply;
  }

  /** SETUP with our RTP port (or channels) in the Transport header; DESCRIBE first in standard RTSP. */
  async setup(): Promise<RtspResponse> {
    if (this.dialect === "rtsp" && !this.#depacketizer) await this.describe();
    const port = this.receiver.port;
    const transport = this.dialect === "lab"
      ? `RTP/UDP; client_port= ${port}`
      : this.#options.transport === "tcp"
      ? "RTP/AVP/TCP;unicast;interleaved=0-1"
      : `RTP/AVP;unicast;client_port=${port}-${this.receiver.rtcpPort ?? port + 1}`;
    const reply = this.#expectOk(
      "SETUP",
      await this.rtsp.request("SETUP", this.setupUri ?? this.uri, { Transport: transport }),
    );
    if (this.rtsp.session === undefined) {
      throw new RtspClientError(`The reply to SETUP has no Session header`, reply.status);
    }
    const header = reply.headers.get("transport");
    if (this.dialect === "rtsp" && header) {
      try {
        const [chosen] = parseTransport(header);
        if (chosen?.interleaved) {
          this.#rtcpChannel = chosen.interleaved.end ?? chosen.interleaved.start + 1;
        }
        if (chosen?.serverPort) {
          this.#rtcpPort = chosen.serverPort.end ?? chosen.serverPort.start + 1;
        }
      } catch {
        // A server that writes an odd Transport still streams; RTCP just goes nowhere.
      }
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
   * Receive RTP until a limit is reached, the stream ends (silence, or an
   * RTCP BYE), or the signal aborts.
   *
   * @throws {RtspClientError} when no packet arrives within `firstPacketTimeoutSec`.
   */
  async receive(limits: ReceiveLimits = {}): Promise<ReceiveEnd> {
    let end: ReceiveEnd | undefined;
    try {
      end = await this.#receive(limits);
      return end;
    } finally {
      for (const held of this.#reorder.flush()) this.#reassemble(held.extended, held.packet);
      if (end === "bye" || end === "end-of-stream") {
        // Nothing more will come: a frame still open has lost its last fragment.
        this.#account(this.#depacketizer?.end() ?? []);
      }
      await this.#writes;
    }
  }

  #progressAt = -Infinity;

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
      if (this.#byeAt !== undefined && now - this.#byeAt >= BYE_GRACE_MS) return "bye";
      if (this.stats.started && limits.endAfterSec !== undefined) {
        if (now - lastPacketAt >= limits.endAfterSec * 1000) return "end-of-stream";
      } else if (!this.stats.started && limits.firstPacketTimeoutSec !== undefined) {
        if (now - start >= limits.firstPacketTimeoutSec * 1000) {
          throw new RtspClientError(
            `No RTP arrived ${
              this.receiver.port ? `on UDP port ${this.receiver.port}` : "on the RTSP connection"
            } within ${limits.firstPacketTimeoutSec} s`,
          );
        }
      }
      this.#housekeeping(now);
      let wait = timeoutMs;
      if (limits.durationSec !== undefined) {
        wait = Math.max(1, Math.min(wait, start + limits.durationSec * 1000 - now));
      }
      if (this.#byeAt !== undefined) {
        wait = Math.max(1, Math.min(wait, this.#byeAt + BYE_GRACE_MS - now));
      }
      let datagram = await this.receiver.receive(wait);
      // Then everything already queued, before the checks above run again.
      for (let n = 0; datagram && n < DRAIN_BATCH; n++) {
        if (datagram.rtcp) this.#onRtcp(datagram.data, datagram.at);
        else if (this.#onRtp(datagram.data, datagram.at)) lastPacketAt = datagram.at;
        if (this.#pendingWrites > 64) await this.#writes; // let a slow disk catch up
        if (limits.frames !== undefined && this.stats.framesReceived >= limits.frames) break;
        datagram = n + 1 < DRAIN_BATCH ? this.receiver.take() : undefined;
      }
      if (this.#options.onProgress && now - this.#progressAt >= PROGRESS_INTERVAL_MS) {
        this.#progressAt = now;
        this.#options.onProgress(this.stats.summary());
      }
    }
  }

  /** Standard RTSP: receiver reports every few seconds, and a keep-alive before the timeout. */
  #housekeeping(now: number): void {
    if (this.dialect !== "rtsp" || this.rtsp.session === undefined) return;
    const interval = (this.#options.rtcpIntervalSec ?? 5) * 1000;
    if (this.#ssrc !== undefined && now - this.#lastReportAt >= interval) {
      this.#lastReportAt = now;
      this.#sendRtcp(serializeRtcpCompound([
        {
          type: "rr",
          ssrc: this.#ownSsrc,
          reports: [this.stats.reportBlock(this.#ssrc, now, this.#lastSr)],
        },
        {
          type: "sdes",
          chunks: [{ ssrc: this.#ownSsrc, items: [{ type: 1, text: "rtsp-client" }] }],
        },
      ]));
    }
    const timeout = (this.rtsp.sessionTimeout ?? 60) * 1000;
    if (now - this.rtsp.lastRequestAt >= timeout / 2) {
      const method = this.publicMethods.includes("GET_PARAMETER") ? "GET_PARAMETER" : "OPTIONS";
      this.rtsp.request(method, this.uri).catch(() => {}); // the reply only refreshes
    }
  }

  #sendRtcp(data: Uint8Array): void {
    if (this.#rtcpChannel !== undefined) this.rtsp.sendInterleaved(this.#rtcpChannel, data);
    else if (this.#rtcpPort !== undefined) {
      this.receiver.sendRtcp(data, this.rtsp.remoteAddr.hostname, this.#rtcpPort);
    }
  }

  #onInterleaved(channel: number, data: Uint8Array): void {
    if (this.#rtcpChannel === undefined) this.receiver.deliver(data, channel % 2 === 1);
    else this.receiver.deliver(data, channel === this.#rtcpChannel);
  }

  /** RTCP from the server: sender reports (for LSR/DLSR) and BYE (the end). */
  #onRtcp(data: Uint8Array, at: number): void {
    let packets;
    try {
      packets = parseRtcpPackets(data);
    } catch {
      this.stats.malformed++;
      return;
    }
    for (const packet of packets) {
      if (packet.type === "sr" && (this.#ssrc === undefined || packet.ssrc === this.#ssrc)) {
        this.#lastSr = { ntpMiddle: ntpMiddle(packet.ntpSeconds, packet.ntpFraction), at };
      }
      if (
        packet.type === "bye" && (this.#ssrc === undefined || packet.sources.includes(this.#ssrc))
      ) {
        this.#byeAt ??= at;
      }
    }
  }

  /** Account for one RTP datagram; returns whether it was this session's RTP. */
  #onRtp(data: Uint8Array, at: number): boolean {
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
    // Frames are numbered from the first packet's time, even if that frame is lost.
    this.#firstTimestamp ??= packet.timestamp;
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
    this.#account(events);
  }

  /** Deliver reassembled frames; count the ones that could not be completed. */
  #account(events: DepacketizeEvent[]): void {
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
    this.#firstTimestamp ??= timestamp; // normally set by the first packet already
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
    const recorder = this.#recorder;
    if (!sink && !recorder) return;
    this.#pendingWrites++;
    this.#writes = this.#writes.then(async () => {
      await sink?.write(frameNumber, jpeg);
      await recorder?.write(jpeg);
    }).finally(() => this.#pendingWrites--);
  }

  /** Close the RTSP connection, the RTP receiver and the MJPEG recording. */
  async close(): Promise<void> {
    await this.#writes.catch(() => {});
    await this.#recorder?.close();
    await this.receiver.close();
    await this.rtsp.close();
  }
}
