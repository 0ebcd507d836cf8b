/**
 * The server's own record of how long plays waited for their first frame:
 * `RtspServer.firstFrameDelay`, and SIGUSR2's statistics line in the form the
 * load generator (`bench/load.ts`) reads. Behaviour only: what is counted,
 * and that the figures are ordered; no timing is asserted.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "./_server.ts";
import { collect } from "./_helpers.ts";
import { parsePacing } from "../bench/_load_servers.ts";
import { LoadSession } from "../bench/_load_session.ts";

const LINUX = Deno.build.os === "linux";

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

const statisticsLines = (text: string) =>
  text.split("\n").filter((line) => line.startsWith("rtsp-server: statistics"));

Deno.test({
  name: "rtsp-server: SIGUSR2 reports PLAY-to-first-frame over every play since the start",
  ignore: !LINUX,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=server", "server.ts", "0", "--host", "127.0.0.1", "--quiet", "--loop"],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let exited = false;
    const status = child.status.finally(() => exited = true);
    const readers: LoadSession[] = [];
    try {
      assert.ok(
        await waitFor(() => /rtsp:\/\/[^ ]+\//.test(stdout.state.text), 20_000),
        `the server starts: ${stdout.state.text}${stderr.state.text}`,
      );
      const url = `${/(rtsp:\/\/[^ ]+\/)/.exec(stdout.state.text)![1]}video.mjpeg`;

      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 1, 5000));
      assert.doesNotMatch(statisticsLines(stderr.state.text)[0], /first frame/, "no play yet");

      for (const mode of ["udp", "tcp", "udp"] as const) {
        const reader = new LoadSession(mode, url);
        readers.push(reader);
        await reader.start();
        await new Promise((resolve) => setTimeout(resolve, 13)); // PLAYs at spread times
      }
      assert.ok(
        await waitFor(() => readers.every((r) => r.record.frameArrivals.length >= 2), 10_000),
        "every reader gets frames",
      );
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 2, 5000));
      const line = statisticsLines(stderr.state.text)[1];
      assert.match(line, /first frame after PLAY .* over 3 plays/, line);
      const first = parsePacing(stderr.state.text)?.firstFrame;
      assert.ok(first, line);
      assert.ok(0 <= first.p50 && first.p50 <= first.p99 && first.p99 <= first.max, line);

      // Since the start, not since the last line: still the same 3 plays.
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 3, 5000));
      assert.match(statisticsLines(stderr.state.text)[2], /over 3 plays/);
    } finally {
      for (const reader of readers) await reader.stop();
      if (!exited) child.kill("SIGTERM");
      const killer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, 5000);
      await status;
      clearTimeout(killer);
      await stdout.done;
      await stderr.done;
    }
  },
});
