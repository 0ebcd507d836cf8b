/**
 * Small helpers shared by the wire-layer tests (not a test file itself).
 *
 * @module
 */
import assert from "node:assert/strict";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `text` decoded as UTF-8. */
export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Concatenate byte arrays (or numbers and strings, for hand-written packets). */
export function concat(...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const arrays = parts.map((p) =>
    typeof p === "string" ? encoder.encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)
  );
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/**
 * Run `fn`, assert that it throws an instance of `cls`, and return the error
 * so its fields can be checked.
 */
export function catchError<T>(fn: () => unknown, cls: new (...args: never[]) => T): T {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) assert.fail(`expected ${cls.name} to be thrown, nothing was thrown`);
  if (!(caught instanceof cls)) {
    assert.fail(`expected ${cls.name} to be thrown, got ${String(caught)}`);
  }
  return caught;
}
