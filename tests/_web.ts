/**
 * Helpers for the tests of the server's web side (not a test file itself):
 * headless Chromium runs (`--dump-dom`, `--screenshot`), pixels of a
 * screenshot through ffmpeg, raw HTTP over TCP (exact bytes, no client
 * normalising the path), and a reader of `multipart/x-mixed-replace` parts
 * written independently of `lib/`.
 *
 * Every run and read is bounded in time.
 *
 * @module
 */
import { requirePeer, runCommand, type RunResult, tail } from "./_peers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Headless Chromium as root in a container: no sandbox, no GPU, no QUIC,
 * nothing fetched from Google's servers (first run, component updates,
 * sync, background networking).
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
];

/** Whether Chromium runs (in CI a missing one fails: see `requirePeer`). */
export function haveChromium(): Promise<boolean> {
  return requirePeer("chromium", ["--version"]);
}

/**
 * Run Chromium with {@linkcode CHROMIUM_FLAGS}, a fresh profile (removed
 * afterwards) and `args`, killed after `timeoutMs`.
 *
 * @throws {Error} when it fails or times out, with the end of its stderr.
 */
export async function runChromium(args: string[], timeoutMs: number): Promise<RunResult> {
  const profile = await Deno.makeTempDir({ prefix: "rtsp_test_chromium_" });
  try {
    const result = await runCommand(
      "chromium",
      [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      { timeoutMs, stopSignal: "SIGTERM", graceMs: 2000 },
    );
    if (!result.success || result.timedOut) {
      throw new Error(
        `chromium ${args.join(" ")} ${
          result.timedOut ? `did not finish in ${timeoutMs} ms` : `exited with ${result.code}`
        }: ${tail(result.stderr)}`,
      );
    }
    return result;
  } finally {
    // Its helper processes may still be writing for a moment.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await Deno.remove(profile, { recursive: true });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

/**
 * The DOM of `url` as Chromium serialises it once the page has run for
 * `budgetMs` of virtual time (which does not advance while fetches are
 * pending, so the page's own requests are answered first).
 */
export async function dumpDom(url: string, budgetMs = 1500): Promise<string> {
  const result = await runChromium(
    [`--virtual-time-budget=${budgetMs}`, "--dump-dom", url],
    30_000,
  );
  return decoder.decode(result.stdout);
}

/**
 * A PNG screenshot of `url` taken `afterMs` after navigation began (the
 * load is stopped then: a live MJPEG stream never finishes loading).
 */
export async function screenshot(
  url: string,
  path: string,
  afterMs: number,
): Promise<void> {
  await runChromium(
    [`--timeout=${afterMs}`, `--screenshot=${path}`, "--window-size=640,480", url],
    afterMs + 30_000,
  );
}

/** The 8-bit grey levels of an image file's pixels, decoded by ffmpeg. */
export async function grayPixels(path: string): Promise<Uint8Array> {
  const result = await runCommand(
    "ffmpeg",
    ["-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
    { timeoutMs: 20_000 },
  );
  if (!result.success) throw new Error(`ffmpeg could not read ${path}: ${tail(result.stderr)}`);
  return result.stdout;
}

/** The answer to one raw HTTP request: status, headers (lower-case names) and body. */
export interface RawHttpReply {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/**
 * Send `request` (the exact bytes, so a path reaches the server as written)
 * on a new connection and read the reply until the server closes it or
 * `timeoutMs` passes. Ask for `Connection: close` to get the whole reply.
 */
export async function rawHttp(
  port: number,
  request: string,
  timeoutMs = 5000,
): Promise<RawHttpReply> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let timedOut = true;
  try {
    await conn.write(encoder.encode(request));
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) {
        timedOut = false;
        break;
      }
      chunks.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error; // closed by the timer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  const end = indexOf(all, encoder.encode("\r\n\r\n"), 0);
  if (end < 0) {
    throw new Error(
      `no HTTP reply head ${timedOut ? `within ${timeoutMs} ms` : "before the server closed"}: ` +
        JSON.stringify(decoder.decode(all).slice(0, 200)),
    );
  }
  const [statusLine, ...lines] = decoder.decode(all.subarray(0, end)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status, headers, body: all.subarray(end + 4) };
}

/** Where `needle` first occurs in `haystack` at or after `from`, or -1. */
export function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Reads the parts of a `multipart/x-mixed-replace` body: each a boundary
 * line, headers with Content-Length, a blank line, that many bytes and CRLF.
 */
export class MultipartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #boundary: Uint8Array;
  #buffer = new Uint8Array(0);
  #done = false;

  constructor(body: ReadableStream<Uint8Array>, boundary: string) {
    this.#reader = body.getReader();
    this.#boundary = encoder.encode(`--${boundary}\r\n`);
  }

  /**
   * The next part's body, or undefined when the body ended; throws when it
   * does not come within `timeoutMs` or is malformed.
   */
  async next(timeoutMs = 5000): Promise<Uint8Array | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const part = this.#parse();
      if (part) return part;
      if (this.#done) {
        if (this.#buffer.length > 0) {
          throw new Error(`${this.#buffer.length} bytes after the last part`);
        }
        return undefined;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no complete part within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), left);
      });
      const read = await Promise.race([this.#reader.read(), timeout]).finally(() =>
        clearTimeout(timer)
      );
      if (read === "timeout") throw new Error(`no complete part within ${timeoutMs} ms`);
      if (read.done) this.#done = true;
      else {
        const joined = new Uint8Array(this.#buffer.length + read.value.length);
        joined.set(this.#buffer);
        joined.set(read.value, this.#buffer.length);
        this.#buffer = joined;
      }
    }
  }

  /** Stop reading (the server sees the client go). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  #parse(): Uint8Array | undefined {
    const buffer = this.#buffer;
    if (buffer.length < this.#boundary.length) return undefined;
    if (indexOf(buffer.subarray(0, this.#boundary.length), this.#boundary, 0) !== 0) {
      throw new Error(
        `a part does not start with the boundary: ${
          JSON.stringify(decoder.decode(buffer.subarray(0, 40)))
        }`,
      );
    }
    const headEnd = indexOf(buffer, encoder.encode("\r\n\r\n"), 0);
    if (headEnd < 0) return undefined;
    const head = decoder.decode(buffer.subarray(this.#boundary.length, headEnd));
    if (!/^content-type: image\/jpeg$/im.test(head)) throw new Error(`not a JPEG part: ${head}`);
    const length = Number(/^content-length: (\d+)$/im.exec(head)?.[1]);
    if (!Number.isInteger(length)) throw new Error(`a part without Content-Length: ${head}`);
    const start = headEnd + 4;
    if (buffer.length < start + length + 2) return undefined;
    if (buffer[start + length] !== 0x0d || buffer[start + length + 1] !== 0x0a) {
      throw new Error("a part's body is not followed by CRLF");
    }
    this.#buffer = buffer.slice(start + length + 2);
    return buffer.slice(start, start + length);
  }
}
