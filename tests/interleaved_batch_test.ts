import assert from "node:assert/strict";
import { InterleavedBatch } from "../lib/session/server/interleaved_batch.ts";
import { RtspParser } from "../lib/wire/rtsp_parser.ts";

class Sink {
  writes: Uint8Array[] = [];
  pendingWrites = 0;
  write(bytes: Uint8Array): Promise<void> {
    this.writes.push(bytes);
    return Promise.resolve();
  }
}

Deno.test("InterleavedBatch: one turn's packets leave in one write, framed and in order", async () => {
  const sink = new Sink();
  const batch = new InterleavedBatch(sink, 8);
  const header = new Uint8Array(12);
  const payloads = [Uint8Array.of(1, 2, 3), Uint8Array.of(4), new Uint8Array(1388).fill(7)];
  for (const [i, payload] of payloads.entries()) {
    header.fill(i + 10); // re-stamped between calls, as sessions do: it must be copied
    batch.add(i % 2 === 0 ? 0 : 2, header, payload);
  }
  assert.equal(sink.writes.length, 0, "nothing written during the turn");
  await Promise.resolve();
  assert.equal(sink.writes.length, 1, "one write at the end of the turn");
  const items = new RtspParser().push(sink.writes[0]);
  assert.equal(items.length, 3);
  for (const [i, item] of items.entries()) {
    assert.equal(item.kind, "interleaved");
    if (item.kind !== "interleaved") continue;
    assert.equal(item.channel, i % 2 === 0 ? 0 : 2);
    assert.deepEqual(item.data.subarray(0, 12), new Uint8Array(12).fill(i + 10));
    assert.deepEqual(item.data.subarray(12), payloads[i]);
  }
  batch.add(0, header, payloads[0]);
  await Promise.resolve();
  assert.equal(sink.writes.length, 2, "the next turn writes again");
});

Deno.test("InterleavedBatch: packets are dropped and counted while the peer does not read", async () => {
  const sink = new Sink();
  sink.pendingWrites = 9;
  const batch = new InterleavedBatch(sink, 8);
  batch.add(0, new Uint8Array(12), new Uint8Array(10));
  await Promise.resolve();
  assert.equal(batch.dropped, 1);
  assert.equal(sink.writes.length, 0);
  sink.pendingWrites = 0;
  assert.throws(() => batch.add(0, new Uint8Array(12), new Uint8Array(0x10000)), RangeError);
});

Deno.test("InterleavedBatch: a buffer being written is never touched; once written it is reused", async () => {
  const writes: { bytes: Uint8Array; copy: Uint8Array; done: () => void }[] = [];
  const sink = {
    pendingWrites: 0,
    write(bytes: Uint8Array): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      writes.push({ bytes, copy: bytes.slice(), done: resolve });
      return promise;
    },
  };
  const batch = new InterleavedBatch(sink, 8);
  const header = new Uint8Array(12);
  // More than the first buffer holds: 30 packets of 1400 bytes.
  for (let i = 0; i < 30; i++) batch.add(0, header.fill(i), new Uint8Array(1388).fill(i));
  await Promise.resolve();
  assert.equal(writes.length, 1);
  assert.equal(new RtspParser().push(writes[0].bytes).length, 30, "grown, every packet kept");
  // The first write is still pending: the next turn must not overwrite it.
  batch.add(1, header.fill(99), new Uint8Array(100).fill(99));
  await Promise.resolve();
  assert.equal(writes.length, 2);
  assert.deepEqual(writes[0].bytes, writes[0].copy, "the pending write's bytes are unchanged");
  assert.notEqual(writes[1].bytes.buffer, writes[0].bytes.buffer);
  writes[1].done();
  await new Promise((resolve) => setTimeout(resolve, 0));
  batch.add(2, header.fill(5), new Uint8Array(10).fill(5));
  await Promise.resolve();
  assert.equal(writes[2].bytes.buffer, writes[1].bytes.buffer, "a written buffer is reused");
  const [item] = new RtspParser().push(writes[2].bytes);
  assert.ok(item.kind === "interleaved" && item.channel === 2 && item.data.length === 22);
  writes[0].done();
  writes[2].done();
});
