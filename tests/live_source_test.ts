import assert from "node:assert/strict";
import { type LiveFrame, LiveSource } from "../lib/media/live_source.ts";
import { parseMjpegSource, rtpJpegPayloads } from "../lib/media/mjpeg_source.ts";
import { Rfc2435Depacketizer } from "../lib/wire/rfc2435_depacketizer.ts";
import { serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import { sameBytes } from "./_helpers.ts";

const source = parseMjpegSource(await Deno.readFile("video.mjpeg"), "video.mjpeg");
const payloads = await rtpJpegPayloads(source, 1388);

/** The JPEG our own depacketizer makes of frame `i` (what a reader reassembles). */
function rebuilt(i: number): Uint8Array {
  const d = new Rfc2435Depacketizer();
  const parts = payloads.frames[i];
  let jpeg: Uint8Array | undefined;
  parts.forEach((payload, k) => {
    for (
      const e of d.push({ sequence: k, timestamp: 0, marker: k === parts.length - 1, payload })
    ) {
      if (e.kind === "frame") jpeg = e.jpeg;
    }
  });
  return jpeg!;
}

/** A publisher of video.mjpeg's frames as RTP datagrams. */
class Sender {
  seq = 1000;
  constructor(readonly ssrc = 0x1234, readonly pt = 26) {}
  frame(i: number, timestamp: number, skip?: number): Uint8Array[] {
    const parts = payloads.frames[i % payloads.frames.length];
    const out: Uint8Array[] = [];
    parts.forEach((payload, k) => {
      const packet = serializeRtpPacket({
        payloadType: this.pt,
        sequenceNumber: this.seq++ & 0xffff,
        timestamp,
        ssrc: this.ssrc,
        marker: k === parts.length - 1,
        payload,
      });
      if (k !== skip) out.push(packet);
    });
    return out;
  }
}

function collector(live: LiveSource) {
  const frames: LiveFrame[] = [];
  const drops: string[] = [];
  live.listen({ frame: (f) => frames.push(f), drop: (d) => drops.push(d.reason) });
  return { frames, drops };
}

Deno.test("LiveSource: complete frames come out whole, with the publisher's payloads as sent", () => {
  const live = new LiveSource({ payloadType: 26, fps: 20 });
  const { frames, drops } = collector(live);
  const sender = new Sender();
  for (let i = 0; i < 5; i++) {
    for (const p of sender.frame(i, 90000 + i * 4500)) live.push(p, i * 50);
  }
  assert.equal(frames.length, 5);
  assert.deepEqual(drops, []);
  for (let i = 0; i < 5; i++) {
    assert.ok(sameBytes(frames[i].jpeg, rebuilt(i)), `frame ${i} is the reassembled JPEG`);
    assert.equal(frames[i].payloads.length, payloads.frames[i].length);
    frames[i].payloads.forEach((p, k) => assert.ok(sameBytes(p, payloads.frames[i][k])));
    assert.equal(frames[i].index, i);
    assert.equal(frames[i].mediaSec, (i * 4500) / 90000);
  }
  assert.equal(live.width, source.width);
  assert.equal(live.height, source.height);
  assert.equal(live.counters.frames, 5);
  assert.equal(live.counters.packets, payloads.frames.slice(0, 5).flat().length);
});

Deno.test("LiveSource: a frame missing a fragment is dropped and counted, never released", () => {
  const live = new LiveSource({ payloadType: 26, fps: 20 });
  const { frames, drops } = collector(live);
  const sender = new Sender();
  assert.ok(payloads.frames[1].length >= 3, "frame 1 has a middle fragment");
  let t = 0;
  for (const p of sender.frame(0, 0)) live.push(p, t);
  for (const p of sender.frame(1, 4500, 1)) live.push(p, t += 50); // middle fragment lost
  for (const p of sender.frame(2, 9000)) live.push(p, t += 50);
  assert.deepEqual(frames.map((f) => f.timestamp), [0, 9000]);
  assert.equal(live.counters.framesDropped, 1);
  assert.equal(drops.length, 1);
  // The last fragment lost: the frame never closes; the next frame drops it.
  const last = payloads.frames[3].length - 1;
  for (const p of sender.frame(3, 13500, last)) live.push(p, t += 50);
  for (const p of sender.frame(4, 18000)) live.push(p, t += 50);
  assert.deepEqual(frames.map((f) => f.timestamp), [0, 9000, 18000]);
  assert.equal(live.counters.framesDropped, 2);
});

Deno.test("LiveSource: garbage, another payload type, another SSRC and repeats are counted and ignored", () => {
  const live = new LiveSource({ payloadType: 96, fps: 20 });
  const { frames } = collector(live);
  const sender = new Sender(0x1234, 96);
  const stranger = new Sender(0x9999, 96);
  const wrongType = new Sender(0x1234, 26);
  const first = sender.frame(0, 0);
  live.push(first[0], 0);
  live.push(new Uint8Array([1, 2, 3]), 1); // too short for RTP
  live.push(new Uint8Array(40).fill(0x00), 2); // version 0
  for (const p of stranger.frame(5, 777)) live.push(p, 3);
  const typed = wrongType.frame(6, 888);
  for (const p of typed) live.push(p, 4);
  live.push(first[0], 5); // a repeat
  for (const p of first.slice(1)) live.push(p, 6);
  assert.equal(frames.length, 1);
  assert.equal(live.counters.malformed, 2 + typed.length);
  assert.equal(live.counters.foreign, payloads.frames[5].length);
  assert.equal(live.counters.outOfOrder, 1);
  assert.equal(live.counters.framesDropped, 0);
});

Deno.test("LiveSource: a bad RFC 2435 payload or JPEG drops its frame", () => {
  const live = new LiveSource({ payloadType: 26, fps: 20 });
  const { frames } = collector(live);
  let seq = 1;
  const packet = (timestamp: number, payload: Uint8Array, marker: boolean) =>
    serializeRtpPacket({
      payloadType: 26,
      sequenceNumber: seq++,
      timestamp,
      ssrc: 7,
      marker,
      payload,
    });
  // A one-packet "frame" whose RFC 2435 header is too short.
  live.push(packet(0, new Uint8Array([0, 0, 0]), true), 0);
  // Then a good frame: only the bad one is dropped.
  for (const p of new Sender(7).frame(0, 4500)) live.push(p, 50);
  assert.equal(frames.length, 1);
  assert.equal(live.counters.framesDropped, 1);
});

Deno.test("LiveSource: frames far faster than announced are capped at twice the rate, and counted", () => {
  const live = new LiveSource({ payloadType: 26, fps: 10 });
  const { frames } = collector(live);
  const sender = new Sender();
  // 200 frames in one second of arrival time: 200 fps against 10 announced.
  for (let i = 0; i < 200; i++) {
    for (const p of sender.frame(i, i * 450)) live.push(p, i * 5);
  }
  // A burst of one second at the announced rate, then twice the rate for the rest.
  assert.ok(frames.length <= 10 + 20 + 1, `${frames.length} frames let through`);
  assert.ok(frames.length >= 25, `${frames.length} frames let through`);
  assert.equal(live.counters.framesCapped, 200 - frames.length);
  assert.equal(live.counters.frames, frames.length);
});

Deno.test("LiveSource: timestamps unwrap across 2^32 for media time", () => {
  const live = new LiveSource({ payloadType: 26, fps: 20 });
  const { frames } = collector(live);
  const sender = new Sender();
  const start = 0xffffffff - 4500 + 1;
  for (let i = 0; i < 3; i++) {
    for (const p of sender.frame(i, (start + i * 4500) >>> 0)) live.push(p, i * 50);
  }
  assert.deepEqual(frames.map((f) => f.mediaSec), [0, 0.05, 0.1]);
});

Deno.test("LiveSource: sequence numbers wrap without a loss", () => {
  const live = new LiveSource({ payloadType: 26, fps: 20 });
  const { frames } = collector(live);
  const sender = new Sender();
  sender.seq = 0xffff - 3;
  for (let i = 0; i < 4; i++) {
    for (const p of sender.frame(i, i * 4500)) live.push(p, i * 50);
  }
  assert.equal(frames.length, 4);
  assert.equal(live.counters.framesDropped, 0);
});
