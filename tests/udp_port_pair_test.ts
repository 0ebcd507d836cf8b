/**
 * {@linkcode UdpPortPair} in each of its send modes ("portable", "sendmmsg",
 * "gso") on loopback: the even/odd port pair, RTP delivered intact and in
 * order from the RTP port (header copied at once, payloads by reference),
 * batched modes handing everything to the kernel at the end of the
 * event-loop turn in few calls, RTCP both ways, refusals with a reason, and
 * a clean close.
 *
 * Batched modes need Linux UDP sockets (the ffi permission; GSO for "gso"):
 * where they are unavailable their tests say so on the console and pass,
 * except in CI (CI=true), where they fail.
 */
import assert from "node:assert/strict";
import { linuxUdpSupport } from "../lib/net/linux_udp.ts";
import { type PairDatagram, UdpPortPair, type UdpSendMode } from "../lib/net/udp_port_pair.ts";
import { sleep, type UdpSink, udpSink, waitUntil } from "./_raw_rtsp.ts";
import { concat } from "./_helpers.ts";

const HOST = "127.0.0.1";
const support = linuxUdpSupport();

type TestedMode = Exclude<UdpSendMode, "auto">;
const MODES: readonly TestedMode[] = ["portable", "sendmmsg", "gso"];
/** What `sendMode` says for each mode. */
const REPORTED: Record<TestedMode, string> = {
  portable: "portable",
  sendmmsg: "sendmmsg",
  gso: "sendmmsg+gso",
};

/** Why `mode` cannot be had on this machine, or undefined when it can. */
function unavailable(mode: TestedMode): string | undefined {
  if (mode === "portable") return undefined;
  if (!support.available) return `Linux UDP sockets are unavailable (${support.reason})`;
  if (mode === "gso" && !support.gso) return "the kernel refuses UDP GSO";
  return undefined;
}

/**
 * True when the test should stop here because `mode` is unavailable (said on
 * the console). In CI (CI=true) unavailability fails the test instead.
 */
function skip(name: string, mode: TestedMode): boolean {
  const why = unavailable(mode);
  if (why === undefined) return false;
  if (Deno.env.get("CI") === "true") assert.fail(`${mode} must be available in CI: ${why}`);
  console.log(`skipped "${name}" (${mode}): ${why}`);
  return true;
}

/** A pair on 127.0.0.1 in `mode`, whose RTCP datagrams are collected in `rtcp`. */
function bindPair(mode: TestedMode, rtcp: PairDatagram[] = []): UdpPortPair {
  return UdpPortPair.bind(HOST, (d) => rtcp.push({ data: d.data.slice(), from: d.from }), {
    sendMode: mode,
  });
}

/** Bytes 0..n-1 of a recognisable pattern (never the header's bytes). */
function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0x7f);
}

/** One shared payload buffer for every packet, as sessions share a file's payloads. */
const SHARED = pattern(40_000);

/** An RTP packet as sent: the header bytes at the time of the call, and its payload view. */
interface Sent {
  header: Uint8Array;
  payload: Uint8Array;
}

/**
 * Send `frames` frames of the given packet counts to `port`, as a session
 * does: one 12-byte header buffer re-stamped for each packet (so the pair
 * must copy it), payloads that are subarrays of {@linkcode SHARED}, equal in
 * size but for a shorter last packet per frame (so GSO applies).
 * Synchronous: everything is sent in the caller's turn.
 */
function sendFrames(
  pair: UdpPortPair,
  port: number,
  counts: readonly number[],
  firstSequence = 1000,
): Sent[] {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  const sent: Sent[] = [];
  let offset = 0;
  let sequence = firstSequence;
  for (const [f, count] of counts.entries()) {
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const size = last ? 300 + f : 1000; // a one-packet frame is "all last"
      header[0] = 0x80;
      header[1] = 26 | (last ? 0x80 : 0);
      view.setUint16(2, sequence++);
      view.setUint32(4, 90_000 + f * 4500);
      view.setUint32(8, 0xdeadbeef);
      const payload = SHARED.subarray(offset, offset + size);
      offset += size;
      pair.sendRtp(header, payload, HOST, port);
      sent.push({ header: header.slice(), payload });
      header.fill(0xee); // re-stamped after each call: the pair must have copied it
    }
  }
  return sent;
}

/** The RTP sequence number of a datagram. */
function sequenceOf(data: Uint8Array): number {
  return (data[2] << 8) | data[3];
}

/**
 * Assert that `sink` received exactly the packets of `sent` (each once,
 * intact, from `fromPort`), in the order sent when `inOrder`.
 */
function assertReceived(sink: UdpSink, sent: Sent[], fromPort: number, inOrder: boolean): void {
  assert.equal(sink.datagrams.length, sent.length, "datagrams received");
  if (inOrder) {
    assert.deepEqual(
      sink.datagrams.map((d) => sequenceOf(d.data)),
      sent.map((p) => sequenceOf(p.header)),
      "datagrams arrive in the order sent",
    );
  }
  const bySequence = new Map(sink.datagrams.map((d) => [sequenceOf(d.data), d]));
  for (const [i, { header, payload }] of sent.entries()) {
    const got = bySequence.get(sequenceOf(header));
    assert.ok(got, `packet ${i} (sequence ${sequenceOf(header)}) arrived`);
    assert.deepEqual(got.data, concat(header, payload), `packet ${i}: header + payload`);
    assert.equal(got.from.hostname, HOST, `packet ${i}: source address`);
    assert.equal(got.from.port, fromPort, `packet ${i}: source port is the RTP port`);
  }
}

const FRAMES = [1, 5, 12];
const PACKETS = FRAMES.reduce((a, b) => a + b, 0);

for (const mode of MODES) {
  Deno.test(`UdpPortPair ${mode}: an even RTP port, RTCP one above, sendMode "${REPORTED[mode]}"`, async () => {
    if (skip("ports and mode", mode)) return;
    const pair = bindPair(mode);
    try {
      assert.equal(pair.rtpPort % 2, 0, `RTP port ${pair.rtpPort} is even`);
      assert.equal(pair.rtcpPort, pair.rtpPort + 1, "RTCP port is the one above");
      assert.equal(pair.sendMode, REPORTED[mode]);
      if (mode === "portable") assert.equal(pair.portableReason, "asked for");
      else assert.equal(pair.portableReason, undefined);
      assert.deepEqual(pair.counters, {
        rtpSent: 0,
        rtpSendCalls: 0,
        sendErrors: 0,
        sendDropped: 0,
        rtpReceived: 0,
        rtcpReceived: 0,
      });
    } finally {
      await pair.close();
    }
  });

  Deno.test(`UdpPortPair ${mode}: every RTP packet arrives intact (header copied), from the RTP port`, async () => {
    if (skip("RTP delivery", mode)) return;
    await using sink = udpSink();
    const pair = bindPair(mode);
    try {
      const sent = sendFrames(pair, sink.port, FRAMES);
      assert.equal(sent.length, PACKETS);
      assert.ok(await sink.waitFor(PACKETS, 3000), `got ${sink.datagrams.length} of ${PACKETS}`);
      await sleep(50); // nothing more may come
      assertReceived(sink, sent, pair.rtpPort, false);
      const counters = pair.counters;
      assert.equal(counters.rtpSent, PACKETS, "rtpSent");
      assert.equal(counters.sendErrors, 0, "sendErrors");
      assert.equal(counters.sendDropped, 0, "sendDropped");
      if (mode === "portable") assert.equal(counters.rtpSendCalls, PACKETS, "one send per packet");
      else {
        assert.ok(
          counters.rtpSendCalls < PACKETS,
          `batched: ${counters.rtpSendCalls} calls for ${PACKETS} packets`,
        );
      }
    } finally {
      await pair.close();
    }
  });

  Deno.test(`UdpPortPair ${mode}: a burst of packets arrives in the order sent`, async () => {
    if (skip("RTP order", mode)) return;
    await using sink = udpSink();
    const pair = bindPair(mode);
    try {
      // As in the server, where RTSP requests come between bind and the first RTP:
      // sending in the very turn of bind() is the known issue below.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const sent = sendFrames(pair, sink.port, FRAMES);
      assert.ok(await sink.waitFor(PACKETS, 3000), `got ${sink.datagrams.length} of ${PACKETS}`);
      await sleep(50);
      assertReceived(sink, sent, pair.rtpPort, true);
    } finally {
      await pair.close();
    }
  });

  Deno.test({
    name: `UdpPortPair ${mode}: a burst sent in the turn of bind() arrives in the order sent`,
    // Deno's DatagramConn.send, called many times before the event loop has
    // once polled a new socket, completes the sends in reverse order; the
    // pair holds such sends until the next turn.
    async fn() {
      if (skip("RTP order at bind", mode)) return;
      await using sink = udpSink();
      const pair = bindPair(mode);
      try {
        const sent = sendFrames(pair, sink.port, FRAMES);
        assert.ok(await sink.waitFor(PACKETS, 3000), `got ${sink.datagrams.length} of ${PACKETS}`);
        await sleep(50);
        assertReceived(sink, sent, pair.rtpPort, true);
      } finally {
        await pair.close();
      }
    },
  });

  Deno.test(`UdpPortPair ${mode}: frames sent in separate turns arrive intact, batched per turn`, async () => {
    if (skip("RTP in several turns", mode)) return;
    await using sink = udpSink();
    const pair = bindPair(mode);
    try {
      const sent: Sent[] = [];
      for (const count of FRAMES) {
        sent.push(...sendFrames(pair, sink.port, [count], 1000 + sent.length));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.ok(await sink.waitFor(PACKETS, 3000), `got ${sink.datagrams.length} of ${PACKETS}`);
      await sleep(50);
      assertReceived(sink, sent, pair.rtpPort, false); // order: see the test above
      const counters = pair.counters;
      assert.equal(counters.rtpSent, PACKETS);
      if (mode === "portable") assert.equal(counters.rtpSendCalls, PACKETS);
      else {
        assert.ok(
          counters.rtpSendCalls <= FRAMES.length,
          `batched: ${counters.rtpSendCalls} calls for ${FRAMES.length} turns`,
        );
      }
    } finally {
      await pair.close();
    }
  });

  Deno.test(`UdpPortPair ${mode}: packets of one turn reach the kernel only after the turn`, async () => {
    if (skip("end of turn", mode)) return;
    await using sink = udpSink();
    const pair = bindPair(mode);
    try {
      const sent = sendFrames(pair, sink.port, FRAMES);
      if (mode !== "portable") {
        // Queued, not sent: nothing is handed to the kernel during the turn.
        assert.equal(pair.counters.rtpSent, 0, "rtpSent during the turn");
        assert.equal(pair.counters.rtpSendCalls, 0, "send calls during the turn");
        // The flush is a microtask queued by the first send: it runs before ours.
        await Promise.resolve();
        assert.equal(pair.counters.rtpSent, PACKETS, "rtpSent once the turn's microtasks ran");
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(pair.counters.rtpSent, PACKETS, "rtpSent after the turn");
      assert.ok(await sink.waitFor(PACKETS, 3000), `got ${sink.datagrams.length} of ${PACKETS}`);
      await sleep(50);
      assertReceived(sink, sent, pair.rtpPort, false); // order: see the test above
    } finally {
      await pair.close();
    }
  });

  Deno.test(`UdpPortPair ${mode}: RTCP leaves from the RTCP port; RTCP to it reaches onRtcp`, async () => {
    if (skip("RTCP", mode)) return;
    await using sink = udpSink();
    const received: PairDatagram[] = [];
    const pair = bindPair(mode, received);
    const client = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    try {
      const report = pattern(28);
      pair.sendRtcp(report, HOST, sink.port);
      assert.ok(await sink.waitFor(1, 3000), "RTCP from the pair arrives");
      assert.deepEqual(sink.datagrams[0].data, report);
      assert.equal(sink.datagrams[0].from.port, pair.rtcpPort, "RTCP comes from the RTCP port");
      assert.equal(pair.counters.rtpSent, 0, "RTCP is not counted as RTP");

      const clientPort = (client.addr as Deno.NetAddr).port;
      const rr = Uint8Array.of(0x80, 201, 0, 1, 1, 2, 3, 4);
      await client.send(rr, { transport: "udp", hostname: HOST, port: pair.rtcpPort });
      assert.ok(await waitUntil(() => received.length >= 1, 3000), "onRtcp was called");
      assert.deepEqual(received[0].data, rr);
      assert.equal(received[0].from.hostname, HOST, "sender's address");
      assert.equal(received[0].from.port, clientPort, "sender's port");
      assert.equal(pair.counters.rtcpReceived, 1, "rtcpReceived");

      // A datagram to the RTP port (a client's NAT punch) is counted, not passed on.
      await client.send(Uint8Array.of(0), { transport: "udp", hostname: HOST, port: pair.rtpPort });
      assert.ok(await waitUntil(() => pair.counters.rtpReceived === 1, 3000), "rtpReceived");
      await sleep(20);
      assert.equal(received.length, 1, "RTP-port datagrams do not reach onRtcp");
      assert.equal(pair.counters.rtcpReceived, 1);
    } finally {
      client.close();
      await pair.close();
    }
  });

  Deno.test(`UdpPortPair ${mode}: close() right after sending resolves; later sends are ignored`, async () => {
    if (skip("close", mode)) return;
    await using sink = udpSink();
    const pair = bindPair(mode);
    sendFrames(pair, sink.port, FRAMES);
    pair.sendRtcp(pattern(8), HOST, sink.port);
    await pair.close();
    await pair.close(); // idempotent
    const before = pair.counters;
    sendFrames(pair, sink.port, FRAMES); // does not throw
    pair.sendRtcp(pattern(8), HOST, sink.port);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(pair.counters, before, "nothing is sent after close()");
    // The ports are free again.
    const again = Deno.listenDatagram({ hostname: HOST, port: pair.rtpPort, transport: "udp" });
    again.close();
  });
}

for (const mode of ["sendmmsg", "gso"] as const) {
  Deno.test(`UdpPortPair ${mode}: more headers in one turn than one 64 KB arena holds stay intact`, async () => {
    if (skip("header arena", mode)) return;
    // 6000 headers of 12 bytes overflow the 64 KB arena (5461) in one turn; the
    // packets are spread over 60 receivers so none overflows its socket buffer.
    const receivers = 60;
    const packets = 6000;
    await using stack = new AsyncDisposableStack();
    const sinks = Array.from({ length: receivers }, () => stack.use(udpSink()));
    const pair = bindPair(mode);
    try {
      await new Promise((resolve) => setTimeout(resolve, 0));
      const header = new Uint8Array(12);
      const view = new DataView(header.buffer);
      for (let i = 0; i < packets; i++) {
        header[0] = 0x80;
        header[1] = 26;
        view.setUint16(2, i);
        view.setUint32(4, i * 7919);
        view.setUint32(8, i);
        pair.sendRtp(
          header,
          SHARED.subarray(i % 100, i % 100 + 8),
          HOST,
          sinks[i % receivers].port,
        );
      }
      assert.equal(pair.counters.rtpSent, 0, "queued during the turn");
      const each = packets / receivers;
      const arrived = await Promise.all(sinks.map((sink) => sink.waitFor(each, 5000)));
      await sleep(50);
      assert.equal(pair.counters.rtpSent, packets, "rtpSent");
      assert.equal(pair.counters.sendDropped, 0, "sendDropped");
      for (const [r, sink] of sinks.entries()) {
        assert.ok(arrived[r], `receiver ${r}: ${sink.datagrams.length} of ${each}`);
        assert.equal(sink.datagrams.length, each, `receiver ${r}`);
        for (const [k, d] of sink.datagrams.entries()) {
          const i = r + k * receivers;
          const got = new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength);
          assert.equal(got.getUint16(2), i, `receiver ${r}, datagram ${k}: sequence`);
          assert.equal(got.getUint32(4), (i * 7919) >>> 0, `packet ${i}: timestamp`);
          assert.equal(got.getUint32(8), i, `packet ${i}: SSRC field`);
          assert.deepEqual(
            d.data.subarray(12),
            SHARED.subarray(i % 100, i % 100 + 8),
            `packet ${i}`,
          );
        }
      }
    } finally {
      await pair.close();
    }
  });
}

Deno.test("UdpPortPair auto on 127.0.0.1 takes the best mode available", async () => {
  const pair = UdpPortPair.bind(HOST, () => {});
  try {
    const best = !support.available ? "portable" : support.gso ? "sendmmsg+gso" : "sendmmsg";
    assert.equal(pair.sendMode, best);
    if (best === "portable") assert.equal(pair.portableReason, support.reason);
    else assert.equal(pair.portableReason, undefined);
  } finally {
    await pair.close();
  }
});

/** Whether a UDP socket can be bound on ::1 here. */
function ipv6Loopback(): boolean {
  try {
    Deno.listenDatagram({ hostname: "::1", port: 0, transport: "udp" }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("UdpPortPair refuses a batched mode it cannot have, saying why; auto falls back", async (t) => {
  if (!ipv6Loopback()) {
    console.log('skipped "batched modes on ::1": cannot bind UDP on ::1 on this machine');
    return;
  }
  for (const mode of ["gso", "sendmmsg"] as const) {
    await t.step(`${mode} on ::1 throws naming the reason`, () => {
      assert.throws(
        () => UdpPortPair.bind("::1", () => {}, { sendMode: mode }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, new RegExp(`\\b${mode}\\b`), "names the mode");
          if (support.available) assert.match(error.message, /IPv4/, "says why");
          else assert.ok(error.message.includes(support.reason ?? "?"), "says why");
          return true;
        },
      );
    });
  }
  await t.step("auto on ::1 falls back to portable and says why", async () => {
    const pair = UdpPortPair.bind("::1", () => {}, { sendMode: "auto" });
    try {
      assert.equal(pair.sendMode, "portable");
      assert.match(pair.portableReason ?? "", support.available ? /IPv4/ : /./);
      assert.equal(pair.rtpPort % 2, 0);
      assert.equal(pair.rtcpPort, pair.rtpPort + 1);
    } finally {
      await pair.close();
    }
  });
  await t.step("portable on ::1 sends RTP from the RTP port", async () => {
    const pair = UdpPortPair.bind("::1", () => {}, { sendMode: "portable" });
    const receiver = Deno.listenDatagram({ hostname: "::1", port: 0, transport: "udp" });
    try {
      const header = pattern(12);
      const payload = SHARED.subarray(0, 100);
      pair.sendRtp(header, payload, "::1", (receiver.addr as Deno.NetAddr).port);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        receiver.receive(),
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 3000)),
      ]);
      clearTimeout(timer);
      assert.ok(got !== null, "the packet arrives");
      assert.deepEqual(got[0], concat(header, payload));
      assert.equal((got[1] as Deno.NetAddr).port, pair.rtpPort);
    } finally {
      receiver.close();
      await pair.close();
    }
  });
});

Deno.test("UdpPortPair gso where the kernel refuses GSO throws naming the reason", () => {
  if (!support.available || support.gso) {
    console.log('skipped "gso refused": only meaningful where Linux UDP works without GSO');
    return;
  }
  assert.throws(
    () => UdpPortPair.bind(HOST, () => {}, { sendMode: "gso" }),
    /Cannot send RTP with gso: the kernel refuses UDP GSO/,
  );
});

Deno.test("UdpPortPair batched: RTP to an IPv6 destination is counted as an error, not thrown", async () => {
  const mode = "sendmmsg";
  if (skip("IPv6 destination", mode)) return;
  await using sink = udpSink();
  const pair = bindPair(mode);
  try {
    pair.sendRtp(pattern(12), SHARED.subarray(0, 10), "::1", 5004);
    pair.sendRtp(pattern(12), SHARED.subarray(0, 10), HOST, sink.port);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(await sink.waitFor(1, 3000), "the IPv4 packet still goes out");
    assert.equal(pair.counters.sendErrors, 1);
    assert.equal(pair.counters.rtpSent, 1);
  } finally {
    await pair.close();
  }
});
