/**
 * The layers of lib/ import only downwards: wire ← net ← media ← session,
 * and nothing in lib/ imports the entry points (mod.ts, server.ts, client.ts).
 * Within the session layer the server's stack (lib/session/server/) and the
 * client's (lib/session/client/) share nothing but the layers below.
 */
import assert from "node:assert/strict";
import { builtinModules } from "node:module";

const ROOT = new URL("..", import.meta.url);
const LIB = new URL("lib/", ROOT);

type Layer = "wire" | "net" | "media" | "session";
const LAYERS: Layer[] = ["wire", "net", "media", "session"];
/** The layers each layer may import from. */
const ALLOWED: Record<Layer, Layer[]> = {
  wire: ["wire"],
  net: ["wire", "net"],
  media: ["wire", "net", "media"],
  session: ["wire", "net", "media", "session"],
};

interface SourceFile {
  /** Path relative to the project root, e.g. `lib/wire/jpeg.ts`. */
  path: string;
  layer: Layer | undefined;
  text: string;
}

async function listTs(dir: URL, prefix: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      files.push(...await listTs(new URL(`${entry.name}/`, dir), `${rel}/`));
    } else if (entry.isFile && entry.name.endsWith(".ts")) {
      const layer = LAYERS.find((l) => rel.startsWith(`lib/${l}/`));
      files.push({ path: rel, layer, text: await Deno.readTextFile(new URL(entry.name, dir)) });
    }
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Source text without comments (string contents are kept). */
function stripComments(source: string): string {
  let out = "";
  for (let i = 0; i < source.length;) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 2;
      out += " ";
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier a source imports or re-exports, statically or dynamically. */
function importsOf(source: string): string[] {
  const code = stripComments(source);
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^;]*?\bfrom\s*["']([^"']+)["']/gs, // import x from "…"
    /\bimport\s*["']([^"']+)["']/g, // import "…"
    /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g, // import("…")
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) specifiers.push(match[1]);
  }
  return specifiers;
}

/** Where a specifier of `from` points, relative to the project root, or the specifier itself. */
function resolve(from: string, specifier: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  const url = new URL(specifier, new URL(from, "file:///project/"));
  return url.pathname.replace(/^\/project\//, "");
}

const files = await listTs(LIB, "lib/");

/**
 * Packages each layer may use besides lib/: third-party ones by their name
 * in deno.json "imports" (the media layer decodes JPEGs it has to convert
 * with jpeg-js; the client's report embeds uPlot's script and stylesheet,
 * imported as text from `uplot/dist/`), and runtime built-ins by their
 * `node:` specifier (the wire layer hashes Digest authentication with
 * node:crypto, the net layer reads the process's CPU time with node:process,
 * the session layer makes nonces with its HMAC). The wire
 * layer has no third-party dependency.
 */
const PACKAGES: Record<Layer, string[]> = {
  wire: ["node:crypto"],
  // The server's status reads the process's CPU time (Deno has no API of its own for it).
  net: ["node:process"],
  media: ["jpeg-js"],
  // The server makes its Digest nonces with an HMAC and compares secrets in constant time;
  // the client's HTML report embeds uPlot.
  session: ["node:crypto", "uplot"],
};
const DECLARED = Object.keys(
  JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))).imports ?? {},
);
/** Whether `specifier` is a built-in module of the runtime, such as `node:crypto`. */
function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") && builtinModules.includes(specifier.slice(5));
}
/**
 * The package a bare specifier names: `uplot/dist/uPlot.min.css` is in
 * `uplot`, `@scope/name/file.js` in `@scope/name`; `node:` ones are themselves.
 */
function packageOf(specifier: string): string {
  if (specifier.startsWith("node:")) return specifier;
  const parts = specifier.split("/");
  return parts.slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
}
/** Whether a file of `layer` may import the package `specifier` (or a file in it). */
function allowedPackage(layer: Layer, specifier: string): boolean {
  const name = packageOf(specifier);
  return PACKAGES[layer].includes(name) && (DECLARED.includes(name) || isBuiltin(name));
}

Deno.test("layering: the import scanner finds every kind of import", () => {
  const sample = `
    import { a } from "./a.ts";
    import type {
      B,
      C,
    } from "../b.ts";
    export { d } from './d.ts';
    export * from "./e.ts";
    import "./side_effect.ts";
    const f = await import("./f.ts");
    // import { g } from "./commented.ts";
    /* import { h } from "./block_commented.ts"; */
    const s = "not an import from \\"./string.ts\\"";
  `;
  assert.deepEqual(importsOf(sample).sort(), [
    "../b.ts",
    "./a.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./side_effect.ts",
  ]);
  assert.equal(resolve("lib/session/x.ts", "../wire/y.ts"), "lib/wire/y.ts");
  assert.equal(resolve("lib/session/x.ts", "../../mod.ts"), "mod.ts");
  assert.equal(resolve("lib/session/x.ts", "node:fs"), "node:fs");
});

Deno.test("layering: each allowed package is declared in deno.json or a node: built-in", () => {
  const unknown = LAYERS.flatMap((layer) =>
    PACKAGES[layer]
      .filter((name) => !DECLARED.includes(name) && !isBuiltin(name))
      .map((name) => `${layer}: ${name}`)
  );
  assert.deepEqual(unknown, []);
  // The check that uses them: a built-in counts only where its layer lists it.
  assert.equal(allowedPackage("wire", "node:crypto"), true);
  assert.equal(allowedPackage("net", "node:crypto"), false);
  assert.equal(allowedPackage("wire", "node:fs"), false);
  assert.equal(allowedPackage("wire", "node:no_such_module"), false);
  assert.equal(allowedPackage("media", "jpeg-js"), true);
  assert.equal(allowedPackage("wire", "jpeg-js"), false);
  // A file in a package counts as the package, in its layer only.
  assert.equal(allowedPackage("session", "uplot/dist/uPlot.iife.min.js"), true);
  assert.equal(allowedPackage("media", "uplot/dist/uPlot.iife.min.js"), false);
  assert.equal(allowedPackage("session", "uplot-extra"), false);
  assert.equal(packageOf("@scope/name/file.js"), "@scope/name");
  assert.equal(allowedPackage("session", "./uplot/x.ts"), false);
});

Deno.test("layering: lib/ has files in each layer and none outside them", () => {
  for (const layer of LAYERS) {
    assert.ok(files.some((f) => f.layer === layer), `no files in lib/${layer}/`);
  }
  const stray = files.filter((f) => f.layer === undefined).map((f) => f.path);
  assert.deepEqual(stray, [], "every .ts file under lib/ belongs to wire, net, media or session");
});

Deno.test("layering: each layer imports only itself and the layers below", () => {
  const violations: string[] = [];
  for (const file of files) {
    if (!file.layer) continue;
    for (const specifier of importsOf(file.text)) {
      if (allowedPackage(file.layer, specifier)) continue;
      const target = resolve(file.path, specifier);
      const targetLayer = LAYERS.find((l) => target.startsWith(`lib/${l}/`));
      if (!targetLayer || !ALLOWED[file.layer].includes(targetLayer)) {
        violations.push(`${file.path} imports "${specifier}" (${target})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("layering: the server and client stacks import nothing of each other", () => {
  const stacks = ["lib/session/server/", "lib/session/client/"];
  const loose = files.filter((f) =>
    f.layer === "session" && !stacks.some((s) => f.path.startsWith(s))
  );
  assert.deepEqual(
    loose.map((f) => f.path),
    [],
    "every session file is the server's or the client's",
  );
  const violations: string[] = [];
  for (const file of files) {
    const own = stacks.find((s) => file.path.startsWith(s));
    if (!own) continue;
    for (const specifier of importsOf(file.text)) {
      const target = resolve(file.path, specifier);
      if (stacks.some((s) => s !== own && target.startsWith(s))) {
        violations.push(`${file.path} imports ${target}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("layering: bench/ and tools/ import lib/ directly, not the public API in mod.ts", async () => {
  const violations: string[] = [];
  for (const dir of ["bench/", "tools/"]) {
    for (const file of await listTs(new URL(dir, ROOT), dir)) {
      for (const specifier of importsOf(file.text)) {
        if (resolve(file.path, specifier) === "mod.ts") violations.push(file.path);
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("layering: nothing in lib/ imports mod.ts, server.ts or client.ts", () => {
  const violations: string[] = [];
  for (const file of files) {
    for (const specifier of importsOf(file.text)) {
      const target = resolve(file.path, specifier);
      if (["mod.ts", "server.ts", "client.ts"].includes(target)) {
        violations.push(`${file.path} imports ${target}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("layering: every relative import in lib/ names an existing file", async () => {
  const missing: string[] = [];
  for (const file of files) {
    for (const specifier of importsOf(file.text)) {
      const target = resolve(file.path, specifier);
      if (target === specifier) continue;
      try {
        await Deno.stat(new URL(target, ROOT));
      } catch {
        missing.push(`${file.path} imports ${specifier}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});

/**
 * What lib/wire may not use, even in a comment: the runtime (Deno.), timers,
 * and randomness, which node:crypto would otherwise bring in (a nonce is
 * drawn in the session layer and handed down).
 */
const IMPURE: readonly (readonly [RegExp, string])[] = [
  [/\bDeno\./, "Deno."],
  [/\bsetTimeout\b/, "setTimeout"],
  [/\bsetInterval\b/, "setInterval"],
  [/\bMath\.random\b/, "Math.random"],
  [/\bgetRandomValues\b/, "getRandomValues"],
  [/\brandom(?:Bytes|Fill|Int|UUID)\b/, "crypto randomness"],
];

Deno.test("layering: lib/wire is pure (no Deno APIs, no timers, no randomness)", () => {
  const violations: string[] = [];
  for (const file of files.filter((f) => f.layer === "wire")) {
    // The whole source text, comments included: not even an example may suggest them.
    for (const [pattern, what] of IMPURE) {
      const line = file.text.split("\n").findIndex((l) => pattern.test(l));
      if (line >= 0) violations.push(`${file.path}:${line + 1} uses ${what}`);
    }
  }
  assert.deepEqual(violations, []);
});
