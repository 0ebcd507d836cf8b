/**
 * Small helpers shared by the tests (not a test file itself): bytes from
 * text and back, concatenation and comparison of bytes, the error a call
 * throws, and a temporary directory.
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

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

/** Run `fn` with a new empty temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rtsp_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A stream's text, gathered in the background: `state.text` so far, `done` at its end. */
export function collect(
  stream: ReadableStream<Uint8Array>,
): { state: { text: string }; done: Promise<void> } {
  const state = { text: "" };
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) state.text += chunk;
  })();
  return { state, done };
}
