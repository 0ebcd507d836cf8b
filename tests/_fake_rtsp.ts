/**
 * Test helpers for the client tests: a scripted fake server (not a test
 * file itself):
 *
 * - {@linkcode fakeRtspServer}: an RTSP "server" on 127.0.0.1, plain or TLS,
 *   that answers each request by a script and records every request it got.
 * - {@linkcode standardReply}: DESCRIBE, SETUP and PLAY answered properly,
 *   for scripts that only change what they test.
 * - {@linkcode interleavedStream}: JPEGs as RTP/JPEG on interleaved channel
 *   0, then an RTCP BYE on channel 1, to send after a PLAY reply.
 *
 * @module
 */
import {
  createResponse,
  type RtspRequest,
  serializeInterleaved,
  serializeResponse,
} from "../lib/wire/rtsp_message.ts";
import { jpegToRtpFrame, packetizeRtpJpeg } from "../lib/wire/rfc2435_packetizer.ts";
import { PAYLOAD_TYPE_JPEG, serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import { serializeRtcpPacket } from "../lib/wire/rtcp_packet.ts";
import { concat } from "./_helpers.ts";
import { serializeJpegSdp } from "../lib/wire/sdp.ts";
import { RtspHeaders } from "../lib/wire/rtsp_headers.ts";
import { RtspConnection } from "../lib/net/rtsp_connection.ts";

/** What the fake server does with request number `n` (0-based, per connection). */
export type FakeScript = (
  request: RtspRequest,
  n: number,
) => Uint8Array | "silence" | "close";

/** A running fake server; `close()` (or dispose) stops it and its connections. */
export interface FakeRtspServer extends AsyncDisposable {
  port: number;
  /** Every request received, in order, over all connections. */
  requests: RtspRequest[];
  close(): Promise<void>;
}

/** Options for {@linkcode fakeRtspServer}. */
export interface FakeRtspServerOptions {
  /** Serve TLS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Write these bytes as soon as a connection is accepted (before any request). */
  greeting?: Uint8Array;
  /** Called with each interleaved frame a client sends (a publisher's RTP and RTCP). */
  onInterleaved?: (channel: number, data: Uint8Array) => void;
}

/** An RTSP "server" on 127.0.0.1 (port 0) that answers by script. */
export function fakeRtspServer(
  script: FakeScript,
  options: FakeRtspServerOptions = {},
): FakeRtspServer {
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...options.tls })
    : Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const conns = new Set<RtspConnection>();
  const tasks = new Set<Promise<void>>();
  const requests: RtspRequest[] = [];
  const serve = async (rtsp: RtspConnection) => {
    let n = 0;
    try {
      if (options.greeting) await rtsp.write(options.greeting);
      for await (const item of rtsp.items()) {
        if (item.kind === "interleaved") options.onInterleaved?.(item.channel, item.data.slice());
        if (item.kind !== "request") continue;
        requests.push(item);
        const action = script(item, n++);
        if (action === "close") break;
        if (action !== "silence") await rtsp.write(action);
      }
    } catch {
      // the client went away, or its TLS handshake failed
    } finally {
      rtsp.close();
      conns.delete(rtsp);
    }
  };
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const rtsp = new RtspConnection(conn);
      conns.add(rtsp);
      const task = serve(rtsp).finally(() => tasks.delete(task));
      tasks.add(task);
    }
  })();
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      listener.close();
      await accepting;
      for (const c of conns) c.close();
      await Promise.all(tasks);
    })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

export const FAKE_SDP = serializeJpegSdp({
  sessionId: "1",
  origin: "127.0.0.1",
  name: "video.mjpeg",
  fps: 20,
  control: "trackID=0",
});

/** A reply to `request` with `status`, `headers` (CSeq echoed) and `body`. */
export function fakeReply(
  request: RtspRequest,
  status = 200,
  headers: Record<string, string> | [string, string][] = {},
  body = "",
): Uint8Array {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const response = createResponse(
    status,
    new RtspHeaders([["CSeq", request.headers.get("cseq") ?? "0"], ...pairs]),
    body,
  );
  return serializeResponse(response);
}

/** The proper 200 reply to DESCRIBE, SETUP (UDP or interleaved, as asked), PLAY and the rest. */
export function standardReply(request: RtspRequest): Uint8Array {
  if (request.method === "DESCRIBE") {
    return fakeReply(request, 200, { "Content-Type": "application/sdp" }, FAKE_SDP);
  }
  if (request.method === "SETUP") {
    const tcp = /RTP\/AVP\/TCP/.test(request.headers.get("transport") ?? "");
    return fakeReply(request, 200, {
      Session: "11111111;timeout=60",
      Transport: tcp
        ? "RTP/AVP/TCP;unicast;interleaved=0-1"
        : "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001",
    });
  }
  if (request.method === "OPTIONS") {
    return fakeReply(request, 200, { Public: "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" });
  }
  return fakeReply(request, 200, { Session: "11111111" });
}

const STREAM_SSRC = 0x5eed5eed;

/**
 * `jpegs` as RTP/JPEG (RFC 2435) packets framed for interleaved channel 0,
 * 20 frames/s, then an RTCP BYE on channel 1 that ends the stream.
 */
export function interleavedStream(jpegs: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let sequenceNumber = 1000;
  jpegs.forEach((jpeg, i) => {
    const payloads = packetizeRtpJpeg(jpegToRtpFrame(jpeg), 1400);
    payloads.forEach((payload, j) => {
      const packet = serializeRtpPacket({
        payloadType: PAYLOAD_TYPE_JPEG,
        sequenceNumber: sequenceNumber++,
        timestamp: i * 4500,
        ssrc: STREAM_SSRC,
        marker: j === payloads.length - 1,
        payload,
      });
      parts.push(serializeInterleaved(0, packet));
    });
  });
  parts.push(serializeInterleaved(1, serializeRtcpPacket({ type: "bye", sources: [STREAM_SSRC] })));
  return concat(...parts);
}
