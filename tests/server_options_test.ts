import assert from "node:assert/strict";
import {
  MAX_FPS,
  resolveServerOptions,
  SERVER_DEFAULTS,
  ServerOptionError,
} from "../lib/session/server/server_options.ts";
import { RtspServer } from "../lib/session/server/rtsp_server.ts";

Deno.test("resolveServerOptions() fills every absent option from SERVER_DEFAULTS", () => {
  const resolved = resolveServerOptions({ port: 0 });
  for (const [name, value] of Object.entries(SERVER_DEFAULTS)) {
    assert.equal(resolved[name as keyof typeof resolved], value, name);
  }
  assert.equal(typeof resolved.log, "function");
  assert.equal(resolved.clock, undefined, "no clock given: the server uses the real one");
  // An explicit undefined is the same as absent.
  assert.equal(resolveServerOptions({ port: 0, fps: undefined }).fps, SERVER_DEFAULTS.fps);
});

Deno.test("resolveServerOptions() refuses an option out of range, naming the option and the value", async (t) => {
  const cases: [Record<string, unknown>, string, unknown][] = [
    [{ port: -1 }, "port", -1],
    [{ port: 65536 }, "port", 65536],
    [{ port: 1.5 }, "port", 1.5],
    [{ fps: 0 }, "fps", 0],
    [{ fps: -20 }, "fps", -20],
    [{ fps: NaN }, "fps", NaN],
    [{ fps: MAX_FPS + 1 }, "fps", MAX_FPS + 1],
    [{ sessionTimeout: 0 }, "sessionTimeout", 0],
    [{ idleTimeout: Infinity }, "idleTimeout", Infinity],
    [{ maxConnections: 2.5 }, "maxConnections", 2.5],
    [{ maxSessions: 0 }, "maxSessions", 0],
    [{ idleFlushMs: -1 }, "idleFlushMs", -1],
    [{ rtcpInterval: 0 }, "rtcpInterval", 0],
    [{ maxPacketSize: 100 }, "maxPacketSize", 100],
    [{ maxPacketSize: 70000 }, "maxPacketSize", 70000],
    [{ udpSendMode: "fast" }, "udpSendMode", "fast"],
    [{ pacingSlackMs: -0.5 }, "pacingSlackMs", -0.5],
    [{ hostname: "" }, "hostname", ""],
    [{ loop: "yes" }, "loop", "yes"],
    [{ httpPort: 70000 }, "httpPort", 70000],
    [{ httpPort: -1 }, "httpPort", -1],
    [{ httpHost: "" }, "httpHost", ""],
    [{ httpMaxRequests: 0 }, "httpMaxRequests", 0],
  ];
  for (const [extra, option, value] of cases) {
    await t.step(`${option} ${String(value)}`, () => {
      let caught: unknown;
      try {
        resolveServerOptions({ port: 0, ...extra });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ServerOptionError, `threw ${caught}`);
      assert.ok(caught instanceof RangeError);
      assert.equal(caught.option, option);
      assert.ok(Object.is(caught.value, value));
      assert.match(caught.message, new RegExp(`^Cannot use ${option} \\S+: must be `));
    });
  }
});

Deno.test("RtspServer.start() rejects (does not throw) when an option is out of range", async () => {
  let promise: Promise<RtspServer> | undefined;
  assert.doesNotThrow(() => promise = RtspServer.start({ port: 0, fps: 0 }));
  await assert.rejects(promise!, (error) => error instanceof ServerOptionError);
});

Deno.test("RtspServer.start() rejects (does not throw) when the port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let promise: Promise<RtspServer> | undefined;
  assert.doesNotThrow(() =>
    promise = RtspServer.start({ port: taken.addr.port, hostname: "127.0.0.1", log: () => {} })
  );
  await assert.rejects(promise!, Deno.errors.AddrInUse);
});

Deno.test("rtsp-server --help gives the defaults of SERVER_DEFAULTS", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=server", "server.ts", "--help"],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  const help = new TextDecoder().decode(out.stdout).replace(/\s+/g, " ");
  const expected: [string, unknown][] = [
    ["--host ADDR address to listen on (default", SERVER_DEFAULTS.hostname],
    ["--fps N frames per second (default", SERVER_DEFAULTS.fps],
    ["(default", SERVER_DEFAULTS.sessionTimeout],
    ["for SEC seconds (default", SERVER_DEFAULTS.idleTimeout],
    ["beyond N connections (default", SERVER_DEFAULTS.maxConnections],
    ["beyond N sessions (default", SERVER_DEFAULTS.maxSessions],
  ];
  for (const [before, value] of expected) {
    assert.ok(help.includes(`${before} ${value}`), `"${before} ${value}" in the help`);
  }
});

Deno.test("resolveServerOptions(): no HTTP port unless given; HTTP listens where RTSP does unless told", () => {
  const plain = resolveServerOptions({ port: 0, hostname: "127.0.0.1" });
  assert.equal(plain.httpPort, undefined);
  assert.equal(plain.httpHost, "127.0.0.1");
  assert.equal(plain.httpMaxRequests, SERVER_DEFAULTS.httpMaxRequests);
  const web = resolveServerOptions({
    port: 0,
    hostname: "127.0.0.1",
    httpPort: 0,
    httpHost: "::1",
  });
  assert.equal(web.httpPort, 0);
  assert.equal(web.httpHost, "::1");
});
