/**
 * Our server at an earlier commit against the server as it is now, in one
 * invocation on one machine: the load generator (`bench/load.ts`) runs
 * against each in turn, alternating, `--repeats` times, and the medians are
 * compared. The earlier commit is checked out into a temporary git worktree
 * and removed afterwards.
 *
 *   deno task bench:compare --before 5ffad2f [--sessions 1000] [--modes udp]
 *     [--repeats 3] [--json bench/results/compare.json]
 *
 * Each run is one `bench/load.ts --no-gst` point, run by the load generator
 * of its own tree (so each side is measured the way its own code measures).
 *
 * @module
 */
import { parseArgs } from "node:util";

const USAGE = `deno task bench:compare --before REV [--after REV] [--sessions N]
  [--modes udp,tcp,lab] [--repeats N] [--duration S] [--json FILE]`;

/** The fields of a load.ts result compared here. */
interface Point {
  server: string;
  mode: string;
  sessions: number;
  failed: number;
  fpsMin: number;
  lostPackets: number;
  sendErrorP50Ms: number;
  sendErrorP99Ms: number;
  firstPacketP50Ms: number;
  cpuMsPerSessionSecond: number;
  kernelShare: number;
  serverPeakRssMb: number;
  serverLateP99Ms: number | null;
  serverFirstFrameP99Ms?: number;
}

const ROOT = new URL("..", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null", stderr: "inherit" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${text}`);
  return text;
}

/** One load.ts point in `tree`; its results. */
async function measure(
  tree: string,
  sessions: string,
  mode: string,
  duration: string,
): Promise<Point[]> {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await run(Deno.execPath(), [
      "run",
      "-A",
      "bench/load.ts",
      "--sessions",
      sessions,
      "--modes",
      mode,
      "--no-gst",
      "--duration",
      duration,
      // The points alone: the throughput and ingest tests are not compared.
      "--unpaced",
      "",
      "--ingest",
      "",
      "--json",
      json,
    ], tree);
    return JSON.parse(await Deno.readTextFile(json)).results as Point[];
  } finally {
    await Deno.remove(json);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const COLUMNS: [string, (p: Point) => number | null, number][] = [
  ["fps (slowest session)", (p) => p.fpsMin, 2],
  ["lost", (p) => p.lostPackets, 0],
  ["arrival lateness p50 ms", (p) => p.sendErrorP50Ms, 2],
  ["arrival lateness p99 ms", (p) => p.sendErrorP99Ms, 2],
  ["server's own lateness p99 ms", (p) => p.serverLateP99Ms, 2],
  ["first packet p50 ms", (p) => p.firstPacketP50Ms, 0],
  ["server's first frame p99 ms", (p) => p.serverFirstFrameP99Ms ?? null, 1],
  ["CPU ms per session-second", (p) => p.cpuMsPerSessionSecond, 3],
  ["of it kernel", (p) => p.kernelShare * 100, 0],
  ["peak RSS MB", (p) => p.serverPeakRssMb, 0],
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      before: { type: "string" },
      after: { type: "string" },
      sessions: { type: "string", default: "1000" },
      modes: { type: "string", default: "udp" },
      repeats: { type: "string", default: "3" },
      duration: { type: "string", default: "5" },
      json: { type: "string", default: "bench/results/compare.json" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || !values.before) {
    console.log(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError("--repeats must be 1 or more");
  }
  const short = async (rev: string) =>
    (await run("git", ["rev-parse", "--short", rev], ROOT)).trim();
  /** A worktree of `rev`, removed at the end. */
  const worktrees: string[] = [];
  const checkout = async (rev: string) => {
    const dir = await Deno.makeTempDir({ prefix: `bench-${rev}-` });
    await run("git", ["worktree", "add", "--detach", dir, rev], ROOT);
    worktrees.push(dir);
    return dir;
  };
  const rev = await short(values.before);
  const trees: [string, string][] = [[`before (${rev})`, await checkout(rev)]];
  if (values.after) {
    const after = await short(values.after);
    trees.push([`after (${after})`, await checkout(after)]);
  } else {
    // The working tree as it is: leave it alone while this runs.
    const head = await short("HEAD");
    const dirty = (await run("git", ["status", "--porcelain", "--untracked-files=no"], ROOT))
      .trim();
    trees.push([`after (${head}${dirty ? ", with uncommitted changes" : ""})`, ROOT]);
  }
  const runs: Record<string, Point[]> = {};
  try {
    for (const mode of values.modes.split(",")) {
      for (let i = 0; i < repeats; i++) {
        for (const [label, tree] of i % 2 ? [...trees].reverse() : trees) {
          console.error(`${mode}: ${label}, run ${i + 1} of ${repeats}`);
          for (const point of await measure(tree, values.sessions, mode, values.duration)) {
            (runs[`${label}|${point.mode}|${point.sessions}`] ??= []).push(point);
          }
        }
      }
    }
  } finally {
    for (const dir of worktrees) await run("git", ["worktree", "remove", "--force", dir], ROOT);
  }
  const kernel = (await run("uname", ["-r"], ROOT)).trim();
  console.log(
    `\n${new Date().toISOString()}, Linux ${kernel}, Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores; medians of ${repeats} runs each, alternating\n`,
  );
  console.log(`| side | mode | sessions | ${COLUMNS.map(([name]) => name).join(" | ")} |`);
  console.log(`| --- | --- | --- | ${COLUMNS.map(() => "---").join(" | ")} |`);
  for (const [key, points] of Object.entries(runs)) {
    const [label, mode, sessions] = key.split("|");
    const cells = COLUMNS.map(([, get, digits]) => {
      const values = points.map(get).filter((v): v is number => v !== null);
      return values.length ? median(values).toFixed(digits) : "—";
    });
    console.log(`| ${label} | ${mode} | ${sessions} | ${cells.join(" | ")} |`);
  }
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { date: new Date().toISOString(), kernel, deno: Deno.version.deno, runs },
      null,
      2,
    ) +
      "\n",
  );
  console.log(`\nevery run written to ${values.json}`);
}

if (import.meta.main) await main();
