/**
 * `deno task build`: compile `rtsp-server` and `rtsp-client` with
 * `deno compile`. `deno compile` downloads its runtime (denort) on first use,
 * so offline it fails; then a POSIX sh launcher of the same name is written
 * instead, which runs the source with the deno that ran this build.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = Deno.execPath();

const targets = [
  {
    name: "rtsp-server",
    source: "server.ts",
    // ffi: RTP leaves in batches through sendmmsg/UDP GSO (lib/net); without it, one send per packet.
    flags: ["--unstable-net", "--allow-net", "--allow-read", "--allow-ffi"],
  },
  {
    name: "rtsp-client",
    source: "client.ts",
    // ffi: RTP is read with recvmmsg into a large buffer (lib/net); without it, a Deno socket.
    flags: ["--unstable-net", "--allow-net", "--allow-read", "--allow-write", "--allow-ffi"],
  },
];

/** Quote a string for a POSIX shell. */
function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Run `deno compile`; undefined on success, else its `error:` line and the
 * most detailed of the "Caused by" lines after it (the one naming the URL and
 * the DNS failure when offline).
 */
async function compile(name: string, source: string, flags: string[]): Promise<string | undefined> {
  const { success, code, stderr } = await new Deno.Command(deno, {
    args: ["compile", ...flags, "-o", name, source],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (success) return undefined;
  const lines = new TextDecoder().decode(stderr).split("\n").map((line) => line.trim());
  const error = lines.find((line) => line.startsWith("error")) ?? lines.find((line) => line) ??
    `exit status ${code}`;
  const causes = lines.filter((line) => /^\d+: /.test(line)).map((line) =>
    line.replace(/^\d+: /, "")
  );
  const cause = causes.sort((a, b) => b.length - a.length)[0];
  return cause ? `${error}: ${cause}` : error;
}

/** Write an executable sh script that runs `source` with deno, keeping the caller's cwd. */
async function writeLauncher(name: string, source: string, flags: string[]): Promise<void> {
  const script = `#!/bin/sh
# Written by tools/build.ts because deno compile could not build ${name}.
# Runs ${source} (next to this script) with deno; the working directory is unchanged.
dir="$(cd "$(dirname "$0")" && pwd)" || exit 1
deno=${shQuote(deno)}
[ -x "$deno" ] || deno=deno
exec "$deno" run ${flags.join(" ")} "$dir/${source}" "$@"
`;
  const path = join(root, name);
  await Deno.remove(path).catch(() => {}); // a stale binary or script
  await Deno.writeTextFile(path, script);
  await Deno.chmod(path, 0o755);
}

const made: string[] = [];
for (const { name, source, flags } of targets) {
  // deno compile will not overwrite a file it did not make (a launcher from an earlier build).
  await Deno.remove(join(root, name)).catch(() => {});
  const error = await compile(name, source, flags);
  if (error === undefined) {
    made.push(`${name}: compiled binary`);
  } else {
    console.log(
      `deno compile could not produce ${name} (it downloads its runtime, denort, on first use; this machine is offline?): ${error}`,
    );
    await writeLauncher(name, source, flags);
    made.push(`${name}: launcher script (runs ${source} with deno)`);
  }
}
console.log(made.join("\n"));
