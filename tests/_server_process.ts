/**
 * `server.ts` as a process of its own, for tests that signal it (SIGUSR2's
 * statistics) or read what it prints; and the polling they share.
 */
import { collect } from "./_helpers.ts";
import { PROJECT_ROOT } from "./_server.ts";

/** Poll `check` every 20 ms until it holds or `ms` pass; whether it held. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return await check();
}

/** The statistics lines (SIGUSR2) in the server's standard error so far. */
export const statisticsLines = (text: string): string[] =>
  text.split("\n").filter((line) => line.startsWith("rtsp-server: statistics"));

/** A running `server.ts` and what it printed. */
export interface ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly stdout: { text: string };
  readonly stderr: { text: string };
  /** Whether the process has exited. */
  exited(): boolean;
  /** SIGTERM (SIGKILL after 5 s), then wait for it and its output. */
  stop(): Promise<void>;
}

/** Start `server.ts 0 --host 127.0.0.1 --quiet` with `args` after, under `-P=server`. */
export function spawnServer(args: string[] = []): ServerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=server", "server.ts", "0", "--host", "127.0.0.1", "--quiet", ...args],
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  return {
    child,
    stdout: stdout.state,
    stderr: stderr.state,
    exited: () => exited,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const killer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, 5000);
      await status;
      clearTimeout(killer);
      await stdout.done;
      await stderr.done;
    },
  };
}
