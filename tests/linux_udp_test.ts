import assert from "node:assert/strict";
import { concat } from "./_helpers.ts";
import {
  linuxUdpAvailable,
  type LinuxUdpDatagram,
  LinuxUdpSocket,
  linuxUdpSupport,
} from "../lib/net/linux_udp.ts";

const HOST = "127.0.0.1";
const available = linuxUdpAvailable();
const support = linuxUdpSupport();

/**
 * True when the test should stop here: Linux UDP is unavailable outside CI
 * (said on the console). In CI (CI=true) unavailability fails the test.
 */
function skip(name: string): boolean {
  if (available) return false;
  if (Deno.env.get("CI") === "true") {
    assert.fail(`Linux UDP sockets must be available in CI: ${support.reason}`);
  }
  console.log(`skipped "${name}": Linux UDP sockets unavailable (${support.reason})`);
  return true;
}

function bindLocal(gso = true): LinuxUdpSocket {
  return LinuxUdpSocket.bind({ hostname: HOST, port: 0, receiveBufferBytes: 8 << 20, gso });
}

/** Receive `count` datagrams from a LinuxUdpSocket, copying them; waits at most ~2 s in all. */
async function receiveAll(socket: LinuxUdpSocket, count: number): Promise<LinuxUdpDatagram[]> {
  const got: LinuxUdpDatagram[] = [];
  const deadline = Date.now() + 2000;
  while (got.length < count && Date.now() < deadline) {
    for (const d of await socket.receive(1024, 200)) got.push({ ...d, data: d.data.slice() });
  }
  return got;
}

/** Receive `count` datagrams from a Deno socket; waits at most ~2 s in all. */
async function receiveDeno(
  conn: Deno.DatagramConn,
  count: number,
): Promise<[Uint8Array, Deno.NetAddr][]> {
  const got: [Uint8Array, Deno.NetAddr][] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 2000));
  try {
    while (got.length < count) {
      const next = await Promise.race([conn.receive(), timeout]);
      if (next === null) break;
      got.push([next[0], next[1] as Deno.NetAddr]);
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** `size` bytes made of a 12-byte header (or less) and one or two payload slices. */
function datagramParts(i: number, size: number, header: Uint8Array, payload: Uint8Array) {
  const h = Math.min(12, size);
  const parts = [header.subarray(i * 12, i * 12 + h)];
  const rest = size - h;
  const offset = (i * 131) % 10000;
  if (rest > 0) {
    const split = i % 2 === 0 ? rest : Math.floor(rest / 3);
    parts.push(payload.subarray(offset, offset + split));
    if (split < rest) parts.push(payload.subarray(offset + 20000, offset + 20000 + rest - split));
  }
  return parts;
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff);
}

Deno.test("linuxUdpSupport reports availability and, when available, GSO", () => {
  console.log(`linuxUdpSupport(): ${JSON.stringify(support)}`);
  assert.equal(support.available, available);
  if (available) assert.equal(typeof support.gso, "boolean");
  else assert.ok(support.reason);
});

Deno.test("sendmmsg without GSO delivers gathered datagrams intact and in order", async () => {
  if (skip("sendmmsg without GSO")) return;
  const sender = bindLocal(false);
  const receiver = bindLocal();
  const deno = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  const denoPort = (deno.addr as Deno.NetAddr).port;
  try {
    assert.equal(sender.gsoEnabled, false);
    const header = pattern(300 * 12, 1);
    const payload = pattern(40000, 2);
    const expected: Uint8Array[] = [];
    const fromLinux: LinuxUdpDatagram[] = [];
    const fromDeno: [Uint8Array, Deno.NetAddr][] = [];
    // Batches of 50 so that Deno's socket (default receive buffer) drops nothing.
    for (let batch = 0; batch < 6; batch++) {
      for (let i = batch * 50; i < batch * 50 + 50; i++) {
        const size = 1 + (i * 397) % 1400;
        const parts = datagramParts(i, size, header, payload);
        expected.push(concat(...parts));
        for (const port of [receiver.localPort, denoPort]) {
          sender.begin(HOST, port);
          for (const p of parts) sender.part(p);
        }
      }
      assert.equal(sender.pending, 100);
      assert.equal(sender.flush(), 100);
      assert.equal(sender.pending, 0);
      fromLinux.push(...await receiveAll(receiver, 50));
      fromDeno.push(...await receiveDeno(deno, 50));
    }
    assert.equal(fromLinux.length, 300);
    assert.equal(fromDeno.length, 300);
    for (let i = 0; i < 300; i++) {
      assert.deepEqual(fromLinux[i].data, expected[i], `datagram ${i} (LinuxUdpSocket receiver)`);
      assert.equal(fromLinux[i].port, sender.localPort);
      assert.equal(fromLinux[i].hostname, HOST);
      assert.equal(fromLinux[i].truncated, false);
      assert.deepEqual(fromDeno[i][0], expected[i], `datagram ${i} (Deno receiver)`);
      assert.equal(fromDeno[i][1].port, sender.localPort);
    }
    const c = sender.counters;
    assert.equal(c.datagramsSent, 600);
    assert.equal(c.messagesSent, 600);
    assert.ok(c.sendCalls < 600, `${c.sendCalls} sendmmsg calls for 600 datagrams`);
    assert.equal(c.sendErrors + c.sendDropped, 0);
  } finally {
    deno.close();
    await sender.close();
    await receiver.close();
  }
});

Deno.test("GSO sends runs of equal-size datagrams as one message", async (t) => {
  if (skip("GSO")) return;
  const sender = bindLocal();
  const receiver = bindLocal();
  const other = bindLocal();
  try {
    if (!sender.gsoEnabled) {
      console.log("skipped the GSO cases: UDP_SEGMENT does not work on this kernel");
      return;
    }
    console.log("GSO (UDP_SEGMENT) works on this kernel");
    const data = pattern(200_000, 3);

    await t.step("10 × 1400 + 300 bytes: one message, 11 datagrams", async () => {
      const before = { ...sender.counters };
      const expected: Uint8Array[] = [];
      for (let i = 0; i < 11; i++) {
        const size = i < 10 ? 1400 : 300;
        const head = data.subarray(i * 12, i * 12 + 12);
        const body = data.subarray(5000 + i * 1400, 5000 + i * 1400 + size - 12);
        sender.begin(HOST, receiver.localPort);
        sender.part(head);
        sender.part(body);
        expected.push(concat(head, body));
      }
      assert.equal(sender.flush(), 11);
      assert.equal(sender.counters.messagesSent - before.messagesSent, 1);
      assert.equal(sender.counters.sendCalls - before.sendCalls, 1);
      const got = await receiveAll(receiver, 11);
      assert.deepEqual(got.map((d) => d.data), expected);
      assert.ok(got.every((d) => d.port === sender.localPort));
    });

    await t.step("100 × 1400 bytes: split at 65000 bytes per message", async () => {
      const before = { ...sender.counters };
      const expected: Uint8Array[] = [];
      for (let i = 0; i < 100; i++) {
        const bytes = data.subarray(i * 1400, i * 1400 + 1400);
        sender.begin(HOST, receiver.localPort);
        sender.part(bytes);
        expected.push(bytes);
      }
      assert.equal(sender.flush(), 100);
      // 46 × 1400 = 64400 ≤ 65000 < 47 × 1400: 46 + 46 + 8.
      assert.equal(sender.counters.messagesSent - before.messagesSent, 3);
      const got = await receiveAll(receiver, 100);
      assert.deepEqual(got.map((d) => d.data), expected);
    });

    await t.step("200 × 100 bytes: split at 64 datagrams per message", async () => {
      const before = { ...sender.counters };
      const expected: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const bytes = data.subarray(i * 100, i * 100 + 100);
        sender.begin(HOST, receiver.localPort);
        sender.part(bytes);
        expected.push(bytes);
      }
      assert.equal(sender.flush(), 200);
      assert.equal(sender.counters.messagesSent - before.messagesSent, 4); // 64 + 64 + 64 + 8
      const got = await receiveAll(receiver, 200);
      assert.deepEqual(got.map((d) => d.data), expected);
    });

    await t.step("mixed destinations and unequal sizes fall back correctly", async () => {
      const before = { ...sender.counters };
      const A = receiver.localPort;
      const B = other.localPort;
      // [destination, size]; the messages they form are noted on the right.
      const plan: [number, number][] = [
        [A, 1000], // 1: A 1000, A 1000 (the next to B ends the run)
        [A, 1000],
        [B, 1000], // 2: B 1000, B 1000
        [B, 1000],
        [A, 500], // 3: A 500 (the next is larger)
        [A, 1400], // 4: A 1400, 1400, 700 (smaller: the last of its run)
        [A, 1400],
        [A, 700],
        [A, 700], // 5: A 700 alone (the next goes to B)
        [B, 1400], // 6: B 1400 alone (the next goes to A)
        [A, 1400], // 7: A 1400 alone (the next is empty)
        [A, 0], // 8: an empty datagram, alone
        [A, 300], // 9: A 300, 300
        [A, 300],
      ];
      const expected = new Map<number, Uint8Array[]>([[A, []], [B, []]]);
      let offset = 0;
      for (const [port, size] of plan) {
        const bytes = data.subarray(offset, offset + size);
        offset += size;
        sender.begin(HOST, port);
        sender.part(bytes.subarray(0, size >> 1));
        sender.part(bytes.subarray(size >> 1));
        expected.get(port)!.push(bytes);
      }
      assert.equal(sender.flush(), plan.length);
      assert.equal(sender.counters.messagesSent - before.messagesSent, 9);
      assert.equal(sender.counters.gsoFallbacks, 0);
      const gotA = await receiveAll(receiver, expected.get(A)!.length);
      const gotB = await receiveAll(other, expected.get(B)!.length);
      assert.deepEqual(gotA.map((d) => d.data), expected.get(A));
      assert.deepEqual(gotB.map((d) => d.data), expected.get(B));
    });
  } finally {
    await sender.close();
    await receiver.close();
    await other.close();
  }
});

Deno.test("receive() batches, times out with [] and is woken by close()", async () => {
  if (skip("receive()")) return;
  const sender = bindLocal();
  const receiver = bindLocal();
  try {
    for (let i = 0; i < 5; i++) {
      sender.begin(HOST, receiver.localPort);
      sender.part(Uint8Array.of(i, i, i));
    }
    assert.equal(sender.flush(), 5);
    const batch = await receiver.receive(10, 1000);
    assert.ok(batch.length >= 2, `${batch.length} datagram(s) in one receive()`);
    const rest = batch.length < 5 ? await receiveAll(receiver, 5 - batch.length) : [];
    assert.deepEqual(
      [...batch.map((d) => [...d.data]), ...rest.map((d) => [...d.data])],
      [0, 1, 2, 3, 4].map((i) => [i, i, i]),
    );
    assert.equal(receiver.counters.datagramsReceived, 5);

    assert.deepEqual(await receiver.receive(4, 50), [], "a timeout resolves to []");
    assert.deepEqual(await receiver.receive(4, 0), [], "timeout 0 only looks");
    await assert.rejects(async () => {
      const waiting = receiver.receive(4, 100);
      try {
        await receiver.receive(4, 100);
      } finally {
        await waiting;
      }
    }, /already waiting/);
  } finally {
    await sender.close();
  }
  // close() while a receive is waiting in the kernel: the receive resolves to [] soon.
  const waiting = receiver.receive(4, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 3000));
  try {
    const closed = receiver.close().then(() => "closed");
    assert.equal(await Promise.race([closed, hung]), "closed");
    assert.deepEqual(await waiting, []);
    assert.deepEqual(await receiver.receive(4, 1000), [], "receive() after close() resolves []");
    await receiver.close(); // idempotent
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("bind: a port in use throws AddrInUse; port 0 picks a free port", async () => {
  if (skip("bind")) return;
  const first = bindLocal();
  const deno = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  try {
    assert.ok(first.localPort > 0);
    assert.throws(
      () => LinuxUdpSocket.bind({ hostname: HOST, port: first.localPort }),
      Deno.errors.AddrInUse,
    );
    assert.throws(
      () => LinuxUdpSocket.bind({ hostname: HOST, port: (deno.addr as Deno.NetAddr).port }),
      Deno.errors.AddrInUse,
    );
    assert.throws(() => LinuxUdpSocket.bind({ hostname: "::1", port: 0 }), /IPv4 only/);
    assert.throws(() => LinuxUdpSocket.bind({ hostname: "localhost", port: 0 }), /dotted quad/);
    assert.throws(() => first.begin("256.1.1.1", 9), /dotted quad/);
    assert.throws(() => first.begin(HOST, 70000), RangeError);
  } finally {
    deno.close();
    await first.close();
  }
});

Deno.test("sending to a closed port or after close() does not throw", async () => {
  if (skip("closed port")) return;
  const gone = bindLocal();
  const port = gone.localPort;
  await gone.close();
  const sender = bindLocal();
  const payload = pattern(1400, 4);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++) {
      sender.begin(HOST, port);
      sender.part(payload);
    }
    const sent = sender.flush();
    assert.ok(sent >= 0 && sent <= 10);
  }
  const c = sender.counters;
  assert.equal(c.datagramsSent + c.sendErrors + c.sendDropped, 30);
  sender.begin(HOST, port);
  sender.part(payload);
  await sender.close();
  assert.equal(sender.flush(), 0, "close() drops what was queued");
  assert.throws(() => sender.begin(HOST, port), /closed/);
});

Deno.test("flush() reuses its buffers: no growth after the first batch", async () => {
  if (skip("arena")) return;
  const sender = bindLocal(false);
  const sink = LinuxUdpSocket.bind({ hostname: HOST, port: 0 }); // never read: drops are fine
  try {
    const header = new Uint8Array(100 * 12);
    const payload = pattern(100 * 1000, 5);
    let arena = 0;
    for (let batch = 0; batch < 100; batch++) {
      for (let i = 0; i < 100; i++) {
        sender.begin(HOST, sink.localPort);
        sender.part(header.subarray(i * 12, i * 12 + 12));
        sender.part(payload.subarray(i * 1000, i * 1000 + 100 + (i % 7) * 100));
      }
      sender.flush();
      if (batch === 0) arena = sender.arenaBytes;
      else assert.equal(sender.arenaBytes, arena, `arena grew at batch ${batch}`);
    }
    const c = sender.counters;
    assert.equal(c.datagramsSent + c.sendErrors + c.sendDropped, 10_000);
    assert.equal(c.sendCalls, 100);
  } finally {
    await sender.close();
    await sink.close();
  }
});
