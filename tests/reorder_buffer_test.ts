import assert from "node:assert/strict";
import { ReorderBuffer } from "../lib/session/client/reorder_buffer.ts";

/** Push `sequences` (item = `p<sequence>`) and collect what comes out after each push. */
function pushEach(buffer: ReorderBuffer<string>, sequences: number[]): string[][] {
  return sequences.map((s) => buffer.push(s, `p${s}`));
}

const p = (...sequences: number[]) => sequences.map((s) => `p${s}`);

Deno.test("ReorderBuffer: in-order packets pass straight through", () => {
  const buffer = new ReorderBuffer<string>(4);
  const out = pushEach(buffer, [100, 101, 102, 103, 104, 105]);
  assert.deepEqual(out, [p(100), p(101), p(102), p(103), p(104), p(105)]);
  assert.equal(buffer.held, 0);
  assert.deepEqual(buffer.flush(), []);
});

Deno.test("ReorderBuffer: the first packet sets the start, whatever its number", () => {
  for (const first of [0, 1, 65535, 65536, 2 ** 40]) {
    const buffer = new ReorderBuffer<string>();
    assert.deepEqual(buffer.push(first, "a"), ["a"], `first ${first}`);
    assert.deepEqual(buffer.push(first + 1, "b"), ["b"]);
  }
});

Deno.test("ReorderBuffer: a swapped pair comes out in order", () => {
  const buffer = new ReorderBuffer<string>(4);
  const out = pushEach(buffer, [10, 12, 11, 13]);
  assert.deepEqual(out, [p(10), [], p(11, 12), p(13)]);
  assert.equal(buffer.held, 0);
});

Deno.test("ReorderBuffer: several out-of-order packets are sorted", () => {
  const buffer = new ReorderBuffer<string>(8);
  const out = pushEach(buffer, [0, 3, 2, 5, 1, 4, 6]).flat();
  assert.deepEqual(out, p(0, 1, 2, 3, 4, 5, 6));
});

Deno.test("ReorderBuffer: held counts the packets waiting behind a gap", () => {
  const buffer = new ReorderBuffer<string>(8);
  buffer.push(0, "p0");
  assert.equal(buffer.held, 0);
  buffer.push(2, "p2");
  buffer.push(3, "p3");
  assert.equal(buffer.held, 2);
  buffer.push(1, "p1");
  assert.equal(buffer.held, 0);
});

Deno.test("ReorderBuffer: a gap is waited for until the window is exceeded, then skipped", () => {
  const buffer = new ReorderBuffer<string>(3);
  assert.deepEqual(buffer.push(0, "p0"), p(0));
  // 1 is missing: up to 3 later packets are held.
  assert.deepEqual(pushEach(buffer, [2, 3, 4]), [[], [], []]);
  assert.equal(buffer.held, 3);
  // A fourth exceeds the window: give up on 1 and hand on 2..5.
  assert.deepEqual(buffer.push(5, "p5"), p(2, 3, 4, 5));
  assert.equal(buffer.held, 0);
  assert.deepEqual(buffer.push(6, "p6"), p(6));
});

Deno.test("ReorderBuffer: after skipping one gap, it waits again for the next", () => {
  const buffer = new ReorderBuffer<string>(2);
  assert.deepEqual(pushEach(buffer, [0, 2, 4, 5]).flat(), p(0, 2));
  // 1 was given up when 5 arrived (3 held); now 3 is missing behind 4, 5.
  assert.equal(buffer.held, 2);
  assert.deepEqual(buffer.push(3, "p3"), p(3, 4, 5));
});

Deno.test("ReorderBuffer: a skipped gap spanning several numbers", () => {
  const buffer = new ReorderBuffer<string>(2);
  assert.deepEqual(pushEach(buffer, [0, 5, 6, 7]), [p(0), [], [], p(5, 6, 7)]);
});

Deno.test("ReorderBuffer: a late packet (after its gap was skipped) is dropped", () => {
  const buffer = new ReorderBuffer<string>(2);
  pushEach(buffer, [0, 2, 3, 4]); // 1 given up
  assert.deepEqual(buffer.push(1, "p1"), []);
  assert.equal(buffer.held, 0);
  assert.deepEqual(buffer.push(5, "p5"), p(5));
});

Deno.test("ReorderBuffer: packets older than the first one are dropped", () => {
  const buffer = new ReorderBuffer<string>(4);
  buffer.push(50, "p50");
  assert.deepEqual(buffer.push(49, "p49"), []);
  assert.deepEqual(buffer.push(10, "p10"), []);
  assert.deepEqual(buffer.push(51, "p51"), p(51));
});

Deno.test("ReorderBuffer: duplicates are dropped, handed-on or held", () => {
  const buffer = new ReorderBuffer<string>(4);
  assert.deepEqual(buffer.push(0, "p0"), p(0));
  assert.deepEqual(buffer.push(0, "again"), [], "duplicate of a packet handed on");
  assert.deepEqual(buffer.push(2, "p2"), []);
  assert.deepEqual(buffer.push(2, "again"), [], "duplicate of a held packet");
  assert.equal(buffer.held, 1);
  assert.deepEqual(buffer.push(1, "p1"), p(1, 2), "the first copy of 2 is kept");
  assert.deepEqual(buffer.push(1, "again"), []);
});

Deno.test("ReorderBuffer: flush returns held packets in order, skipping gaps", () => {
  const buffer = new ReorderBuffer<string>(8);
  assert.deepEqual(pushEach(buffer, [0, 6, 3, 4, 9]).flat(), p(0));
  assert.equal(buffer.held, 4);
  assert.deepEqual(buffer.flush(), p(3, 4, 6, 9));
  assert.equal(buffer.held, 0);
  assert.deepEqual(buffer.flush(), []);
  // After a flush, older packets are late and newer ones continue the sequence.
  assert.deepEqual(buffer.push(5, "p5"), []);
  assert.deepEqual(buffer.push(10, "p10"), p(10));
});

Deno.test("ReorderBuffer: flush before any packet, and pushing after it", () => {
  const buffer = new ReorderBuffer<string>();
  assert.deepEqual(buffer.flush(), []);
  assert.deepEqual(buffer.push(7, "p7"), p(7));
});

Deno.test("ReorderBuffer: the default window holds 16 packets", () => {
  const buffer = new ReorderBuffer<string>();
  buffer.push(0, "p0");
  const held = pushEach(buffer, Array.from({ length: 16 }, (_, i) => i + 2)).flat();
  assert.deepEqual(held, []);
  assert.equal(buffer.held, 16);
  assert.deepEqual(buffer.push(18, "p18"), p(...Array.from({ length: 17 }, (_, i) => i + 2)));
});

Deno.test("ReorderBuffer: window 0 never waits", () => {
  const buffer = new ReorderBuffer<string>(0);
  assert.deepEqual(pushEach(buffer, [0, 2, 1, 3]), [p(0), p(2), [], p(3)]);
});

Deno.test("ReorderBuffer: a shuffled stream within the window comes out complete and in order", () => {
  // Deterministic shuffle: swap neighbours within blocks of 4.
  const order: number[] = [];
  for (let base = 0; base < 200; base += 4) order.push(base + 2, base, base + 3, base + 1);
  const buffer = new ReorderBuffer<number>(8);
  const out = [...order.flatMap((s) => buffer.push(s + 1000, s)), ...buffer.flush()];
  // The first packet pushed (1002) sets the start, so 1000 and 1001 are late.
  assert.deepEqual(out, Array.from({ length: 198 }, (_, i) => i + 2));
});
