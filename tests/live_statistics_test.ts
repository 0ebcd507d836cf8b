/**
 * SIGUSR2's statistics line names each live path on the air with its
 * readers and how long its frames took from the publisher to the readers,
 * counted since the previous line (as pacing lateness is), in the form the
 * load generator (`bench/load.ts --modes live`) reads. End to end: server.ts,
 * `client.ts --publish` and one UDP reader, each as the bench runs them.
 * Linux only (signals).
 */
import assert from "node:assert/strict";
import { parseLiveLatency, startLivePublisher } from "../bench/_load_servers.ts";
import { LoadSession, waitUntilPlaying } from "../bench/_load_session.ts";
import { spawnServer, statisticsLines, waitFor } from "./_server_process.ts";

const LINUX = Deno.build.os === "linux";

Deno.test({
  name: "rtsp-server: SIGUSR2 reports each live path's latency since the last report",
  ignore: !LINUX,
  async fn() {
    const server = spawnServer();
    const { child, stdout, stderr } = server;
    let publisher: ReturnType<typeof startLivePublisher> | undefined;
    let reader: LoadSession | undefined;
    try {
      assert.ok(
        await waitFor(() => /rtsp:\/\/[^ ]+\//.test(stdout.text), 20_000),
        `the server starts: ${stdout.text}${stderr.text}`,
      );
      const base = /(rtsp:\/\/[^ ]+\/)/.exec(stdout.text)![1];
      const url = `${base}live/bench`;

      // No live path yet: the line names none.
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 1, 5000));
      assert.doesNotMatch(statisticsLines(stderr.text)[0], /; live /);

      publisher = startLivePublisher(url, 20);
      await waitUntilPlaying(url, 20_000);
      reader = new LoadSession("udp", url);
      await reader.start();
      const frames = () => reader!.record.frameArrivals.length;
      assert.ok(await waitFor(() => frames() >= 20, 10_000), `the reader gets frames`);

      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 2, 5000));
      const first = parseLiveLatency(stderr.text, "live/bench");
      assert.ok(first, `the line names the path: ${statisticsLines(stderr.text)[1]}`);
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
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 3, 5000));
      const second = parseLiveLatency(stderr.text, "live/bench");
      assert.ok(second, statisticsLines(stderr.text)[2]);
      assert.ok(second.frames >= 1, "the frames since the last report");
      assert.ok(
        second.frames < first.frames,
        `counted afresh from the last report: ${second.frames} after ${first.frames}`,
      );
    } finally {
      await reader?.stop();
      await publisher?.stop();
      await server.stop();
    }
  },
});
