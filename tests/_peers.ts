/**
 * Helpers for the interop tests that drive real programs (ffmpeg, ffprobe,
 * gst-launch-1.0) against our server (not a test file itself).
 *
 * - {@linkcode requirePeer}: is the tool installed? In CI (`CI=true`) a missing
 *   tool is an error; elsewhere the test prints "SKIPPED: ..." and returns.
 * - {@linkcode runCommand}: a subprocess with a hard timeout (and an optional
 *   early stop), always awaited, stdout and stderr captured.
 * - {@linkcode frameMd5s}: decode JPEGs with ffmpeg and return one MD5 per
 *   decoded picture (`-f framemd5`), to compare with what a peer decoded.
 *
 * The server they play from is `startServer` of `_server.ts`.
 *
 * @module
 */
import { concat } from "./_helpers.ts";

const decoder = new TextDecoder();

/** Results of {@linkcode requirePeer}, so each probe runs once per test file. */
const probed = new Map<string, Promise<string | undefined>>();

/** Why `name probeArgs...` did not run, or undefined when it did (exit status 0). */
async function probe(name: string, probeArgs: string[]): Promise<string | undefined> {
  try {
    const result = await runCommand(name, probeArgs, { timeoutMs: 10_000 });
    if (result.success) return undefined;
    return result.timedOut
      ? `"${name} ${probeArgs.join(" ")}" did not finish in 10 s`
      : `"${name} ${probeArgs.join(" ")}" exited with status ${result.code}`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `${name} is not on PATH`;
    throw error;
  }
}

/**
 * Check that an external tool runs (`name ...probeArgs` exits 0).
 *
 * @returns true when it runs; false when it is missing outside CI, after
 * printing a visible "SKIPPED: <tool> not installed" warning (the test should
 * then return early).
 * @throws {Error} when it is missing and `CI` is `"true"`: CI must install
 * every peer (APT_PACKAGES in .ci/run), so interop tests fail loudly there.
 */
export async function requirePeer(name: string, probeArgs: string[]): Promise<boolean> {
  const key = JSON.stringify([name, ...probeArgs]);
  let pending = probed.get(key);
  if (!pending) {
    pending = probe(name, probeArgs);
    probed.set(key, pending);
  }
  const problem = await pending;
  if (problem === undefined) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(
      `${name} must be installed for the interop tests in CI (add its package to ` +
        `APT_PACKAGES in .ci/run): ${problem}`,
    );
  }
  console.warn(`SKIPPED: ${name} not installed (${problem})`);
  return false;
}

/** Options for {@linkcode runCommand}. */
export interface RunOptions {
  /** Kill the process after this long (hard limit), in ms. */
  timeoutMs: number;
  /** Bytes written to the process's stdin (then closed); stdin is null otherwise. */
  stdin?: Uint8Array;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Stop the process early `stopDelayMs` after this promise resolves (e.g.
   * once the server has logged the end of the stream; a rejection is
   * ignored): it gets `stopSignal`, and SIGKILL `graceMs` later if it is
   * still running.
   */
  stopWhen?: Promise<unknown>;
  /** Delay between `stopWhen` resolving and the stop, in ms. @default {0} */
  stopDelayMs?: number;
  /** Signal for an early or timed-out stop. @default {"SIGKILL"} */
  stopSignal?: Deno.Signal;
  /** Time between `stopSignal` and SIGKILL, in ms. @default {3000} */
  graceMs?: number;
}

/** What {@linkcode runCommand} saw. */
export interface RunResult {
  /** Exit status (128 + signal number when killed by a signal). */
  code: number;
  success: boolean;
  /** The signal that ended the process, if any. */
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  /** Standard error as text. */
  stderr: string;
  /** True when the hard timeout stopped the process. */
  timedOut: boolean;
  /** True when `stopWhen` stopped the process. */
  stopped: boolean;
  /** Wall-clock run time in ms. */
  ms: number;
}

/**
 * Run a program with a hard timeout, capturing stdout and stderr. The process
 * is always awaited (and killed when it outlives the timeout), so no test
 * leaks it.
 *
 * @throws {Deno.errors.NotFound} when the program is not installed.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  options: RunOptions,
): Promise<RunResult> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const stopSignal = options.stopSignal ?? "SIGKILL";
  const graceMs = options.graceMs ?? 3000;
  let exited = false;
  let timedOut = false;
  let stopped = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let delayTimer: ReturnType<typeof setTimeout> | undefined;
  const kill = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch { /* it exited meanwhile */ }
  };
  const stop = () => {
    if (exited) return;
    kill(stopSignal);
    if (stopSignal !== "SIGKILL" && graceTimer === undefined) {
      graceTimer = setTimeout(() => kill("SIGKILL"), graceMs);
    }
  };
  const hardTimer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  options.stopWhen?.then(
    () => {
      if (exited || timedOut) return;
      delayTimer = setTimeout(() => {
        if (exited || timedOut) return;
        stopped = true;
        stop();
      }, options.stopDelayMs ?? 0);
    },
    () => {},
  );

  const writing = options.stdin ? writeAll(child.stdin, options.stdin) : Promise.resolve();
  const [stdout, stderr, status] = await Promise.all([
    new Response(child.stdout).bytes(),
    new Response(child.stderr).text(),
    child.status.finally(() => {
      exited = true;
      clearTimeout(hardTimer);
      clearTimeout(graceTimer);
      clearTimeout(delayTimer);
    }),
    // A process that exits without reading all its input breaks the pipe: not our error.
    writing.catch(() => {}),
  ]);
  return {
    code: status.code,
    success: status.success,
    signal: status.signal,
    stdout,
    stderr,
    timedOut,
    stopped,
    ms: Math.round(performance.now() - started),
  };
}

async function writeAll(stream: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(data);
  } finally {
    await writer.close().catch(() => {});
  }
}

/** The last `lines` lines of `text`, for assertion messages. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * The per-frame MD5 column of ffmpeg's `-f framemd5` output (lines not
 * starting with `#`), in order.
 */
export function parseFrameMd5(output: string): string[] {
  return output.split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const md5 = line.split(",").at(-1)!.trim();
      if (!/^[0-9a-f]{32}$/.test(md5)) throw new Error(`Not a framemd5 line: "${line}"`);
      return md5;
    });
}

/**
 * Decode JPEG images with ffmpeg (concatenated into one `jpeg_pipe` stream on
 * stdin) and return the MD5 of each decoded picture, as `-f framemd5` prints it.
 *
 * @throws {Error} when ffmpeg fails or warns, or decodes a different number of pictures.
 */
export async function frameMd5s(jpegs: Uint8Array[]): Promise<string[]> {
  const input = concat(...jpegs);
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-hide_banner", "-v", "error"],
      ...["-f", "jpeg_pipe", "-i", "pipe:0"],
      ...["-fps_mode", "passthrough", "-f", "framemd5", "pipe:1"],
    ],
    { timeoutMs: 20_000, stdin: input },
  );
  if (!result.success || result.stderr.trim() !== "") {
    throw new Error(
      `ffmpeg could not decode ${jpegs.length} JPEGs (status ${result.code}` +
        `${result.timedOut ? ", timed out" : ""}): ${tail(result.stderr)}`,
    );
  }
  const md5s = parseFrameMd5(decoder.decode(result.stdout));
  if (md5s.length !== jpegs.length) {
    throw new Error(`ffmpeg decoded ${md5s.length} pictures from ${jpegs.length} JPEGs`);
  }
  return md5s;
}
