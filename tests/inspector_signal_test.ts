/**
 * SIGUSR1 must not open Deno's inspector in the server: after it, and after
 * the statistics signal (SIGUSR2), the server process listens on nothing new.
 * Linux only (/proc); the CI machine is Linux.
 */
import assert from "node:assert/strict";
import { collect } from "./_helpers.ts";
import { spawnServer, waitFor } from "./_server_process.ts";

const LINUX = Deno.build.os === "linux";

/**
 * Text of files under /proc, read by `cat` (Deno itself reads /proc/<pid>
 * only with --allow-all).
 */
async function procText(...paths: string[]): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", 'for p in "$@"; do cat "$p" 2>/dev/null; done', "sh", ...paths],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Socket inodes of the open descriptors of process `pid`. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const out = await new Deno.Command("ls", {
    args: ["-l", `/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return new Set([...text.matchAll(/socket:\[(\d+)\]/g)].map((m) => m[1]));
}

/** Listening TCP sockets in /proc/net/tcp{,6} text: local address by inode. */
function listeners(table: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of table.split("\n")) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st ... inode (field 9); st 0A is LISTEN.
    if (f.length > 9 && f[3] === "0A") found.set(f[9], f[1]);
  }
  return found;
}

/** Local addresses (`hex-ip:hex-port`) of the TCP sockets process `pid` listens on. */
async function listening(pid: number): Promise<Set<string>> {
  const inodes = await socketInodes(pid);
  const table = listeners(await procText(`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`));
  return new Set([...table].filter(([inode]) => inodes.has(inode)).map(([, local]) => local));
}

/** Whether process `pid` has a handler for `signal` (SigCgt in its status). */
async function catches(pid: number, signal: number): Promise<boolean> {
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(await procText(`/proc/${pid}/status`))?.[1];
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
}

/** Whether anything on this machine listens on TCP port `port`. */
async function anyoneListensOn(port: number): Promise<boolean> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const table = listeners(await procText("/proc/net/tcp", "/proc/net/tcp6"));
  return [...table.values()].some((local) => local.endsWith(`:${hex}`));
}

Deno.test({
  name: "rtsp-server: SIGUSR1 opens no debugger and SIGUSR2 prints statistics; nothing new listens",
  ignore: !LINUX,
  async fn() {
    const server = spawnServer();
    const { child, stdout, stderr } = server;
    try {
      assert.ok(
        await waitFor(() => /rtsp-server: serving/.test(stdout.text), 20_000),
        `the server starts: ${stdout.text}${stderr.text}`,
      );
      assert.doesNotMatch(stderr.text, /warning: SIGUSR1/, "the signal could be closed");
      const before = await listening(child.pid);
      assert.equal(before.size, 1, `one listening socket, the RTSP port: ${[...before]}`);

      // Well after the runtime installs its own SIGUSR1 handler (about 0.5 s after start).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill("SIGUSR1");
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(server.exited(), false, "SIGUSR1 neither kills the server");
      assert.deepEqual(await listening(child.pid), before, "nor makes it listen anywhere new");
      assert.doesNotMatch(stderr.text, /Debugger listening/);
      assert.equal(await anyoneListensOn(9229), false, "nothing on the inspector's port");

      child.kill("SIGUSR2");
      assert.ok(
        await waitFor(() => /rtsp-server: statistics: /.test(stderr.text), 5000),
        `SIGUSR2 prints statistics: ${stderr.text}`,
      );
      assert.deepEqual(await listening(child.pid), before, "SIGUSR2 opens nothing either");
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "closeInspectorSignal() makes the kernel ignore SIGUSR1 for its process, and says so",
  ignore: !LINUX,
  async fn() {
    // In a process of its own: an ignored signal stays ignored in every child started after.
    const module = new URL("../lib/net/inspector_signal.ts", import.meta.url).href;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--allow-ffi",
        `import { closeInspectorSignal, signalIgnored } from "${module}";
         const before = signalIgnored(10);
         console.log(JSON.stringify([before, await closeInspectorSignal(), signalIgnored(10), signalIgnored(12)]));`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const [before, state, after, usr2] = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(before, false, "Deno handles SIGUSR1 to begin with");
    assert.deepEqual(state, { closed: true });
    assert.equal(after, true, "then the kernel ignores it");
    assert.equal(usr2, false, "SIGUSR2 is not ignored: the server listens on it");
  },
});

Deno.test({
  name:
    "the hole the server closes: a Deno process that does not close it opens a debugger on SIGUSR1",
  ignore: !LINUX,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "console.log('ready'); setTimeout(() => {}, 15_000)"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      assert.ok(await waitFor(() => stdout.state.text.includes("ready"), 10_000));
      // The runtime installs its SIGUSR1 handler about 0.5 s after it starts.
      assert.ok(
        await waitFor(async () => await catches(child.pid, 10), 5000),
        "it catches SIGUSR1",
      );
      const before = await listening(child.pid);
      child.kill("SIGUSR1");
      assert.ok(
        await waitFor(async () => (await listening(child.pid)).size > before.size, 5000),
        `Deno ${Deno.version.deno} no longer listens after SIGUSR1: the workaround may go`,
      );
      assert.match(stderr.state.text, /Debugger listening on ws:\/\/127\.0\.0\.1:9229/);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await stdout.done;
      await stderr.done;
    }
  },
});
