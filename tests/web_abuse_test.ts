/**
 * The web side under abuse: path traversal through `/live/` and
 * `/snapshot/`, methods other than GET and HEAD, a thousand idle
 * connections, a client that stops reading its live view, more requests
 * than the cap. RTSP is served through all of it.
 */
import assert from "node:assert/strict";
import { collect } from "./_helpers.ts";
import { requirePeer } from "./_peers.ts";
import {
  labFile,
  RawConn,
  readLabFrames,
  req,
  sinkPair,
  sleep,
  tempMediaDir,
  waitUntil,
} from "./_raw_rtsp.ts";
import { PROJECT_ROOT, startServer } from "./_server.ts";
import { MultipartReader, rawHttp } from "./_web.ts";
import type { ServerStatus } from "../lib/session/server/server_status.ts";

const FRAMES = await readLabFrames();

function get(port: number, path: string, method = "GET") {
  return rawHttp(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
}

/** RTSP still works: OPTIONS and DESCRIBE are answered 200. */
async function assertRtspServes(port: number, name = "video.mjpeg"): Promise<void> {
  const conn = await RawConn.connect(port);
  try {
    assert.match(await conn.request(req("OPTIONS", "*", { CSeq: 1 })), /^RTSP\/1\.0 200 /);
    const describe = await conn.request(
      req("DESCRIBE", `rtsp://127.0.0.1:${port}/${name}`, { CSeq: 2 }),
    );
    assert.match(describe, /^RTSP\/1\.0 200 /);
  } finally {
    await conn.close();
  }
}

Deno.test("path traversal through /live/ and /snapshot/ gets 404, never a file outside the media directory", async () => {
  const outside = await Deno.makeTempDir({ prefix: "rtsp_test_outside_" });
  const secret = labFile(FRAMES.slice(0, 3)); // a valid file: served if reached
  await Deno.writeFile(`${outside}/secret.mjpeg`, secret);
  await using media = await tempMediaDir({ "clip.mjpeg": labFile(FRAMES.slice(10, 13)) });
  await Deno.mkdir(`${media.path}/sub`);
  await Deno.symlink(`${outside}/secret.mjpeg`, `${media.path}/link.mjpeg`);
  await Deno.symlink(outside, `${media.path}/out`);
  try {
    await using srv = await startServer({ httpPort: 0, mediaDir: media.path });
    const port = srv.server.httpAddr!.port;
    const up = encodeURIComponent(`${outside}/secret.mjpeg`);
    const names = [
      "../secret.mjpeg",
      "..%2fsecret.mjpeg",
      "..%2Fsecret.mjpeg",
      "%2e%2e%2fsecret.mjpeg",
      "%2e%2e/secret.mjpeg",
      ".%2e/secret.mjpeg",
      "sub/..%2f..%2fsecret.mjpeg",
      "sub%2f..%2f..%2fsecret.mjpeg",
      "..%5csecret.mjpeg",
      "%2e%2e%5csecret.mjpeg",
      up,
      `%2f%2f${up}`,
      "link.mjpeg",
      "out/secret.mjpeg",
      "out%2fsecret.mjpeg",
      "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "..%252fsecret.mjpeg",
      "%c0%ae%c0%ae%2fsecret.mjpeg",
      "clip.mjpeg%00",
      "%00",
      "%zz",
      "",
      ".",
      "sub",
      "sub/",
    ];
    for (const prefix of ["/live/", "/snapshot/"]) {
      for (const name of names) {
        for (const method of ["GET", "HEAD"]) {
          const reply = await get(port, `${prefix}${name}`, method);
          assert.equal(reply.status, 404, `${method} ${prefix}${name}: ${reply.status}`);
          assert.ok(reply.body.length < 100, `${prefix}${name}: a short error, nothing more`);
        }
      }
    }
    // Control: the file inside is served, both ways.
    assert.equal((await get(port, "/snapshot/clip.mjpeg")).status, 200);
    assert.equal((await get(port, "/live/clip.mjpeg", "HEAD")).status, 200);
    assert.equal(srv.server.sessions.size, 0);
    assert.equal((await srv.server.status()).totals.liveViews, 0);
    await assertRtspServes(srv.port, "clip.mjpeg");
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("methods other than GET and HEAD get 405 with Allow, and start nothing", async () => {
  await using srv = await startServer({ httpPort: 0 });
  const port = srv.server.httpAddr!.port;
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"]) {
    for (
      const path of ["/", "/status.json", "/metrics", "/live/video.mjpeg", "/snapshot/video.mjpeg"]
    ) {
      const body = method === "POST" || method === "PUT" ? "x=1" : "";
      const reply = await rawHttp(
        port,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      assert.equal(reply.status, 405, `${method} ${path}`);
      assert.equal(reply.headers.get("allow"), "GET, HEAD");
    }
  }
  assert.equal(srv.server.sessions.size, 0);
  const { http } = (await srv.server.status()).totals;
  assert.equal(http!.liveViews, 0);
  assert.deepEqual(http!.requests, [{ method: "other", status: 405, count: 40 }]);
  await assertRtspServes(srv.port);
});

Deno.test("oversized requests are refused: a URL past 4096 bytes 414, 100 KB of header or 200 headers not read", async () => {
  await using srv = await startServer({ httpPort: 0 });
  const port = srv.server.httpAddr!.port;
  const long = await rawHttp(
    port,
    `GET /live/${"a".repeat(5000)}.mjpeg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(long.status, 414);
  const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join("");
  const manyReply = await rawHttp(
    port,
    `GET / HTTP/1.1\r\nHost: x\r\n${many}Connection: close\r\n\r\n`,
  ).catch((error) => error);
  assert.ok(manyReply instanceof Error || manyReply.status === 400, `200 headers: ${manyReply}`);
  const big = await rawHttp(
    port,
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(100_000)}\r\nConnection: close\r\n\r\n`,
  ).catch((error) => error);
  assert.ok(
    big instanceof Error || big.status === 431 || big.status === 400,
    `100 KB header: ${big}`,
  );
  assert.equal((await get(port, "/status.json")).status, 200);
  await assertRtspServes(srv.port);
});

Deno.test("a client that stops reading its live view has frames dropped, not buffered; RTSP goes on", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 1000, loop: true });
  const port = srv.server.httpAddr!.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("GET /live/video.mjpeg HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.ok(await conn.read(new Uint8Array(1024)), "the answer began");
    // Then read nothing: at 1000 frames/s (~10 MB/s) the socket buffers fill within a second.
    const view = (status: ServerStatus) => status.sessions.find((x) => x.dialect === "http")!;
    await sleep(2000);
    const stalled = view(await srv.server.status());
    await sleep(1000);
    const status = await srv.server.status();
    const later = view(status);
    assert.ok(later.framesDropped > 500, `${later.framesDropped} frames dropped in 3 s`);
    assert.ok(later.framesDropped > stalled.framesDropped, "dropping goes on");
    assert.equal(
      later.bytesSent,
      stalled.bytesSent,
      "nothing more is taken while it does not read",
    );
    assert.ok(later.bytesSent < 64e6, `${later.bytesSent} bytes taken in all`);
    assert.equal(status.totals.http!.liveFramesDropped, later.framesDropped);
    // Meanwhile RTSP and the rest of HTTP are served.
    await assertRtspServes(srv.port);
    assert.equal((await get(port, "/status.json")).status, 200);
  } finally {
    conn.close();
  }
  assert.ok(
    await waitUntil(
      () => srv.server.sessions.size === 0 && srv.logs.some((l) => /ended after/.test(l)),
      3000,
    ),
  );
  assert.equal((await srv.server.status()).totals.liveViews, 0, "the view ended with its client");
});

Deno.test("a reader that resumes gets whole parts: frames are dropped whole, never cut", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 1000, loop: true });
  const response = await fetch(`http://127.0.0.1:${srv.server.httpAddr!.port}/live/video.mjpeg`);
  const parts = new MultipartReader(response.body!, "frame");
  try {
    assert.ok(await parts.next());
    await sleep(1500); // not reading
    const sizes = new Set(FRAMES.map((f) => f.length));
    for (let i = 0; i < 300; i++) {
      const part = (await parts.next())!;
      assert.ok(sizes.has(part.length), `part ${i} is a whole frame (${part.length} bytes)`);
      assert.equal(part[0], 0xff);
      assert.equal(part[1], 0xd8);
      assert.equal(part.at(-2), 0xff);
      assert.equal(part.at(-1), 0xd9);
    }
    assert.ok((await srv.server.status()).totals.http!.liveFramesDropped > 0);
  } finally {
    await parts.cancel();
  }
});

Deno.test("beyond --http-max-requests a request gets 503; the others are served", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 20, loop: true, httpMaxRequests: 2 });
  const port = srv.server.httpAddr!.port;
  const open = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/live/video.mjpeg`);
    const parts = new MultipartReader(response.body!, "frame");
    assert.ok(await parts.next());
    return parts;
  };
  const a = await open();
  const b = await open();
  try {
    const refused = await get(port, "/status.json");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal((await srv.server.status()).totals.http!.refused, 1);
    await assertRtspServes(srv.port);
    await a.cancel();
    assert.ok(
      await waitUntil(() => srv.logs.some((l) => /ended after/.test(l)), 3000),
      "the first view ended",
    );
    await sleep(50);
    assert.equal((await get(port, "/status.json")).status, 200);
  } finally {
    await a.cancel();
    await b.cancel();
  }
});

/** `server.ts` in a subprocess with HTTP, allowed many descriptors; its ports from its banner. */
class ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly out: ReturnType<typeof collect>;
  readonly err: ReturnType<typeof collect>;
  rtspPort = 0;
  httpPort = 0;

  constructor() {
    this.child = new Deno.Command("sh", {
      args: [
        "-c",
        // As many descriptors as the hard limit allows (4096 at most): a thousand clients.
        'ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"',
        "sh",
        Deno.execPath(),
        ...["run", "-P=server", "server.ts", "0", "--host", "127.0.0.1", "--http-port", "0"],
        ...["--quiet", "--fps", "50", "--loop"],
      ],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.out = collect(this.child.stdout);
    this.err = collect(this.child.stderr);
  }

  async ready(): Promise<void> {
    const ok = await waitUntil(
      () => /http:\/\/127\.0\.0\.1:\d+\//.test(this.out.state.text),
      20_000,
    );
    assert.ok(
      ok,
      `the server said where it listens:\n${this.out.state.text}\n${this.err.state.text}`,
    );
    this.rtspPort = Number(/rtsp:\/\/127\.0\.0\.1:(\d+)\//.exec(this.out.state.text)![1]);
    this.httpPort = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(this.out.state.text)![1]);
  }

  /** SIGTERM, and the exit status (SIGKILL if it takes longer than `ms`). */
  async stop(ms = 10_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, ms);
    try {
      return await this.child.status;
    } finally {
      clearTimeout(timer);
      await Promise.all([this.out.done, this.err.done]);
    }
  }
}

/** Python that opens COUNT idle connections to PORT, says so, and holds them until stdin closes. */
const HOLDER = `
import resource, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard) if hard != resource.RLIM_INFINITY else 4096, hard))
held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
print("holding", len(held), flush=True)
sys.stdin.read()
`;

/** A process holding `count` idle connections to `port`. */
class Holder {
  readonly child: Deno.ChildProcess;
  readonly out: ReturnType<typeof collect>;
  readonly err: ReturnType<typeof collect>;

  constructor(port: number, count: number) {
    this.child = new Deno.Command("python3", {
      args: ["-c", HOLDER, String(port), String(count)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.out = collect(this.child.stdout);
    this.err = collect(this.child.stderr);
  }

  async holding(count: number): Promise<void> {
    const ok = await waitUntil(
      () => this.out.state.text.includes(`holding ${count}`) || this.err.state.text !== "",
      30_000,
    );
    assert.ok(
      ok && this.err.state.text === "",
      `holder: ${this.out.state.text}${this.err.state.text}`,
    );
  }

  async release(): Promise<void> {
    await this.child.stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 10_000);
    try {
      await this.child.status;
    } finally {
      clearTimeout(timer);
      await Promise.all([this.out.done, this.err.done]);
    }
  }
}

async function rssOf(port: number): Promise<number> {
  const text = new TextDecoder().decode((await get(port, "/metrics")).body);
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)![1]);
}

Deno.test("1000 idle HTTP connections: RTSP and HTTP are served all along, and the server still closes", async () => {
  if (!await requirePeer("python3", ["--version"])) return;
  const server = new ServerProcess();
  let holder: Holder | undefined;
  try {
    await server.ready();
    const rssBefore = await rssOf(server.httpPort);
    holder = new Holder(server.httpPort, 1000);
    await holder.holding(1000);
    // RTSP: a session plays.
    await using sinks = await sinkPair();
    const conn = await RawConn.connect(server.rtspPort);
    try {
      const url = `rtsp://127.0.0.1:${server.rtspPort}/video.mjpeg`;
      const setup = await conn.request(req("SETUP", url, { CSeq: 1, Transport: sinks.transport }));
      assert.match(setup, /^RTSP\/1\.0 200 /);
      const session = /Session: (\d+)/.exec(setup)![1];
      assert.match(
        await conn.request(req("PLAY", url, { CSeq: 2, Session: session })),
        /^RTSP\/1\.0 200 /,
      );
      assert.ok(await sinks.rtp.waitFor(20, 5000), "RTP flows");
    } finally {
      await conn.close();
    }
    // HTTP: served too; the idle connections are not requests in progress.
    const status = await get(server.httpPort, "/status.json");
    assert.equal(status.status, 200);
    const json = JSON.parse(new TextDecoder().decode(status.body));
    assert.equal(json.totals.http.refused, 0);
    assert.ok(json.totals.http.inProgress <= 2);
    const rssHeld = await rssOf(server.httpPort);
    assert.ok(
      rssHeld - rssBefore < 200e6,
      `1000 idle connections cost ${((rssHeld - rssBefore) / 1e6).toFixed(1)} MB`,
    );
    // The server closes with them still open (they are cut, not waited for).
    const started = performance.now();
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${exit.code}\n${server.err.state.text}`);
    assert.ok(performance.now() - started < 8000, "closed promptly");
  } finally {
    await holder?.release();
    await server.stop().catch(() => {});
  }
});
