/**
 * RtpReceiver in both receive modes: a Deno socket read one datagram at a
 * time, and recvmmsg into a large buffer (Linux, ffi permission).
 */
import assert from "node:assert/strict";
import { linuxUdpSupport } from "../lib/net/linux_udp.ts";
import { RtpReceiver } from "../lib/session/client/rtp_receiver.ts";

const MODES = ["portable", "batched"] as const;

function skip(mode: string): boolean {
  if (mode !== "batched" || linuxUdpSupport().available) return false;
  const why = linuxUdpSupport().reason;
  if (Deno.env.get("CI") === "true") throw new Error(`recvmmsg must work in CI: ${why}`);
  console.log(`SKIPPED RtpReceiver batched: ${why}`);
  return true;
}

for (const mode of MODES) {
  Deno.test(`RtpReceiver (${mode}): a burst arrives whole and in order; take() drains without waiting`, async () => {
    if (skip(mode)) return;
    const receiver = RtpReceiver.bind(0, { hostname: "127.0.0.1", rtcp: true, receiveMode: mode });
    const sender = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    try {
      assert.equal(receiver.receiveMode, mode === "batched" ? "recvmmsg" : "portable");
      if (mode === "batched") {
        // The kernel reports twice what it grants; at least its default, at most what was asked.
        const bytes = receiver.receiveBufferBytes!;
        assert.ok(bytes >= 200_000 && bytes <= 2 * 8 * 1024 * 1024, `SO_RCVBUF ${bytes}`);
      } else assert.equal(receiver.receiveBufferBytes, undefined);
      assert.equal(receiver.port % 2, 0);
      assert.equal(receiver.rtcpPort, receiver.port + 1);
      const count = 60; // fits the default receive buffer of a Deno socket too
      for (let i = 0; i < count; i++) {
        const datagram = new Uint8Array(1000).fill(i & 0xff);
        datagram[0] = i >> 8;
        datagram[1] = i & 0xff;
        await sender.send(datagram, {
          transport: "udp",
          hostname: "127.0.0.1",
          port: receiver.port,
        });
      }
      await sender.send(Uint8Array.of(0x80, 0xc9), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: receiver.rtcpPort!,
      });
      const seen: number[] = [];
      let rtcp = 0;
      const deadline = performance.now() + 5000;
      while ((seen.length < count || rtcp === 0) && performance.now() < deadline) {
        const first = await receiver.receive(500);
        for (let d = first; d; d = receiver.take()) {
          if (d.rtcp) rtcp++;
          else {
            assert.equal(d.data.length, 1000);
            seen.push((d.data[0] << 8) | d.data[1]);
          }
        }
      }
      assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i));
      assert.equal(rtcp, 1);
      assert.equal(receiver.take(), undefined, "nothing left");
      assert.equal(await receiver.receive(20), undefined, "a wait times out empty");
    } finally {
      sender.close();
      await receiver.close();
    }
  });
}

Deno.test("RtpReceiver: a receive waiting when the receiver closes returns undefined", async () => {
  for (const mode of MODES) {
    if (skip(mode)) continue;
    const receiver = RtpReceiver.bind(0, { hostname: "127.0.0.1", receiveMode: mode });
    const waiting = receiver.receive(10_000);
    await receiver.close();
    assert.equal(await waiting, undefined);
  }
});

Deno.test("RtpReceiver: batched on a non-IPv4 address is a clear error; auto falls back", () => {
  try {
    assert.throws(
      () => RtpReceiver.bind(0, { hostname: "::1", receiveMode: "batched" }),
      /recvmmsg/,
    );
  } catch (error) {
    if (String(error).includes("Cannot assign") || String(error).includes("AddrNotAvailable")) {
      console.log("SKIPPED RtpReceiver ::1: IPv6 loopback not available here");
      return;
    }
    throw error;
  }
});
