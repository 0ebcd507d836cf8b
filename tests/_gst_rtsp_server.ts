/**
 * Test helper: GStreamer's RTSP server (`_gst_rtsp_server.py`, GstRtspServer)
 * as a subprocess, and the checks that its peers are installed (not a test
 * file itself); the URL's scheme is an option (rtsps:// with `--tls-cert`).
 * With `--record DIR` the server takes a published stream instead and
 * writes its JPEGs into DIR.
 *
 * @module
 */
import { requirePeer, tail } from "./_peers.ts";

/** Debian's python3: `gi` is a Debian package, not in a pyenv or virtualenv python. */
export const PYTHON = "/usr/bin/python3";
const GST_SERVER = new URL("./_gst_rtsp_server.py", import.meta.url).pathname;
/** The mount path the server serves its stream at. */
export const MOUNT = "/test";

const PYTHON_PROBE = [
  "import gi",
  "gi.require_version('Gst', '1.0')",
  "gi.require_version('GstRtspServer', '1.0')",
  "gi.require_version('GstRtsp', '1.0')",
  "from gi.repository import Gst, GstRtspServer, GstRtsp",
].join("; ");

/**
 * Whether python3 with GstRtspServer and gst-launch-1.0 with `elements` are
 * installed (in CI a missing one throws, see {@linkcode requirePeer}).
 */
export async function haveGstServer(elements: string[]): Promise<boolean> {
  if (!await requirePeer(PYTHON, ["-c", PYTHON_PROBE])) return false;
  if (!await requirePeer("gst-launch-1.0", ["--version"])) return false;
  for (const element of elements) {
    if (!await requirePeer("gst-inspect-1.0", ["--exists", element])) return false;
  }
  return true;
}

/** A running `_gst_rtsp_server.py`; dispose it (or call `close`) when done. */
export interface GstServer extends AsyncDisposable {
  port: number;
  url: string;
  /** What the server printed so far (stdout and stderr), for assertion messages. */
  output(): string;
  /** Stop it with SIGTERM (SIGKILL after 5 s) and return its exit code. */
  close(): Promise<number>;
}

/**
 * Start `_gst_rtsp_server.py` on 127.0.0.1, port 0, and wait (10 s at most)
 * for its "READY <port>" line. Its stdin stays open: the server exits when
 * the pipe closes, so it cannot outlive this process.
 */
export async function startGstServer(
  args: string[],
  options: { scheme?: "rtsp" | "rtsps" } = {},
): Promise<GstServer> {
  const child = new Deno.Command(PYTHON, {
    args: [GST_SERVER, "--host", "127.0.0.1", "--port", "0", "--mount", MOUNT, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let stdout = "";
  let stderr = "";
  let exitCode: number | undefined;
  let wake = () => {};
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      add(text);
      wake();
    }
  };
  const reading = Promise.all([
    collect(child.stdout, (t) => stdout += t),
    collect(child.stderr, (t) => stderr += t),
  ]);
  const status = child.status.then((s) => {
    exitCode = s.code;
    wake();
    return s;
  });
  const output = () => `--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`;

  let closed: Promise<number> | undefined;
  const close = () => {
    closed ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* it has exited */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* it has exited */ }
      }, 5000);
      const { code } = await status.finally(() => clearTimeout(killer));
      await stdin.close().catch(() => {});
      await reading;
      return code;
    })();
    return closed;
  };

  const deadline = performance.now() + 10_000;
  let port: number | undefined;
  while (port === undefined) {
    const ready = /^READY (\d+)$/m.exec(stdout);
    if (ready) {
      port = Number(ready[1]);
      break;
    }
    const left = deadline - performance.now();
    if (exitCode !== undefined || left <= 0) {
      await close();
      throw new Error(
        `${GST_SERVER} did not print "READY <port>" ${
          exitCode !== undefined ? `(exited with status ${exitCode})` : "within 10 s"
        }\n${output()}`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, Math.min(left, 200));
    });
    clearTimeout(timer);
  }
  return {
    port,
    url: `${options.scheme ?? "rtsp"}://127.0.0.1:${port}${MOUNT}`,
    output,
    close,
    [Symbol.asyncDispose]: async () => void await close(),
  };
}
