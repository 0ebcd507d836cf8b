/**
 * Test helpers for live paths (not a test file itself): a raw publisher
 * (ANNOUNCE, SETUP mode=record over interleaved TCP or UDP, RECORD, then RTP
 * it cuts from a lab MJPEG file with the library's RFC 2435 packetizer) and a
 * raw reader (SETUP over UDP, PLAY) that keeps every datagram, so the tests
 * can check what reached a reader packet by packet.
 *
 * Every write on a publisher's connection goes through one queue, so an
 * interleaved frame is never cut by a request. Every wait is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseMjpegSource, rtpJpegPayloads } from "../lib/media/mjpeg_source.ts";
import { parseRtcpPackets } from "../lib/wire/rtcp_packet.ts";
import { serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import { concat } from "./_helpers.ts";
import {
  type Datagram,
  paramsOf,
  parseReply,
  RawConn,
  type Reply,
  req,
  rtpView,
  sessionIdOf,
  type SinkPair,
  sinkPair,
  sleep,
} from "./_raw_rtsp.ts";
import { PROJECT_ROOT } from "./_server.ts";

/** video.mjpeg: its JPEGs, and each cut into RFC 2435 payloads (1388 bytes at most). */
export interface LiveMedia {
  frames: readonly Uint8Array[];
  payloads: readonly (readonly Uint8Array[])[];
}

let media: Promise<LiveMedia> | undefined;

/** video.mjpeg's frames and their RFC 2435 payloads, read once. */
export function liveMedia(): Promise<LiveMedia> {
  media ??= (async () => {
    const path = `${PROJECT_ROOT}/video.mjpeg`;
    const source = parseMjpegSource(await Deno.readFile(path), path);
    const payloads = await rtpJpegPayloads(source, 1388);
    assert.equal(payloads.converted, 0, "video.mjpeg needs no conversion for RFC 2435");
    return { frames: source.frames, payloads: payloads.frames };
  })();
  return media;
}

/** The key of a frame's payloads (their bytes, concatenated with lengths). */
export function payloadsKey(payloads: readonly Uint8Array[]): string {
  let hash = 0x811c9dc5;
  let length = 0;
  for (const p of payloads) {
    length += p.length;
    hash = Math.imul(hash ^ p.length, 0x01000193);
    for (let i = 0; i < p.length; i++) hash = Math.imul(hash ^ p[i], 0x01000193);
  }
  return `${payloads.length}:${length}:${hash >>> 0}`;
}

/** An SDP of one RTP/JPEG track (what a publisher ANNOUNCEs). */
export function jpegSdp(fps = 20, control = "streamid=0"): string {
  return [
    "v=0",
    "o=- 1 1 IN IP4 127.0.0.1",
    "s=live test",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    "m=video 0 RTP/AVP 26",
    "a=rtpmap:26 JPEG/90000",
    `a=framerate:${fps}`,
    `a=control:${control}`,
    "",
  ].join("\r\n");
}

/** An ANNOUNCE request carrying `sdp`. */
export function announceRequest(
  url: string,
  sdp: string,
  cseq: number,
  contentType = "application/sdp",
): Uint8Array {
  const body = new TextEncoder().encode(sdp);
  return concat(
    `ANNOUNCE ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`,
    body,
  );
}

/** Options for {@linkcode LivePublisher.open}. */
export interface LivePublisherOptions {
  /** The server's RTSP port on 127.0.0.1. */
  port: number;
  /** The path to publish, e.g. `live/cam`. */
  path: string;
  /** Interleaved on the RTSP connection, or UDP to the server's port. */
  transport: "tcp" | "udp";
  /** The frame rate announced (a=framerate). @default {20} */
  fps?: number;
}

/** A publisher made of raw RTSP and the library's packetizer. */
export class LivePublisher implements AsyncDisposable {
  readonly conn: RawConn;
  readonly url: string;
  readonly media: LiveMedia;
  readonly fps: number;
  readonly ssrc = (Math.random() * 0x1_0000_0000) >>> 0;
  session = "";
  /** Frames sent whole, and packets sent. */
  framesSent = 0;
  packetsSent = 0;
  /** When the last datagram went out (performance.now()). */
  lastSentAt = 0;
  #sequence = (Math.random() * 0x10000) >>> 0;
  #timestamp = (Math.random() * 0x1_0000_0000) >>> 0;
  #cseq = 1;
  #writes: Promise<void> = Promise.resolve();
  #transport: "tcp" | "udp";
  #udp: Deno.DatagramConn | undefined;
  #serverRtpPort = 0;
  #closed = false;

  private constructor(conn: RawConn, options: LivePublisherOptions, media: LiveMedia) {
    this.conn = conn;
    this.url = `rtsp://127.0.0.1:${options.port}/${options.path}`;
    this.media = media;
    this.fps = options.fps ?? 20;
    this.#transport = options.transport;
  }

  /** Connect and ANNOUNCE; unless `announceOnly`, SETUP (mode=record) and RECORD too. */
  static async open(
    options: LivePublisherOptions & { announceOnly?: boolean },
  ): Promise<LivePublisher> {
    const conn = await RawConn.connect(options.port);
    const publisher = new LivePublisher(conn, options, await liveMedia());
    try {
      const announced = await publisher.announce();
      assert.equal(announced.status, 200, `ANNOUNCE: ${announced.raw}`);
      if (!options.announceOnly) {
        await publisher.setup();
        const recorded = await publisher.request("RECORD", publisher.url, { Range: "npt=0-" });
        assert.equal(recorded.status, 200, `RECORD: ${recorded.raw}`);
      }
    } catch (error) {
      await publisher.close();
      throw error;
    }
    return publisher;
  }

  /** ANNOUNCE this publisher's SDP (or `sdp`). */
  announce(sdp = jpegSdp(this.fps)): Promise<Reply> {
    return this.#exchange(announceRequest(this.url, sdp, this.#cseq++));
  }

  /** SETUP with mode=record over this publisher's transport. */
  async setup(): Promise<Reply> {
    let transport = "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record";
    if (this.#transport === "udp") {
      this.#udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
      const port = (this.#udp.addr as Deno.NetAddr).port;
      transport = `RTP/AVP/UDP;unicast;client_port=${port}-${port + 1};mode=record`;
    }
    const reply = await this.request("SETUP", `${this.url}/streamid=0`, { Transport: transport });
    assert.equal(reply.status, 200, `SETUP: ${reply.raw}`);
    this.session = sessionIdOf(reply);
    const params = paramsOf(reply.headers.get("transport") ?? "");
    assert.match(params.get("mode") ?? "", /^"?record"?$/i, reply.raw);
    if (this.#transport === "udp") {
      const serverPort = params.get("server_port");
      assert.ok(serverPort, `a server_port in ${reply.raw}`);
      this.#serverRtpPort = Number(serverPort.split("-")[0]);
    }
    return reply;
  }

  /** Send a request (with CSeq, and the Session once there is one) and read its reply. */
  request(method: string, uri: string, headers: Record<string, string> = {}): Promise<Reply> {
    const all: Record<string, string | number> = { CSeq: this.#cseq++, ...headers };
    if (this.session) all.Session = this.session;
    return this.#exchange(new TextEncoder().encode(req(method, uri, all)));
  }

  async #exchange(bytes: Uint8Array): Promise<Reply> {
    await this.#write(bytes);
    return parseReply(await this.conn.readReply(3000));
  }

  /** Queue `bytes` on the RTSP connection (after every write queued before). */
  #write(bytes: Uint8Array): Promise<void> {
    const next = this.#writes.then(() => this.conn.send(bytes));
    this.#writes = next.catch(() => {});
    return next;
  }

  /** Send one datagram as the publisher's RTP: interleaved channel 0, or UDP to server_port. */
  async sendDatagram(data: Uint8Array): Promise<void> {
    this.lastSentAt = performance.now();
    if (this.#transport === "udp") {
      await this.#udp!.send(data, {
        hostname: "127.0.0.1",
        port: this.#serverRtpPort,
        transport: "udp",
      });
    } else {
      const header = Uint8Array.of(0x24, 0, data.length >> 8, data.length & 0xff);
      await this.#write(concat(header, data));
    }
  }

  /** An RTP packet of this publisher (its SSRC, the next sequence number). */
  packet(payload: Uint8Array, marker: boolean): Uint8Array {
    const bytes = serializeRtpPacket({
      payloadType: 26,
      sequenceNumber: this.#sequence,
      timestamp: this.#timestamp,
      ssrc: this.ssrc,
      marker,
      payload,
    });
    this.#sequence = (this.#sequence + 1) & 0xffff;
    return bytes;
  }

  /**
   * Send frame `index` of video.mjpeg (mod its length): its payloads with one
   * timestamp, the marker on the last; `skip` leaves out the fragment at that
   * position (its sequence number is used up all the same, as a loss), and
   * `inject` sends other datagrams before the fragment at each position.
   */
  async sendFrame(
    index: number,
    options: { skip?: number; inject?: ReadonlyMap<number, readonly Uint8Array[]> } = {},
  ): Promise<void> {
    const payloads = this.media.payloads[index % this.media.payloads.length];
    for (let i = 0; i < payloads.length; i++) {
      for (const datagram of options.inject?.get(i) ?? []) await this.sendDatagram(datagram);
      const data = this.packet(payloads[i], i === payloads.length - 1);
      if (i === options.skip) continue;
      await this.sendDatagram(data);
      this.packetsSent++;
    }
    this.#timestamp = (this.#timestamp + Math.round(90_000 / this.fps)) >>> 0;
    if (options.skip === undefined) this.framesSent++;
  }

  /**
   * Send frames `first`, `first + 1`, … at `fps` on an absolute schedule
   * until `count` are sent or `signal` aborts; returns the frames sent.
   */
  async run(
    first: number,
    count: number,
    fps: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const start = performance.now();
    let sent = 0;
    while (sent < count && !signal?.aborted && !this.#closed) {
      await this.sendFrame(first + sent);
      sent++;
      const wait = start + sent * 1000 / fps - performance.now();
      if (wait > 0) await sleep(wait);
    }
    return sent;
  }

  /** TEARDOWN; returns the reply. */
  teardown(): Promise<Reply> {
    return this.request("TEARDOWN", this.url);
  }

  /** Close the connection and the UDP socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writes;
    await this.conn.close();
    this.#udp?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One frame a reader got: the payloads between two marker bits, with one timestamp. */
export interface ReaderFrame {
  timestamp: number;
  payloads: Uint8Array[];
  /** Whether the marker bit closed it. */
  complete: boolean;
  /** Whether its sequence numbers were consecutive (and followed the frame before). */
  consecutive: boolean;
}

/** A reader over UDP: raw RTSP control, every RTP and RTCP datagram kept. */
export class LiveReader implements AsyncDisposable {
  readonly conn: RawConn;
  readonly sinks: SinkPair;
  readonly url: string;
  session = "";
  /** The reply to the PLAY of {@linkcode LiveReader.open}, when it played. */
  playReply: Reply | undefined;
  #cseq = 1;
  #closed = false;

  private constructor(conn: RawConn, sinks: SinkPair, url: string) {
    this.conn = conn;
    this.sinks = sinks;
    this.url = url;
  }

  /** Connect and SETUP `path` over UDP (and PLAY it unless `play` is false). */
  static async open(
    port: number,
    path: string,
    options: { play?: boolean; range?: string } = {},
  ): Promise<LiveReader> {
    const sinks = await sinkPair();
    let conn: RawConn;
    try {
      conn = await RawConn.connect(port);
    } catch (error) {
      await sinks[Symbol.asyncDispose]();
      throw error;
    }
    const reader = new LiveReader(conn, sinks, `rtsp://127.0.0.1:${port}/${path}`);
    try {
      const setup = await reader.request("SETUP", `${reader.url}/trackID=0`, {
        Transport: sinks.transport,
      });
      assert.equal(setup.status, 200, `SETUP: ${setup.raw}`);
      reader.session = sessionIdOf(setup);
      if (options.play !== false) {
        const play = await reader.play(options.range);
        assert.equal(play.status, 200, `PLAY: ${play.raw}`);
        reader.playReply = play;
      }
    } catch (error) {
      await reader.close();
      throw error;
    }
    return reader;
  }

  /** PLAY (with `range` as the Range, when given). */
  play(range?: string): Promise<Reply> {
    return this.request("PLAY", this.url, range === undefined ? {} : { Range: range });
  }

  /** Send a request (with CSeq and the Session once there is one) and read its reply. */
  async request(method: string, uri: string, headers: Record<string, string> = {}): Promise<Reply> {
    const all: Record<string, string | number> = { CSeq: this.#cseq++, ...headers };
    if (this.session) all.Session = this.session;
    return parseReply(await this.conn.request(req(method, uri, all), 3000));
  }

  /** The RTP datagrams so far. */
  get rtp(): Datagram[] {
    return this.sinks.rtp.datagrams;
  }

  /** When the first RTCP BYE arrived (performance.now()), if one did. */
  get byeAt(): number | undefined {
    for (const d of this.sinks.rtcp.datagrams) {
      try {
        if (parseRtcpPackets(d.data).some((p) => p.type === "bye")) return d.at;
      } catch { /* not RTCP: ignored */ }
    }
    return undefined;
  }

  /**
   * The frames so far, in arrival order (grouped by timestamp, closed by the
   * marker bit), from the RTP datagram at index `from` on.
   */
  frames(from = 0): ReaderFrame[] {
    const frames: ReaderFrame[] = [];
    let current: ReaderFrame | undefined;
    let last: number | undefined;
    for (const d of this.rtp.slice(from)) {
      const rtp = rtpView(d.data);
      const follows = last === undefined || rtp.sequenceNumber === ((last + 1) & 0xffff);
      last = rtp.sequenceNumber;
      if (!current || current.complete || current.timestamp !== rtp.timestamp) {
        current = { timestamp: rtp.timestamp, payloads: [], complete: false, consecutive: follows };
        frames.push(current);
      } else if (!follows) current.consecutive = false;
      current.payloads.push(rtp.payload);
      if (rtp.marker) current.complete = true;
    }
    return frames;
  }

  /** Wait until no RTP came for `quietMs` (at most `maxMs`), so nothing sent is still in flight. */
  async settle(quietMs = 60, maxMs = 1000): Promise<void> {
    const deadline = performance.now() + maxMs;
    let count = -1;
    while (performance.now() < deadline && count !== this.rtp.length) {
      count = this.rtp.length;
      await sleep(quietMs);
    }
  }

  /** Close the connection and the sinks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.conn.close();
    await this.sinks[Symbol.asyncDispose]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The RFC 2435 fragment offset of a payload (bytes 1-3). */
export function fragmentOffset(payload: Uint8Array): number {
  return (payload[1] << 16) | (payload[2] << 8) | payload[3];
}
