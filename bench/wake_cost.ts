/**
 * What one wake-up of a process costs on this machine, with nothing else to
 * do: the floor under a paced server's CPU at few sessions, where every
 * frame is a wake-up of its own.
 *
 *   deno task bench:wake [--rate 20,100] [--seconds 10] [--repeats 3] [--json FILE]
 *
 * Each way of waking runs in its own process, `rate` times a second for
 * `seconds`, on an absolute schedule, and reports the process's CPU (user +
 * system: `processUsage()`, Python's `time.process_time()`) per second and
 * per wake-up:
 *
 * - `deno-settimeout`: Deno, `await` on `setTimeout` (one event-loop turn);
 * - `deno-ppoll`: Deno, the server's FFI sleep (`PreciseSleep`: ppoll on a
 *   blocking thread, then a turn of the event loop);
 * - `deno-usleep`: Deno, a synchronous FFI `usleep` on the main thread (no
 *   event-loop turn: what waking costs without one; a server cannot do this,
 *   its sockets would wait);
 * - `deno-usleep-turn`: the same followed by one `setTimeout(0)` turn;
 * - `python`: `time.sleep` in a Python loop, for scale.
 *
 * Linux only (the FFI sleeps).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PreciseSleep } from "../lib/net/precise_sleep.ts";
import { processUsage } from "../lib/net/process_usage.ts";

const KINDS = ["deno-settimeout", "deno-ppoll", "deno-usleep", "deno-usleep-turn", "python"];

/** CPU ms this process used so far (user + system). */
const cpuMs = () => processUsage().cpuSeconds * 1000;

/** In the child: wake `rate` times a second for `seconds` the `kind` way; print CPU ms. */
async function child(kind: string, rate: number, seconds: number): Promise<void> {
  const period = 1000 / rate;
  const start = cpuMs();
  const end = performance.now() + seconds * 1000;
  let next = performance.now();
  const wait = () => Math.max(0, next - performance.now());
  if (kind === "deno-settimeout") {
    while (performance.now() < end) {
      next += period;
      await new Promise((resolve) => setTimeout(resolve, wait()));
    }
  } else if (kind === "deno-ppoll") {
    const sleeper = new PreciseSleep();
    while (performance.now() < end) {
      next += period;
      await sleeper.sleep(wait());
    }
    await sleeper.close();
  } else {
    const libc = Deno.dlopen("libc.so.6", { usleep: { parameters: ["u32"], result: "i32" } });
    while (performance.now() < end) {
      next += period;
      libc.symbols.usleep(Math.round(wait() * 1000));
      if (kind === "deno-usleep-turn") await new Promise((resolve) => setTimeout(resolve, 0));
    }
    libc.close();
  }
  console.log(cpuMs() - start);
}

const PYTHON = `
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
t0 = time.process_time(); end = time.monotonic() + seconds; nxt = time.monotonic()
while time.monotonic() < end:
    nxt += 1 / rate
    d = nxt - time.monotonic()
    if d > 0: time.sleep(d)
print((time.process_time() - t0) * 1000)
`;

async function runOne(kind: string, rate: number, seconds: number): Promise<number> {
  const command = kind === "python"
    ? new Deno.Command("python3", { args: ["-c", PYTHON, String(rate), String(seconds)] })
    : new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--child",
        kind,
        "--rate",
        String(
          rate,
        ),
        "--seconds",
        String(seconds),
      ],
    });
  const out = await command.output();
  if (!out.success) throw new Error(`${kind}: ${new TextDecoder().decode(out.stderr)}`);
  return Number(new TextDecoder().decode(out.stdout).trim());
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      child: { type: "string" },
      rate: { type: "string", default: "20,100" },
      seconds: { type: "string", default: "10" },
      repeats: { type: "string", default: "3" },
      json: { type: "string", default: "bench/results/wake-cost.json" },
    },
  });
  const seconds = Number(values.seconds);
  if (values.child) return await child(values.child, Number(values.rate), seconds);
  const rates = values.rate.split(",").map(Number);
  const repeats = Number(values.repeats);
  const runs: { kind: string; rate: number; run: number; cpuMsPerSecond: number }[] = [];
  // Interleaved: every kind once per repeat, so drift of the machine hits all alike.
  for (let run = 1; run <= repeats; run++) {
    for (const rate of rates) {
      for (const kind of KINDS) {
        const ms = await runOne(kind, rate, seconds);
        runs.push({ kind, rate, run, cpuMsPerSecond: ms / seconds });
        console.error(`run ${run}: ${kind} at ${rate}/s: ${(ms / seconds).toFixed(2)} ms/s`);
      }
    }
  }
  const kernel = new TextDecoder().decode(
    (await new Deno.Command("uname", { args: ["-r"] })
      .output()).stdout,
  ).trim();
  console.log(
    `\n${new Date().toISOString()}, Linux ${kernel}, Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores; ${repeats} runs of ${seconds} s each, interleaved\n`,
  );
  console.log(
    "| way of waking | wake-ups/s | CPU ms/s (median, min–max) | µs per wake-up (median) |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const rate of rates) {
    for (const kind of KINDS) {
      const xs = runs.filter((r) => r.kind === kind && r.rate === rate).map((r) => r.cpuMsPerSecond)
        .sort((a, b) => a - b);
      const mid = xs.length >> 1;
      const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
      console.log(
        `| ${kind} | ${rate} | ${median.toFixed(1)} (${xs[0].toFixed(1)}–${
          xs.at(-1)!.toFixed(1)
        }) | ${(median * 1000 / rate).toFixed(0)} |`,
      );
    }
  }
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { date: new Date().toISOString(), kernel, deno: Deno.version.deno, seconds, runs },
      null,
      2,
    ) + "\n",
  );
}

if (import.meta.main) await main();
