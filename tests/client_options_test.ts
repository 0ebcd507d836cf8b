/**
 * The client's options: one table of defaults, read by the library and the
 * CLI alike, and an error for every bad option that names the option and
 * its value, both from the library and from `rtsp-client` (exit 2).
 */
import assert from "node:assert/strict";
import {
  checkPlayRange,
  checkReceiveLimits,
  CLIENT_DEFAULTS,
  ClientOptionError,
  resolveClientOptions,
  type StreamClientOptions,
} from "../lib/session/client/client_options.ts";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { catchError } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url);
const BASE: StreamClientOptions = { host: "127.0.0.1", port: 554, resource: "video.mjpeg" };

Deno.test("CLIENT_DEFAULTS: one default dialect, auto, for the library and the CLI", () => {
  assert.equal(CLIENT_DEFAULTS.dialect, "auto");
  const resolved = resolveClientOptions(BASE);
  for (
    const key of [
      "dialect",
      "transport",
      "rtpPort",
      "receiveTimeoutMs",
      "replyTimeoutMs",
      "autoTimeoutMs",
      "rtcpIntervalSec",
    ] as const
  ) {
    assert.equal(resolved[key], CLIENT_DEFAULTS[key], key);
  }
  assert.equal(resolveClientOptions({ ...BASE, dialect: undefined }).dialect, "auto");
  assert.equal(resolveClientOptions({ ...BASE, rtpPort: 5008 }).rtpPort, 5008);
});

/** [option, bad value, expected message]. */
const BAD_OPTIONS: [string, unknown, string][] = [
  ["rtpPort", 70000, "Cannot use rtpPort 70000: must be a port number from 0 to 65534"],
  ["rtpPort", -1, "Cannot use rtpPort -1: must be a port number from 0 to 65534"],
  ["rtpPort", 65535, "Cannot use rtpPort 65535: must be a port number from 0 to 65534"],
  ["rtpPort", 5008.5, "Cannot use rtpPort 5008.5: must be a port number from 0 to 65534"],
  ["port", 0, "Cannot use port 0: must be a port number from 1 to 65535"],
  ["port", NaN, "Cannot use port NaN: must be a port number from 1 to 65535"],
  ["host", "", 'Cannot use host "": must be a host name or address'],
  ["resource", "", 'Cannot use resource "": must be a file name or an rtsp:// or rtsps:// URL'],
  ["dialect", "rtp", 'Cannot use dialect "rtp": must be auto, lab, rtsp'],
  ["transport", "sctp", 'Cannot use transport "sctp": must be udp or tcp'],
  ["outDir", "", 'Cannot use outDir "": must be a directory'],
  ["mjpegFile", "", 'Cannot use mjpegFile "": must be a file name'],
  ["receiveTimeoutMs", 0, "Cannot use receiveTimeoutMs 0: must be a number above 0"],
  ["replyTimeoutMs", -5, "Cannot use replyTimeoutMs -5: must be a number above 0"],
  ["autoTimeoutMs", Infinity, "Cannot use autoTimeoutMs Infinity: must be a number above 0"],
  ["rtcpIntervalSec", "5", 'Cannot use rtcpIntervalSec "5": must be a number above 0'],
];

Deno.test("resolveClientOptions() names each bad option and its value", async (t) => {
  for (const [option, value, message] of BAD_OPTIONS) {
    await t.step(`${option} ${String(value)}`, () => {
      const error = catchError(
        () => resolveClientOptions({ ...BASE, [option]: value }),
        ClientOptionError,
      );
      assert.ok(error instanceof RangeError);
      assert.equal(error.name, "ClientOptionError");
      assert.equal(error.option, option);
      assert.equal(Object.is(error.value, value), true);
      assert.equal(error.message, message);
      assert.ok(error.message.endsWith(error.rule));
    });
  }
});

Deno.test("resolveClientOptions() refuses TCP in the lab dialect", () => {
  const error = catchError(
    () => resolveClientOptions({ ...BASE, dialect: "lab", transport: "tcp" }),
    ClientOptionError,
  );
  assert.equal(error.option, "transport");
  assert.match(error.message, /^Cannot use transport "tcp": must be udp in the lab dialect/);
});

Deno.test("StreamClient.open() rejects a bad option before it opens a socket", async () => {
  // Port 1 on loopback: were it tried, the refusal would be an RtspClientError.
  await assert.rejects(
    StreamClient.open({ ...BASE, port: 1, rtpPort: 70000 }),
    (error: unknown) => {
      assert.ok(error instanceof ClientOptionError, String(error));
      assert.equal(
        error.message,
        "Cannot use rtpPort 70000: must be a port number from 0 to 65534",
      );
      return true;
    },
  );
});

Deno.test("checkReceiveLimits() names each bad limit and its value", async (t) => {
  const cases: [string, unknown, string][] = [
    ["frames", 1.5, "Cannot use frames 1.5: must be a whole number above 0"],
    ["frames", 0, "Cannot use frames 0: must be a whole number above 0"],
    ["durationSec", -3, "Cannot use durationSec -3: must be a number above 0"],
    ["endAfterSec", NaN, "Cannot use endAfterSec NaN: must be a number above 0"],
    ["firstPacketTimeoutSec", 0, "Cannot use firstPacketTimeoutSec 0: must be a number above 0"],
  ];
  for (const [option, value, message] of cases) {
    await t.step(`${option} ${String(value)}`, () => {
      const error = catchError(() => checkReceiveLimits({ [option]: value }), ClientOptionError);
      assert.equal(error.option, option);
      assert.equal(error.message, message);
    });
  }
  checkReceiveLimits({});
  checkReceiveLimits({ frames: 3, durationSec: 0.5, endAfterSec: 2, firstPacketTimeoutSec: 10 });
});

Deno.test("checkPlayRange() needs seconds, 0 or more, and an end after the start", async (t) => {
  const cases: [{ start?: number; end?: number }, string][] = [
    [{ start: -1 }, "Cannot use start -1: must be a number of seconds, 0 or more"],
    [{ start: NaN }, "Cannot use start NaN: must be a number of seconds, 0 or more"],
    [{ end: Infinity }, "Cannot use end Infinity: must be a number of seconds, 0 or more"],
    [{ start: 5, end: 3 }, "Cannot use end 3: must be after start 5"],
    [{ start: 5, end: 5 }, "Cannot use end 5: must be after start 5"],
    [{ end: 0 }, "Cannot use end 0: must be after start 0"],
  ];
  for (const [range, message] of cases) {
    await t.step(JSON.stringify(range), () => {
      const error = catchError(() => checkPlayRange(range), ClientOptionError);
      assert.equal(error.message, message);
    });
  }
  checkPlayRange({ start: 0 });
  checkPlayRange({ start: 5, end: 7 });
  checkPlayRange({ end: 7 });
});

// The CLI: the same rules, as usage errors that name the flag and the text given.

async function runClient(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=client", "client.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr).replace(
      /^Warning Permissions in the config[^\n]*\n/gm,
      "",
    ),
  };
}

Deno.test("cli: client --help states the defaults of CLIENT_DEFAULTS", async () => {
  const out = await runClient(["--help"]);
  assert.equal(out.code, 0, out.stderr);
  assert.ok(
    out.stdout.includes(`no packet came for SEC s (default ${CLIENT_DEFAULTS.endAfterSec})`),
  );
  assert.ok(out.stdout.includes(`within ${CLIENT_DEFAULTS.autoTimeoutMs / 1000} s`));
  assert.ok(out.stdout.includes(`(default ${CLIENT_DEFAULTS.rtpPort}: a free one)`));
  assert.match(out.stdout, /--start SEC/);
  assert.match(out.stdout, /--end SEC/);
  assert.match(out.stdout, /seek SEC/);
});

Deno.test("cli: client usage errors for --start, --end and the library's rules exit 2 naming the flag", async () => {
  const args = ["127.0.0.1", "1025", "0", "video.mjpeg"];
  const cases: [string[], string][] = [
    [["--start=-1"], '--start "-1" is not valid: must be a number of seconds, 0 or more'],
    [["--start", "soon"], '--start "soon" is not valid: must be a number of seconds, 0 or more'],
    [["--start", ""], '--start "" is not valid: must be a number of seconds, 0 or more'],
    [["--start", "5", "--end", "3"], '--end "3" is not valid: must be after start 5'],
    [["--end", "0"], '--end "0" is not valid: must be after start 0'],
    [["--start", "5", "--dialect", "lab"], "--start needs standard RTSP"],
    [["--end", "7", "--dialect", "lab"], "--end needs standard RTSP"],
    [["--start", "1", "--interactive"], "--start and --end are for a plain run"],
    [["--frames", "1.5"], '--frames "1.5" is not valid: must be a whole number above 0'],
    [["--end-after", "0"], '--end-after "0" is not valid: must be a number above 0'],
    [["--transport", "tcp", "--dialect", "lab"], '--transport "tcp" is not valid: must be udp'],
  ];
  for (const [extra, message] of cases) {
    const out = await runClient([...args, ...extra]);
    const label = extra.join(" ");
    assert.equal(out.code, 2, `${label}: exit ${out.code}\n${out.stderr}`);
    assert.ok(out.stderr.startsWith(`rtsp-client: ${message}`), `${label}: ${out.stderr}`);
    assert.equal(out.stdout, "", label);
  }
  const url = await runClient(["rtsp://127.0.0.1:1025/video.mjpeg", "--rtp-port", "65535"]);
  assert.equal(url.code, 2);
  assert.match(url.stderr, /^rtsp-client: --rtp-port "65535" is not valid: must be a port number/);
});
