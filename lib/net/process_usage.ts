/**
 * What the process costs the machine: resident memory and CPU time, for the
 * server's status and metrics. Read through `node:process` and
 * `Deno.memoryUsage()`, which need no permission (Deno reads `/proc/self`
 * only with --allow-all).
 *
 * @module
 */
import process from "node:process";

/** The process's resident memory and CPU time. */
export interface ProcessUsage {
  /** Resident set size, bytes. */
  rssBytes: number;
  /** CPU time spent in user and kernel mode, seconds. */
  cpuSeconds: number;
  /** When the process started (Unix time, seconds). */
  startTimeSeconds: number;
}

/** When the process started, Unix seconds (read once: it does not change). */
const START_TIME_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000;

/** The process's usage now. */
export function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage(); // microseconds
  return {
    rssBytes: Deno.memoryUsage().rss,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startTimeSeconds: START_TIME_SECONDS,
  };
}
