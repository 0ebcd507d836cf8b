/**
 * RTP and RTCP interleaved on the RTSP connection (RFC 2326 §10.12): the
 * server frames packets as `$`, channel, length, and keeps RTSP replies
 * apart from them.
 */
import assert from "node:assert/strict";
import {
  createRequest,
  type RtspResponse,
  serializeInterleaved,
  serializeRequest,
} from "../lib/wire/rtsp_message.ts";
import {
  parseRtcpPackets,
  type RtcpPacket,
  serializeRtcpCompound,
} from "../lib/wire/rtcp_packet.ts";
import { parseRtpPacket } from "../lib/wire/rtp_packet.ts";
import { parseTransport } from "../lib/wire/transport_header.ts";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { RtspParser, type RtspParserItem } from "../lib/wire/rtsp_parser.ts";
import { startServer } from "./_server.ts";

class Conn {
  readonly parser = new RtspParser();
  readonly items: RtspParserItem[] = [];
  readonly #buffer = new Uint8Array(65536);
  constructor(readonly tcp: Deno.TcpConn) {}

  static async open(port: number): Promise<Conn> {
    return new Conn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(bytes: Uint8Array): Promise<void> {
    await this.tcp.write(bytes);
  }

  /** Read until `done` holds for the items read so far, or fail after `ms`. */
  async readUntil(done: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      assert.ok(left > 0, "timed out waiting for the server");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.tcp.read(this.#buffer),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      assert.notEqual(n, "timeout", "timed out waiting for the server");
      assert.notEqual(n, null, "the server closed the connection");
      this.items.push(...this.parser.push(this.#buffer.subarray(0, n as number)));
    }
  }

  async request(
    method: string,
    uri: string,
    headers: Record<string, string>,
  ): Promise<RtspResponse> {
    await this.send(serializeRequest(createRequest(method, uri, headers)));
    const isReply = (i: RtspParserItem) =>
      i.kind === "response" && i.headers.get("cseq") === headers.CSeq;
    await this.readUntil(() => this.items.some(isReply));
    return this.items.find(isReply) as RtspResponse;
  }
}

Deno.test("RTP/AVP/TCP interleaved: every frame and the RTCP reports arrive on the RTSP connection", async () => {
  await using srv = await startServer({ fps: 200 });
  const conn = await Conn.open(srv.port);
  try {
    const url = srv.url("video.mjpeg");
    const setup = await conn.request("SETUP", `${url}/trackID=0`, {
      CSeq: "1",
      Transport: "RTP/AVP/TCP;unicast;interleaved=4-5",
    });
    assert.equal(setup.status, 200);
    const [transport] = parseTransport(setup.headers.get("transport")!);
    assert.equal(transport.lowerTransport, "TCP");
    assert.deepEqual(transport.interleaved, { start: 4, end: 5 });
    const session = setup.headers.get("session")!.split(";")[0];
    assert.equal((await conn.request("PLAY", url, { CSeq: "2", Session: session })).status, 200);

    const rtcp: RtcpPacket[] = [];
    const depacketizer = new Rfc2435Depacketizer();
    let frames = 0, sequence = -1, ssrc = -1, seen = 0;
    const consume = () => {
      for (; seen < conn.items.length; seen++) {
        const item = conn.items[seen];
        if (item.kind !== "interleaved") continue;
        if (item.channel === 5) {
          rtcp.push(...parseRtcpPackets(item.data));
          continue;
        }
        assert.equal(item.channel, 4, "RTP only on the even channel");
        const packet = parseRtpPacket(item.data);
        if (sequence >= 0) assert.equal(packet.sequenceNumber, (sequence + 1) & 0xffff);
        sequence = packet.sequenceNumber;
        ssrc = packet.ssrc;
        for (const event of depacketizer.push({ ...packet, sequence })) {
          assert.equal(event.kind, "frame");
          frames++;
        }
      }
      return rtcp.some((p) => p.type === "bye");
    };
    await conn.readUntil(consume);
    assert.equal(frames, 200, "every frame, reassembled from RFC 2435 packets");
    const sr = rtcp.find((p) => p.type === "sr");
    assert.ok(sr && sr.type === "sr", "a sender report");
    assert.equal(sr.ssrc, ssrc);
    const bye = rtcp.find((p) => p.type === "bye");
    assert.ok(
      bye && bye.type === "bye" && bye.sources.includes(ssrc),
      "BYE at the end of the stream",
    );

    // A receiver report on the odd channel is taken in (and keeps the session alive).
    const before = srv.server.counters.rtcpReceived;
    await conn.send(serializeInterleaved(
      5,
      serializeRtcpCompound([{ type: "rr", ssrc: 1, reports: [] }]),
    ));
    const teardown = await conn.request("TEARDOWN", url, { CSeq: "3", Session: session });
    assert.equal(teardown.status, 200);
    assert.equal(srv.server.counters.rtcpReceived, before + 1);
  } finally {
    conn.tcp.close();
  }
});

Deno.test("RTP/AVP/TCP without channels: the server picks the next free pair", async () => {
  await using srv = await startServer();
  const a = await Conn.open(srv.port);
  try {
    const url = srv.url("video.mjpeg");
    const first = await a.request("SETUP", url, { CSeq: "1", Transport: "RTP/AVP/TCP;unicast" });
    assert.equal(first.status, 200);
    assert.deepEqual(parseTransport(first.headers.get("transport")!)[0].interleaved, {
      start: 0,
      end: 1,
    });
    const second = await a.request("SETUP", url, { CSeq: "2", Transport: "RTP/AVP/TCP;unicast" });
    assert.equal(second.status, 200);
    assert.deepEqual(parseTransport(second.headers.get("transport")!)[0].interleaved, {
      start: 2,
      end: 3,
    });
    const clash = await a.request("SETUP", url, {
      CSeq: "3",
      Transport: "RTP/AVP/TCP;interleaved=2-3",
    });
    assert.equal(clash.status, 461, "channels already in use");
  } finally {
    a.tcp.close();
  }
});
