/**
 * The headless client: the lab's four buttons (SETUP, PLAY, PAUSE, TEARDOWN)
 * over an {@linkcode RtspClient}, in the lab's dialect or in standard RTSP
 * (DESCRIBE, RTP/JPEG over UDP or TCP, RTCP receiver reports, keep-alive),
 * with statistics and verified frames written to a directory or a lab MJPEG
 * file. In standard RTSP it seeks (PLAY with a Range) and numbers frames as
 * the file does, from the PLAY reply's Range and RTP-Info.
 *
 * @module
 */
import { ParseError } from "../../wire/errors.ts";
import { jpegProblem } from "../../wire/jpeg.ts";
import { type DepacketizeEvent, Rfc2435Depacketizer } from "../../wire/rfc2435_depacketizer.ts";
import { ntpMiddle, parseRtcpPackets, serializeRtcpCompound } from "../../wire/rtcp_packet.ts";
import { parseRtpPacket, PAYLOAD_TYPE_JPEG, type RtpPacket } from "../../wire/rtp_packet.ts";
import { parseTransport, serializeTransport } from "../../wire/transport_header.ts";
import { parseRange, serializeRange } from "../../wire/range_header.ts";
import { parseRtpInfo, type RtpInfoEntry } from "../../wire/rtp_info_header.ts";
import type { RtspResponse } from "../../wire/rtsp_message.ts";
import { parseSdp } from "../../wire/sdp.ts";
import { resolveControl } from "../../wire/rtsp_url.ts";
import { type Clock, realClock } from "../../net/clock.ts";
import { FrameSink, MjpegRecorder } from "./frame_sink.ts";
import { FrameNumberer } from "./frame_numberer.ts";
import { ReceptionStats } from "./reception_stats.ts";
import { ReorderBuffer } from "./reorder_buffer.ts";
import { type Datagram, RtpReceiver } from "./rtp_receiver.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import {
  checkPlayRange,
  checkReceiveLimits,
  ClientOptionError,
  type PlayRange,
  type ReceiveLimits,
  resolveClientOptions,
  type ResolvedClientOptions,
  type StreamClientOptions,
} from "./client_options.ts";
import { type Dialect, labTransport } from "../../wire/dialect.ts";

export type {
  ClientDialect,
  PlayRange,
  ReceiveLimits,
  StreamClientOptions,
} from "./client_options.ts";

/** What the last PLAY reply said about the stream (standard RTSP). */
export interface PlayInfo {
  /** Where the stream starts, seconds of normal play time (the reply's Range), when it said. */
  startSec?: number;
  /** Where it stops, when it said. */
  endSec?: number;
  /** Sequence number of the first packet (RTP-Info seq), when it said. */
  seq?: number;
  /** RTP timestamp of the first packet (RTP-Info rtptime), when it said. */
  rtptime?: number;
}

/** Why {@linkcode StreamClient.receive} returned. */
export type ReceiveEnd = "frames" | "duration" | "end-of-stream" | "bye" | "aborted";

/**
 * Most RTP datagrams held while a PLAY awaits its reply (as many as the
 * receive queue takes); beyond it they are accounted as they come.
 */
const MAX_HELD = 65_536;
/** How long to keep reading after an RTCP BYE, for packets that were overtaken. */
const BYE_GRACE_MS = 200;
/** Datagrams handled in a row before the loop checks its limits again. */
const DRAIN_BATCH = 256;
/** Least time between two onProgress calls, in ms. */
const PROGRESS_INTERVAL_MS = 100;

/** A client session: control connection, RTP receiver, statistics, frame sinks. */
export class StreamClient {
  /** The RTSP control connection. */
  readonly rtsp: RtspClient;
  /** Where RTP and RTCP arrive: a UDP port pair, or the RTSP connection. */
  readonly receiver: RtpReceiver;
  /** Reception statistics (RFC 3550 A.3, A.8), across seeks and pauses. */
  readonly stats: ReceptionStats = new ReceptionStats();
  readonly #options: ResolvedClientOptions;
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
  #numberer = new FrameNumberer(undefined);
  #writes: Promise<void> = Promise.resolve();
  #pendingWrites = 0;
  /** Whether the last PLAY succeeded and no PAUSE or TEARDOWN came after it. */
  #playing = false;
  /** Whether a PLAY was sent (and accepted) before. */
  #played = false;
  /** A seek asked for while paused: the next PLAY starts there. */
  #pendingSeek: number | undefined;
  /** Where the last PAUSE reply said the stream stopped, in seconds. */
  #pausedAt: number | undefined;
  /**
   * PLAYs awaiting their reply. Until it comes, RTP is held (not
   * accounted), since which PLAY a packet belongs to, and so its segment
   * and frame number, is known only from the reply's RTP-Info.
   */
  #playsInFlight = 0;
  readonly #held: Datagram[] = [];
  /** When the last RTP datagram arrived (clock ms). */
  #lastRtpAt = -Infinity;
  /** What the last PLAY reply said. */
  playInfo: PlayInfo | undefined;
  /** Number of the first complete frame received, when one was. */
  firstFrameNumber: number | undefined;
  /** Number of the last complete frame received, when one was. */
  lastFrameNumber: number | undefined;

  private constructor(rtsp: RtspClient, receiver: RtpReceiver, options: ResolvedClientOptions) {
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
   * @param given The options; each absent one takes its `CLIENT_DEFAULTS` value.
   * @throws {ClientOptionError} naming an option out of range and its value.
   * @throws {RtspClientError} when the server cannot be reached.
   * @throws {Error} when a port is in use.
   */
  static async open(given: StreamClientOptions): Promise<StreamClient> {
    const options = resolveClientOptions(given);
    const dialect = options.dialect;
    const tcp = options.transport === "tcp";
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
        timeoutMs: this.#options.autoTimeoutMs,
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
    this.#numberer = new FrameNumberer(this.fps);
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
    const tcp = this.#options.transport === "tcp";
    const transport = this.dialect === "lab" ? labTransport(port) : serializeTransport({
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: tcp ? "TCP" : "UDP",
      unicast: true,
      ...tcp
        ? { interleaved: { start: 0, end: 1 } }
        : { clientPort: { start: port, end: this.receiver.rtcpPort ?? port + 1 } },
      extra: [],
    });
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

  /**
   * PLAY: start, resume, or (with a range, standard RTSP only) seek. A seek
   * asked for while paused is sent now, as the range's start. The reply's
   * Range and RTP-Info start a segment of the statistics and tell how to
   * number the frames that follow; the first PLAY starts the
   * time-to-first-frame clock.
   *
   * @param range Where to start and stop, in seconds; absent: resume where the stream is.
   * @returns The reply.
   * @throws {ClientOptionError} for a range out of range, or any range in the lab dialect.
   * @throws {RtspClientError} when the server refuses (457 for a range the
   * stream does not have) or does not answer.
   */
  async play(range: PlayRange = {}): Promise<RtspResponse> {
    const start = range.start ?? this.#pendingSeek;
    const end = range.end;
    const headers: Record<string, string> = {};
    if (start !== undefined || end !== undefined) {
      this.#checkSeekable(range.start !== undefined ? "start" : "end", start ?? end);
      const from = start ?? (this.#played ? this.#pausedAt : 0);
      checkPlayRange({ start: from, end });
      headers.Range = serializeRange({ unit: "npt", start: from, end });
    }
    this.stats.playSentAt ??= this.#clock.now();
    this.#pendingSeek = undefined; // asked for once, whatever the answer
    this.#playsInFlight++;
    let reply: RtspResponse;
    try {
      reply = this.#expectOk("PLAY", await this.rtsp.request("PLAY", this.uri, headers));
      this.#onPlayReply(reply, !this.#played);
      this.#playing = true;
      this.#played = true;
      this.#byeAt = undefined;
    } finally {
      this.#playsInFlight--;
      this.#releaseHeld();
    }
    return reply;
  }

  /**
   * Seek to `sec` seconds: while playing, a PLAY with `Range: npt=sec-`
   * now; otherwise (after SETUP or PAUSE) on the next {@linkcode play}, so
   * that no frame comes before it. Standard RTSP only.
   *
   * @returns The PLAY reply, or `undefined` when the seek waits for the next PLAY.
   * @throws {ClientOptionError} for a negative or non-finite position, or in the lab dialect.
   * @throws {RtspClientError} when the server refuses the PLAY.
   */
  async seek(sec: number): Promise<RtspResponse | undefined> {
    this.#checkSeekable("start", sec);
    checkPlayRange({ start: sec });
    if (this.#playing) return await this.play({ start: sec });
    this.#pendingSeek = sec;
    return undefined;
  }

  /** The lab dialect's PLAY carries no Range. */
  #checkSeekable(option: string, value: unknown): void {
    if (this.dialect === "lab") {
      throw new ClientOptionError(
        option,
        value,
        "left out in the lab dialect, whose PLAY carries no Range (seeking needs standard RTSP)",
      );
    }
  }

  /**
   * Read a PLAY reply's Range and RTP-Info: a new segment, and how to number its frames.
   *
   * @param first Whether this is the first PLAY accepted (its Range start is where the stream started).
   */
  #onPlayReply(reply: RtspResponse, first: boolean): void {
    const info: PlayInfo = {};
    const rangeHeader = reply.headers.get("range");
    if (rangeHeader !== undefined) {
      try {
        const range = parseRange(rangeHeader);
        if (range.unit === "npt") {
          if (typeof range.start === "number") info.startSec = range.start;
          if (range.end !== undefined) info.endSec = range.end;
        }
      } catch (error) {
        if (!(error instanceof ParseError)) throw error;
        // An odd Range still streams; frames are then numbered without it.
      }
    }
    const entry = this.#rtpInfoEntry(reply.headers.get("rtp-info"));
    if (entry?.seq !== undefined) info.seq = entry.seq;
    if (entry?.rtptime !== undefined) info.rtptime = entry.rtptime;
    this.playInfo = info;
    // The lab's PLAY has no Range, and its first PLAY always starts at the first frame.
    if (first) this.stats.startSec = info.startSec ?? (this.dialect === "lab" ? 0 : undefined);
    this.stats.beginSegment(info.seq);
    if (info.seq !== undefined && info.rtptime !== undefined && info.startSec !== undefined) {
      this.#numberer.addPlay({
        sequence: this.stats.extend(info.seq),
        rtptime: info.rtptime,
        startSec: info.startSec,
      });
    }
  }

  /** This stream's entry of an RTP-Info header: the one for the SETUP URL, or the only one. */
  #rtpInfoEntry(header: string | undefined): RtpInfoEntry | undefined {
    if (header === undefined) return undefined;
    let entries;
    try {
      entries = parseRtpInfo(header);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      return undefined;
    }
    const url = this.setupUri ?? this.uri;
    return entries.find((e) => e.url === url) ?? (entries.length === 1 ? entries[0] : undefined);
  }

  /** Where the last PAUSE reply said the stream stopped, in seconds, when it said. */
  get pausedAtSec(): number | undefined {
    return this.#pausedAt;
  }

  /** PAUSE; the reply's Range (where the stream stopped) is where a later PLAY resumes. */
  async pause(): Promise<RtspResponse> {
    const reply = this.#expectOk("PAUSE", await this.rtsp.request("PAUSE", this.uri));
    this.#playing = false;
    const header = reply.headers.get("range");
    this.#pausedAt = undefined;
    if (header !== undefined) {
      try {
        const range = parseRange(header);
        if (range.unit === "npt" && typeof range.start === "number") this.#pausedAt = range.start;
      } catch (error) {
        if (!(error instanceof ParseError)) throw error;
      }
    }
    return reply;
  }

  /** TEARDOWN. */
  async teardown(): Promise<RtspResponse> {
    const reply = this.#expectOk("TEARDOWN", await this.rtsp.request("TEARDOWN", this.uri));
    this.#playing = false;
    return reply;
  }

  /** Account for the RTP held while a PLAY awaited its reply, once none does. */
  #releaseHeld(): void {
    if (this.#playsInFlight > 0) return;
    for (const datagram of this.#held.splice(0)) this.#onRtp(datagram.data, datagram.at);
  }

  /**
   * Receive RTP until a limit is reached, the stream ends (silence, or an
   * RTCP BYE), or the signal aborts.
   *
   * @throws {ClientOptionError} naming a limit out of range and its value.
   * @throws {RtspClientError} when no packet arrives within `firstPacketTimeoutSec`.
   */
  async receive(limits: ReceiveLimits = {}): Promise<ReceiveEnd> {
    checkReceiveLimits(limits);
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
    const timeoutMs = this.#options.receiveTimeoutMs;
    for (;;) {
      const lastPacketAt = Math.max(start, this.#lastRtpAt);
      const now = this.#clock.now();
      // Closed (close() while receiving): a wait would return at once, forever.
      if (limits.signal?.aborted || this.receiver.closed) return "aborted";
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
        else if (this.#playsInFlight > 0 && this.#held.length < MAX_HELD) {
          this.#held.push(datagram);
          this.#lastRtpAt = datagram.at;
        } else if (this.#onRtp(datagram.data, datagram.at)) this.#lastRtpAt = datagram.at;
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
    const interval = this.#options.rtcpIntervalSec * 1000;
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
    // Without RTP-Info, frames are numbered from the first packet's time, even if that frame is lost.
    this.#numberer.firstTimestamp ??= packet.timestamp;
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
    this.#account(events, extended);
  }

  /**
   * Deliver reassembled frames; count the ones that could not be completed.
   *
   * @param sequence Extended sequence number of the packet that completed them.
   */
  #account(events: DepacketizeEvent[], sequence = Infinity): void {
    for (const event of events) {
      if (event.kind === "frame") {
        this.#deliver(this.#numberer.frameNumber(sequence, event.timestamp), event.jpeg);
      } else {
        this.stats.framesIncomplete++;
        if (this.damaged.length < 20) {
          this.damaged.push(`frame at RTP time ${event.timestamp}: ${event.reason}`);
        }
      }
    }
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
    this.firstFrameNumber ??= frameNumber;
    this.lastFrameNumber = frameNumber;
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
