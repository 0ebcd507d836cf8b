/**
 * SIGUSR2's statistics line names each live path on the air with its
 * readers and how long its frames took from the publisher to the readers,
 * counted since the previous line (as pacing lateness is), in the form the
 * load generator (`bench/load.ts --modes live`) reads. End to end: server.ts,
 * `client.ts --publish` and one UDP reader, each as the bench runs them.
 * Linux only (signals).
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "./_server.ts";
import { collect } from "./_helpers.ts";
import { parseLiveLatency, startLivePublisher } from "../bench/_load_servers.ts";
import { LoadSession, waitUntilPlaying } from "../bench/_load_session.ts";

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
  name: "rtsp-server: SIGUSR2 reports each live path's latency since the last report",
  ignore: !LINUX,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=server", "server.ts", "0", "--host", "127.0.0.1", "--quiet"],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let exited = false;
    const status = child.status.finally(() => exited = true);
    let publisher: ReturnType<typeof startLivePublisher> | undefined;
    let reader: LoadSession | undefined;
    try {
      assert.ok(
        await waitFor(() => /rtsp:\/\/[^ ]+\//.test(stdout.state.text), 20_000),
        `the server starts: ${stdout.state.text}${stderr.state.text}`,
      );
      const base = /(rtsp:\/\/[^ ]+\/)/.exec(stdout.state.text)![1];
      const url = `${base}live/bench`;

      // No live path yet: the line names none.
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 1, 5000));
      assert.doesNotMatch(statisticsLines(stderr.state.text)[0], /; live /);

      publisher = startLivePublisher(url, 20);
      await waitUntilPlaying(url, 20_000);
      reader = new LoadSession("udp", url);
      await reader.start();
      const frames = () => reader!.record.frameArrivals.length;
      assert.ok(await waitFor(() => frames() >= 20, 10_000), `the reader gets frames`);

      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 2, 5000));
      const first = parseLiveLatency(stderr.state.text, "live/bench");
      assert.ok(first, `the line names the path: ${statisticsLines(stderr.state.text)[1]}`);
      assert.equal(first.readers, 1);
      assert.ok(first.frames >= 19, `it counts the frames the reader got: ${first.frames}`);
      assert.ok(first.p50 <= first.p99 && first.p99 <= first.p999 && first.p999 <= first.max);
      assert.ok(
        first.fromFirstP50 <= first.fromFirstP99 && first.fromFirstP99 <= first.fromFirstMax,
      );
      assert.ok(first.max <= first.fromFirstMax, "from the first packet is never shorter");

      const seen = frames();
      assert.ok(await waitFor(() => frames() >= seen + 3, 5000), "more frames come");
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.state.text).length === 3, 5000));
      const second = parseLiveLatency(stderr.state.text, "live/bench");
      assert.ok(second, statisticsLines(stderr.state.text)[2]);
      assert.ok(second.frames >= 1, "the frames since the last report");
      assert.ok(
        second.frames < first.frames,
        `counted afresh from the last report: ${second.frames} after ${first.frames}`,
      );
    } finally {
      await reader?.stop();
      await publisher?.stop();
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
