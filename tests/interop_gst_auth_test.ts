/**
 * Interop with GStreamer's RTSP server demanding credentials and speaking
 * TLS (GstRTSPAuth, through `_gst_rtsp_server.py --user/--auth/--tls-*`):
 * the `rtsp-client` CLI records with Digest (MD5, RFC 2069 form, the only
 * one gst-rtsp-server has), with Basic over TLS and, with --allow-basic,
 * over plain TCP, and picks Digest when both are offered (two
 * WWW-Authenticate headers). Over TLS the server's certificate is made at
 * test time with openssl and trusted with `--ca`.
 *
 * Every recording must be byte for byte the frames the same server sends
 * without credentials (which code the same pictures as the JPEGs it reads);
 * stdout, stderr and the `--stats` JSON must hold neither the password nor
 * its HA1 nor "Authorization". A wrong password is exit 1 with the 401
 * line, Basic over plain TCP without --allow-basic is refused, and a
 * self-signed certificate without --ca is a one-line error.
 *
 * Needs python3 with GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0),
 * gst-launch-1.0 with videotestsrc, jpegenc, multifilesink,
 * imagesequencesrc and rtpjpegpay, and openssl. Without them the test prints
 * "SKIPPED: ..." and passes, except in CI (`CI=true`), where it fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertNoSecret } from "./_auth_check.ts";
import { makeCertificate } from "./_tls.ts";
import { type GstServer, haveGstServer, startGstServer } from "./_gst_rtsp_server.ts";
import { runCommand, tail } from "./_peers.ts";
import { assertSamePicture } from "./_same_picture.ts";
import { sameBytes } from "./_helpers.ts";
import { PROJECT_ROOT } from "./_server.ts";

const FRAMES = 30;
const FPS = 50;
const NAME = "cam user";
/** Characters that need care: ":" (Basic's separator), "@" and "%" (URLs), a space, non-ASCII. */
const PASSWORD = "pa:ss w@rd%ö";
/** gst-rtsp-server's realm. */
const REALM = "GStreamer RTSP Server";
const CREDENTIALS = { username: NAME, password: PASSWORD, realm: REALM };
const ELEMENTS = ["videotestsrc", "jpegenc", "multifilesink", "imagesequencesrc", "rtpjpegpay"];
const decoder = new TextDecoder();

/** FRAMES JPEGs (320x240, every one different) made by jpegenc, as `dir/00000.jpg`, .... */
async function makeJpegSequence(dir: string): Promise<Uint8Array[]> {
  const result = await runCommand("gst-launch-1.0", [
    "-q",
    ...["videotestsrc", `num-buffers=${FRAMES}`, "pattern=smpte", "horizontal-speed=4", "!"],
    `video/x-raw,format=I420,width=320,height=240,framerate=${FPS}/1`,
    ...["!", "jpegenc", "quality=85", "!", "multifilesink", `location=${join(dir, "%05d.jpg")}`],
  ], { timeoutMs: 20_000 });
  assert.ok(result.success, `gst-launch-1.0 could not make the JPEGs: ${tail(result.stderr)}`);
  const jpegs: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) {
    jpegs.push(await Deno.readFile(join(dir, `${String(i).padStart(5, "0")}.jpg`)));
  }
  return jpegs;
}

/** What one `rtsp-client` run did. */
interface Recording {
  code: number;
  stdout: string;
  stderr: string;
  /** The frame files written, in order. */
  frames: Uint8Array[];
  /** The --stats JSON, when it was written. */
  stats?: string;
  context: string;
}

/** The URL with NAME:PASSWORD as userinfo, percent-encoded. */
function withCredentials(url: string, password = PASSWORD): string {
  const userinfo = `${encodeURIComponent(NAME)}:${encodeURIComponent(password)}@`;
  return url.replace("://", `://${userinfo}`);
}

/** Run `rtsp-client URL --out DIR --stats FILE ...args` against `gst` (30 s at most). */
async function record(gst: GstServer, url: string, args: string[]): Promise<Recording> {
  const work = await Deno.makeTempDir({ prefix: "interop_gst_auth_" });
  try {
    const result = await runCommand(Deno.execPath(), [
      ...["run", "-P=client", join(PROJECT_ROOT, "client.ts"), url],
      ...["--out", join(work, "out"), "--stats", join(work, "stats.json"), ...args],
    ], { timeoutMs: 30_000, env: { NO_COLOR: "1" } });
    const stdout = decoder.decode(result.stdout);
    const stderr = result.stderr.replace(/^Warning Permissions in the config file [^\n]*\n/gm, "");
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(join(work, "out"))) names.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    names.sort();
    const frames = await Promise.all(names.map((n) => Deno.readFile(join(work, "out", n))));
    const stats = await Deno.readTextFile(join(work, "stats.json")).catch(() => undefined);
    const context = `client.ts ${args.join(" ")}: exit ${result.code}${
      result.timedOut ? " (killed after 30 s)" : ""
    }\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}\n${gst.output()}`;
    return { code: result.code, stdout, stderr, frames, stats, context };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** A recording that succeeded: exit 0, every frame, nothing secret anywhere. */
function assertRecorded(recording: Recording, expected: Uint8Array[]): void {
  const { context } = recording;
  assert.equal(recording.code, 0, context);
  assert.equal(recording.frames.length, expected.length, `frames written: ${context}`);
  recording.frames.forEach((frame, i) => {
    assert.ok(sameBytes(frame, expected[i]), `frame ${i + 1} differs from the unauthenticated one`);
  });
  assert.ok(recording.stats !== undefined, `--stats written: ${context}`);
  assertNoSecret(recording.stdout + recording.stderr, "the output", CREDENTIALS);
  assertNoSecret(recording.stats, "the --stats JSON", CREDENTIALS);
}

Deno.test("rtsp-client records GStreamer's RTSP server with Digest, Basic and TLS: the same frames, no secret", async (t) => {
  if (!await haveGstServer(ELEMENTS)) return;
  await using cert = await makeCertificate();
  if (!cert) return;
  const sourceDir = await Deno.makeTempDir({ prefix: "interop_gst_auth_source_" });
  try {
    const source = await makeJpegSequence(sourceDir);
    const stream = [
      ...["--frames", String(FRAMES), "--fps", String(FPS)],
      ...["--jpeg-pattern", join(sourceDir, "%05d.jpg")],
    ];
    const user = ["--user", `${NAME}:${PASSWORD}`];
    const tls = ["--tls-cert", cert.certFile, "--tls-key", cert.keyFile];
    /** Start the server with `args`, record from it, stop it (exit 0). */
    const session = async (
      serverArgs: string[],
      scheme: "rtsp" | "rtsps",
      recordWith: (gst: GstServer) => Promise<Recording>,
    ) => {
      await using gst = await startGstServer([...stream, ...serverArgs], { scheme });
      const recording = await recordWith(gst);
      assert.equal(await gst.close(), 0, `the server exits 0: ${recording.context}`);
      return recording;
    };

    let baseline: Uint8Array[] = [];
    await t.step("without credentials (the frames to compare with)", async () => {
      const recording = await session(
        [],
        "rtsp",
        (gst) => record(gst, gst.url, ["--transport", "tcp"]),
      );
      assert.equal(recording.code, 0, recording.context);
      assert.equal(recording.frames.length, FRAMES, recording.context);
      recording.frames.forEach((frame, i) => assertSamePicture(frame, source[i], `frame ${i + 1}`));
      baseline = recording.frames;
    });

    await t.step("Digest over plain TCP, credentials in the URL", async () => {
      const recording = await session(
        [...user, "--auth", "digest"],
        "rtsp",
        (gst) => record(gst, withCredentials(gst.url), ["--transport", "tcp"]),
      );
      assertRecorded(recording, baseline);
      assert.match(recording.stdout, /^rtsp-client: rtsp:\/\/cam%20user@127\.0\.0\.1:\d+\/test\n/);
    });

    await t.step(
      "Basic and Digest offered over plain TCP: Digest, without --allow-basic",
      async () => {
        const recording = await session(
          [...user, "--auth", "both"],
          "rtsp",
          (gst) => record(gst, gst.url, ["--transport", "tcp", ...user]),
        );
        assertRecorded(recording, baseline);
      },
    );

    await t.step("Basic over plain TCP with --allow-basic", async () => {
      const recording = await session(
        [...user, "--auth", "basic"],
        "rtsp",
        (gst) => record(gst, withCredentials(gst.url), ["--transport", "tcp", "--allow-basic"]),
      );
      assertRecorded(recording, baseline);
    });

    await t.step(
      "Basic only over plain TCP without --allow-basic: refused",
      async () => {
        const recording = await session(
          [...user, "--auth", "basic"],
          "rtsp",
          (gst) => record(gst, withCredentials(gst.url), []),
        );
        assert.equal(recording.code, 1, recording.context);
        assert.match(
          recording.stderr,
          /^rtsp-client: 401 Unauthorized: cannot answer for rtsp:\/\/127\.0\.0\.1:\d+\/test: only Basic is offered/m,
        );
        assertNoSecret(recording.stdout + recording.stderr, "the output", CREDENTIALS);
      },
    );

    await t.step("Basic over TLS (rtsps://, --ca), credentials with --user", async () => {
      const recording = await session(
        [...user, "--auth", "basic", ...tls],
        "rtsps",
        (gst) => record(gst, gst.url, ["--ca", cert.certFile, ...user]),
      );
      assertRecorded(recording, baseline);
      assert.match(
        recording.stdout,
        /^rtsp-client: rtsps:\/\/cam%20user@127\.0\.0\.1:\d+\/test \(TLS\)\n/,
      );
    });

    await t.step("Digest over TLS, and TLS without credentials", async () => {
      const digest = await session(
        [...user, "--auth", "digest", ...tls],
        "rtsps",
        (gst) => record(gst, withCredentials(gst.url), ["--ca", cert.certFile]),
      );
      assertRecorded(digest, baseline);
      const open = await session(
        tls,
        "rtsps",
        (gst) => record(gst, gst.url, ["--ca", cert.certFile]),
      );
      assert.equal(open.code, 0, open.context);
      assert.ok(open.frames.every((f, i) => sameBytes(f, baseline[i])), open.context);
      assert.equal(open.frames.length, FRAMES, open.context);
    });

    await t.step("a wrong password: exit 1 with the 401 line", async () => {
      const recording = await session(
        [...user, "--auth", "both"],
        "rtsp",
        (gst) => record(gst, withCredentials(gst.url, "n0t-it-7"), []),
      );
      assert.equal(recording.code, 1, recording.context);
      const lines = recording.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, recording.context);
      assert.match(
        lines[0],
        /^rtsp-client: 401 Unauthorized: wrong name or password for rtsp:\/\/127\.0\.0\.1:\d+\/test$/,
      );
      assert.equal(recording.frames.length, 0);
      assertNoSecret(recording.stdout + recording.stderr, "the output", {
        ...CREDENTIALS,
        password: "n0t-it-7",
      });
    });

    await t.step("a self-signed certificate without --ca: one line, exit 1", async () => {
      const recording = await session(
        [...user, "--auth", "basic", ...tls],
        "rtsps",
        (gst) => record(gst, withCredentials(gst.url), []),
      );
      assert.equal(recording.code, 1, recording.context);
      assert.match(
        recording.stderr,
        /^rtsp-client: Cannot connect to RTSP server 127\.0\.0\.1:\d+ over TLS: the server's certificate does not verify \(.*UnknownIssuer.*\).*--ca FILE\n$/,
      );
      assertNoSecret(recording.stdout + recording.stderr, "the output", CREDENTIALS);
    });
  } finally {
    await Deno.remove(sourceDir, { recursive: true });
  }
});
