/**
 * What a Prometheus scrape of `/metrics` costs the server, at a given number
 * of streaming sessions: `deno task bench:scrape`.
 *
 * One server.ts process with --http-port serves N sessions (video.mjpeg at
 * 20 fps over UDP, received by this process). Then, for each repeat, the
 * server's CPU time is read over a window without scraping and over a
 * window of back-to-back GETs of /metrics; the difference over the number
 * of scrapes is the CPU one scrape costs, and that over the unscraped CPU
 * rate is the share one scrape a second adds. Both windows of a repeat run
 * in the same invocation on the same server, one after the other.
 *
 * Flags: --sessions 1000  --repeats 3  --seconds 3 (each window)
 *        --rate 0 (scrapes a second in the scraping window; 0: back to back)
 *        --json bench/results/metrics-scrape.json
 *
 * The load sessions send no keep-alive, so the server ends them after its
 * 60 s session timeout: all windows together must fit in 50 s.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LoadSession } from "./_load_session.ts";
import { epollAvailable, EpollReceiver } from "./_epoll_receiver.ts";
import { startOurServer } from "./_load_servers.ts";
import { machine } from "./_machine.ts";

/** One repeat. */
interface ScrapeResult {
  /** Server CPU, ms per second, with no scraping. */
  baselineCpuMsPerSecond: number;
  /** Server CPU, ms per second, scraping back to back. */
  scrapingCpuMsPerSecond: number;
  scrapesPerSecond: number;
  /** Extra server CPU per scrape, ms. */
  cpuMsPerScrape: number;
  /** What one scrape a second adds to the server's CPU, percent. */
  percentAtOnePerSecond: number;
  /** Size of the exposition, bytes. */
  bytes: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "1000" },
      repeats: { type: "string", default: "3" },
      seconds: { type: "string", default: "3" },
      rate: { type: "string", default: "0" },
      json: { type: "string", default: "bench/results/metrics-scrape.json" },
    },
  });
  const count = Number(values.sessions);
  const repeats = Number(values.repeats);
  const windowMs = Number(values.seconds) * 1000;
  const rate = Number(values.rate);
  if (repeats * 2 * windowMs > 50_000) {
    throw new Error(
      `--repeats ${repeats} × 2 windows of ${values.seconds} s exceed 50 s: the server ` +
        "times the (keep-alive-less) load sessions out at 60 s",
    );
  }
  const info = await machine();
  console.log(
    `machine: ${info.cpu}, ${info.cores} cores, Linux ${info.kernel}, Deno ${info.deno}`,
  );
  console.log(`${count} sessions at 20 fps over UDP; windows of ${values.seconds} s\n`);

  const server = await startOurServer({ fps: 20, maxSessions: count, http: true });
  const epoll = epollAvailable() ? new EpollReceiver() : undefined;
  const sessions = Array.from({ length: count }, () => new LoadSession("udp", server.url, epoll));
  const results: ScrapeResult[] = [];
  try {
    // Sessions start in groups of 50, as independent clients would, not all at once.
    for (let i = 0; i < count; i += 50) {
      await Promise.all(sessions.slice(i, i + 50).map((s) => s.start()));
    }
    const url = `${server.httpUrl}metrics`;
    const scrape = async () => {
      const response = await fetch(url);
      const body = await response.text();
      if (response.status !== 200 || !body.includes("# TYPE rtsp_server_sessions gauge")) {
        throw new Error(`GET ${url}: ${response.status}`);
      }
      return body.length;
    };
    await sleep(2000);
    for (let i = 0; i < 50; i++) await scrape(); // compiled and warm before measuring
    console.log(
      "| repeat | CPU ms/s unscraped | CPU ms/s scraping | scrapes/s | CPU ms/scrape | +% at 1 scrape/s | bytes |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (let repeat = 1; repeat <= repeats; repeat++) {
      let cpu0 = server.cpuSeconds();
      let t0 = performance.now();
      await sleep(windowMs);
      const baseline = (server.cpuSeconds() - cpu0) * 1000 / ((performance.now() - t0) / 1000);
      cpu0 = server.cpuSeconds();
      t0 = performance.now();
      let scrapes = 0;
      let bytes = 0;
      while (performance.now() - t0 < windowMs) {
        bytes = await scrape();
        scrapes++;
        if (rate > 0) await sleep(t0 + scrapes * 1000 / rate - performance.now());
      }
      const seconds = (performance.now() - t0) / 1000;
      const scraping = (server.cpuSeconds() - cpu0) * 1000 / seconds;
      const perScrape = (scraping - baseline) / (scrapes / seconds);
      const result: ScrapeResult = {
        baselineCpuMsPerSecond: baseline,
        scrapingCpuMsPerSecond: scraping,
        scrapesPerSecond: scrapes / seconds,
        cpuMsPerScrape: perScrape,
        percentAtOnePerSecond: perScrape / baseline * 100,
        bytes,
      };
      results.push(result);
      console.log(
        `| ${repeat} | ${baseline.toFixed(0)} | ${scraping.toFixed(0)} | ${
          result.scrapesPerSecond.toFixed(0)
        } | ${perScrape.toFixed(3)} | ${result.percentAtOnePerSecond.toFixed(2)} | ${bytes} |`,
      );
    }
  } finally {
    await Promise.all(sessions.map((s) => s.stop()));
    await epoll?.close();
    await server.stop();
  }
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { date: new Date().toISOString(), machine: info, sessions: count, results },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nresults written to ${values.json}`);
}

if (import.meta.main) await main();
