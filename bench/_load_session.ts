/**
 * One session of the load generator: RTSP control through the project's
 * {@linkcode RtspClient}, and a receiver that does only what measuring needs
 * (no depacketizing, no files): packets, sequence gaps, and when each frame's
 * first packet arrived.
 *
 * @module
 */
import type { LinuxUdpSocket } from "../lib/net/linux_udp.ts";
import { parseSdp } from "../lib/wire/sdp.ts";
import { resolveControl } from "../lib/wire/rtsp_url.ts";
import { RtspClient } from "../lib/session/client/rtsp_client.ts";
import type { EpollReceiver } from "./_epoll_receiver.ts";

/** How a session is set up. */
export type LoadMode = "udp" | "tcp" | "lab";

/** What one session saw. */
export interface SessionRecord {
  /** ms from sending PLAY to the first RTP packet. */
  firstPacketMs: number | undefined;
  packets: number;
  /** Packets missing from the sequence (RFC 3550 expected − received). */
  lost: number;
  /** Arrival (ms, performance.now) of the first packet of each frame, with its RTP timestamp. */
  frameArrivals: number[];
  frameTimestamps: number[];
  bytes: number;
}

const RTP_PT_JPEG = 26;

/** Bind an even RTP port and the odd port above it (RTCP, drained and ignored). */
function bindPair(): [Deno.DatagramConn, Deno.DatagramConn] {
  for (let attempt = 0; attempt < 200; attempt++) {
    const probe = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (probe.addr as Deno.NetAddr).port;
    if (port % 2 !== 0 || port === 65534) {
      probe.close();
      continue;
    }
    try {
      const rtcp = Deno.listenDatagram({ hostname: "127.0.0.1", port: port + 1, transport: "udp" });
      return [probe, rtcp];
    } catch {
      probe.close();
    }
  }
  throw new Error("cannot bind an even/odd UDP port pair on 127.0.0.1");
}

/** A measured session. */
export class LoadSession {
  readonly record: SessionRecord = {
    firstPacketMs: undefined,
    packets: 0,
    lost: 0,
    frameArrivals: [],
    frameTimestamps: [],
    bytes: 0,
  };
  readonly #mode: LoadMode;
  readonly #url: string;
  #client: RtspClient | undefined;
  readonly #epoll: EpollReceiver | undefined;
  #rtp: Deno.DatagramConn | undefined;
  #rtcp: Deno.DatagramConn | undefined;
  #fast: LinuxUdpSocket[] = [];
  #loops: Promise<void>[] = [];
  #playSentAt = 0;
  /** URI of PLAY and TEARDOWN: the stream's URL, or its bare name in the lab dialect. */
  #controlUri = "";
  #ssrc: number | undefined;
  #lastTimestamp = -1;
  #firstSeq = -1;
  #cycles = 0;
  #maxSeq = 0;
  #closed = false;

  /** With `epoll`, UDP is read through it (Linux FFI) rather than Deno sockets. */
  constructor(mode: LoadMode, url: string, epoll?: EpollReceiver) {
    this.#mode = mode;
    this.#url = url;
    this.#epoll = epoll;
  }

  /** An even RTP port and the odd one above, read through the epoll set. */
  async #bindFast(epoll: EpollReceiver): Promise<number> {
    const onRtp = (data: Uint8Array, at: number) => this.#onPacket(data, at);
    for (let attempt = 0; attempt < 200; attempt++) {
      const rtp = epoll.bind(0, onRtp);
      if (rtp.localPort % 2 === 0 && rtp.localPort < 65534) {
        try {
          const rtcp = epoll.bind(rtp.localPort + 1, () => {});
          this.#fast = [rtp, rtcp];
          return rtp.localPort;
        } catch { /* taken: try another */ }
      }
      await epoll.remove(rtp);
    }
    throw new Error("cannot bind an even/odd UDP port pair on 127.0.0.1");
  }

  /** Connect, (DESCRIBE,) SETUP and PLAY. */
  async start(): Promise<void> {
    await this.setup();
    await this.play();
  }

  /** Connect, (DESCRIBE,) and SETUP: ready for {@linkcode play}. */
  async setup(): Promise<void> {
    const lab = this.#mode === "lab";
    this.#client = await RtspClient.connect(
      new URL(this.#url.replace(/^rtsp:/, "http:")).hostname,
      Number(new URL(this.#url.replace(/^rtsp:/, "http:")).port),
      {
        dialect: lab ? "lab" : "rtsp",
        replyTimeoutMs: 20_000,
        onInterleaved: (frame) => {
          if (frame.channel === 0) this.#onPacket(frame.data, performance.now());
        },
      },
    );
    let setupUri = lab ? this.#url.slice(this.#url.lastIndexOf("/") + 1) : this.#url;
    if (!lab) {
      const reply = await this.#client.request("DESCRIBE", this.#url, {
        Accept: "application/sdp",
      });
      if (reply.status !== 200) throw new Error(`DESCRIBE: ${reply.status} ${reply.reason}`);
      const sdp = parseSdp(new TextDecoder().decode(reply.body));
      const media = sdp.media.find((m) => m.formats.includes(RTP_PT_JPEG));
      if (!media) throw new Error("DESCRIBE: no JPEG video in the SDP");
      const base = reply.headers.get("content-base") ?? this.#url;
      setupUri = resolveControl(base, media.attributes.get("control"));
    }
    let transport: string;
    if (this.#mode === "tcp") transport = "RTP/AVP/TCP;unicast;interleaved=0-1";
    else {
      let port: number;
      if (this.#epoll) port = await this.#bindFast(this.#epoll);
      else {
        [this.#rtp, this.#rtcp] = bindPair();
        port = (this.#rtp.addr as Deno.NetAddr).port;
        this.#loops.push(this.#receive(this.#rtp, true), this.#receive(this.#rtcp, false));
      }
      transport = lab
        ? `RTP/UDP; client_port= ${port}`
        : `RTP/AVP;unicast;client_port=${port}-${port + 1}`;
    }
    const setup = await this.#client.request("SETUP", setupUri, { Transport: transport });
    if (setup.status !== 200) throw new Error(`SETUP: ${setup.status} ${setup.reason}`);
    const ssrc = /ssrc=([0-9a-fA-F]+)/.exec(setup.headers.get("transport") ?? "");
    if (ssrc) this.#ssrc = parseInt(ssrc[1], 16);
    this.#controlUri = lab ? setupUri : this.#url;
  }

  /** PLAY (after {@linkcode setup}). */
  async play(): Promise<void> {
    if (!this.#client) throw new Error("PLAY before SETUP");
    this.#playSentAt = performance.now();
    const play = await this.#client.request("PLAY", this.#controlUri);
    if (play.status !== 200) throw new Error(`PLAY: ${play.status} ${play.reason}`);
  }

  async #receive(conn: Deno.DatagramConn, rtp: boolean): Promise<void> {
    const buffer = new Uint8Array(65536);
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await conn.receive(buffer);
      } catch {
        return;
      }
      if (rtp) this.#onPacket(data, performance.now());
    }
  }

  #onPacket(data: Uint8Array, at: number): void {
    if (data.length < 12 || data[0] >> 6 !== 2 || (data[1] & 0x7f) !== RTP_PT_JPEG) return;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const ssrc = view.getUint32(8);
    if (this.#ssrc !== undefined && ssrc !== this.#ssrc) return;
    const record = this.record;
    record.firstPacketMs ??= at - this.#playSentAt;
    record.packets++;
    record.bytes += data.length;
    const seq = view.getUint16(2);
    if (this.#firstSeq < 0) {
      this.#firstSeq = seq;
      this.#maxSeq = seq;
    } else {
      const delta = (seq - this.#maxSeq) & 0xffff;
      if (delta > 0 && delta < 0x8000) {
        if (seq < this.#maxSeq) this.#cycles++;
        this.#maxSeq = seq;
      }
    }
    const timestamp = view.getUint32(4);
    if (timestamp !== this.#lastTimestamp) {
      this.#lastTimestamp = timestamp;
      record.frameArrivals.push(at);
      record.frameTimestamps.push(timestamp);
    }
  }

  /** TEARDOWN and close; computes the loss. */
  async stop(): Promise<void> {
    try {
      if (this.#client) {
        await this.#client.request("TEARDOWN", this.#controlUri, {}, { timeoutMs: 10_000 });
      }
    } catch {
      // A server that drops the connection on TEARDOWN is fine.
    }
    this.#closed = true;
    this.#rtp?.close();
    this.#rtcp?.close();
    await Promise.all([...this.#loops, ...this.#fast.map((s) => this.#epoll!.remove(s))]);
    await this.#client?.close();
    if (this.#firstSeq >= 0) {
      const expected = this.#cycles * 65536 + this.#maxSeq - this.#firstSeq + 1;
      this.record.lost = Math.max(0, expected - this.record.packets);
    }
  }
}

/**
 * Wait until `url` plays: a probe session (DESCRIBE, SETUP, PLAY over UDP)
 * receives an RTP packet; then it is torn down. Tries again while the stream
 * is not there yet (a live path before its publisher's RECORD is 404).
 */
export async function waitUntilPlaying(url: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let why = "no packet";
  while (performance.now() < deadline) {
    const probe = new LoadSession("udp", url);
    try {
      await probe.start();
      while (probe.record.packets === 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    } finally {
      await probe.stop();
    }
    if (probe.record.packets > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not play within ${timeoutMs} ms (${why})`);
}
