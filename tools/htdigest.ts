/**
 * `deno task htdigest NAME [--realm R] [--file FILE]`: the lines of an
 * htdigest file for one user (`name:realm:HA1`, MD5 and SHA-256), for
 * `rtsp-server --auth-file`. The password is read from standard input (one
 * line), so it appears neither in the process list nor in the shell's
 * history; with `--file` the lines replace the user's old ones in FILE.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { digestHa1 } from "../lib/wire/digest.ts";
import { type HtdigestEntry, parseHtdigest, serializeHtdigest } from "../lib/wire/htdigest.ts";
import { SERVER_DEFAULTS } from "../lib/session/server/server_options.ts";

const USAGE = `Usage: deno task htdigest NAME [--realm R] [--file FILE]

Reads the password from standard input and prints NAME's htdigest lines
(MD5 and SHA-256 HA1s) for rtsp-server --auth-file, or with --file writes
them into FILE in place of NAME's lines for that realm.
  --realm R   the server's realm (default ${SERVER_DEFAULTS.realm})`;

async function readPassword(): Promise<string> {
  if (Deno.stdin.isTerminal()) {
    Deno.stderr.writeSync(new TextEncoder().encode("password: "));
    Deno.stdin.setRaw(true); // no echo
  }
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null || buffer[0] === 0x0a || buffer[0] === 0x0d) break;
      if (buffer[0] === 0x03) Deno.exit(130); // Ctrl-C in raw mode
      bytes.push(buffer[0]);
    }
  } finally {
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(false);
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      realm: { type: "string", default: SERVER_DEFAULTS.realm },
      file: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [name] = positionals;
  if (positionals.length !== 1 || !name || name.includes(":")) {
    console.error(`htdigest: expected one user name without ":"\n\n${USAGE}`);
    return 2;
  }
  const password = await readPassword();
  if (password === "") {
    console.error("htdigest: an empty password");
    return 2;
  }
  const entries: HtdigestEntry[] = (["MD5", "SHA-256"] as const).map((algorithm) => ({
    username: name,
    realm: values.realm,
    ha1: digestHa1(algorithm, name, values.realm, password),
    algorithm,
  }));
  if (values.file === undefined) {
    console.log(serializeHtdigest(entries).trimEnd());
    return 0;
  }
  let old: HtdigestEntry[] = [];
  try {
    old = parseHtdigest(await Deno.readTextFile(values.file), values.file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const kept = old.filter((e) => e.username !== name || e.realm !== values.realm);
  await Deno.writeTextFile(values.file, serializeHtdigest([...kept, ...entries]), { mode: 0o600 });
  console.error(`htdigest: ${name} (realm "${values.realm}") written to ${values.file}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
