/**
 * The test server (not a test file itself): a real {@linkcode RtspServer} in
 * this process, on 127.0.0.1, port 0, with its log collected, searchable and
 * stamped with the time each line was written.
 *
 * Every wait is bounded, and closing the server rejects the waits still
 * pending, so Deno's sanitizers stay on.
 *
 * @module
 */
import { RtspServer } from "../lib/session/server/rtsp_server.ts";
import type { RtspServerOptions } from "../lib/session/server/server_options.ts";

/** The project root (where `video.mjpeg` lives), without a trailing slash. */
export const PROJECT_ROOT: string = decodeURIComponent(new URL("../", import.meta.url).pathname)
  .replace(/\/$/, "");

/**
 * Options for {@linkcode startServer}: every option of the server but its
 * address and log, each with the server's default except `mediaDir`.
 */
export interface TestServerOptions
  extends Partial<Omit<RtspServerOptions, "port" | "hostname" | "log" | "mediaDir">> {
  /** Directory whose lab MJPEG files are served. @default {PROJECT_ROOT} */
  mediaDir?: string;
}

/** A running server for one test; dispose it (or call `close`) when done. */
export interface TestServer extends AsyncDisposable {
  server: RtspServer;
  /** The RTSP port on 127.0.0.1. */
  port: number;
  /** Every line the server logged so far, in order. */
  logs: string[];
  /** When each line of `logs` was written (performance.now()), index for index. */
  logTimes: number[];
  /** `rtsp://127.0.0.1:PORT/<name>`. */
  url(name: string): string;
  /**
   * Resolve with the first log line (past or future) matching `pattern`;
   * reject when none comes within `timeoutMs` or the server closes first.
   */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The log as one string, for assertion messages; with `times`, each line after its time. */
  logText(options?: { times?: boolean }): string;
  /** Close the server (again: nothing). */
  close(): Promise<void>;
}

interface LogWaiter {
  pattern: RegExp;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Start an {@linkcode RtspServer} on 127.0.0.1, port 0, serving
 * `options.mediaDir` (default: the project root), with its log collected.
 */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const logs: string[] = [];
  const logTimes: number[] = [];
  const waiters = new Set<LogWaiter>();
  const server = await RtspServer.start({
    ...options,
    mediaDir: options.mediaDir ?? PROJECT_ROOT,
    port: 0,
    hostname: "127.0.0.1",
    log: (line) => {
      logTimes.push(performance.now());
      logs.push(line);
      for (const waiter of waiters) {
        if (!waiter.pattern.test(line)) continue;
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(line);
      }
    },
  });
  const port = server.addr.port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`server closed before a log line matched ${waiter.pattern}`));
    }
    waiters.clear();
    await server.close();
  };
  return {
    server,
    port,
    logs,
    logTimes,
    url: (name) => `rtsp://127.0.0.1:${port}/${name}`,
    waitForLog(pattern, timeoutMs) {
      const seen = logs.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      if (closed) return Promise.reject(new Error(`server closed; no log line matched ${pattern}`));
      return new Promise((resolve, reject) => {
        const waiter: LogWaiter = {
          pattern,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no log line matched ${pattern} within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    logText: ({ times = false } = {}) =>
      logs.map((line, k) => times ? `${logTimes[k].toFixed(1)} ${line}` : line).join("\n"),
    close,
    [Symbol.asyncDispose]: close,
  };
}
