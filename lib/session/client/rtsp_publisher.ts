/**
 * The client as a publisher (RFC 2326 §10.3 ANNOUNCE, §10.11 RECORD), as
 * `ffmpeg -re -i file -f rtsp URL` is: a lab MJPEG file pushed as RTP/JPEG
 * (RFC 2435) to an RTSP server that takes streams (gst-rtsp-server in
 * RECORD mode, MediaMTX, ...).
 *
 * OPTIONS, then ANNOUNCE with the SDP of one JPEG video track
 * (`a=control:streamid=0`), SETUP of `<url>/streamid=0` with
 * `mode=record` (UDP from our even/odd port pair to the server's
 * `server_port`, or interleaved on the RTSP connection), RECORD with
 * `Range: npt=0.000-`, then the frames, paced at the frame rate (see
 * `publish_sender.ts`), and TEARDOWN after an RTCP BYE. Requests go through
 * the player's {@linkcode RtspClient}: CSeq, Session, and a 401 answered
 * once with Digest (or Basic over TLS) credentials.
 *
 * @module
 */
import { realClock, sleep, type TimerHandle } from "../../net/clock.ts";
import {
  loadMjpegSource,
  type MjpegSource,
  type RtpJpegPayloads,
  rtpJpegPayloads,
} from "../../media/mjpeg_source.ts";
import { createResponse, type RtspResponse } from "../../wire/rtsp_message.ts";
import { serializeJpegSdp } from "../../wire/sdp.ts";
import { serializeRange } from "../../wire/range_header.ts";
import { ClientAuthenticator } from "./client_auth.ts";
import type { ClientTransport } from "./client_options.ts";
import { displayUrl } from "./client_url.ts";
import { RtspClient, RtspClientError } from "./rtsp_client.ts";
import {
  checkPublishLimits,
  maxPayloadOf,
  type PublisherOptions,
  type PublishLimits,
  type ResolvedPublisherOptions,
  resolvePublisherOptions,
} from "./publish_options.ts";
import { type PublishEnd, PublishSender, type PublishSummary } from "./publish_sender.ts";
import { PublishTransport, type RtpRtcpPair } from "./publish_transport.ts";

export type { PublisherOptions, PublishLimits } from "./publish_options.ts";
export { formatPublishSummary, type PublishEnd, type PublishSummary } from "./publish_sender.ts";
export type { RtpRtcpPair } from "./publish_transport.ts";

/** The control of the one track we announce; SETUP goes to `<url>/streamid=0`. */
export const PUBLISH_CONTROL = "streamid=0";

/** The file a publisher sends. */
export interface PublishedFile {
  /** Its path, as given. */
  path: string;
  /** Frames in one pass. */
  frames: number;
  /** Picture width of the first frame, in pixels. */
  width: number;
  /** Picture height of the first frame, in pixels. */
  height: number;
  /** JPEG bytes in one pass. */
  bytes: number;
  /** Frames converted to a form RFC 2435 carries (baseline 4:2:0, standard tables). */
  converted: number;
}

/**
 * Publishes one lab MJPEG file to an RTSP server.
 *
 * @example Publish a file twice over, then stop
 * ```ts
 * import { formatPublishSummary, RtspPublisher } from "./mod.ts";
 *
 * const publisher = await RtspPublisher.open({
 *   url: "rtsp://127.0.0.1:8554/live/cam",
 *   file: "video.mjpeg",
 *   fps: 20,
 *   transport: "tcp",
 *   loop: true,
 * });
 * try {
 *   await publisher.run({ frames: 400 }); // ANNOUNCE, SETUP, RECORD, 400 frames, TEARDOWN
 *   console.log(formatPublishSummary(publisher.summary()));
 * } finally {
 *   await publisher.close();
 * }
 * ```
 */
export class RtspPublisher {
  /** The RTSP control connection. */
  readonly rtsp: RtspClient;
  /** The file being published, validated. */
  readonly file: PublishedFile;
  /** The SDP the ANNOUNCE carries. */
  readonly sdp: string;
  readonly #options: ResolvedPublisherOptions;
  readonly #transport: PublishTransport;
  readonly #sender: PublishSender;
  /** Methods the server listed in its OPTIONS reply. */
  publicMethods: string[] = [];
  #recording = false;
  #tornDown = false;

  private constructor(
    rtsp: RtspClient,
    source: MjpegSource,
    payloads: RtpJpegPayloads,
    transport: PublishTransport,
    options: ResolvedPublisherOptions,
  ) {
    this.rtsp = rtsp;
    this.file = {
      path: source.path,
      frames: source.frames.length,
      width: source.width,
      height: source.height,
      bytes: source.totalBytes,
      converted: payloads.converted,
    };
    this.#transport = transport;
    this.#options = options;
    this.#sender = new PublishSender({
      frames: payloads.frames,
      fps: options.fps,
      loop: options.loop,
      output: transport,
      clock: options.clock ?? realClock,
      rtcpIntervalMs: options.rtcpIntervalSec * 1000,
    });
    const local = rtsp.localAddr.hostname;
    this.sdp = serializeJpegSdp({
      sessionId: String(Math.floor(Date.now() / 1000)),
      origin: local,
      name: source.path.split(/[\\/]/).pop() ?? "",
      fps: options.fps,
      width: source.width,
      height: source.height,
      control: PUBLISH_CONTROL,
    });
  }

  /**
   * Read and check the file (cut into RTP/JPEG payloads, any frame RFC 2435
   * cannot carry converted), connect to the server, and bind the UDP port
   * pair RTP and RTCP leave from (UDP only).
   *
   * @throws {ClientOptionError} naming an option out of range and its value.
   * @throws {LabMjpegError} for a file that is not lab MJPEG, naming the frame.
   * @throws {Deno.errors.NotFound} when the file does not exist.
   * @throws {RtspClientError} when the server cannot be reached.
   */
  static async open(given: PublisherOptions): Promise<RtspPublisher> {
    const options = resolvePublisherOptions(given);
    const source = await loadMjpegSource(options.file);
    const payloads = await rtpJpegPayloads(source, maxPayloadOf(options.maxPacketSize));
    const auth = options.username === undefined ? undefined : new ClientAuthenticator(
      { username: options.username, password: options.password ?? "" },
      { secure: options.tls, allowBasic: options.allowBasic },
    );
    let transport: PublishTransport | undefined;
    const rtsp = await RtspClient.connect(options.host, options.port, {
      replyTimeoutMs: options.replyTimeoutMs,
      clock: options.clock,
      tls: options.tls,
      caCerts: options.caCerts,
      auth,
      onInterleaved: (frame) => transport?.onInterleaved(frame.channel),
      onRequest: (request) => {
        const cseq = request.headers.get("cseq") ?? "0";
        // A keep-alive from the server is answered; anything else is not done here.
        return ["OPTIONS", "GET_PARAMETER"].includes(request.method)
          ? createResponse(200, { CSeq: cseq })
          : createResponse(501, { CSeq: cseq });
      },
    });
    try {
      transport = PublishTransport.open(rtsp, options.transport);
      return new RtspPublisher(rtsp, source, payloads, transport, options);
    } catch (error) {
      await transport?.close();
      await rtsp.close();
      throw error;
    }
  }

  /** The URL published to, without userinfo (the request URI). */
  get uri(): string {
    return this.#options.uri;
  }

  /** The URL as it may be shown: with the user name, never a password. */
  get displayUri(): string {
    return displayUrl(this.uri, this.#options.username);
  }

  /** The URL of the track, which SETUP names. */
  get setupUri(): string {
    return `${this.uri.replace(/\/+$/, "")}/${PUBLISH_CONTROL}`;
  }

  /** How RTP goes to the server. */
  get transport(): ClientTransport {
    return this.#transport.kind;
  }

  /** Whether the RTSP connection is TLS (`rtsps://`). */
  get tls(): boolean {
    return this.#options.tls;
  }

  /** The SSRC of the stream. */
  get ssrc(): number {
    return this.#sender.ssrc;
  }

  /** Our RTP and RTCP ports (UDP only). */
  get clientPorts(): RtpRtcpPair | undefined {
    return this.#transport.clientPorts;
  }

  /** The server's RTP and RTCP ports (UDP), once SETUP was accepted. */
  get serverPorts(): RtpRtcpPair | undefined {
    return this.#transport.serverPorts;
  }

  /** The interleaved RTP and RTCP channels (TCP), once SETUP was accepted. */
  get channels(): RtpRtcpPair | undefined {
    return this.#transport.channels;
  }

  /** RTCP packets (compound) that came from the server. */
  get rtcpReceived(): number {
    return this.#transport.rtcpReceived;
  }

  #expectOk(method: string, uri: string, reply: RtspResponse): RtspResponse {
    if (reply.status !== 200) {
      throw new RtspClientError(
        `${method} ${uri} was refused: ${reply.status} ${reply.reason}`,
        reply.status,
      );
    }
    return reply;
  }

  /**
   * OPTIONS (which methods the server has; a refusal is no error), then
   * ANNOUNCE with the SDP.
   *
   * @throws {RtspClientError} when the server refuses the ANNOUNCE or does not answer.
   */
  async announce(): Promise<RtspResponse> {
    const options = await this.rtsp.request("OPTIONS", this.uri);
    if (options.status === 200) {
      this.publicMethods = (options.headers.get("public") ?? "").split(",").map((m) => m.trim());
    }
    return this.#expectOk(
      "ANNOUNCE",
      this.uri,
      await this.rtsp.request("ANNOUNCE", this.uri, { "Content-Type": "application/sdp" }, {
        body: this.sdp,
      }),
    );
  }

  /**
   * SETUP of the track with `mode=record`: our RTP and RTCP ports (UDP) or
   * interleaved channels 0-1 (TCP); the reply's `server_port` (UDP), or
   * channels, say where packets go.
   *
   * @throws {RtspClientError} when the server refuses, gives no Session, or
   * (UDP) no `server_port`.
   */
  async setup(): Promise<RtspResponse> {
    const uri = this.setupUri;
    const reply = this.#expectOk(
      "SETUP",
      uri,
      await this.rtsp.request("SETUP", uri, { Transport: this.#transport.setupHeader() }),
    );
    if (this.rtsp.session === undefined) {
      throw new RtspClientError("The reply to SETUP has no Session header", reply.status);
    }
    this.#transport.accept(reply);
    return reply;
  }

  /**
   * RECORD with `Range: npt=0.000-`: the server takes the stream from now.
   *
   * @throws {RtspClientError} when the server refuses it.
   */
  async record(): Promise<RtspResponse> {
    const reply = this.#expectOk(
      "RECORD",
      this.uri,
      await this.rtsp.request("RECORD", this.uri, {
        Range: serializeRange({ unit: "npt", start: 0 }),
      }),
    );
    this.#recording = true;
    return reply;
  }

  /**
   * Send the frames, paced at the frame rate, until the file ends (without
   * `loop`), a limit is reached, the signal aborts, or the server closes the
   * connection (`closed`; {@linkcode RtspPublisher.failure} says why). A
   * keep-alive (GET_PARAMETER when the server lists it, else OPTIONS) goes
   * at half the session timeout.
   *
   * @throws {ClientOptionError} naming a limit out of range.
   * @throws {RtspClientError} before a RECORD was accepted.
   */
  async publish(limits: PublishLimits = {}): Promise<PublishEnd> {
    checkPublishLimits(limits);
    if (!this.#recording) {
      throw new RtspClientError("Cannot publish before the server accepted RECORD");
    }
    const clock = this.#options.clock ?? realClock;
    let timer: TimerHandle | undefined;
    const keepAlive = () => {
      const timeout = (this.rtsp.sessionTimeout ?? 60) * 1000;
      if (!this.rtsp.ended && clock.now() - this.rtsp.lastRequestAt >= timeout / 2) {
        const method = this.publicMethods.includes("GET_PARAMETER") ? "GET_PARAMETER" : "OPTIONS";
        this.rtsp.request(method, this.uri).catch(() => {}); // the reply only refreshes
      }
      timer = clock.setTimeout(keepAlive, 1000);
    };
    timer = clock.setTimeout(keepAlive, 1000);
    try {
      return await this.#sender.run(limits);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  }

  /** Stop a running {@linkcode RtspPublisher.publish} (it returns `aborted`). */
  stop(): void {
    this.#sender.stop();
  }

  /** Why sending failed, when publishing ended `closed` because of an error. */
  get failure(): string | undefined {
    return this.#sender.failure;
  }

  /**
   * An RTCP BYE (after a last sender report), then TEARDOWN, once; nothing
   * when no session was set up or the connection has ended. Over UDP both
   * wait a frame period (100 ms at most) after the last frame, which TEARDOWN
   * on the RTSP connection could otherwise overtake.
   *
   * @throws {RtspClientError} when the server refuses it or does not answer.
   */
  async teardown(): Promise<RtspResponse | undefined> {
    if (this.#tornDown || this.rtsp.session === undefined || this.rtsp.ended) return undefined;
    this.#tornDown = true;
    this.#recording = false;
    if (this.transport === "udp" && this.#sender.summary().framesSent > 0) {
      // The last frame's datagrams are still on their way while TEARDOWN would go on TCP:
      // give them the time of a frame (at most 100 ms) so that TEARDOWN cannot overtake them.
      await sleep(Math.min(1000 / this.#options.fps, 100), this.#options.clock ?? realClock);
    }
    this.#sender.bye("end of stream");
    return this.#expectOk("TEARDOWN", this.uri, await this.rtsp.request("TEARDOWN", this.uri));
  }

  /**
   * The whole exchange: ANNOUNCE, SETUP, RECORD, publish until a limit or
   * the end, TEARDOWN (also when publishing failed, if a session was set up).
   *
   * @returns Why publishing stopped.
   */
  async run(limits: PublishLimits = {}): Promise<PublishEnd> {
    checkPublishLimits(limits);
    let end: PublishEnd;
    try {
      await this.announce();
      await this.setup();
      await this.record();
      end = await this.publish(limits);
    } catch (error) {
      await this.teardown().catch(() => {});
      throw error;
    }
    await this.teardown();
    return end;
  }

  /** What was sent so far. */
  summary(): PublishSummary {
    return this.#sender.summary();
  }

  /** Stop publishing, and close the UDP ports and the RTSP connection (no TEARDOWN). */
  async close(): Promise<void> {
    this.#sender.stop();
    await this.#transport.close();
    await this.rtsp.close();
  }
}
