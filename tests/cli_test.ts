/**
 * The real command-line programs, run as subprocesses from the project root:
 * `deno run -P=server server.ts …` and `deno run -P=client client.ts …`.
 */
import assert from "node:assert/strict";
import { assertSamePicture } from "./_same_picture.ts";
import { collect, sameBytes, withTempDir } from "./_helpers.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";

const ROOT = new URL("..", import.meta.url);
const FRAMES = [...readLabFrames(await Deno.readFile(new URL("video.mjpeg", ROOT)))].map((f) =>
  f.data
);
const SERVER = ["run", "-P=server", "server.ts"];
const CLIENT = ["run", "-P=client", "client.ts"];
/** How long any one program may run before it is killed. */
const RUN_TIMEOUT_MS = 30_000;
/** How long the server may take to say where it listens. */
const START_TIMEOUT_MS = 20_000;

interface Output {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function command(args: string[], stdin: "null" | "piped" = "null"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Run a program to the end (killed after `timeoutMs`) and collect its output. */
async function run(args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<Output> {
  const child = command(args);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      signal: output.signal,
      stdout: decoder.decode(output.stdout),
      stderr: withoutDenoWarnings(decoder.decode(output.stderr)),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Standard error without the runtime's own notices, such as "Warning
 * Permissions in the config file is an experimental feature …", which are
 * Deno's and not the program's.
 */
function withoutDenoWarnings(text: string): string {
  return text.replace(/^Warning Permissions in the config file [^\n]*\n/gm, "");
}

/** `promise`, or a rejection naming `what` after `ms`; the timer is always cleared. */
async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll `check` every 25 ms until it holds; throw after `ms`. */
async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A running `server.ts`, its port parsed from what it prints. */
class ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly #stdout: ReturnType<typeof collect>;
  readonly #stderr: ReturnType<typeof collect>;
  port = 0;
  #status: Promise<Deno.CommandStatus>;

  constructor(args: string[]) {
    this.child = command([...SERVER, ...args]);
    this.#stdout = collect(this.child.stdout);
    this.#stderr = collect(this.child.stderr);
    this.#status = this.child.status;
  }

  get stdout(): string {
    return this.#stdout.state.text;
  }

  get stderr(): string {
    return this.#stderr.state.text;
  }

  /** Wait for the `rtsp-server: serving … on rtsp://HOST:PORT/` line. */
  async ready(): Promise<void> {
    const pattern = /rtsp-server: serving .* on rtsp:\/\/([^\s/]+):(\d+)\//;
    let exited = false;
    this.#status.then(() => exited = true);
    await waitFor(
      () => pattern.test(this.stdout) || exited,
      START_TIMEOUT_MS,
      "the server's 'serving' line",
    );
    const match = pattern.exec(this.stdout);
    if (!match) throw new Error(`server exited before serving:\n${this.stdout}\n${this.stderr}`);
    this.port = Number(match[2]);
    assert.ok(this.port > 0, `a port in ${JSON.stringify(this.stdout)}`);
  }

  /** Send `signal` and wait for the exit (SIGKILL after `ms`). */
  async stop(signal: Deno.Signal = "SIGTERM", ms = 10_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    let status: Deno.CommandStatus;
    try {
      status = await deadline(this.#status, ms, `server exit after ${signal}`);
    } catch (error) {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already exited */ }
      await this.#status;
      throw error;
    } finally {
      await Promise.all([this.#stdout.done, this.#stderr.done]);
    }
    return status;
  }
}

/** Start a server on a free port of 127.0.0.1, run `fn`, and always stop the server. */
async function withServer(
  fn: (server: ServerProcess) => Promise<void>,
  extra: string[] = [],
): Promise<void> {
  const server = new ServerProcess(["0", "--host", "127.0.0.1", "--fps", "100", ...extra]);
  try {
    await server.ready();
    await fn(server);
  } finally {
    await server.stop("SIGKILL");
  }
}

/**
 * DIR holds frame_000001.jpg .. frame_000200.jpg, each frame i of the file:
 * byte for byte in the lab dialect; in the standard dialect (RTP/JPEG, RFC
 * 2435, whose receiver may rebuild the headers) byte for byte or else the
 * same picture: same frame header, quantization tables and scan data.
 */
async function assertFramesWritten(dir: string, dialect: string): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  const expected = FRAMES.map((_, i) => `frame_${String(i + 1).padStart(6, "0")}.jpg`);
  assert.deepEqual(names.sort(), expected);
  for (const [i, name] of expected.entries()) {
    const bytes = await Deno.readFile(`${dir}/${name}`);
    if (sameBytes(bytes, FRAMES[i])) continue;
    assert.ok(dialect === "rtsp", `${name} differs from frame ${i} of video.mjpeg`);
    assertSamePicture(bytes, FRAMES[i], name);
  }
}

function describe(out: Output): string {
  return `exit ${out.code}${out.signal ? ` (${out.signal})` : ""}${
    out.timedOut ? " TIMED OUT" : ""
  }\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
}

/** The long option names a program's parseArgs declares, read from its source. */
async function declaredFlags(file: string): Promise<string[]> {
  const source = await Deno.readTextFile(new URL(file, ROOT));
  const block = /parseArgs\(\{[\s\S]*?options:\s*\{([\s\S]*?)\n\s*\},\n/.exec(source)?.[1] ?? "";
  const flags = [...block.matchAll(/^\s*"?([a-z][a-z-]*)"?:\s*\{\s*type:/gm)].map((m) => m[1]);
  assert.ok(flags.length > 0, `found the options of ${file}`);
  return flags;
}

// --help and usage errors.

Deno.test("cli: server --help exits 0 and mentions every flag", async () => {
  const out = await run([...SERVER, "--help"]);
  assert.equal(out.code, 0, describe(out));
  assert.match(out.stdout, /^Usage: rtsp-server <port>/);
  const flags = new Set(["host", "media-dir", "fps", "loop", "quiet", "help"]);
  for (const flag of await declaredFlags("server.ts")) flags.add(flag);
  for (const flag of flags) assert.ok(out.stdout.includes(`--${flag}`), `--${flag} in help`);
  assert.ok(out.stdout.includes("-h"));
});

Deno.test("cli: client --help exits 0 and mentions every flag", async () => {
  const out = await run([...CLIENT, "-h"]);
  assert.equal(out.code, 0, describe(out));
  assert.match(out.stdout, /^Usage: rtsp-client <server_host> <server_port> <rtp_port>/);
  const flags = new Set([
    "out",
    "frames",
    "duration",
    "end-after",
    "stats",
    "dialect",
    "interactive",
    "quiet",
    "help",
  ]);
  for (const flag of await declaredFlags("client.ts")) flags.add(flag);
  for (const flag of flags) assert.ok(out.stdout.includes(`--${flag}`), `--${flag} in help`);
});

Deno.test("cli: server usage errors exit 2 with a message", async () => {
  const cases: [string[], RegExp][] = [
    [[], /expected one port number/],
    [["1025", "1026"], /expected one port number/],
    [["port"], /port "port" is not a number/],
    [["70000"], /port "70000" is not a number from 0 to 65535/],
    [["0", "--fps=-1"], /--fps "-1"/],
    [["0", "--fps", "100001"], /--fps "100001"/],
    [["0", "--fps", "fast"], /--fps "fast"/],
    [["0", "--bogus"], /bogus/],
    [["0", "--media-dir", "/nonexistent/media/dir"], /does not exist/],
    [["0", "--media-dir", "video.mjpeg"], /is not a directory/],
  ];
  for (const [args, message] of cases) {
    const out = await run([...SERVER, ...args]);
    assert.equal(out.code, 2, `${args.join(" ")}: ${describe(out)}`);
    assert.match(out.stderr, /^rtsp-server: /, args.join(" "));
    assert.match(out.stderr, message, args.join(" "));
    assert.equal(out.stdout, "", args.join(" "));
  }
});

Deno.test("cli: client usage errors exit 2 with a message", async () => {
  const cases: [string[], RegExp][] = [
    [[], /expected <server_host> <server_port> <rtp_port> <video_file>/],
    [["127.0.0.1", "1025", "0"], /expected <server_host>/],
    [["127.0.0.1", "x", "0", "video.mjpeg"], /server_port "x" is not valid: must be a port number/],
    [["127.0.0.1", "0", "0", "video.mjpeg"], /server_port "0"/],
    [["127.0.0.1", "1025", "-1", "video.mjpeg"], /rtp_port "-1"|-1/],
    [
      ["127.0.0.1", "1025", "70000", "video.mjpeg"],
      /rtp_port "70000" is not valid: must be a port/,
    ],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--dialect", "foo"], /--dialect "foo"/],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--frames", "1.5"], /--frames/],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--frames", "0"], /--frames "0"/],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--duration", "-3"], /--duration/],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--end-after", "abc"], /--end-after "abc"/],
    [["127.0.0.1", "1025", "0", "video.mjpeg", "--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    const out = await run([...CLIENT, ...args]);
    assert.equal(out.code, 2, `${args.join(" ")}: ${describe(out)}`);
    assert.match(out.stderr, /^rtsp-client: /, args.join(" "));
    assert.match(out.stderr, message, args.join(" "));
    assert.equal(out.stdout, "", args.join(" "));
  }
});

// Client against server.

for (const dialect of ["lab", "rtsp"]) {
  Deno.test(`cli: client --dialect ${dialect} receives every frame and writes stats`, async () => {
    await withServer((server) =>
      withTempDir(async (dir) => {
        const out = await run([
          ...CLIENT,
          "127.0.0.1",
          String(server.port),
          "0",
          "video.mjpeg",
          "--out",
          `${dir}/frames`,
          "--stats",
          `${dir}/stats.json`,
          "--dialect",
          dialect,
          "--end-after",
          "0.5",
        ]);
        assert.equal(out.code, 0, describe(out));
        assert.match(
          out.stdout,
          /frames received\s+200 complete; not written: 0 incomplete/,
          describe(out),
        );
        assert.match(out.stdout, /frames written to/);
        const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
        assert.equal(stats.framesReceived, 200);
        assert.equal(stats.framesDamaged, 0);
        assert.equal(stats.packetsLost, 0);
        assert.equal(stats.duplicates, 0);
        if (dialect === "lab") assert.equal(stats.packetsExpected, 200);
        await assertFramesWritten(`${dir}/frames`, dialect);
      })
    );
  });
}

Deno.test("cli: client --frames stops at that count", async () => {
  await withServer((server) =>
    withTempDir(async (dir) => {
      const out = await run([
        ...CLIENT,
        "127.0.0.1",
        String(server.port),
        "0",
        "video.mjpeg",
        "--frames",
        "30",
        "--stats",
        `${dir}/stats.json`,
      ]);
      assert.equal(out.code, 0, describe(out));
      const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
      assert.equal(stats.framesReceived, 30);
    })
  );
});

Deno.test("cli: client to a port with no server exits non-zero with a one-line message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const out = await run([...CLIENT, "127.0.0.1", String(port), "0", "video.mjpeg"]);
  assert.notEqual(out.code, 0, describe(out));
  assert.equal(out.code, 1, describe(out));
  assert.equal(out.signal, null);
  const lines = out.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(out.stderr)}`);
  assert.match(
    lines[0],
    new RegExp(`^rtsp-client: Cannot connect to RTSP server 127\\.0\\.0\\.1:${port}`),
  );
  assert.equal(out.stdout, "");
});

Deno.test("cli: client asking for a missing file exits 1 naming the 404", async () => {
  await withServer(async (server) => {
    const out = await run([
      ...CLIENT,
      "127.0.0.1",
      String(server.port),
      "0",
      "missing.mjpeg",
    ]);
    assert.equal(out.code, 1, describe(out));
    assert.match(out.stderr, /^rtsp-client: (SETUP|DESCRIBE) \S*missing\.mjpeg was refused: 404/);
  });
});

Deno.test("cli: client --interactive runs the four buttons from stdin", async () => {
  await withServer((server) =>
    withTempDir(async (dir) => {
      const child = command([
        ...CLIENT,
        "127.0.0.1",
        String(server.port),
        "0",
        "video.mjpeg",
        "--interactive",
        "--out",
        dir,
      ], "piped");
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      const writer = child.stdin.getWriter();
      const encoder = new TextEncoder();
      let status: Deno.CommandStatus | undefined;
      try {
        await writer.write(encoder.encode("setup\nplay\n"));
        // Wait (bounded) until both replies are printed, then let frames flow a while.
        await waitFor(() => /PLAY: /.test(stdout.state.text), 15_000, "the PLAY reply");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await writer.write(encoder.encode("stats\npause\nteardown\n"));
        await writer.close();
        status = await deadline(child.status, RUN_TIMEOUT_MS, "the interactive client's exit");
      } finally {
        if (status === undefined) {
          try {
            child.kill("SIGKILL");
          } catch { /* already exited */ }
          await writer.abort().catch(() => {});
          await child.status;
        }
        await Promise.all([stdout.done, stderr.done]);
      }
      const text = stdout.state.text;
      const report = `exit ${status.code}\n--- stdout\n${text}\n--- stderr\n${stderr.state.text}`;
      assert.equal(status.code, 0, report);
      assert.match(
        text,
        /^rtsp-client: rtsp:\/\/127\.0\.0\.1:\d+\/video\.mjpeg\ncommands: setup, play, pause, seek SEC, teardown, stats, quit/,
        report,
      );
      assert.match(text, /SETUP: 200 OK \(session \d+\)/, report);
      assert.match(text, /PLAY: 200 OK/, report);
      assert.match(text, /PAUSE: 200 OK/, report);
      assert.match(text, /TEARDOWN: 200 OK/, report);
      // After a second of playing at 100 fps some frames have arrived, but not all 200.
      const counts = [...text.matchAll(/frames received\s+(\d+) complete/g)].map((m) =>
        Number(m[1])
      );
      assert.equal(counts.length, 2, `statistics from "stats" and at exit:\n${report}`);
      const received = counts[1];
      assert.ok(received > 0 && received < 200, `frames received: ${received}`);
      assert.ok(counts[0] <= received);
      let written = 0;
      for await (const _ of Deno.readDir(dir)) written++;
      assert.equal(written, received, "every complete frame was written");
    })
  );
});

Deno.test("cli: client --interactive reports unknown commands and quits on 'quit'", async () => {
  await withServer(async (server) => {
    const child = command([
      ...CLIENT,
      "127.0.0.1",
      String(server.port),
      "0",
      "video.mjpeg",
      "--interactive",
    ], "piped");
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const writer = child.stdin.getWriter();
    let status: Deno.CommandStatus | undefined;
    try {
      await writer.write(new TextEncoder().encode("jump\nplay\nquit\n"));
      await writer.close();
      status = await deadline(child.status, RUN_TIMEOUT_MS, "the interactive client's exit");
    } finally {
      if (status === undefined) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await writer.abort().catch(() => {});
        await child.status;
      }
      await Promise.all([stdout.done, stderr.done]);
    }
    const report = `exit ${status.code}\n${stdout.state.text}\n${stderr.state.text}`;
    assert.equal(status.code, 0, report);
    assert.match(stdout.state.text, /unknown command "jump"/, report);
    // PLAY before SETUP: the server refuses it (no session), the client says so and goes on.
    assert.match(stdout.state.text, /PLAY failed: .*45\d/, report);
  });
});

// Server lifetime.

Deno.test("cli: server exits 0 on SIGTERM", async () => {
  const server = new ServerProcess(["0", "--host", "127.0.0.1", "--fps", "100"]);
  let status: Deno.CommandStatus | undefined;
  try {
    await server.ready();
    status = await server.stop("SIGTERM");
  } finally {
    if (status === undefined) await server.stop("SIGKILL").catch(() => {});
  }
  assert.equal(status.code, 0, server.stderr);
  assert.equal(status.signal, null);
  assert.match(server.stderr, /shutting down/);
  assert.match(server.stdout, /^rtsp-server: serving \. on rtsp:\/\/127\.0\.0\.1:\d+\/ at 100 fps/);
});

Deno.test("cli: server exits 0 on SIGTERM with a client connected and streaming", async () => {
  const server = new ServerProcess(["0", "--host", "127.0.0.1", "--fps", "20", "--loop"]);
  let status: Deno.CommandStatus | undefined;
  let client: Deno.ChildProcess | undefined;
  try {
    await server.ready();
    client = command([...CLIENT, "127.0.0.1", String(server.port), "0", "video.mjpeg", "--quiet"]);
    // Wait (bounded) until the server logged the PLAY.
    await waitFor(() => / PLAY /.test(server.stderr), 15_000, "the client's PLAY in the log");
    status = await server.stop("SIGTERM");
  } finally {
    if (status === undefined) await server.stop("SIGKILL").catch(() => {});
    if (client) {
      try {
        client.kill("SIGKILL");
      } catch { /* already exited */ }
      await client.output();
    }
  }
  assert.equal(status.code, 0, server.stderr);
});

Deno.test("cli: a second server on the same port exits 2 saying it is in use", async () => {
  await withServer(async (server) => {
    const out = await run([...SERVER, String(server.port), "--host", "127.0.0.1"]);
    assert.equal(out.code, 2, describe(out));
    assert.match(out.stderr, new RegExp(`port ${server.port} is already in use`));
  });
});

Deno.test("cli: client on SIGINT tears the session down, writes its statistics and exits 0", async () => {
  const server = new ServerProcess(["0", "--host", "127.0.0.1", "--fps", "20", "--loop"]);
  const dir = await Deno.makeTempDir({ prefix: "cli_test_sigint_" });
  let client: Deno.ChildProcess | undefined;
  try {
    await server.ready();
    client = command([
      ...CLIENT,
      ...["127.0.0.1", String(server.port), "0", "video.mjpeg", "--quiet"],
      ...["--stats", `${dir}/stats.json`],
    ]);
    const out = collect(client.stdout);
    const err = collect(client.stderr);
    await waitFor(() => / PLAY /.test(server.stderr), 15_000, "the client's PLAY in the log");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // some frames arrive
    client.kill("SIGINT");
    const status = await deadline(client.status, 10_000, "client exit after SIGINT");
    await Promise.all([out.done, err.done]);
    client = undefined;
    assert.equal(status.code, 0, err.state.text);
    assert.match(err.state.text, /interrupted; session torn down/);
    assert.match(out.state.text, /frames received/);
    await waitFor(() => / TEARDOWN .* 200/.test(server.stderr), 5000, "TEARDOWN in the log");
    const stats = JSON.parse(await Deno.readTextFile(`${dir}/stats.json`));
    assert.ok(stats.framesReceived > 5, `frames before SIGINT: ${stats.framesReceived}`);
    assert.equal(stats.packetsLost, 0);
  } finally {
    if (client) {
      try {
        client.kill("SIGKILL");
      } catch { /* already exited */ }
      await client.status;
    }
    await server.stop("SIGTERM").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
