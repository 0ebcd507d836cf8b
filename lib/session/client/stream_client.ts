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
import { PAYLOAD_TYPE_JPEG } from "../../wire/rtp_packet.ts";
import { parseTransport, serializeTransport } from "../../wire/transport_header.ts";
import { serializeRange } from "../../wire/range_header.ts";
import type { RtspResponse } from "../../wire/rtsp_message.ts";
import { parseSdp } from "../../wire/sdp.ts";
import { resolveControl } from "../../wire/rtsp_url.ts";
import { type Clock, realClock } from "../../net/clock.ts";
import { ClientRtcp } from "./client_rtcp.ts";
import { FrameAssembler } from "./frame_assembler.ts";
import { type PlayInfo, readPauseReply, readPlayReply } from "./play_reply.ts";
import { type ReceiveEnd, ReceiveLoop } from "./receive_loop.ts";
import { ReceptionStats } from "./reception_stats.ts";
import { RtpReceiver } from "./rtp_receiver.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import {
  checkPlayRange,
  checkReceiveLimits,
  ClientOptionError,
  type ClientTransport,
  type PlayRange,
  type ReceiveLimits,
  resolveClientOptions,
  type ResolvedClientOptions,
  type StreamClientOptions,
} from "./client_options.ts";
import { type Dialect, labTransport } from "../../wire/dialect.ts";
import type { FrameLogSnapshot } from "./frame_log.ts";
import { ClientAuthenticator } from "./client_auth.ts";
import { displayUrl, isRtspUrl, parseClientUrl } from "./client_url.ts";

export type { PlayInfo } from "./play_reply.ts";
export type { ReceiveEnd } from "./receive_loop.ts";
export type {
  ClientDialect,
  PlayRange,
  ReceiveLimits,
  StreamClientOptions,
} from "./client_options.ts";

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
  readonly #frames: FrameAssembler;
  readonly #rtcp: ClientRtcp;
  /** The URL SETUP goes to (the track's control URL after DESCRIBE). */
  setupUri: string | undefined;
  /** Frames per second announced in the SDP, used to number frames by timestamp. */
  fps: number | undefined;
  /** Methods the server listed in its OPTIONS reply. */
  publicMethods: string[] = [];
  /** The session description the DESCRIBE reply carried (standard RTSP), as text. */
  sdp: string | undefined;
  /** Where RTCP goes: the server's RTCP port, or our interleaved RTCP channel. */
  #rtcpPort: number | undefined;
  #rtcpChannel: number | undefined;
  /** Whether DESCRIBE announced RTP/JPEG (standard RTSP). */
  #described = false;
  /** Whether the last PLAY succeeded and no PAUSE or TEARDOWN came after it. */
  #playing = false;
  /** Whether a PLAY was sent (and accepted) before. */
  #played = false;
  /** A seek asked for while paused: the next PLAY starts there. */
  #pendingSeek: number | undefined;
  /** Where the last PAUSE reply said the stream stopped, in seconds. */
  #pausedAt: number | undefined;
  readonly #loop: ReceiveLoop;
  /** What the last PLAY reply said. */
  playInfo: PlayInfo | undefined;

  private constructor(rtsp: RtspClient, receiver: RtpReceiver, options: ResolvedClientOptions) {
    this.rtsp = rtsp;
    this.receiver = receiver;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#frames = new FrameAssembler({
      stats: this.stats,
      outDir: options.outDir,
      mjpegFile: options.mjpegFile,
      thumbnails: options.thumbnails,
    });
    this.#rtcp = new ClientRtcp({ stats: this.stats, send: (packet) => this.#sendRtcp(packet) });
    this.#loop = new ReceiveLoop({
      clock: this.#clock,
      receiver,
      stats: this.stats,
      frames: this.#frames,
      rtcp: this.#rtcp,
      receiveTimeoutMs: options.receiveTimeoutMs,
      onProgress: options.onProgress,
      housekeeping: (now) => this.#housekeeping(now),
    });
  }

  /** Frames refused and why (the first few), for reporting. */
  get damaged(): readonly string[] {
    return this.#frames.damaged;
  }

  /** Packets from SSRCs other than the session's that reached our port. */
  get foreignPackets(): number {
    return this.#frames.foreignPackets;
  }

  /**
   * Thumbnails (with the `thumbnails` option) and the frames missing,
   * incomplete or damaged, by frame number, for a report.
   */
  frameLog(): FrameLogSnapshot {
    return this.#frames.log.snapshot();
  }

  /** Number of the first complete frame received, when one was. */
  get firstFrameNumber(): number | undefined {
    return this.#frames.firstFrameNumber;
  }

  /** Number of the last complete frame received, when one was. */
  get lastFrameNumber(): number | undefined {
    return this.#frames.lastFrameNumber;
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
      const auth = options.username === undefined ? undefined : new ClientAuthenticator(
        { username: options.username, password: options.password ?? "" },
        { secure: options.tls, allowBasic: options.allowBasic },
      );
      const rtsp = await RtspClient.connect(options.host, options.port, {
        dialect: dialect === "lab" ? "lab" : "rtsp",
        replyTimeoutMs: options.replyTimeoutMs,
        clock: options.clock,
        tls: options.tls,
        caCerts: options.caCerts,
        auth,
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

  /**
   * The request URL: the lab's bare name, or `rtsp://host:port/name`; a URL
   * resource as given, without its userinfo (which never goes on the wire).
   */
  get uri(): string {
    const { resource, host, port } = this.#options;
    if (isRtspUrl(resource)) return parseClientUrl(resource).uri;
    if (this.dialect === "lab") return resource;
    const hostPart = host.includes(":") ? `[${host}]` : host;
    return `rtsp://${hostPart}:${port}/${resource.replace(/^\/+/, "")}`;
  }

  /**
   * The request URL as it may be shown: with the user name, when there is
   * one, and never a password (`rtsp://name@host:8554/cam`).
   */
  get displayUri(): string {
    return displayUrl(this.uri, this.#options.username);
  }

  /** How RTP arrives: over UDP, or interleaved on the RTSP connection (`tcp`). */
  get transport(): ClientTransport {
    return this.#options.transport;
  }

  /** Whether the RTSP connection is TLS (`rtsps://`). */
  get tls(): boolean {
    return this.#options.tls;
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
    const text = new TextDecoder().decode(reply.body);
    try {
      sdp = parseSdp(text);
    } catch (error) {
      throw new RtspClientError(
        `The DESCRIBE reply is not SDP: ${error instanceof Error ? error.message : error}`,
      );
    }
    const media = sdp.media.find((m) =>
      m.type === "video" && m.formats.includes(PAYLOAD_TYPE_JPEG)
    );
    if (!media) throw new RtspClientError(`${this.uri} has no JPEG video (payload type 26)`);
    this.sdp = text;
    const base = reply.headers.get("content-base") ?? reply.headers.get("content-location") ??
      this.uri;
    this.setupUri = resolveControl(base, media.attributes.get("control"));
    const fps = Number(media.attributes.get("framerate") ?? sdp.attributes.get("framerate"));
    if (fps > 0) this.fps = fps;
    const dims = /^\s*(\d+)\s*,\s*(\d+)/.exec(media.attributes.get("x-dimensions") ?? "");
    this.#frames.expectRtpJpeg(
      this.fps,
      dims ? { dimensions: { width: Number(dims[1]), height: Number(dims[2]) } } : {},
    );
    this.#described = true;
    return reply;
  }

  /** SETUP with our RTP port (or channels) in the Transport header; DESCRIBE first in standard RTSP. */
  async setup(): Promise<RtspResponse> {
    if (this.dialect === "rtsp" && !this.#described) await this.describe();
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
    const release = this.#loop.holdForPlay();
    let reply: RtspResponse;
    try {
      reply = this.#expectOk("PLAY", await this.rtsp.request("PLAY", this.uri, headers));
      this.#onPlayReply(reply, !this.#played);
      this.#playing = true;
      this.#played = true;
      this.#rtcp.byeAt = undefined;
    } finally {
      release();
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
    const info = readPlayReply(reply, this.setupUri ?? this.uri);
    this.playInfo = info;
    // The lab's PLAY has no Range, and its first PLAY always starts at the first frame.
    if (first) this.stats.startSec = info.startSec ?? (this.dialect === "lab" ? 0 : undefined);
    this.stats.beginSegment(info.seq);
    this.#frames.log.beginSegment();
    if (info.seq !== undefined && info.rtptime !== undefined && info.startSec !== undefined) {
      this.#frames.numberer.addPlay({
        sequence: this.stats.extend(info.seq),
        rtptime: info.rtptime,
        startSec: info.startSec,
      });
    }
  }

  /** Where the last PAUSE reply said the stream stopped, in seconds, when it said. */
  get pausedAtSec(): number | undefined {
    return this.#pausedAt;
  }

  /** PAUSE; the reply's Range (where the stream stopped) is where a later PLAY resumes. */
  async pause(): Promise<RtspResponse> {
    const reply = this.#expectOk("PAUSE", await this.rtsp.request("PAUSE", this.uri));
    this.#playing = false;
    this.#pausedAt = readPauseReply(reply);
    return reply;
  }

  /**
   * TEARDOWN. After the server's RTCP BYE, a 454 (Session Not Found) counts
   * as done: the server may have ended the session itself (a live stream
   * whose publisher left ends its readers' sessions).
   */
  async teardown(): Promise<RtspResponse> {
    const reply = await this.rtsp.request("TEARDOWN", this.uri);
    if (reply.status === 454 && this.#rtcp.byeAt !== undefined) {
      this.#playing = false;
      return reply;
    }
    this.#expectOk("TEARDOWN", reply);
    this.#playing = false;
    return reply;
  }

  /**
   * Receive RTP until a limit is reached, the stream ends (silence, or an
   * RTCP BYE), or the signal aborts.
   *
   * @throws {ClientOptionError} naming a limit out of range and its value.
   * @throws {RtspClientError} when no packet arrives within `firstPacketTimeoutSec`.
   */
  receive(limits: ReceiveLimits = {}): Promise<ReceiveEnd> {
    checkReceiveLimits(limits);
    return this.#loop.run(limits);
  }

  /** Standard RTSP: receiver reports every few seconds, and a keep-alive before the timeout. */
  #housekeeping(now: number): void {
    if (this.dialect !== "rtsp" || this.rtsp.session === undefined) return;
    const ssrc = this.#frames.ssrc;
    if (ssrc !== undefined) this.#rtcp.reportIfDue(now, ssrc, this.#options.rtcpIntervalSec * 1000);
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

  /** Close the RTSP connection, the RTP receiver and the MJPEG recording. */
  async close(): Promise<void> {
    await this.#frames.close();
    await this.receiver.close();
    await this.rtsp.close();
  }
}
