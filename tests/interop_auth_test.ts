/**
 * Interop with credentials and TLS: real peers play our server when it
 * demands them (users configured), over plain RTSP and RTSP over TLS.
 *
 * - ffmpeg plays `rtsp://alice:p%40ss%3Aw0rd@…/video.mjpeg` (Digest) over
 *   RTP/UDP and RTSP/TCP interleaved, and `rtsps://…` (TLS, interleaved):
 *   every one of the 200 frames, each decoding to exactly the picture of its
 *   original JPEG (framemd5). A wrong password is a 401 and no frame.
 * - GStreamer's rtspsrc (through `_gst_play.py`, python3-gi) with
 *   `user-id`/`user-pw` plays every frame over RTSP/TCP, and over TLS with
 *   the test CA as its `tls-database` (Gio.TlsFileDatabase): each
 *   depayloaded JPEG codes the same picture as its original, in order. A
 *   wrong password is a 401, an untrusted CA a failed connection.
 * - The Digest each peer chose is read off the wire (a TCP proxy, or a
 *   TLS-terminating relay for rtsps) and each `response` is recomputed here
 *   with node:crypto: ffmpeg answers the MD5 challenge with qop=auth,
 *   rtspsrc answers with MD5 in the RFC 2069 form (no algorithm, no qop).
 *   Neither uses SHA-256, and neither takes Basic when it is offered (TLS).
 * - The CLI end to end: `deno task htdigest alice` (password on stdin)
 *   makes the auth file, `server.ts --auth-file FILE --tls-port 0 …` serves,
 *   ffmpeg plays over RTSP and RTSPS.
 * - No password, HA1 or Digest `response=` appears in the server's log, the
 *   CLI's stdout and stderr, or any peer's output captured here.
 *
 * ffmpeg 5.1 cannot check the server's certificate over rtsps: its RTSP
 * demuxer opens the TLS connection without options (`ffurl_open_whitelist(…,
 * NULL, …)` in libavformat/rtsp.c) and tls_verify defaults to 0, so
 * `-tls_verify 1` or `-ca_file` is refused ("Option tls_verify not found.",
 * exit 1) and rtsps plays with no check at all; a test below pins that down.
 *
 * Needs ffmpeg, python3 with gi (Gst, Gio), gst-inspect-1.0 with rtspsrc,
 * rtpjpegdepay and appsink, and openssl. Without them each test prints
 * "SKIPPED: ..." and passes, except in CI (`CI=true`), where it fails.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { frameMd5s, parseFrameMd5, requirePeer, runCommand, tail } from "./_peers.ts";
import { assertSamePicture, FrameFinder } from "./_same_picture.ts";
import { PROJECT_ROOT, startServer, type TestServer } from "./_server.ts";
import { TcpProxy } from "./_tcp_proxy.ts";
import { makeCertificate, type TestCertificate } from "./_tls.ts";
import { collect } from "./_helpers.ts";

const VIDEO = "video.mjpeg";
const FRAMES = [...readLabFrames(await Deno.readFile(join(PROJECT_ROOT, VIDEO)), VIDEO)].map((f) =>
  f.data
);
const FPS = 100;
const USER = "alice";
/** "@" and ":" must be percent-encoded in a URL's userinfo. */
const PASSWORD = "p@ss:w0rd";
const REALM = "rtsp-lab";
const PYTHON = "/usr/bin/python3";
const GST_PLAY = new URL("./_gst_play.py", import.meta.url).pathname;
/** The environment variable `_gst_play.py` reads the password from. */
const PASSWORD_ENV = "RTSP_TEST_PASSWORD";
const decoder = new TextDecoder();
/** One character per byte, for what crosses the wire (RTSP text with interleaved binary). */
const latin1 = new TextDecoder("latin1");

const hash = (algorithm: string, text: string) =>
  createHash(algorithm.toUpperCase() === "SHA-256" ? "sha256" : "md5").update(text).digest("hex");

/** What must never be printed: the password (as typed and percent-encoded) and its HA1s. */
const SECRETS = [
  PASSWORD,
  encodeURIComponent(PASSWORD),
  hash("MD5", `${USER}:${REALM}:${PASSWORD}`),
  hash("SHA-256", `${USER}:${REALM}:${PASSWORD}`),
];

/** `text` (a log, a program's output) holds no secret and no Digest parameter of a request. */
function assertNoSecret(text: string, what: string): void {
  for (const secret of SECRETS) {
    assert.ok(!text.includes(secret), `${what} holds a secret (${secret.slice(0, 3)}…):\n${text}`);
  }
  assert.ok(!/response=|cnonce=/i.test(text), `${what} holds Digest credentials:\n${text}`);
}

/** `scheme://alice:PASSWORD@127.0.0.1:port/video.mjpeg`, the userinfo percent-encoded. */
function urlWith(scheme: "rtsp" | "rtsps", port: number, password = PASSWORD): string {
  return `${scheme}://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${VIDEO}`;
}

/** Decoded-picture MD5s of the original JPEGs of video.mjpeg, computed once. */
let originalMd5s: Promise<string[]> | undefined;
function videoMd5s(): Promise<string[]> {
  originalMd5s ??= frameMd5s(FRAMES);
  return originalMd5s;
}

async function haveFfmpeg(): Promise<boolean> {
  return await requirePeer("ffmpeg", ["-hide_banner", "-version"]);
}

const GI_PROBE = "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gio, Gst";

async function haveGstreamer(): Promise<boolean> {
  if (!await requirePeer(PYTHON, ["-c", GI_PROBE])) return false;
  for (const element of ["rtspsrc", "rtpjpegdepay", "appsink"]) {
    if (!await requirePeer("gst-inspect-1.0", ["--exists", element])) return false;
  }
  return await haveFfmpeg(); // for the picture MD5s
}

// ---------------------------------------------------------------------------
// What the peers sent: requests read off the wire

/** One request a peer sent, with its Authorization read as a server would. */
interface SeenRequest {
  method: string;
  /** Authorization's scheme, or undefined without one. */
  scheme?: string;
  /** Its parameters by lower-case name, quotes removed. */
  params: Record<string, string>;
}

/** The requests in what a client sent (interleaved binary in between is skipped). */
function requestsIn(sent: string): SeenRequest[] {
  const requests: SeenRequest[] = [];
  for (const m of sent.matchAll(/([A-Z_]+) \S+ RTSP\/1\.0\r\n((?:[^\r\n]+\r\n)*)\r\n/g)) {
    const header = /^Authorization:[ \t]*(\S+)[ \t]*(.*)$/im.exec(m[2]);
    const params: Record<string, string> = {};
    for (const p of header?.[2].matchAll(/([A-Za-z-]+)=("([^"]*)"|[^,\s]*)/g) ?? []) {
      params[p[1].toLowerCase()] = p[3] ?? p[2];
    }
    requests.push({ method: m[1], scheme: header?.[1], params });
  }
  return requests;
}

/** How a peer answered the Digest challenges, checked against what the server expects. */
interface DigestChoice {
  /** The algorithm named, or "(none)". */
  algorithm: string;
  /** The algorithm whose response matched, recomputed here. */
  computedWith: string;
  qop: string;
}

/**
 * Every request with credentials carries Digest, all of one kind, each with
 * a `response` that this test recomputes (RFC 7616 §3.4.1; RFC 2069
 * without qop); the methods that must carry it do.
 *
 * @returns The kind.
 */
function assertDigestChoice(sent: string, what: string): DigestChoice {
  const requests = requestsIn(sent);
  const withAuth = requests.filter((r) => r.scheme !== undefined);
  const methods = new Set(withAuth.map((r) => r.method));
  for (const method of ["DESCRIBE", "SETUP", "PLAY"]) {
    assert.ok(methods.has(method), `${what}: ${method} with credentials in ${[...methods]}`);
  }
  const choices = new Set<string>();
  for (const r of withAuth) {
    assert.equal(r.scheme, "Digest", `${what}: ${r.method} with ${r.scheme}`);
    const p = r.params;
    assert.equal(p.username, USER);
    assert.equal(p.realm, REALM);
    const matches = ["MD5", "SHA-256"].filter((algorithm) => {
      const ha1 = hash(algorithm, `${p.username}:${p.realm}:${PASSWORD}`);
      const ha2 = hash(algorithm, `${r.method}:${p.uri}`);
      const expected = p.qop === undefined
        ? hash(algorithm, `${ha1}:${p.nonce}:${ha2}`)
        : hash(algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
      return expected === p.response?.toLowerCase();
    });
    assert.equal(matches.length, 1, `${what}: ${r.method}'s response is right for one algorithm`);
    choices.add(JSON.stringify({
      algorithm: p.algorithm ?? "(none)",
      computedWith: matches[0],
      qop: p.qop ?? "(none)",
    }));
  }
  assert.equal(choices.size, 1, `${what}: one kind of Digest throughout: ${[...choices]}`);
  return JSON.parse([...choices][0]);
}

/** The WWW-Authenticate challenges of the first 401 in what the server sent: scheme and algorithm. */
function challengesIn(received: string): string[] {
  const reply = /RTSP\/1\.0 401 [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/.exec(received);
  assert.ok(reply, "a 401 reply");
  return [...reply[1].matchAll(/^WWW-Authenticate:[ \t]*(\S+)(.*)$/gim)].map((m) => {
    const algorithm = /algorithm="?([^",\s]+)/i.exec(m[2])?.[1];
    return algorithm ? `${m[1]} ${algorithm}` : m[1];
  });
}

/** What a {@linkcode watch} proxy saw, per direction. */
interface Watched {
  /** What clients sent, every connection's bytes in turn. */
  sent(): string;
  /** What the server answered, every connection's bytes in turn. */
  received(): string;
}

/**
 * A proxy in front of one of the server's ports that keeps what passes; with
 * `cert` a TLS relay (TLS with the test certificate to clients, TLS trusting
 * the test CA to the server), so what passes is seen in the clear.
 */
function watch(port: number, cert?: TestCertificate): Watched & TcpProxy {
  const sent: string[] = [];
  const received: string[] = [];
  const proxy = new TcpProxy(port, {
    tls: cert,
    handlers: () => {
      const k = sent.push("") - 1;
      received.push("");
      return {
        toServer: (chunk) => {
          sent[k] += latin1.decode(chunk);
          return chunk;
        },
        toClient: (chunk) => {
          received[k] += latin1.decode(chunk);
          return chunk;
        },
      };
    },
  });
  return Object.assign(proxy, {
    sent: () => sent.join("\n"),
    received: () => received.join("\n"),
  });
}

// ---------------------------------------------------------------------------
// The peers

/** What a peer run printed, and how it ended, for assertion messages. */
interface PeerRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  context: string;
}

/**
 * Run ffmpeg on `url` (`-f framemd5 -` of at most 200 frames); the context
 * names the URL without its password.
 */
async function ffmpeg(url: string, extra: string[], serverLog: () => string): Promise<PeerRun> {
  const result = await runCommand("ffmpeg", [
    ...["-nostdin", "-hide_banner", "-v", "error", ...extra, "-i", url],
    ...["-frames:v", String(FRAMES.length), "-fps_mode", "passthrough", "-f", "framemd5", "-"],
  ], { timeoutMs: 20_000 });
  const stdout = decoder.decode(result.stdout);
  const shown = `ffmpeg ${extra.join(" ")} ${url.replace(/\/\/[^@/]*@/, "//alice:…@")}`;
  const context = `${shown}: status ${result.code}${
    result.timedOut ? " (killed after 20 s)" : ""
  }, ${result.ms} ms\n--- stderr\n${tail(result.stderr)}\n--- server log\n${tail(serverLog())}`;
  return { code: result.code, stdout, stderr: result.stderr, ms: result.ms, context };
}

/** ffmpeg played every frame of video.mjpeg, each the picture of its original. */
async function assertFfmpegPlayed(run: PeerRun): Promise<void> {
  assert.equal(run.code, 0, `ffmpeg failed: ${run.context}`);
  assert.equal(run.stderr, "", `ffmpeg printed errors: ${run.context}`);
  const md5s = parseFrameMd5(run.stdout);
  const expected = await videoMd5s();
  assert.equal(md5s.length, expected.length, `pictures decoded: ${run.context}`);
  const differing = md5s.flatMap((md5, i) => md5 === expected[i] ? [] : [i]);
  assert.deepEqual(differing, [], `pictures that differ from their originals: ${run.context}`);
}

/** The password's environment for `_gst_play.py`. */
function gstEnv(password: string): Record<string, string> {
  return { [PASSWORD_ENV]: password, GST_DEBUG_NO_COLOR: "1" };
}

/** Run `_gst_play.py` on `url` as alice; returns the run and the JPEGs it saved. */
async function gstreamer(
  url: string,
  options: { password?: string; caFile?: string; protocols?: "tcp" | "udp" },
  serverLog: () => string,
): Promise<PeerRun & { jpegs: Uint8Array[] }> {
  const out = await Deno.makeTempDir({ prefix: "interop_auth_gst_" });
  try {
    const result = await runCommand(PYTHON, [
      ...[GST_PLAY, "--url", url, "--protocols", options.protocols ?? "tcp"],
      ...["--user", USER, "--password-env", PASSWORD_ENV, "--frames", String(FRAMES.length)],
      ...(options.caFile ? ["--ca-file", options.caFile] : []),
      ...["--out", out, "--lifetime", "20"],
    ], { timeoutMs: 30_000, env: gstEnv(options.password ?? PASSWORD) });
    const names: string[] = [];
    for await (const entry of Deno.readDir(out)) names.push(entry.name);
    names.sort();
    const jpegs = await Promise.all(names.map((name) => Deno.readFile(join(out, name))));
    const stdout = decoder.decode(result.stdout);
    const context =
      `rtspsrc ${url}${options.caFile ? " tls-database=CA" : ""}: status ${result.code}${
        result.timedOut ? " (killed after 30 s)" : ""
      }, ${result.ms} ms, ${jpegs.length} JPEGs\n` +
      `--- stdout (without frame lines)\n${
        tail(stdout.split("\n").filter((l) => !l.includes('"frame"')).join("\n"))
      }\n--- stderr\n${tail(result.stderr)}\n--- server log\n${tail(serverLog())}`;
    return { code: result.code, stdout, stderr: result.stderr, ms: result.ms, context, jpegs };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** rtspsrc saved every frame of video.mjpeg, in order, each coding its original's picture. */
function assertGstreamerPlayed(run: PeerRun & { jpegs: Uint8Array[] }): void {
  assert.equal(run.code, 0, `rtspsrc failed: ${run.context}`);
  assert.match(run.stdout, /"done", "reason": "(frames|eos)"/, run.context);
  assert.doesNotMatch(run.stdout, /"type": "(error|warning)"/, run.context);
  assert.equal(run.jpegs.length, FRAMES.length, `JPEGs saved: ${run.context}`);
  const finder = new FrameFinder(FRAMES, VIDEO);
  run.jpegs.forEach((jpeg, i) => {
    assert.equal(finder.indexOf(jpeg), i, `JPEG ${i} is frame ${i}: ${run.context}`);
    assertSamePicture(jpeg, FRAMES[i], `JPEG ${i}`);
  });
}

/** A server with alice, and TLS too when `cert` is given. */
function authServer(cert?: TestCertificate): Promise<TestServer> {
  return startServer({
    fps: FPS,
    users: [{ name: USER, password: PASSWORD }],
    ...(cert ? { tls: { port: 0, cert: cert.cert, key: cert.key } } : {}),
  });
}

/** Print one line of what a peer did, for the report. */
function note(what: string, run: PeerRun, choice?: DigestChoice): void {
  console.log(
    `interop_auth: ${what}: ${run.ms} ms${
      choice
        ? `; Digest algorithm=${choice.algorithm} (computed with ${choice.computedWith}), ` +
          `qop=${choice.qop}`
        : ""
    }`,
  );
}

// ---------------------------------------------------------------------------
// ffmpeg

Deno.test("ffmpeg plays with Digest in the URL over RTP/UDP and RTSP/TCP: 200 identical pictures, MD5 with qop=auth", async (t) => {
  if (!await haveFfmpeg()) return;
  await using srv = await authServer();
  for (const transport of ["udp", "tcp"] as const) {
    await t.step(transport, async () => {
      await using proxy = watch(srv.port);
      const { sent, received } = proxy;
      const run = await ffmpeg(
        urlWith("rtsp", proxy.port),
        ["-rtsp_transport", transport],
        srv.logText,
      );
      await assertFfmpegPlayed(run);
      assert.deepEqual(challengesIn(received()), ["Digest SHA-256", "Digest MD5"]);
      const choice = assertDigestChoice(sent(), `ffmpeg over ${transport}`);
      assert.deepEqual(choice, { algorithm: "MD5", computedWith: "MD5", qop: "auth" });
      assertNoSecret(run.stdout + run.stderr, "ffmpeg's output");
      note(`ffmpeg rtsp:// over ${transport}`, run, choice);
    });
  }
  assert.match(srv.logText(), / DESCRIBE \S+ session=- 401 \(no credentials\)/);
  assert.match(srv.logText(), / PLAY \S+ session=\d+ 200/);
  assertNoSecret(srv.logText(), "the server's log");
});

Deno.test("ffmpeg with a wrong password: 401, exit 1, no frame", async () => {
  if (!await haveFfmpeg()) return;
  await using srv = await authServer();
  const run = await ffmpeg(urlWith("rtsp", srv.port, "wrong:pass"), [], srv.logText);
  assert.notEqual(run.code, 0, run.context);
  assert.match(run.stderr, /method DESCRIBE failed: 401 Unauthorized/, run.context);
  assert.deepEqual(parseFrameMd5(run.stdout), [], `no frame: ${run.context}`);
  assert.match(srv.logText(), / DESCRIBE \S+ session=- 401 \(wrong password for user "alice"\)/);
  assert.ok(!srv.logs.some((l) => / (SETUP|PLAY) /.test(l)), srv.logText());
  assert.equal(srv.server.sessions.size, 0);
  // (ffmpeg prints the URL it failed on, wrong password included: its own doing.)
  assertNoSecret(run.stdout + run.stderr, "ffmpeg's output");
  assertNoSecret(srv.logText(), "the server's log");
  assert.ok(!srv.logText().includes("wrong:pass") && !srv.logText().includes("wrong%3Apass"));
  note("ffmpeg, wrong password", run);
});

Deno.test("ffmpeg plays rtsps:// with Digest: 200 identical pictures over TLS, MD5 with qop=auth, Basic not taken", async () => {
  if (!await haveFfmpeg()) return;
  await using cert = await makeCertificate();
  if (!cert) return;
  await using srv = await authServer(cert);
  await using relay = watch(srv.server.tlsAddr!.port, cert);
  const run = await ffmpeg(urlWith("rtsps", relay.port), [], srv.logText);
  await assertFfmpegPlayed(run);
  assert.deepEqual(challengesIn(relay.received()), ["Digest SHA-256", "Digest MD5", "Basic"]);
  const choice = assertDigestChoice(relay.sent(), "ffmpeg over TLS");
  assert.deepEqual(choice, { algorithm: "MD5", computedWith: "MD5", qop: "auth" });
  assert.match(relay.sent(), /^SETUP \S+ RTSP\/1\.0\r\n(?:[^\r\n]+\r\n)*Transport: RTP\/AVP\/TCP/m);
  assertNoSecret(run.stdout + run.stderr, "ffmpeg's output");
  assertNoSecret(srv.logText(), "the server's log");
  note("ffmpeg rtsps://", run, choice);
});

Deno.test("ffmpeg 5.1 cannot be told to check the certificate of rtsps:// (-tls_verify is not an RTSP option)", async () => {
  // If this starts to play, ffmpeg passes TLS options to rtsps now: check the
  // certificate against the test CA (-tls_verify 1 -ca_file) in the test above.
  if (!await haveFfmpeg()) return;
  await using cert = await makeCertificate();
  if (!cert) return;
  await using srv = await authServer(cert);
  const run = await ffmpeg(
    urlWith("rtsps", srv.server.tlsAddr!.port),
    ["-tls_verify", "1", "-ca_file", cert.caFile],
    srv.logText,
  );
  assert.notEqual(run.code, 0, run.context);
  assert.match(run.stderr, /Option tls_verify not found\./, run.context);
});

// ---------------------------------------------------------------------------
// GStreamer

Deno.test("GStreamer rtspsrc with user-id/user-pw plays every frame over RTSP/TCP; MD5 in the RFC 2069 form", async () => {
  if (!await haveGstreamer()) return;
  await using srv = await authServer();
  await using proxy = watch(srv.port);
  const { sent, received } = proxy;
  const run = await gstreamer(`rtsp://127.0.0.1:${proxy.port}/${VIDEO}`, {}, srv.logText);
  assertGstreamerPlayed(run);
  assert.deepEqual(challengesIn(received()), ["Digest SHA-256", "Digest MD5"]);
  const choice = assertDigestChoice(sent(), "rtspsrc over TCP");
  assert.deepEqual(choice, { algorithm: "(none)", computedWith: "MD5", qop: "(none)" });
  assertNoSecret(run.stdout + run.stderr, "rtspsrc's output");
  assertNoSecret(srv.logText(), "the server's log");
  note("rtspsrc rtsp:// over tcp", run, choice);
});

Deno.test("GStreamer rtspsrc with a wrong password: 401, no frame", async () => {
  if (!await haveGstreamer()) return;
  await using srv = await authServer();
  const run = await gstreamer(srv.url(VIDEO), { password: "wrong:pass" }, srv.logText);
  assert.equal(run.code, 1, run.context);
  assert.match(run.stdout, /Unauthorized \(401\)/, run.context);
  assert.equal(run.jpegs.length, 0, run.context);
  assert.match(srv.logText(), / 401 \(wrong password for user "alice"\)/);
  assert.equal(srv.server.sessions.size, 0);
  assertNoSecret(run.stdout + run.stderr, "rtspsrc's output");
  assertNoSecret(srv.logText(), "the server's log");
});

Deno.test("GStreamer rtspsrc plays rtsps:// checking the certificate against the test CA (tls-database), with Digest", async (t) => {
  if (!await haveGstreamer()) return;
  await using cert = await makeCertificate();
  if (!cert) return;
  await using srv = await authServer(cert);
  const tlsPort = srv.server.tlsAddr!.port;

  await t.step("the test CA: every frame, MD5 in the RFC 2069 form, Basic not taken", async () => {
    await using relay = watch(tlsPort, cert);
    const run = await gstreamer(
      `rtsps://127.0.0.1:${relay.port}/${VIDEO}`,
      { caFile: cert.caFile },
      srv.logText,
    );
    assertGstreamerPlayed(run);
    assert.deepEqual(challengesIn(relay.received()), ["Digest SHA-256", "Digest MD5", "Basic"]);
    const choice = assertDigestChoice(relay.sent(), "rtspsrc over TLS");
    assert.deepEqual(choice, { algorithm: "(none)", computedWith: "MD5", qop: "(none)" });
    assertNoSecret(run.stdout + run.stderr, "rtspsrc's output");
    note("rtspsrc rtsps:// with tls-database", run, choice);
  });

  await t.step("localhost, the certificate's other name, without the relay", async () => {
    const run = await gstreamer(
      `rtsps://localhost:${tlsPort}/${VIDEO}`,
      { caFile: cert.caFile },
      srv.logText,
    );
    assertGstreamerPlayed(run);
  });

  await t.step("a CA that did not sign the certificate: no connection, nothing sent", async () => {
    const before = srv.logs.length;
    const run = await gstreamer(
      `rtsps://127.0.0.1:${tlsPort}/${VIDEO}`,
      { caFile: "/etc/ssl/certs/ca-certificates.crt" },
      srv.logText,
    );
    assert.equal(run.code, 1, run.context);
    assert.match(run.stdout, /Failed to connect/, run.context);
    assert.equal(run.jpegs.length, 0, run.context);
    assert.deepEqual(srv.logs.slice(before), [], "no request reached the server");
  });
  assertNoSecret(srv.logText(), "the server's log");
});

// ---------------------------------------------------------------------------
// The CLI

/** A `server.ts` process started from the project root, its output collected. */
class ServerProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdout: ReturnType<typeof collect>;
  readonly #stderr: ReturnType<typeof collect>;
  #exited = false;

  constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=server", "server.ts", ...args],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#stdout = collect(this.#child.stdout);
    this.#stderr = collect(this.#child.stderr);
    this.#child.status.then(() => this.#exited = true);
  }

  get stdout(): string {
    return this.#stdout.state.text;
  }

  get stderr(): string {
    return this.#stderr.state.text;
  }

  /** The first match of `pattern` in stdout within `ms` (throws otherwise). */
  async waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray> {
    const deadline = performance.now() + ms;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.#exited || performance.now() > deadline) {
        throw new Error(
          `server.ts printed no ${pattern} ${this.#exited ? "before it exited" : `in ${ms} ms`}` +
            `:\n${this.stdout}\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** SIGTERM, SIGKILL after 10 s; resolves with the exit code once all output is in. */
  async stop(): Promise<number> {
    const kill = (signal: Deno.Signal) => {
      try {
        this.#child.kill(signal);
      } catch { /* exited */ }
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 10_000);
    try {
      const status = await this.#child.status;
      await Promise.all([this.#stdout.done, this.#stderr.done]);
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

Deno.test("CLI: htdigest makes the auth file, server.ts --auth-file serves ffmpeg over RTSP and RTSPS, no secret printed", async () => {
  if (!await haveFfmpeg()) return;
  await using cert = await makeCertificate();
  if (!cert) return;
  const dir = await Deno.makeTempDir({ prefix: "interop_auth_cli_" });
  try {
    // The password goes in on stdin, as a person would type it.
    const htdigest = await runCommand(
      Deno.execPath(),
      ["task", "--config", join(PROJECT_ROOT, "deno.json"), "htdigest", USER],
      {
        timeoutMs: 30_000,
        stdin: new TextEncoder().encode(`${PASSWORD}\n`),
        env: { NO_COLOR: "1" },
      },
    );
    const lines = decoder.decode(htdigest.stdout);
    assert.equal(htdigest.code, 0, `deno task htdigest: ${htdigest.stderr}`);
    assert.equal(
      lines,
      `${USER}:${REALM}:${SECRETS[2]}\n${USER}:${REALM}:${SECRETS[3]}\n`,
      "one line per HA1 (MD5, SHA-256), as node:crypto computes them",
    );
    assert.ok(!lines.includes(PASSWORD) && !htdigest.stderr.includes(PASSWORD));
    const authFile = join(dir, "users.htdigest");
    await Deno.writeTextFile(authFile, lines, { mode: 0o600 });

    let stdout = "", stderr = "";
    {
      await using server = new ServerProcess([
        ...["0", "--host", "127.0.0.1", "--fps", String(FPS), "--auth-file", authFile],
        ...["--tls-port", "0", "--tls-cert", cert.certFile, "--tls-key", cert.keyFile],
      ]);
      const serving = await server.waitFor(/serving \S+ on rtsp:\/\/127\.0\.0\.1:(\d+)\//, 20_000);
      const tls = await server.waitFor(/and RTSP over TLS on rtsps:\/\/127\.0\.0\.1:(\d+)\//, 5000);
      await server.waitFor(/1 user\(s\) may watch \(realm "rtsp-lab"/, 5000);
      const log = () => server.stderr;

      const plain = await ffmpeg(urlWith("rtsp", Number(serving[1])), [
        "-rtsp_transport",
        "tcp",
      ], log);
      await assertFfmpegPlayed(plain);
      note("CLI: ffmpeg rtsp:// over tcp", plain);
      const secure = await ffmpeg(urlWith("rtsps", Number(tls[1])), [], log);
      await assertFfmpegPlayed(secure);
      note("CLI: ffmpeg rtsps://", secure);
      const wrong = await ffmpeg(urlWith("rtsp", Number(serving[1]), "nope"), [], log);
      assert.match(wrong.stderr, /401 Unauthorized/, wrong.context);
      for (const run of [plain, secure, wrong]) assertNoSecret(run.stderr, "ffmpeg's output");

      assert.equal(await server.stop(), 0, `exit 0 on SIGTERM:\n${server.stderr}`);
      stdout = server.stdout;
      stderr = server.stderr;
    }
    assert.match(stderr, / DESCRIBE \S+ session=- 401 \(no credentials\)/);
    assert.match(stderr, / PLAY \S+ session=\d+ 200/);
    assert.match(stderr, / 401 \(wrong password for user "alice"\)/);
    assertNoSecret(stdout, "server.ts's stdout");
    assertNoSecret(stderr, "server.ts's stderr");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
