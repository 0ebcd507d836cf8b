/**
 * `deno task screenshots`: the README's pictures, made from the real
 * programs. It starts `server.ts` with its web side, three `client.ts` runs
 * (lab over UDP, standard RTSP over UDP and over TCP), photographs the
 * status page with headless Chromium into docs/status.png, then records a
 * seek with `client.ts --report` and photographs the report into
 * docs/report.png. Needs chromium (Debian's package).
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
];
const decoder = new TextDecoder();

/** A program of the project, started with the installed Deno. */
function start(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

/** Read `child`'s stdout until every pattern matches (20 s at most); their matches. */
async function waitFor(child: Deno.ChildProcess, patterns: RegExp[]): Promise<RegExpExecArray[]> {
  const reader = child.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  try {
    while (Date.now() < deadline) {
      const matches = patterns.map((p) => p.exec(text));
      if (matches.every((m) => m !== null)) return matches as RegExpExecArray[];
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`no lines matching ${patterns.join(", ")} in:\n${text}`);
}

async function chromium(args: string[]): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "screenshots_chromium_" });
  try {
    const out = await new Deno.Command("chromium", {
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (!out.success) {
      throw new Error(`chromium failed: ${decoder.decode(out.stderr).slice(-2000)}`);
    }
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: "docs" } },
  });
  await Deno.mkdir(`${ROOT}${values.out}`, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "screenshots_" });
  const children: Deno.ChildProcess[] = [];
  try {
    const server = start([
      ...["run", "-P=server", "server.ts", "0", "--host", "127.0.0.1"],
      ...["--http-port", "0", "--loop", "--quiet"],
    ]);
    children.push(server);
    const [rtsp, http] = await waitFor(server, [
      /on rtsp:\/\/127\.0\.0\.1:(\d+)\//,
      /HTTP on (http:\/\/127\.0\.0\.1:\d+\/)/,
    ]);
    const url = `rtsp://127.0.0.1:${rtsp[1]}/video.mjpeg`;
    const clients: string[][] = [
      ["127.0.0.1", rtsp[1], "0", "video.mjpeg", "--dialect", "lab"],
      [url, "--transport", "udp"],
      [url, "--transport", "tcp"],
    ];
    for (const args of clients) {
      children.push(
        start(["run", "-P=client", "client.ts", ...args, "--duration", "30", "--quiet"]),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await chromium([
      "--window-size=1280,1000",
      "--virtual-time-budget=3000",
      `--screenshot=${ROOT}${values.out}/status.png`,
      http[1],
    ]);
    console.log(`${values.out}/status.png: the status page with three clients playing`);

    const report = `${work}/report.html`;
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-P=client", "client.ts", url, "--start", "2", "--end", "6"],
        ...["--report", report, "--quiet"],
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!run.success) throw new Error(`client.ts --report failed: ${decoder.decode(run.stderr)}`);
    await chromium([
      "--window-size=1280,2400",
      "--virtual-time-budget=3000",
      `--screenshot=${ROOT}${values.out}/report.png`,
      `file://${report}`,
    ]);
    console.log(`${values.out}/report.png: the report of a client run from 2 s to 6 s`);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.stdout.cancel().catch(() => {});
      await child.status;
    }
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) await main();
