import assert from "node:assert/strict";
import { join } from "node:path";
import { ReorderBuffer } from "../lib/session/client/reorder_buffer.ts";
import { isCompleteJpeg } from "../lib/wire/jpeg.ts";
import { scaledQuantTables, STANDARD_HUFFMAN_TABLES } from "../lib/wire/jpeg_tables.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import {
  buildJpegHeader,
  type DepacketizeEvent,
  Rfc2435Depacketizer,
  type RtpJpegPacketView,
} from "../lib/wire/rfc2435_depacketizer.ts";
import {
  type Rfc2435Header,
  rfc2435HeaderSize,
  writeRfc2435Header,
} from "../lib/wire/rfc2435_headers.ts";
import { jpegToRtpFrame, packetizeRtpJpeg } from "../lib/wire/rfc2435_packetizer.ts";
import { concat } from "./_helpers.ts";
import { assertSamePicture } from "./_same_picture.ts";
import { requirePeer } from "./_peers.ts";
import { splitJpeg } from "./_jpeg_parts.ts";

const VIDEO = new URL("../video.mjpeg", import.meta.url);
const FRAMES: Uint8Array[] = [...readLabFrames(await Deno.readFile(VIDEO), "video.mjpeg")].map(
  (f) => f.data,
);

/** Fails loudly in CI when ffmpeg is missing; elsewhere the tests that need it are skipped. */
const SKIP_WITHOUT_FFMPEG = !await requirePeer("ffmpeg", ["-version"]);

/** The frame checksums ffmpeg computes when it decodes `path` (comment lines left out). */
async function framemd5(path: string): Promise<string[]> {
  const { success, stdout, stderr } = await new Deno.Command("ffmpeg", {
    args: ["-hide_banner", "-v", "error", "-nostdin", "-i", path, "-f", "framemd5", "-"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr).trim();
  assert.ok(success, `ffmpeg could not decode ${path}: ${errors}`);
  assert.equal(errors, "", `ffmpeg reported errors decoding ${path}`);
  const lines = new TextDecoder().decode(stdout).split("\n").filter((l) => l && !l.startsWith("#"));
  assert.equal(lines.length, 1, `${path}: one frame`);
  return lines;
}

// ---------------------------------------------------------------------------
// Helpers

type HeaderFields = Omit<Rfc2435Header, "dataOffset">;

/** RTP packets for `jpegs`, one frame after another, 4500 ticks apart. */
function packetsOf(
  jpegs: Uint8Array[],
  maxPayload = 1388,
  firstSequence = 1000,
  firstTimestamp = 90000,
): RtpJpegPacketView[][] {
  let sequence = firstSequence;
  return jpegs.map((jpeg, i) => {
    const payloads = packetizeRtpJpeg(jpegToRtpFrame(jpeg), maxPayload);
    return payloads.map((payload, k) => ({
      sequence: sequence++,
      timestamp: firstTimestamp + i * 4500,
      marker: k === payloads.length - 1,
      payload,
    }));
  });
}

function pushAll(
  depacketizer: Rfc2435Depacketizer,
  packets: RtpJpegPacketView[],
): DepacketizeEvent[] {
  return packets.flatMap((p) => depacketizer.push(p));
}

/** The events as short strings, e.g. "frame 90000", "dropped 94500". */
function summary(events: DepacketizeEvent[]): string[] {
  return events.map((e) => `${e.kind} ${e.timestamp}`);
}

function frames(events: DepacketizeEvent[]): Uint8Array[] {
  return events.flatMap((e) => e.kind === "frame" ? [e.jpeg] : []);
}

/** A payload with the given header fields (defaults: first fragment, type 1, Q 255, 384x288). */
function payloadOf(fields: Partial<HeaderFields>, data: Uint8Array | number[]): Uint8Array {
  const header: HeaderFields = {
    typeSpecific: 0,
    fragmentOffset: 0,
    type: 1,
    q: 255,
    width8: 48,
    height8: 36,
    ...fields,
  };
  const size = rfc2435HeaderSize(header);
  const out = new Uint8Array(size + data.length);
  writeRfc2435Header(out, header);
  out.set(data, size);
  return out;
}

/**
 * One frame of hand-written payloads: `data` cut into `parts` fragments, the
 * first with `first` header fields (tables etc.), all with `common` fields.
 */
function framePackets(
  sequence: number,
  timestamp: number,
  data: Uint8Array,
  common: Partial<HeaderFields>,
  first: Partial<HeaderFields> = {},
  parts = 2,
): RtpJpegPacketView[] {
  const cut = Array.from({ length: parts + 1 }, (_, i) => Math.round((data.length * i) / parts));
  return Array.from({ length: parts }, (_, i) => ({
    sequence: sequence + i,
    timestamp,
    marker: i === parts - 1,
    payload: payloadOf(
      { ...common, ...(i === 0 ? first : {}), fragmentOffset: cut[i] },
      data.subarray(cut[i], cut[i + 1]),
    ),
  }));
}

/** The DQT tables of a JPEG as [Pq/Tq byte, table bytes]. */
function dqtTables(jpeg: Uint8Array): [number, number[]][] {
  const tables: [number, number[]][] = [];
  for (const { data } of splitJpeg(jpeg).segments.filter((s) => s.marker === 0xdb)) {
    for (let i = 0; i < data.length;) {
      const size = data[i] >> 4 ? 128 : 64;
      tables.push([data[i], [...data.subarray(i + 1, i + 1 + size)]]);
      i += 1 + size;
    }
  }
  return tables;
}

function sofOf(jpeg: Uint8Array): Uint8Array {
  const sof = splitJpeg(jpeg).segments.find((s) => s.marker === 0xc0);
  assert.ok(sof, "SOF0");
  return sof.data;
}

/** The scan data of a video frame, which decodes with the video's header. */
const SCAN0 = jpegToRtpFrame(FRAMES[0]).scan;

// ---------------------------------------------------------------------------
// Round trip

Deno.test("round trip: all 200 frames of video.mjpeg come back as the same pictures", () => {
  assert.equal(FRAMES.length, 200);
  const depacketizer = new Rfc2435Depacketizer();
  const packets = packetsOf(FRAMES);
  const events = pushAll(depacketizer, packets.flat());
  assert.deepEqual(
    summary(events),
    FRAMES.map((_, i) => `frame ${90000 + i * 4500}`),
  );
  frames(events).forEach((jpeg, i) => {
    assert.ok(isCompleteJpeg(jpeg), `frame ${i} is a complete JPEG`);
    assertSamePicture(jpeg, FRAMES[i], `frame ${i}`);
  });
});

Deno.test("round trip: each packet completes at most the frame its marker closes", () => {
  const depacketizer = new Rfc2435Depacketizer();
  for (const [i, framePackets] of packetsOf(FRAMES.slice(0, 5), 500).entries()) {
    assert.ok(framePackets.length > 3);
    for (const [k, packet] of framePackets.entries()) {
      const events = depacketizer.push(packet);
      if (k < framePackets.length - 1) assert.deepEqual(events, [], `frame ${i} packet ${k}`);
      else assert.deepEqual(summary(events), [`frame ${packet.timestamp}`]);
    }
  }
});

Deno.test("round trip: the rebuilt header is the one RFC 2435 Appendix B describes", () => {
  const [event] = pushAll(new Rfc2435Depacketizer(), packetsOf([FRAMES[7]])[0]);
  assert.equal(event.kind, "frame");
  const jpeg = (event as { jpeg: Uint8Array }).jpeg;
  const { segments, scan } = splitJpeg(jpeg);
  // Order is free before SOS (an APP0 may come too); SOS ends the header.
  const markers = segments.map((s) => s.marker).filter((m) => m !== 0xe0);
  assert.deepEqual([...markers].sort(), [0xc0, 0xc4, 0xda, 0xdb]);
  assert.equal(markers.at(-1), 0xda);
  const tables = jpegToRtpFrame(FRAMES[7]).quantTables;
  assert.deepEqual(dqtTables(jpeg), [[0x00, [...tables.subarray(0, 64)]], [0x01, [
    ...tables.subarray(64),
  ]]]);
  // video.mjpeg stores frames in exactly this form, so the rebuild is byte for byte.
  assert.deepEqual([...jpeg], [...FRAMES[7]]);
  assert.deepEqual(
    [...sofOf(jpeg)],
    [8, 288 >> 8, 288 & 0xff, 384 >> 8, 384 & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1],
  );
  const dht = segments.filter((s) => s.marker === 0xc4).map((s) => [...s.data]).flat();
  assert.deepEqual(
    dht,
    STANDARD_HUFFMAN_TABLES.flatMap((t) => [(t.tableClass << 4) | t.id, ...t.bits, ...t.values]),
  );
  assert.deepEqual([...segments.at(-1)!.data], [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
  assert.deepEqual([...scan], [...jpegToRtpFrame(FRAMES[7]).scan]);
});

Deno.test({
  name: "round trip: ffmpeg decodes rebuilt frames to the same pixels as the originals",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const picks = [0, 1, 57, 123, 199];
    const events = pushAll(new Rfc2435Depacketizer(), packetsOf(FRAMES).flat());
    const rebuilt = frames(events);
    assert.equal(rebuilt.length, 200);
    const dir = await Deno.makeTempDir({ prefix: "rfc2435-depacketizer-" });
    try {
      for (const i of picks) {
        const original = join(dir, `original${i}.jpg`);
        const copy = join(dir, `rebuilt${i}.jpg`);
        await Deno.writeFile(original, FRAMES[i]);
        await Deno.writeFile(copy, rebuilt[i]);
        assert.deepEqual(await framemd5(copy), await framemd5(original), `frame ${i}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------
// Loss and reordering

const LOSS_FRAMES = FRAMES.slice(10, 14);
const TS = [0, 1, 2, 3].map((i) => 90000 + i * 4500);

Deno.test("loss of a middle packet drops that frame once; the next frame is fine", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  assert.ok(packets[1].length >= 5);
  const depacketizer = new Rfc2435Depacketizer();
  const before = pushAll(depacketizer, [...packets[0], ...packets[1].slice(0, 2)]);
  assert.deepEqual(summary(before), [`frame ${TS[0]}`]);
  // Packet 2 of frame 1 is lost; packet 3 reveals the gap.
  const gap = depacketizer.push(packets[1][3]);
  assert.deepEqual(summary(gap), [`dropped ${TS[1]}`]);
  assert.match((gap[0] as { reason: string }).reason, /packet lost/);
  // The remaining fragments of frame 1 stay quiet.
  for (const packet of packets[1].slice(4)) assert.deepEqual(depacketizer.push(packet), []);
  const after = pushAll(depacketizer, [...packets[2], ...packets[3]]);
  assert.deepEqual(summary(after), [`frame ${TS[2]}`, `frame ${TS[3]}`]);
  assertSamePicture(frames(after)[0], LOSS_FRAMES[2], "frame after the loss");
});

Deno.test("loss of the packet just before the marker drops the frame once", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const lossy = packets.flatMap((p, i) => i === 1 ? p.filter((_, k) => k !== p.length - 2) : p);
  const events = pushAll(new Rfc2435Depacketizer(), lossy);
  assert.deepEqual(summary(events), [
    `frame ${TS[0]}`,
    `dropped ${TS[1]}`,
    `frame ${TS[2]}`,
    `frame ${TS[3]}`,
  ]);
});

Deno.test("loss of the first packet drops the frame once", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const lossy = packets.flatMap((p, i) => i === 1 ? p.slice(1) : p);
  const depacketizer = new Rfc2435Depacketizer();
  const events = pushAll(depacketizer, lossy);
  assert.deepEqual(summary(events), [
    `frame ${TS[0]}`,
    `dropped ${TS[1]}`,
    `frame ${TS[2]}`,
    `frame ${TS[3]}`,
  ]);
  const dropped = events.find((e) => e.kind === "dropped") as { reason: string };
  assert.match(dropped.reason, /first fragment/);
});

Deno.test("loss of the last packet (marker) drops the frame when the next one starts", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const depacketizer = new Rfc2435Depacketizer();
  assert.deepEqual(summary(pushAll(depacketizer, packets[0])), [`frame ${TS[0]}`]);
  // Frame 1 without its last packet: nothing to say yet.
  assert.deepEqual(pushAll(depacketizer, packets[1].slice(0, -1)), []);
  // The first packet of frame 2 ends frame 1's hope.
  const start = depacketizer.push(packets[2][0]);
  assert.deepEqual(summary(start), [`dropped ${TS[1]}`]);
  assert.match((start[0] as { reason: string }).reason, /last fragment never arrived/);
  const rest = pushAll(depacketizer, [...packets[2].slice(1), ...packets[3]]);
  assert.deepEqual(summary(rest), [`frame ${TS[2]}`, `frame ${TS[3]}`]);
});

Deno.test("loss of the last packet of one frame and the first of the next: two drops", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const depacketizer = new Rfc2435Depacketizer();
  pushAll(depacketizer, [...packets[0], ...packets[1].slice(0, -1)]);
  // Frame 2's second packet: a new timestamp closes frame 1, and frame 2 has no start.
  const events = depacketizer.push(packets[2][1]);
  assert.deepEqual(summary(events), [`dropped ${TS[1]}`, `dropped ${TS[2]}`]);
  assert.deepEqual(pushAll(depacketizer, packets[2].slice(2)), []);
  assert.deepEqual(summary(pushAll(depacketizer, packets[3])), [`frame ${TS[3]}`]);
});

Deno.test("reordered packets without a reorder buffer drop the frame once", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const swapped = packets.map((p) => p.slice());
  [swapped[1][2], swapped[1][3]] = [swapped[1][3], swapped[1][2]];
  const events = pushAll(new Rfc2435Depacketizer(), swapped.flat());
  assert.deepEqual(summary(events), [
    `frame ${TS[0]}`,
    `dropped ${TS[1]}`,
    `frame ${TS[2]}`,
    `frame ${TS[3]}`,
  ]);
});

Deno.test("the same reordered packets through a ReorderBuffer give every frame", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const swapped = packets.map((p) => p.slice());
  [swapped[1][2], swapped[1][3]] = [swapped[1][3], swapped[1][2]];
  [swapped[2][0], swapped[2][1]] = [swapped[2][1], swapped[2][0]];
  const buffer = new ReorderBuffer<RtpJpegPacketView>(8);
  const depacketizer = new Rfc2435Depacketizer();
  const events = swapped.flat().flatMap((p) => pushAll(depacketizer, buffer.push(p.sequence, p)));
  events.push(...pushAll(depacketizer, buffer.flush()));
  assert.deepEqual(summary(events), TS.map((t) => `frame ${t}`));
  frames(events).forEach((jpeg, i) => assertSamePicture(jpeg, LOSS_FRAMES[i], `frame ${i}`));
});

Deno.test("a malformed payload drops the frame it belongs to", () => {
  const packets = packetsOf(LOSS_FRAMES, 1000);
  const broken = packets.map((p) => p.slice());
  broken[1][2] = { ...broken[1][2], payload: new Uint8Array(5) };
  const events = pushAll(new Rfc2435Depacketizer(), broken.flat());
  assert.deepEqual(summary(events), [
    `frame ${TS[0]}`,
    `dropped ${TS[1]}`,
    `frame ${TS[2]}`,
    `frame ${TS[3]}`,
  ]);
  const dropped = events.find((e) => e.kind === "dropped") as { reason: string };
  assert.match(dropped.reason, /main header needs 8/);
});

// ---------------------------------------------------------------------------
// Quantization tables

Deno.test("Q 1-99: tables derived from Q (no table header)", async (t) => {
  for (const q of [1, 50, 75, 99]) {
    await t.step(`Q ${q}`, () => {
      const events = pushAll(new Rfc2435Depacketizer(), framePackets(5, 9000, SCAN0, { q }));
      assert.deepEqual(summary(events), ["frame 9000"]);
      const [jpeg] = frames(events);
      const derived = scaledQuantTables(q);
      assert.deepEqual(dqtTables(jpeg), [
        [0x00, [...derived.subarray(0, 64)]],
        [0x01, [...derived.subarray(64)]],
      ]);
      assert.deepEqual([...splitJpeg(jpeg).scan], [...SCAN0]);
    });
  }
});

Deno.test("Q 1-99: Q 50 gives K.1/K.2 in zig-zag order", () => {
  const [jpeg] = frames(
    pushAll(new Rfc2435Depacketizer(), framePackets(5, 9000, SCAN0, { q: 50 })),
  );
  const [[, luma], [, chroma]] = dqtTables(jpeg);
  assert.deepEqual(luma.slice(0, 8), [16, 11, 12, 14, 12, 10, 16, 14]);
  assert.deepEqual(chroma.slice(0, 8), [17, 18, 18, 24, 21, 24, 47, 26]);
});

Deno.test("Q 128-254: tables are cached per Q and reused when Length is 0", () => {
  const tablesA = Uint8Array.from({ length: 128 }, (_, i) => 1 + (i % 50));
  const tablesB = Uint8Array.from({ length: 128 }, (_, i) => 200 - (i % 60));
  const depacketizer = new Rfc2435Depacketizer();
  const events = pushAll(depacketizer, [
    ...framePackets(1, 1000, SCAN0, { q: 128 }, { quantTables: tablesA }),
    ...framePackets(3, 2000, SCAN0, { q: 200 }, { quantTables: tablesB }),
    ...framePackets(5, 3000, SCAN0, { q: 128 }, { quantTables: new Uint8Array(0) }),
    ...framePackets(7, 4000, SCAN0, { q: 200 }, { quantTables: new Uint8Array(0) }),
  ]);
  assert.deepEqual(summary(events), ["frame 1000", "frame 2000", "frame 3000", "frame 4000"]);
  const [a, b, a2, b2] = frames(events).map(dqtTables);
  const expectA = [[0x00, [...tablesA.subarray(0, 64)]], [0x01, [...tablesA.subarray(64)]]];
  const expectB = [[0x00, [...tablesB.subarray(0, 64)]], [0x01, [...tablesB.subarray(64)]]];
  assert.deepEqual(a, expectA);
  assert.deepEqual(b, expectB);
  assert.deepEqual(a2, expectA, "Q 128, Length 0: the tables sent with Q 128");
  assert.deepEqual(b2, expectB, "Q 200, Length 0: the tables sent with Q 200");
});

Deno.test("Q 128-254: cached tables survive a later change of the packet buffer", () => {
  const tables = Uint8Array.from({ length: 128 }, (_, i) => 10 + i);
  const depacketizer = new Rfc2435Depacketizer();
  const first = framePackets(1, 1000, SCAN0, { q: 150 }, { quantTables: tables });
  pushAll(depacketizer, first);
  first[0].payload.fill(0xee); // a receiver may reuse its datagram buffer
  const events = pushAll(
    depacketizer,
    framePackets(3, 2000, SCAN0, { q: 150 }, { quantTables: new Uint8Array(0) }),
  );
  const [jpeg] = frames(events);
  assert.deepEqual(dqtTables(jpeg)[0], [0x00, [...tables.subarray(0, 64)]]);
});

Deno.test("Q 128-254 with Length 0 and nothing cached is dropped", () => {
  const events = pushAll(
    new Rfc2435Depacketizer(),
    framePackets(1, 1000, SCAN0, { q: 140 }, { quantTables: new Uint8Array(0) }),
  );
  assert.deepEqual(summary(events), ["dropped 1000"]);
  assert.match((events[0] as { reason: string }).reason, /Q 140 .*never received/);
});

Deno.test("Q 255 with Length 0 is dropped, even after tables came with Q 255", () => {
  const tables = Uint8Array.from({ length: 128 }, (_, i) => 1 + i);
  const depacketizer = new Rfc2435Depacketizer();
  const events = pushAll(depacketizer, [
    ...framePackets(1, 1000, SCAN0, { q: 255 }, { quantTables: tables }),
    ...framePackets(3, 2000, SCAN0, { q: 255 }, { quantTables: new Uint8Array(0) }),
    ...framePackets(5, 3000, SCAN0, { q: 255 }, { quantTables: tables }),
  ]);
  assert.deepEqual(summary(events), ["frame 1000", "dropped 2000", "frame 3000"]);
  assert.match((events[1] as { reason: string }).reason, /without quantization tables/);
});

Deno.test("16-bit tables (precision bits) become DQT tables with Pq 1", async (t) => {
  const t8 = (seed: number) => Array.from({ length: 64 }, (_, i) => (seed + i) & 0xff);
  const t16 = (seed: number) =>
    Array.from({ length: 128 }, (_, i) => i % 2 ? (seed + i) & 0xff : 0);
  const cases: [string, number, number[][], number[]][] = [
    ["luma 16-bit", 1, [t16(1), t8(2)], [0x10, 0x01]],
    ["chroma 16-bit", 2, [t8(3), t16(4)], [0x00, 0x11]],
    ["both 16-bit", 3, [t16(5), t16(6)], [0x10, 0x11]],
    ["one 16-bit table", 1, [t16(7)], [0x10]],
  ];
  for (const [name, precision, tables, pqTq] of cases) {
    await t.step(name, () => {
      const events = pushAll(
        new Rfc2435Depacketizer(),
        framePackets(1, 1000, SCAN0, {}, {
          quantPrecision: precision,
          quantTables: Uint8Array.from(tables.flat()),
        }),
      );
      assert.deepEqual(summary(events), ["frame 1000"]);
      const [jpeg] = frames(events);
      assert.deepEqual(dqtTables(jpeg), tables.map((table, i) => [pqTq[i], table]));
    });
  }
});

Deno.test("a single 64-byte table is used by all three components", () => {
  const table = Uint8Array.from({ length: 64 }, (_, i) => 2 + i);
  const events = pushAll(
    new Rfc2435Depacketizer(),
    framePackets(1, 1000, SCAN0, {}, { quantTables: table }),
  );
  const [jpeg] = frames(events);
  assert.deepEqual(dqtTables(jpeg), [[0x00, [...table]]]);
  const sof = sofOf(jpeg);
  assert.deepEqual([sof[8], sof[11], sof[14]], [0, 0, 0], "every component uses table 0");
});

Deno.test("table data that is neither one nor two tables is dropped", () => {
  const events = pushAll(
    new Rfc2435Depacketizer(),
    framePackets(1, 1000, SCAN0, {}, { quantTables: new Uint8Array(192) }),
  );
  assert.deepEqual(summary(events), ["dropped 1000"]);
  assert.match((events[0] as { reason: string }).reason, /192 bytes .*neither one nor two/);
});

Deno.test("reserved Q values and unsupported types are dropped", async (t) => {
  for (const q of [0, 100, 127]) {
    await t.step(`Q ${q}`, () => {
      const events = pushAll(new Rfc2435Depacketizer(), framePackets(1, 1000, SCAN0, { q }));
      assert.deepEqual(summary(events), ["dropped 1000"]);
      assert.match((events[0] as { reason: string }).reason, new RegExp(`reserved Q value ${q}`));
    });
  }
  for (const type of [2, 63, 66, 128, 255]) {
    await t.step(`type ${type}`, () => {
      const events = pushAll(
        new Rfc2435Depacketizer(),
        framePackets(1, 1000, SCAN0, { type, q: 50 }),
      );
      assert.deepEqual(summary(events), ["dropped 1000"]);
      assert.match((events[0] as { reason: string }).reason, /unsupported RTP\/JPEG type/);
    });
  }
});

// ---------------------------------------------------------------------------
// Picture size, restart markers, limits, EOI

Deno.test("width/height 0 without dimensions is dropped", () => {
  const events = pushAll(
    new Rfc2435Depacketizer(),
    framePackets(1, 1000, SCAN0, { q: 50, width8: 0, height8: 0 }),
  );
  assert.deepEqual(summary(events), ["dropped 1000"]);
  assert.match((events[0] as { reason: string }).reason, /x-dimensions/);
});

Deno.test("width/height 0 with the dimensions option: SOF carries them", () => {
  const depacketizer = new Rfc2435Depacketizer({ dimensions: { width: 2048, height: 1080 } });
  const events = pushAll(depacketizer, [
    ...framePackets(1, 1000, SCAN0, { q: 50, width8: 0, height8: 0 }),
    // A header size wins over the option.
    ...framePackets(3, 2000, SCAN0, { q: 50, width8: 48, height8: 36 }),
  ]);
  const [wide, normal] = frames(events);
  assert.deepEqual([...sofOf(wide).subarray(1, 5)], [
    1080 >> 8,
    1080 & 0xff,
    2048 >> 8,
    2048 & 0xff,
  ]);
  assert.deepEqual([...sofOf(normal).subarray(1, 5)], [288 >> 8, 288 & 0xff, 384 >> 8, 384 & 0xff]);
});

Deno.test("a 2048-pixel-wide JPEG round-trips with the dimensions option", () => {
  const { segments, scan } = splitJpeg(FRAMES[0]);
  const wide = concat(
    [0xff, 0xd8],
    ...segments.map((s) => {
      const data = s.data.slice();
      if (s.marker === 0xc0) data.set([2048 >> 8, 2048 & 0xff], 3);
      return concat([0xff, s.marker, (data.length + 2) >> 8, (data.length + 2) & 0xff], data);
    }),
    scan,
    [0xff, 0xd9],
  );
  const packets = packetsOf([wide])[0];
  assert.equal(packets[0].payload[6], 0, "width byte 0");
  const events = pushAll(
    new Rfc2435Depacketizer({ dimensions: { width: 2048, height: 288 } }),
    packets,
  );
  assert.deepEqual(summary(events), ["frame 90000"]);
  assertSamePicture(frames(events)[0], wide, "2048x288");
});

Deno.test("restart types 64/65 put a DRI segment in the output", async (t) => {
  for (const [type, sampling] of [[64, 0x21], [65, 0x22]]) {
    await t.step(`type ${type}`, () => {
      const events = pushAll(
        new Rfc2435Depacketizer(),
        framePackets(1, 1000, SCAN0, { type, q: 50, restartInterval: 0x0123 }),
      );
      assert.deepEqual(summary(events), ["frame 1000"]);
      const [jpeg] = frames(events);
      const dri = splitJpeg(jpeg).segments.filter((s) => s.marker === 0xdd);
      assert.equal(dri.length, 1);
      assert.deepEqual([...dri[0].data], [0x01, 0x23]);
      assert.equal(sofOf(jpeg)[7], sampling, "Y sampling");
    });
  }
  await t.step("types 0/1: no DRI", () => {
    for (const type of [0, 1]) {
      const [jpeg] = frames(
        pushAll(new Rfc2435Depacketizer(), framePackets(1, 1000, SCAN0, { type, q: 50 })),
      );
      assert.ok(!splitJpeg(jpeg).segments.some((s) => s.marker === 0xdd));
      assert.equal(sofOf(jpeg)[7], type === 0 ? 0x21 : 0x22);
    }
  });
});

Deno.test({
  name: "restart markers round-trip (ffmpeg slices) and decode to the same pixels",
  ignore: SKIP_WITHOUT_FFMPEG,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "rfc2435-depacketizer-" });
    try {
      const original = join(dir, "rst.jpg");
      const output = await new Deno.Command("ffmpeg", {
        args: [
          ...["-hide_banner", "-v", "error", "-nostdin", "-f", "lavfi"],
          ...["-i", "testsrc2=size=160x120:rate=1:duration=1", "-frames:v", "1"],
          ...["-pix_fmt", "yuvj420p", "-huffman", "default", "-slices", "2", "-q:v", "5"],
          ...["-f", "image2", original],
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      const jpeg = await Deno.readFile(original);
      const packets = packetsOf([jpeg], 400)[0];
      assert.equal(packets[0].payload[4], 65, "type 65");
      const [event] = pushAll(new Rfc2435Depacketizer(), packets);
      assert.equal(event?.kind, "frame");
      const rebuilt = (event as { jpeg: Uint8Array }).jpeg;
      const dri = splitJpeg(rebuilt).segments.find((s) => s.marker === 0xdd);
      const originalDri = splitJpeg(jpeg).segments.find((s) => s.marker === 0xdd);
      assert.deepEqual(dri && [...dri.data], originalDri && [...originalDri.data]);
      assertSamePicture(rebuilt, jpeg, "restart frame");
      const copy = join(dir, "rebuilt.jpg");
      await Deno.writeFile(copy, rebuilt);
      assert.deepEqual(await framemd5(copy), await framemd5(original));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("maxFrameBytes: a larger frame is dropped once; smaller frames pass", () => {
  const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0x7f);
  const depacketizer = new Rfc2435Depacketizer({ maxFrameBytes: 250 });
  const big = framePackets(1, 1000, data, { q: 50 }, {}, 3);
  const first = pushAll(depacketizer, big.slice(0, 2));
  assert.deepEqual(summary(first), [], "200 bytes so far");
  const over = depacketizer.push(big[2]);
  assert.deepEqual(summary(over), ["dropped 1000"]);
  assert.match((over[0] as { reason: string }).reason, /exceeds 250 bytes/);
  const small = pushAll(depacketizer, framePackets(4, 2000, data.subarray(0, 250), { q: 50 }));
  assert.deepEqual(summary(small), ["frame 2000"]);
});

Deno.test("maxFrameBytes: the remaining fragments of a frame over the cap stay quiet", () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0x7f);
  const depacketizer = new Rfc2435Depacketizer({ maxFrameBytes: 100 });
  const events = pushAll(depacketizer, framePackets(1, 1000, data, { q: 50 }, {}, 5));
  assert.deepEqual(summary(events), ["dropped 1000"]);
});

Deno.test("EOI is appended when the data lacks one, and only then", async (t) => {
  await t.step("scan without EOI: appended", () => {
    const [jpeg] = frames(
      pushAll(new Rfc2435Depacketizer(), framePackets(1, 1000, SCAN0, { q: 50 })),
    );
    assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9]);
    assert.deepEqual([...splitJpeg(jpeg).scan], [...SCAN0]);
  });
  await t.step("scan ending with EOI: not doubled", () => {
    const withEoi = concat(SCAN0, [0xff, 0xd9]);
    const [jpeg] = frames(
      pushAll(new Rfc2435Depacketizer(), framePackets(1, 1000, withEoi, { q: 50 })),
    );
    assert.deepEqual([...splitJpeg(jpeg).scan], [...SCAN0]);
  });
});

Deno.test("EOI split across the last two fragments is not doubled", () => {
  const withEoi = concat(SCAN0, [0xff, 0xd9]);
  // A sender that keeps the EOI in its scan data and cuts at a fixed payload size
  // splits FF | D9 now and then; here the last fragment is just the D9.
  const packets = [
    {
      sequence: 1,
      timestamp: 1000,
      marker: false,
      payload: payloadOf({ q: 50 }, withEoi.subarray(0, withEoi.length - 1)),
    },
    {
      sequence: 2,
      timestamp: 1000,
      marker: true,
      payload: payloadOf(
        { q: 50, fragmentOffset: withEoi.length - 1 },
        withEoi.subarray(withEoi.length - 1),
      ),
    },
  ];
  const [jpeg] = frames(pushAll(new Rfc2435Depacketizer(), packets));
  assert.deepEqual(
    [...jpeg.subarray(-4)],
    [SCAN0.at(-2), SCAN0.at(-1), 0xff, 0xd9],
    "the data already ends with FF D9; another EOI must not follow",
  );
});

Deno.test("buildJpegHeader(): SOI, DQT, [DRI], SOF0, DHT, SOS", () => {
  const header = buildJpegHeader(64, 640, 480, { precision: 0, data: scaledQuantTables(75) }, 10);
  assert.deepEqual([...header.subarray(0, 2)], [0xff, 0xd8]);
  const { segments } = splitJpeg(concat(header, [0xff, 0xd9]));
  const markers = segments.map((s) => s.marker).filter((m) => m !== 0xe0);
  assert.deepEqual([...markers].sort(), [0xc0, 0xc4, 0xda, 0xdb, 0xdd]);
  assert.equal(markers.at(-1), 0xda);
  assert.deepEqual([...segments.find((s) => s.marker === 0xdd)!.data], [0, 10]);
  const sof = segments.find((s) => s.marker === 0xc0)!.data;
  assert.deepEqual([...sof], [
    8,
    480 >> 8,
    480 & 0xff,
    640 >> 8,
    640 & 0xff,
    3,
    1,
    0x21,
    0,
    2,
    0x11,
    1,
    3,
    0x11,
    1,
  ]);
});
