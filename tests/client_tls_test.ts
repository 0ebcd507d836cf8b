/**
 * The client over TLS (`rtsps://`): with the server's self-signed
 * certificate trusted (`caCerts`) it plays with media interleaved on the
 * encrypted connection, and Basic is answered there without `allowBasic`;
 * a certificate that does not verify, a CA certificate used as a server's
 * own, a server that never answers the handshake and a plain RTSP server on
 * the port are each a one-line RtspClientError within the reply timeout.
 * Over TLS the transport is TCP: `udp` is refused, as is the lab dialect.
 *
 * The certificates are made at test time with the `openssl` CLI (a missing
 * openssl fails in CI, and skips elsewhere).
 */
import assert from "node:assert/strict";
import { makeCertificate } from "./_tls.ts";
import { RtspClientError } from "../lib/session/client/rtsp_client.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import {
  CLIENT_DEFAULTS,
  ClientOptionError,
  resolveClientOptions,
} from "../lib/session/client/client_options.ts";
import { readLabFrames } from "../lib/wire/lab_mjpeg.ts";
import {
  fakeReply,
  fakeRtspServer,
  type FakeScript,
  interleavedStream,
  standardReply,
} from "./_fake_rtsp.ts";
import { catchError, concat, sameBytes, withTempDir } from "./_helpers.ts";
import { PROJECT_ROOT, startServer } from "./_server.ts";

const FRAMES = [...readLabFrames(await Deno.readFile(`${PROJECT_ROOT}/video.mjpeg`))]
  .slice(0, 5).map((f) => f.data);
const REPLY_TIMEOUT_MS = 500;

/** Replies properly, PLAY followed by FRAMES interleaved and a BYE; Basic demanded when `basic`. */
function streamingScript(options: { basic?: string } = {}): FakeScript {
  return (request) => {
    if (options.basic !== undefined && request.headers.get("authorization") !== options.basic) {
      return fakeReply(request, 401, { "WWW-Authenticate": 'Basic realm="tls"' });
    }
    if (request.method === "PLAY") return concat(standardReply(request), interleavedStream(FRAMES));
    return standardReply(request);
  };
}

/** The RtspClientError `promise` rejects with, and how long that took. */
async function failure(promise: Promise<unknown>): Promise<{ error: RtspClientError; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RtspClientError, `expected RtspClientError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    return { error, ms: performance.now() - started };
  }
  assert.fail("expected an RtspClientError, the call succeeded");
}

Deno.test("StreamClient over rtsps:// with the self-signed certificate trusted: TCP interleaved, every frame", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await using fake = fakeRtspServer(streamingScript({ basic: `Basic ${btoa("name:s3cret")}` }), {
    tls: cert,
  });
  await withTempDir(async (dir) => {
    const client = await StreamClient.open({
      host: "127.0.0.1",
      port: fake.port,
      resource: `rtsps://name:s3cret@127.0.0.1:${fake.port}/video.mjpeg`,
      caCerts: [cert.cert],
      outDir: dir,
      replyTimeoutMs: 2000,
    });
    try {
      assert.equal(client.tls, true);
      assert.equal(client.displayUri, `rtsps://name@127.0.0.1:${fake.port}/video.mjpeg`);
      const setup = await client.setup();
      assert.match(setup.headers.get("transport") ?? "", /RTP\/AVP\/TCP;unicast;interleaved=0-1/);
      await client.play();
      const end = await client.receive({ endAfterSec: 2, firstPacketTimeoutSec: 5 });
      await client.teardown();
      assert.equal(end, "bye");
      assert.equal(client.stats.framesReceived, FRAMES.length);
    } finally {
      await client.close();
    }
    // auto: OPTIONS first, answered with Basic (allowed over TLS without allowBasic).
    const methods = fake.requests.map((r) =>
      `${r.method} ${r.headers.has("authorization") ? "auth" : "none"}`
    );
    assert.deepEqual(methods, [
      "OPTIONS none",
      "OPTIONS auth",
      "DESCRIBE auth",
      "SETUP auth",
      "PLAY auth",
      "TEARDOWN auth",
    ]);
    for (const r of fake.requests) {
      assert.ok(r.uri.startsWith(`rtsps://127.0.0.1:${fake.port}/video.mjpeg`), r.uri);
    }
    for (let i = 0; i < FRAMES.length; i++) {
      const written = await Deno.readFile(`${dir}/frame_${String(i + 1).padStart(6, "0")}.jpg`);
      assert.ok(sameBytes(written, FRAMES[i]), `frame ${i + 1} is byte-identical`);
    }
  });
});

Deno.test("StreamClient over rtsps:// without the certificate trusted: a clear error within the timeout", async () => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await using fake = fakeRtspServer(streamingScript(), { tls: cert });
  const { error, ms } = await failure(StreamClient.open({
    host: "127.0.0.1",
    port: fake.port,
    resource: `rtsps://127.0.0.1:${fake.port}/video.mjpeg`,
    replyTimeoutMs: REPLY_TIMEOUT_MS,
  }));
  assert.match(
    error.message,
    new RegExp(
      `^Cannot connect to RTSP server 127\\.0\\.0\\.1:${fake.port} over TLS: the server's ` +
        `certificate does not verify \\(.*UnknownIssuer.*\\); trust .* with --ca FILE$`,
    ),
  );
  assert.ok(ms < REPLY_TIMEOUT_MS + 1000, `${ms.toFixed(0)} ms`);
  assert.equal(fake.requests.length, 0, "no request went out");
});

Deno.test("StreamClient over rtsps:// to a server whose certificate is a CA's: the error says so", async () => {
  await using cert = await makeCertificate({ ca: true });
  if (!cert) return;
  await using fake = fakeRtspServer(streamingScript(), { tls: cert });
  const { error } = await failure(StreamClient.open({
    host: "127.0.0.1",
    port: fake.port,
    resource: `rtsps://127.0.0.1:${fake.port}/video.mjpeg`,
    caCerts: [cert.cert],
    replyTimeoutMs: REPLY_TIMEOUT_MS,
  }));
  assert.match(error.message, /certificate is a CA certificate \(basicConstraints CA:TRUE\)/);
});

Deno.test("StreamClient over rtsps:// to a plain server: a clear error within the reply timeout", async (t) => {
  await using cert = await makeCertificate();
  if (!cert) return;
  await t.step("a server that accepts and says nothing", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const { port } = listener.addr;
    const { error, ms } = await failure(StreamClient.open({
      host: "127.0.0.1",
      port,
      resource: `rtsps://127.0.0.1:${port}/video.mjpeg`,
      caCerts: [cert.cert],
      replyTimeoutMs: REPLY_TIMEOUT_MS,
    }));
    (await accepted).close();
    assert.match(
      error.message,
      /over TLS: no TLS handshake within 0\.5 s \(is it a TLS server\?\)/,
    );
    assert.ok(ms >= REPLY_TIMEOUT_MS - 50 && ms < REPLY_TIMEOUT_MS + 1000, `${ms.toFixed(0)} ms`);
  });
  await t.step("a server that closes the connection", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closing = listener.accept().then((conn) => conn.close());
    const { port } = listener.addr;
    const { error } = await failure(StreamClient.open({
      host: "127.0.0.1",
      port,
      resource: `rtsps://127.0.0.1:${port}/video.mjpeg`,
      caCerts: [cert.cert],
      replyTimeoutMs: REPLY_TIMEOUT_MS,
    }));
    await closing;
    assert.match(
      error.message,
      /over TLS: the server closed the connection during the TLS handshake/,
    );
  });
  await t.step("our own RTSP server on a plain port", async () => {
    await using srv = await startServer();
    const { error, ms } = await failure(StreamClient.open({
      host: "127.0.0.1",
      port: srv.port,
      resource: `rtsps://127.0.0.1:${srv.port}/video.mjpeg`,
      caCerts: [cert.cert],
      replyTimeoutMs: REPLY_TIMEOUT_MS,
    }));
    assert.match(error.message, /^Cannot connect to RTSP server 127\.0\.0\.1:\d+ over TLS: /);
    assert.ok(ms < REPLY_TIMEOUT_MS + 1000, `${ms.toFixed(0)} ms`);
  });
});

Deno.test("resolveClientOptions(): over TLS the transport is tcp, udp and the lab dialect refused", () => {
  const base = { host: "127.0.0.1", port: 322, resource: "rtsps://127.0.0.1/cam" };
  const resolved = resolveClientOptions(base);
  assert.equal(resolved.tls, true);
  assert.equal(resolved.transport, CLIENT_DEFAULTS.tlsTransport);
  assert.equal(CLIENT_DEFAULTS.tlsTransport, "tcp");
  const udp = catchError(
    () => resolveClientOptions({ ...base, transport: "udp" }),
    ClientOptionError,
  );
  assert.equal(udp.option, "transport");
  assert.match(udp.message, /^Cannot use transport "udp": must be tcp over TLS \(rtsps:\/\/\)/);
  const lab = catchError(
    () => resolveClientOptions({ ...base, dialect: "lab" }),
    ClientOptionError,
  );
  assert.match(lab.message, /^Cannot use (dialect|transport) /);
  const plain = catchError(
    () => resolveClientOptions({ ...base, resource: "rtsp://h/cam", caCerts: ["PEM"] }),
    ClientOptionError,
  );
  assert.equal(plain.option, "caCerts");
  assert.equal(resolveClientOptions({ ...base, resource: "rtsp://h/cam" }).tls, false);
  assert.equal(resolveClientOptions({ ...base, resource: "rtsp://h/cam" }).transport, "udp");
});

Deno.test("resolveClientOptions(): credentials from the URL; a bad one never shows the password", () => {
  const base = { host: "h", port: 554 };
  const fromUrl = resolveClientOptions({ ...base, resource: "rtsp://us%20er:p%40ss@h/cam" });
  assert.deepEqual([fromUrl.username, fromUrl.password], ["us er", "p@ss"]);
  const noPassword = resolveClientOptions({ ...base, resource: "rtsp://name@h/cam" });
  assert.deepEqual([noPassword.username, noPassword.password], ["name", undefined]);
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ resource: "rtsp://name:hunter2@h:99999/cam" }, "resource", /"rtsp:\/\/name@h:99999\/cam"/],
    [
      { resource: "cam", password: "hunter2" },
      "password",
      /^Cannot use password "\*\*\*": must be given with a username$/,
    ],
    [
      { resource: "cam", username: "na\r\nme", password: "hunter2" },
      "username",
      /control characters/,
    ],
    [{ resource: "cam", username: "na:me", password: "hunter2" }, "username", /without ":"/],
    [{ resource: "rtsp://na%3Ame:hunter2@h/cam" }, "username", /without ":"/],
  ];
  for (const [options, option, message] of cases) {
    const error = catchError(
      () => resolveClientOptions({ ...base, resource: "cam", ...options }),
      ClientOptionError,
    );
    assert.equal(error.option, option);
    assert.match(error.message, message);
    assert.ok(!error.message.includes("hunter2"), error.message);
    assert.ok(!String(error.value).includes("hunter2"), String(error.value));
  }
});
