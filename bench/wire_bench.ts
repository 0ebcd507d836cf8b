/**
 * Micro-benchmarks of the per-packet and per-frame hot paths, each group
 * against a baseline in the same group so the results read as ratios:
 * `deno task bench`.
 */
import {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  parseRtpPacket,
  readLabFrames,
  Rfc2435Depacketizer,
  RtspParser,
  serializeRtpPacket,
} from "../mod.ts";

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
Deno.bench("parseRtpPacket", { group: "rtp" }, () => {
  parseRtpPacket(PACKET);
});

Deno.bench("copy one frame (baseline)", { group: "frame", baseline: true }, () => {
  FRAME.slice();
});
Deno.bench("jpegToRtpFrame + packetizeRtpJpeg", { group: "frame" }, () => {
  packetizeRtpJpeg(jpegToRtpFrame(FRAME), 1388);
});
Deno.bench("Rfc2435Depacketizer, one frame", { group: "frame" }, () => {
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
