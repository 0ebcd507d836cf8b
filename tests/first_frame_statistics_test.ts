/**
 * The server's own record of how long plays waited for their first frame:
 * `RtspServer.firstFrameDelay`, and SIGUSR2's statistics line in the form the
 * load generator (`bench/load.ts`) reads. Behaviour only: what is counted,
 * and that the figures are ordered; no timing is asserted.
 */
import assert from "node:assert/strict";
import { parsePacing } from "../bench/_load_servers.ts";
import { LoadSession } from "../bench/_load_session.ts";
import { spawnServer, statisticsLines, waitFor } from "./_server_process.ts";

const LINUX = Deno.build.os === "linux";

Deno.test({
  name: "rtsp-server: SIGUSR2 reports PLAY-to-first-frame over every play since the start",
  ignore: !LINUX,
  async fn() {
    const server = spawnServer(["--loop"]);
    const { child, stdout, stderr } = server;
    const readers: LoadSession[] = [];
    try {
      assert.ok(
        await waitFor(() => /rtsp:\/\/[^ ]+\//.test(stdout.text), 20_000),
        `the server starts: ${stdout.text}${stderr.text}`,
      );
      const url = `${/(rtsp:\/\/[^ ]+\/)/.exec(stdout.text)![1]}video.mjpeg`;

      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 1, 5000));
      assert.doesNotMatch(statisticsLines(stderr.text)[0], /first frame/, "no play yet");

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
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 2, 5000));
      const line = statisticsLines(stderr.text)[1];
      assert.match(line, /first frame after PLAY .* over 3 plays/, line);
      const first = parsePacing(stderr.text)?.firstFrame;
      assert.ok(first, line);
      assert.ok(0 <= first.p50 && first.p50 <= first.p99 && first.p99 <= first.max, line);

      // Since the start, not since the last line: still the same 3 plays.
      child.kill("SIGUSR2");
      assert.ok(await waitFor(() => statisticsLines(stderr.text).length === 3, 5000));
      assert.match(statisticsLines(stderr.text)[2], /over 3 plays/);
    } finally {
      for (const reader of readers) await reader.stop();
      await server.stop();
    }
  },
});
