/**
 * `rtsp-client` with credentials and TLS, run as a subprocess against a
 * scripted fake server on 127.0.0.1 that demands them (Digest checked with
 * node:crypto) and streams five frames of video.mjpeg interleaved:
 *
 * - the URL is printed without its password; frames arrive byte-identical;
 * - nothing secret reaches stdout, stderr or the `--stats` JSON: not the
 *   password, not HA1 (MD5 or SHA-256), not "Authorization";
 * - a wrong password ends with exit 1 and the one line
 *   `401 Unauthorized: wrong name or password for rtsp://host:port/path`;
 * - `rtsps://` with `--ca` plays; without it, a self-signed certificate is a
 *   one-line error (exit 1);
 * - usage errors (exit 2) for `--user` without ":", `--transport udp` with
 *   rtsps://, `--ca` with rtsp:// or a file without a certificate, and a bad
 *   URL, none of which shows the password.
 */
import assert from "node:assert/strict";
import { makeCertificate } from "./_tls.ts";
import { join } from "node:path";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import { fakeRtspServer, type FakeScript, interleavedStream, standardReply } from "./_fake_rtsp.ts";
import {
  assertNoSecret as assertNoSecretOf,
  demandingScript,
  REALM,
  type Seen,
  sha256AndMd5,
} from "./_auth_check.ts";
import { concat, sameBytes, withTempDir } from "./_helpers.ts";
import { runCommand } from "./_peers.ts";
import { PROJECT_ROOT } from "./_server.ts";

const FRAMES = [...readLabFrames(await Deno.readFile(`${PROJECT_ROOT}/video.mjpeg`))]
  .slice(0, 5).map((f) => f.data);
const NAME = "cam user";
/** A password with the characters that need care: "@", ":", "%", a space, non-ASCII. */
const PASSWORD = "pa@ss:w%rd ö";
const PASSWORD_IN_URL = encodeURIComponent(PASSWORD);
const decoder = new TextDecoder();

/** PLAY answered with the five frames interleaved and a BYE; the rest properly. */
const streaming: FakeScript = (request) =>
  request.method === "PLAY"
    ? concat(standardReply(request), interleavedStream(FRAMES))
    : standardReply(request);

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout, stderr and every file the run wrote, for the secrets check. */
  everything: string;
}

/** `deno run -P=client client.ts ...args` (20 s at most). */
async function client(args: string[]): Promise<CliRun> {
  const result = await runCommand(
    Deno.execPath(),
    ["run", "-P=client", join(PROJECT_ROOT, "client.ts"), ...args],
    { timeoutMs: 20_000, env: { NO_COLOR: "1" } },
  );
  const stdout = decoder.decode(result.stdout);
  const stderr = result.stderr.replace(/^Warning Permissions in the config file [^\n]*\n/gm, "");
  return { code: result.code, stdout, stderr, everything: stdout + stderr };
}

const describe = (run: CliRun) =>
  `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

/** Fail if `text` holds the password (also "w%rd", a part of it), an HA1, or "Authorization". */
function assertNoSecret(text: string, what: string): void {
  assertNoSecretOf(text, what, { username: NAME, password: PASSWORD, realm: REALM });
  assert.ok(!text.includes("w%rd"), `${what} holds a part of the password:\n${text}`);
}

/** The frame files in `dir`, compared byte for byte with FRAMES. */
async function assertFrames(dir: string): Promise<void> {
  for (let i = 0; i < FRAMES.length; i++) {
    const file = `${dir}/frame_${String(i + 1).padStart(6, "0")}.jpg`;
    assert.ok(sameBytes(await Deno.readFile(file), FRAMES[i]), `${file} is frame ${i + 1}`);
  }
}

for (const via of ["url", "--user"] as const) {
  Deno.test(`rtsp-client with Digest credentials (${via}): plays, prints no secret`, async () => {
    const seen: Seen[] = [];
    await using fake = fakeRtspServer(
      demandingScript(
        { offers: sha256AndMd5, username: NAME, password: PASSWORD },
        seen,
        streaming,
      ),
    );
    await withTempDir(async (dir) => {
      const where = `127.0.0.1:${fake.port}/video.mjpeg`;
      const url = via === "url"
        ? `rtsp://${encodeURIComponent(NAME)}:${PASSWORD_IN_URL}@${where}`
        : `rtsp://${where}`;
      const run = await client([
        url,
        ...via === "--user" ? ["--user", `${NAME}:${PASSWORD}`] : [],
        ...["--transport", "tcp", "--out", `${dir}/frames`, "--stats", `${dir}/stats.json`],
      ]);
      assert.equal(run.code, 0, describe(run));
      assert.match(
        run.stdout,
        new RegExp(`^rtsp-client: rtsp://cam%20user@127\\.0\\.0\\.1:${fake.port}/video\\.mjpeg\\n`),
        describe(run),
      );
      assert.match(run.stdout, /frames received\s+5 complete/, describe(run));
      const stats = await Deno.readTextFile(`${dir}/stats.json`);
      assert.equal(JSON.parse(stats).framesReceived, 5);
      assertNoSecret(run.everything, "the output");
      assertNoSecret(stats, "the --stats JSON");
      await assertFrames(`${dir}/frames`);
      // One retry (OPTIONS), then every request carried credentials that checked out.
      assert.deepEqual(seen.map((s) => `${s.method} ${s.status}`), [
        "OPTIONS 401",
        "OPTIONS 200",
        "DESCRIBE 200",
        "SETUP 200",
        "PLAY 200",
        "TEARDOWN 200",
      ]);
    });
  });
}

Deno.test("rtsp-client with a wrong password: exit 1, the 401 line, no secret", async () => {
  const seen: Seen[] = [];
  await using fake = fakeRtspServer(
    demandingScript({ offers: sha256AndMd5, username: NAME, password: "another" }, seen, streaming),
  );
  await withTempDir(async (dir) => {
    const run = await client([
      `rtsp://${encodeURIComponent(NAME)}:${PASSWORD_IN_URL}@127.0.0.1:${fake.port}/video.mjpeg`,
      ...["--stats", `${dir}/stats.json`],
    ]);
    assert.equal(run.code, 1, describe(run));
    assert.equal(
      run.stderr,
      `rtsp-client: 401 Unauthorized: wrong name or password for rtsp://127.0.0.1:${fake.port}/video.mjpeg\n`,
    );
    assert.equal(run.stdout, "");
    assertNoSecret(run.everything, "the output");
    assert.deepEqual(seen.map((s) => `${s.method} ${s.status}`), ["OPTIONS 401", "OPTIONS 401"]);
  });
});

Deno.test("rtsp-client with no credentials for a server that wants them: exit 1, one line", async () => {
  await using fake = fakeRtspServer(
    demandingScript({ offers: sha256AndMd5, username: NAME, password: PASSWORD }, [], streaming),
  );
  const run = await client([`rtsp://127.0.0.1:${fake.port}/video.mjpeg`]);
  assert.equal(run.code, 1, describe(run));
  assert.match(
    run.stderr,
    /^rtsp-client: 401 Unauthorized: rtsp:\/\/127\.0\.0\.1:\d+\/video\.mjpeg needs a name and password .*--user\)\n$/,
  );
});

Deno.test("rtsp-client over rtsps:// with --ca plays (Basic allowed over TLS); without it, one line", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  const seen: Seen[] = [];
  await using fake = fakeRtspServer(
    demandingScript(
      { offers: () => [`Basic realm="${REALM}"`], username: NAME, password: PASSWORD },
      seen,
      streaming,
    ),
    { tls: cert },
  );
  const url = `rtsps://${
    encodeURIComponent(NAME)
  }:${PASSWORD_IN_URL}@127.0.0.1:${fake.port}/video.mjpeg`;
  await withTempDir(async (dir) => {
    const run = await client([
      url,
      "--ca",
      cert.certFile,
      "--out",
      dir,
      "--stats",
      `${dir}/s.json`,
    ]);
    assert.equal(run.code, 0, describe(run));
    assert.match(
      run.stdout,
      new RegExp(
        `^rtsp-client: rtsps://cam%20user@127\\.0\\.0\\.1:${fake.port}/video\\.mjpeg \\(TLS\\)\\n`,
      ),
    );
    assertNoSecret(run.everything, "the output");
    assertNoSecret(await Deno.readTextFile(`${dir}/s.json`), "the --stats JSON");
    await assertFrames(dir);
    assert.ok(
      seen.slice(1).every((s) => s.status === 200 && s.authorization?.startsWith("Basic ")),
    );
  });
  const requests = fake.requests.length;
  const run = await client([url]);
  assert.equal(run.code, 1, describe(run));
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, describe(run));
  assert.match(
    lines[0],
    /^rtsp-client: Cannot connect to RTSP server 127\.0\.0\.1:\d+ over TLS: the server's certificate does not verify .*--ca FILE$/,
  );
  assert.equal(
    fake.requests.length,
    requests,
    "no request went out without a verified certificate",
  );
  assertNoSecret(run.everything, "the output");
});

Deno.test("rtsp-client usage errors for credentials and TLS: exit 2, no password shown", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await withTempDir(async (dir) => {
    const notPem = `${dir}/not.pem`;
    await Deno.writeTextFile(notPem, "not a certificate\n");
    const host = "rtsp://127.0.0.1:9/video.mjpeg";
    const cases: [string[], RegExp][] = [
      [[host, "--user", PASSWORD.replaceAll(":", "")], /--user must be NAME:PASSWORD/],
      [[host, "--user", `:${PASSWORD}`], /--user must be NAME:PASSWORD/],
      [
        ["rtsps://127.0.0.1:9/v", "--transport", "udp"],
        /--transport "udp" is not valid: must be tcp over TLS/,
      ],
      [
        [host, "--ca", cert.certFile],
        /--ca ".*cert\.pem" is not valid: must be left out without TLS/,
      ],
      [["rtsps://127.0.0.1:9/v", "--ca", notPem], /--ca ".*not\.pem" holds no PEM certificate/],
      [["rtsps://127.0.0.1:9/v", "--ca", `${dir}/missing.pem`], /--ca ".*missing\.pem": /],
      [[`rtsp://name:${PASSWORD_IN_URL}@127.0.0.1:99999/v`], /port must be from 1 to 65535/],
      [[`http://name:${PASSWORD_IN_URL}@127.0.0.1/v`], /is not an rtsp:\/\/ or rtsps:\/\/ URL/],
      [
        [`rtsps://name:${PASSWORD_IN_URL}@127.0.0.1/v`, "--dialect", "lab"],
        /--dialect "lab" is not valid: must be auto or rtsp over TLS/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await client(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${describe(run)}`);
      assert.match(run.stderr, /^rtsp-client: /, describe(run));
      assert.match(run.stderr, message, describe(run));
      assert.equal(run.stdout, "");
      assertNoSecret(run.everything.replace(/Usage:[\s\S]*$/, ""), args.join(" "));
    }
  });
});
