/**
 * Micro-benchmarks of the per-packet and per-frame hot paths, each group
 * against a baseline in the same group so the results read as ratios:
 * `deno task bench`.
 */
import { jpegToRtpFrame, packetizeRtpJpeg } from "../lib/wire/rfc2435_packetizer.ts";
import { linuxUdpAvailable, LinuxUdpSocket, linuxUdpSupport } from "../lib/net/linux_udp.ts";
import { parseRtpPacket, serializeRtpPacket, writeRtpHeader } from "../lib/wire/rtp_packet.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { RtspParser } from "../lib/wire/rtsp_parser.ts";

const video = await Deno.readFile(new URL("../video.mjpeg", import.meta.url));
const FRAMES = [...readLabFrames(video)].map((f) => f.data);
const FRAME = FRAMES[0];
const PAYLOADS = packetizeRtpJpeg(jpegToRtpFrame(FRAME), 1388);
const PAYLOAD = PAYLOADS[1];
const PACKET = serializeRtpPacket({
  payloadType: 26,
  sequenceNumber: 1,
  timestamp: 2,
  ssrc: 3,
  payload: PAYLOAD,
});

Deno.bench("copy 1400 bytes (baseline)", { group: "rtp", baseline: true }, () => {
  const out = new Uint8Array(PACKET.length);
  out.set(PACKET);
});
Deno.bench("serializeRtpPacket, 1388-byte payload", { group: "rtp" }, () => {
  serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 1,
    timestamp: 2,
    ssrc: 3,
    payload: PAYLOAD,
  });
});
const HEADER = new Uint8Array(12);
let stamp = 0;
Deno.bench("writeRtpHeader, 12 bytes in place (the server's hot path)", { group: "rtp" }, () => {
  writeRtpHeader(HEADER, 0, 26, (stamp & 7) === 7, stamp++, 90000, 0x1234);
});
Deno.bench("parseRtpPacket", { group: "rtp" }, () => {
  parseRtpPacket(PACKET);
});

Deno.bench("copy one frame (baseline)", { group: "frame", baseline: true }, () => {
  FRAME.slice();
});
Deno.bench("jpegToRtpFrame + packetizeRtpJpeg", { group: "frame" }, () => {
  packetizeRtpJpeg(jpegToRtpFrame(FRAME), 1388);
});
const STEADY = new Rfc2435Depacketizer();
let steadySequence = 0;
Deno.bench("Rfc2435Depacketizer, one frame of a running stream", { group: "frame" }, () => {
  const timestamp = steadySequence * 4500;
  PAYLOADS.forEach((payload, i) =>
    STEADY.push({
      sequence: steadySequence++,
      timestamp,
      marker: i === PAYLOADS.length - 1,
      payload,
    })
  );
});
Deno.bench("Rfc2435Depacketizer, one frame, new depacketizer", { group: "frame" }, () => {
  const depacketizer = new Rfc2435Depacketizer();
  PAYLOADS.forEach((payload, i) =>
    depacketizer.push({ sequence: i, timestamp: 0, marker: i === PAYLOADS.length - 1, payload })
  );
});

const encoder = new TextEncoder();
const REQUEST = encoder.encode(
  "PLAY rtsp://127.0.0.1:1025/video.mjpeg/ RTSP/1.0\r\nCSeq: 4\r\nSession: 12345678\r\nRange: npt=0.000-\r\nUser-Agent: bench\r\n\r\n",
);
Deno.bench("TextDecoder on the request (baseline)", { group: "rtsp", baseline: true }, () => {
  new TextDecoder().decode(REQUEST);
});
Deno.bench("RtspParser.push, one request", { group: "rtsp" }, () => {
  new RtspParser().push(REQUEST);
});

// Sending 64 RTP packets to a loopback socket: one Deno send each (the
// portable path) against the batched socket (sendmmsg, and UDP GSO).
const sink = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
const sinkPort = (sink.addr as Deno.NetAddr).port;
const portable = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
const BATCH = Array.from({ length: 64 }, (_, i) => {
  const packet = new Uint8Array(1400);
  packet[0] = 0x80;
  packet[3] = i;
  return packet;
});
Deno.bench("Deno send, 64 packets (baseline)", { group: "udp", baseline: true }, async () => {
  await Promise.all(
    BATCH.map((p) => portable.send(p, { transport: "udp", hostname: "127.0.0.1", port: sinkPort })),
  );
});
if (linuxUdpAvailable()) {
  for (const gso of [false, true]) {
    const socket = LinuxUdpSocket.bind({ hostname: "127.0.0.1", port: 0, gso });
    Deno.bench(`LinuxUdpSocket ${gso ? "sendmmsg + GSO" : "sendmmsg"}, 64 packets`, {
      group: "udp",
    }, () => {
      for (const packet of BATCH) {
        socket.begin("127.0.0.1", sinkPort);
        socket.part(packet, 0, 12);
        socket.part(packet, 12);
      }
      socket.flush();
    });
  }
} else {
  console.log(`batched UDP benchmarks skipped: ${linuxUdpSupport().reason}`);
}
