/**
 * The client's statistics and frames under a seeded, exactly recorded
 * impairment of the RTP path (tests/_impairment_proxy.ts): an unmodified
 * StreamClient talks to the server through a TCP proxy that points each
 * SETUP's client_port at a UDP proxy, which drops, duplicates, swaps,
 * truncates and delays chosen packets on their way to the client.
 *
 * Checked: the statistics report exactly what was injected (packets lost =
 * dropped or truncated below the 12-byte header and never resent; duplicates;
 * out of order = swapped pairs; malformed = truncated below 12 bytes); every
 * frame written is a complete JPEG identical to the file's frame of that
 * number; frames hit by an impairment are counted (incomplete in standard
 * RTSP, damaged or missing in the lab dialect) and not written.
 *
 * The first and last frames are left alone in the main tests: RFC 3550 A.3
 * counts loss from the first packet received to the highest, so a loss
 * before or after those is invisible by definition. Two further tests look
 * at the frame accounting at those ends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isCompleteJpeg } from "../lib/wire/jpeg.ts";
import { jpegToRtpFrame, packetizeRtpJpeg } from "../lib/wire/rfc2435_packetizer.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { RTP_HEADER_SIZE } from "../lib/wire/rtp_packet.ts";
import { StreamClient, type StreamClientOptions } from "../lib/session/client/stream_client.ts";
import { type Impairment, RtspPortRewriter, UdpImpairmentProxy } from "./_impairment_proxy.ts";
import { labFile, tempMediaDir } from "./_raw_rtsp.ts";
import { startServer } from "./_server.ts";
import { Rng } from "./_rng.ts";

const VIDEO = await Deno.readFile(new URL("../video.mjpeg", import.meta.url));
const FRAMES = [...readLabFrames(VIDEO)].slice(0, 60).map((f) => f.data);
const FPS = 100;
/** The server's default largest RTP packet, headers included. */
const MAX_PACKET = 1400;
const SEED = Number(Deno.env.get("IMPAIRMENT_SEED") ?? 0x1a2b3c) >>> 0;

/** Where each frame's packets fall in the stream, and each packet's size. */
interface Layout {
  frameOf: number[];
  lengths: number[];
  /** Index of each frame's last packet (the one with the marker bit in standard RTSP). */
  lastOf: number[];
}

function layoutOf(dialect: "lab" | "rtsp"): Layout {
  const layout: Layout = { frameOf: [], lengths: [], lastOf: [] };
  FRAMES.forEach((frame, f) => {
    const payloads = dialect === "lab"
      ? [frame]
      : packetizeRtpJpeg(jpegToRtpFrame(frame), MAX_PACKET - RTP_HEADER_SIZE);
    for (const payload of payloads) {
      layout.frameOf.push(f);
      layout.lengths.push(RTP_HEADER_SIZE + payload.length);
    }
    layout.lastOf.push(layout.frameOf.length - 1);
  });
  return layout;
}

/** Fractions of packets to impair, each kind at least once. */
const RATES = { drop: 0.05, duplicate: 0.03, swap: 0.03, tiny: 0.01, truncate: 0.01, delay: 0.02 };

/**
 * A seeded plan over the packets of frames 1 .. n-2: each packet gets at most
 * one impairment, and a swapped packet's successor gets none. Truncation to 12
 * bytes or more spares a standard frame's last packet (RFC 2435 gives no frame
 * length, so a shortened last fragment cannot be told from a short frame).
 */
function makePlan(layout: Layout, dialect: "lab" | "rtsp", seed: number): Map<number, Impairment> {
  const rng = new Rng(seed);
  const int = (n: number) => rng.int(n);
  const last = FRAMES.length - 1;
  const eligible = layout.frameOf.map((f, i) => f > 0 && f < last ? i : -1).filter((i) => i >= 0);
  for (let i = eligible.length - 1; i > 0; i--) { // Fisher-Yates, seeded
    const j = int(i + 1);
    [eligible[i], eligible[j]] = [eligible[j], eligible[i]];
  }
  const isEligible = new Set(eligible);
  const plan = new Map<number, Impairment>();
  const reserved = new Set<number>();
  const free = (i: number) => isEligible.has(i) && !plan.has(i) && !reserved.has(i);
  const total = layout.frameOf.length;
  const want = (rate: number) => Math.max(1, Math.round(rate * total));
  const take = (count: number, accept: (i: number) => Impairment | undefined) => {
    let taken = 0;
    for (const i of eligible) {
      if (taken >= count) break;
      if (!free(i)) continue;
      const impairment = accept(i);
      if (!impairment) continue;
      plan.set(i, impairment);
      taken++;
    }
    assert.equal(taken, count, "the plan found room for every impairment");
  };
  take(want(RATES.swap), (i) => {
    if (!free(i + 1)) return undefined;
    reserved.add(i + 1);
    return { kind: "swap" };
  });
  take(want(RATES.drop), () => ({ kind: "drop" }));
  take(want(RATES.tiny), () => ({ kind: "truncate", length: int(RTP_HEADER_SIZE) }));
  take(want(RATES.truncate), (i) => {
    if (dialect === "rtsp" && layout.lastOf[layout.frameOf[i]] === i) return undefined;
    return { kind: "truncate", length: RTP_HEADER_SIZE + int(layout.lengths[i] - RTP_HEADER_SIZE) };
  });
  take(want(RATES.duplicate), () => ({ kind: "duplicate" }));
  take(want(RATES.delay), () => ({ kind: "delay", ms: 5 + int(36) }));
  return plan;
}

/** What the plan must do to the client's statistics and frames. */
function expectations(plan: Map<number, Impairment>, layout: Layout, dialect: "lab" | "rtsp") {
  const count = (test: (m: Impairment) => boolean) => [...plan.values()].filter(test).length;
  const tiny = (m: Impairment) => m.kind === "truncate" && m.length < RTP_HEADER_SIZE;
  const lost = count((m) => m.kind === "drop" || tiny(m));
  const hit = new Set<number>();
  const damaged = new Set<number>();
  for (const [i, m] of plan) {
    if (m.kind === "drop" || m.kind === "truncate") hit.add(layout.frameOf[i]);
    if (m.kind === "truncate" && !tiny(m)) damaged.add(layout.frameOf[i]);
  }
  const total = layout.frameOf.length;
  return {
    packets: {
      packetsExpected: total,
      packetsReceived: total - lost,
      packetsLost: lost,
      duplicates: count((m) => m.kind === "duplicate"),
      outOfOrder: count((m) => m.kind === "swap"),
      malformed: count(tiny),
    },
    frames: {
      framesReceived: FRAMES.length - hit.size,
      framesIncomplete: dialect === "rtsp" ? hit.size : 0,
      framesDamaged: dialect === "lab" ? damaged.size : 0,
    },
    hit,
  };
}

interface Run {
  client: StreamClient;
  proxy: UdpImpairmentProxy;
  files: Map<number, Uint8Array>;
  end: string;
}

/**
 * Serve the first 60 frames at 100 fps; play them to a StreamClient through
 * the impairment; return what the client counted and wrote.
 */
async function impairedRun(
  dialect: "lab" | "rtsp",
  plan: Map<number, Impairment>,
  check: (run: Run) => void | Promise<void>,
): Promise<void> {
  await using media = await tempMediaDir({ "clip.mjpeg": labFile(FRAMES) });
  await using srv = await startServer({ mediaDir: media.path, fps: FPS });
  await using proxy = new UdpImpairmentProxy(plan);
  await using rewriter = new RtspPortRewriter(srv.port, proxy);
  const outDir = await Deno.makeTempDir({ prefix: "impairment_test_" });
  try {
    const options: StreamClientOptions = {
      host: "127.0.0.1",
      port: rewriter.port,
      rtpPort: 0,
      resource: "clip.mjpeg",
      dialect,
      outDir,
      receiveTimeoutMs: 100,
      replyTimeoutMs: 3000,
    };
    const client = await StreamClient.open(options);
    let end: string;
    try {
      await client.setup();
      assert.equal(rewriter.rewritten, 1, "the SETUP was pointed at the proxy");
      await client.play();
      end = await client.receive({ endAfterSec: 1, firstPacketTimeoutSec: 5 });
      await proxy.flush();
      const teardown = await client.teardown();
      assert.equal(teardown.status, 200);
    } finally {
      await client.close();
    }
    const files = new Map<number, Uint8Array>();
    for await (const entry of Deno.readDir(outDir)) {
      const m = /^frame_(\d{6})\.jpg$/.exec(entry.name);
      assert.ok(m, `unexpected file ${entry.name}`);
      files.set(Number(m[1]), await Deno.readFile(`${outDir}/${entry.name}`));
    }
    assert.equal(proxy.counters.unroutable, 0, "the proxy knew the client's ports in time");
    await check({ client, proxy, files, end });
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

/** The proxy saw the stream the layout predicts, and did exactly what the plan says. */
function assertProxyFollowedPlan(
  proxy: UdpImpairmentProxy,
  layout: Layout,
  plan: Map<number, Impairment>,
): void {
  const seen = proxy.seen;
  assert.equal(seen.length, layout.frameOf.length, "packets the server sent");
  for (const p of seen) {
    assert.equal(p.length, layout.lengths[p.index], `packet ${p.index} length`);
    assert.equal(
      p.sequenceNumber,
      (seen[0].sequenceNumber + p.index) & 0xffff,
      `packet ${p.index} seq`,
    );
    if (layout.lengths.length !== FRAMES.length) { // standard: marker on each frame's last packet
      assert.equal(
        p.marker,
        layout.lastOf[layout.frameOf[p.index]] === p.index,
        `packet ${p.index} M`,
      );
    }
  }
  const kinds = [...plan.values()].map((m) => m.kind);
  const n = (kind: string) => kinds.filter((k) => k === kind).length;
  assert.deepEqual(
    {
      dropped: proxy.counters.dropped,
      duplicated: proxy.counters.duplicated,
      swapped: proxy.counters.swapped,
      truncated: proxy.counters.truncated,
      delayed: proxy.counters.delayed,
    },
    {
      dropped: n("drop"),
      duplicated: n("duplicate"),
      swapped: n("swap"),
      truncated: n("truncate"),
      delayed: n("delay"),
    },
  );
  assert.equal(
    proxy.counters.rtpOut,
    seen.length - n("drop") + n("duplicate"),
    "datagrams forwarded to the client",
  );
}

/** Frame files: exactly the frames not hit, each identical to the file's frame of that number. */
function assertFiles(files: Map<number, Uint8Array>, hit: Set<number>): void {
  const expected = FRAMES.map((_, f) => f).filter((f) => !hit.has(f)).map((f) => f + 1);
  assert.deepEqual([...files.keys()].sort((a, b) => a - b), expected, "frame numbers written");
  for (const [number, jpeg] of files) {
    assert.ok(isCompleteJpeg(jpeg), `frame_${number} is a complete JPEG`);
    const original = FRAMES[number - 1];
    assert.ok(
      jpeg.length === original.length && jpeg.every((b, i) => b === original[i]),
      `frame_${number} is byte-identical to frame ${number - 1} of the file`,
    );
  }
}

for (const dialect of ["rtsp", "lab"] as const) {
  Deno.test(`impairment (${dialect}): statistics report exactly the injected loss, duplicates, reordering and truncation`, async () => {
    const layout = layoutOf(dialect);
    const plan = makePlan(layout, dialect, SEED ^ (dialect === "lab" ? 0x1ab : 0x575));
    const expected = expectations(plan, layout, dialect);
    await impairedRun(dialect, plan, ({ client, proxy, files, end }) => {
      assertProxyFollowedPlan(proxy, layout, plan);
      const s = client.stats.summary();
      console.log(
        `impairment (${dialect}): ${layout.frameOf.length} packets, plan ${
          JSON.stringify(
            [...plan.values()].reduce<Record<string, number>>((acc, m) => {
              const key = m.kind === "truncate" && m.length < RTP_HEADER_SIZE
                ? "truncate<12"
                : m.kind;
              acc[key] = (acc[key] ?? 0) + 1;
              return acc;
            }, {}),
          )
        }; client: ${s.framesReceived} frames, ${s.framesIncomplete} incomplete, ${s.framesDamaged} damaged, ${s.packetsLost} lost, ${s.duplicates} dup, ${s.outOfOrder} ooo, ${s.malformed} malformed; ended by ${end}`,
      );
      assert.equal(end, dialect === "rtsp" ? "bye" : "end-of-stream");
      const { packetsExpected, packetsReceived, packetsLost, duplicates, outOfOrder, malformed } =
        s;
      assert.deepEqual(
        { packetsExpected, packetsReceived, packetsLost, duplicates, outOfOrder, malformed },
        expected.packets,
        `packet statistics (damaged: ${client.damaged.join("; ")})`,
      );
      const { framesReceived, framesIncomplete, framesDamaged } = s;
      assert.deepEqual(
        { framesReceived, framesIncomplete, framesDamaged },
        expected.frames,
        `frame statistics (why: ${client.damaged.join("; ")})`,
      );
      assertFiles(files, expected.hit);
      assert.equal(client.foreignPackets, 0);
      assert.equal(client.receiver.overflowed, 0);
    });
  });
}

Deno.test("impairment (rtsp): a loss in the first frame does not renumber the frames after it", async () => {
  // Packet 1 is the second fragment of frame 0 (the first packet still arrives,
  // so sequence accounting starts where it should). Frame 1 must still be
  // written as frame_000002.jpg: frame numbers come from RTP timestamps.
  const plan = new Map<number, Impairment>([[1, { kind: "drop" }]]);
  await impairedRun("rtsp", plan, ({ client, files }) => {
    const s = client.stats.summary();
    assert.equal(s.packetsLost, 1);
    assert.equal(s.framesIncomplete, 1);
    assert.equal(s.framesReceived, FRAMES.length - 1);
    assertFiles(files, new Set([0]));
  });
});

Deno.test("impairment (rtsp): a frame whose last packet is lost at the end of the stream is counted incomplete", async () => {
  // The marker packet of the last frame never arrives; the stream then ends
  // with the server's BYE. That frame was hit by loss and must be counted.
  const layout = layoutOf("rtsp");
  const plan = new Map<number, Impairment>([[layout.frameOf.length - 1, { kind: "drop" }]]);
  await impairedRun("rtsp", plan, ({ client, files, end }) => {
    assert.equal(end, "bye");
    const s = client.stats.summary();
    assert.equal(s.framesReceived, FRAMES.length - 1);
    assertFiles(files, new Set([FRAMES.length - 1]));
    assert.equal(
      s.framesIncomplete,
      1,
      `the last frame, never completed, is counted incomplete (damaged: ${
        client.damaged.join("; ")
      })`,
    );
  });
});
