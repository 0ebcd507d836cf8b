/**
 * What a benchmark ran on, for its results table: CPU, cores, kernel, Deno
 * and GStreamer versions.
 *
 * @module
 */

/** The machine and runtime, as strings. */
export async function machine(): Promise<Record<string, string>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown";
  let gst = "not installed";
  try {
    const out = await new Deno.Command("gst-launch-1.0", { args: ["--version"] }).output();
    gst = new TextDecoder().decode(out.stdout).split("\n")[0];
  } catch { /* not installed */ }
  return {
    cpu: model,
    cores: String(navigator.hardwareConcurrency),
    kernel: (await Deno.readTextFile("/proc/sys/kernel/osrelease").catch(() => "?")).trim(),
    deno: Deno.version.deno,
    gstreamer: gst,
  };
}
