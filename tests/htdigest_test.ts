import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { digestHa1 } from "../lib/wire/digest.ts";
import { type HtdigestEntry, parseHtdigest, serializeHtdigest } from "../lib/wire/htdigest.ts";
import { catchError } from "./_helpers.ts";

/** H("Mufasa:testrealm@host.com:CircleOfLife"), computed with Python's hashlib. */
const MUFASA_MD5 = "4945ecf42b1bb868634058a845bedde8";
/** H("u:r:p") with SHA-256, computed with Python's hashlib. */
const U_SHA256 = "dcb021102e491e701a4a236daa8923af2161447bce7bb7260a351ee83e9f8154";
/** H("u:r:p") with MD5. */
const U_MD5 = "44add22b6f3179b751eafd68ee370f7d";

/** Input, the entries it parses to, and the canonical file they are written as. */
interface HtdigestCase {
  name: string;
  input: string;
  value: HtdigestEntry[];
  canonical: string;
}

const mufasa: HtdigestEntry = {
  username: "Mufasa",
  realm: "testrealm@host.com",
  ha1: MUFASA_MD5,
  algorithm: "MD5",
};
const uMd5: HtdigestEntry = { username: "u", realm: "r", ha1: U_MD5, algorithm: "MD5" };
const uSha: HtdigestEntry = { username: "u", realm: "r", ha1: U_SHA256, algorithm: "SHA-256" };

const FILES: HtdigestCase[] = [
  {
    name: "a line as Apache's htdigest writes it",
    input: `Mufasa:testrealm@host.com:${MUFASA_MD5}\n`,
    value: [mufasa],
    canonical: `Mufasa:testrealm@host.com:${MUFASA_MD5}\n`,
  },
  {
    name: "no final line end",
    input: `Mufasa:testrealm@host.com:${MUFASA_MD5}`,
    value: [mufasa],
    canonical: `Mufasa:testrealm@host.com:${MUFASA_MD5}\n`,
  },
  {
    name: "MD5 and SHA-256 for the same user and realm",
    input: `u:r:${U_MD5}\nu:r:${U_SHA256}\n`,
    value: [uMd5, uSha],
    canonical: `u:r:${U_MD5}\nu:r:${U_SHA256}\n`,
  },
  {
    name: "CRLF, a byte-order mark, comments, blank lines and trailing blanks",
    input: `\ufeff# users of the lab\r\n\r\n  \t\r\nu:r:${U_MD5} \t\r\n  # u:r:old\r\n` +
      `Mufasa:testrealm@host.com:${MUFASA_MD5}\r\n`,
    value: [uMd5, mufasa],
    canonical: `u:r:${U_MD5}\nMufasa:testrealm@host.com:${MUFASA_MD5}\n`,
  },
  {
    name: "upper-case hex",
    input: `u:r:${U_SHA256.toUpperCase()}\n`,
    value: [uSha],
    canonical: `u:r:${U_SHA256}\n`,
  },
  {
    name: "the same user in two realms, blanks and UTF-8 kept",
    input: `u:r:${U_MD5}\nu:other realm:${U_MD5}\nJäsøn :r:${U_MD5}\n`,
    value: [
      uMd5,
      { ...uMd5, realm: "other realm" },
      { ...uMd5, username: "Jäsøn " },
    ],
    canonical: `u:r:${U_MD5}\nu:other realm:${U_MD5}\nJäsøn :r:${U_MD5}\n`,
  },
  {
    name: "an empty name and realm",
    input: `::${U_MD5}\n`,
    value: [{ ...uMd5, username: "", realm: "" }],
    canonical: `::${U_MD5}\n`,
  },
  { name: "an empty file", input: "", value: [], canonical: "" },
  { name: "only comments", input: "# nobody yet\n\n", value: [], canonical: "" },
];

Deno.test("parseHtdigest() reads name:realm:HA1 lines, MD5 and SHA-256", async (t) => {
  for (const { name, input, value } of FILES) {
    await t.step(name, () => assert.deepEqual(parseHtdigest(input), value));
  }
});

Deno.test("parseHtdigest() entries match digestHa1()", () => {
  const [entry] = parseHtdigest(`Mufasa:testrealm@host.com:${MUFASA_MD5}\n`);
  assert.equal(digestHa1(entry.algorithm, entry.username, entry.realm, "CircleOfLife"), entry.ha1);
  const [sha] = parseHtdigest(`u:r:${U_SHA256}\n`);
  assert.equal(digestHa1(sha.algorithm, "u", "r", "p"), sha.ha1);
});

Deno.test("parseHtdigest() throws ParseError naming the file and line, never the line", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["two fields", `u:${U_MD5}`, /line 1: expected name:realm:HA1/],
    ["a realm with a colon", `u:r:x:${U_MD5}`, /line 1: expected name:realm:HA1/],
    [
      "a password in clear",
      "u:r:password",
      /line 1: HA1 is not 32 \(MD5\) or 64 \(SHA-256\) hex digits/,
    ],
    ["31 hex digits", `u:r:${U_MD5.slice(1)}`, /HA1 is not 32/],
    ["40 hex digits (SHA-1)", `u:r:${U_SHA256.slice(0, 40)}`, /HA1 is not 32/],
    ["65 hex digits", `u:r:${U_SHA256}0`, /HA1 is not 32/],
    ["an empty HA1", "u:r:", /HA1 is not 32/],
    ["a blank inside the HA1", `u:r:${U_MD5.slice(0, 16)} ${U_MD5.slice(17)}`, /HA1 is not 32/],
    ["a CR inside a name", `u\rx:r:${U_MD5}`, /control character in the name or realm/],
    ["a NUL in a realm", `u:r\u0000:${U_MD5}`, /control character in the name or realm/],
    [
      "a repeated entry",
      `u:r:${U_MD5}\n# x\nu:r:${MUFASA_MD5}`,
      /line 3: repeats the MD5 entry of line 1/,
    ],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, () => {
      const error = catchError(() => parseHtdigest(input, "users.htdigest"), ParseError);
      assert.match(error.message, /^Cannot parse htdigest file "users\.htdigest": line \d+: /);
      assert.match(error.message, message);
      // An HA1 is as good as the password: it never reaches a log.
      for (const secret of [U_MD5.slice(0, 16), MUFASA_MD5.slice(0, 16), "password"]) {
        assert.doesNotMatch(error.message, new RegExp(secret));
      }
    });
  }
});

Deno.test("parseHtdigest() without a file name, and the offset of the bad line", () => {
  const text = `# users\r\nu:r:${U_MD5}\r\nbad line\r\n`;
  const error = catchError(() => parseHtdigest(text), ParseError);
  assert.equal(error.message, "Cannot parse htdigest: line 3: expected name:realm:HA1");
  assert.equal(error.offset, text.indexOf("bad line"));
  const bom = catchError(() => parseHtdigest("\ufeffbad"), ParseError);
  assert.equal(bom.offset, 1);
});

Deno.test("serializeHtdigest() writes canonical files that read back the same", async (t) => {
  for (const { name, input, value, canonical } of FILES) {
    await t.step(name, () => {
      assert.equal(serializeHtdigest(parseHtdigest(input)), canonical);
      assert.equal(serializeHtdigest(value), canonical);
      assert.deepEqual(parseHtdigest(canonical), value);
    });
  }
  assert.equal(serializeHtdigest([{ ...uMd5, ha1: U_MD5.toUpperCase() }]), `u:r:${U_MD5}\n`);
});

Deno.test("serializeHtdigest() throws TypeError for an entry it cannot write", async (t) => {
  const cases: [string, HtdigestEntry, RegExp][] = [
    ["a colon in the name", { ...uMd5, username: "a:b" }, /":" or control character/],
    ["a colon in the realm", { ...uMd5, realm: "a:b" }, /":" or control character/],
    ["a line break in the name", { ...uMd5, username: "a\nb" }, /":" or control character/],
    ["a name read as a comment", { ...uMd5, username: "#u" }, /reads as a comment/],
    ["a comment after blanks", { ...uMd5, username: " \t#u" }, /reads as a comment/],
    ["a name read as a byte-order mark", { ...uMd5, username: "\ufeffu" }, /byte-order mark/],
    ["a SHA-256 HA1 called MD5", { ...uMd5, ha1: U_SHA256 }, /HA1 is not 32 hex digits \(MD5\)/],
    ["an MD5 HA1 called SHA-256", { ...uSha, ha1: U_MD5 }, /HA1 is not 64 hex digits/],
    ["an HA1 not hex", { ...uMd5, ha1: "z".repeat(32) }, /HA1 is not 32 hex digits/],
    ["an unknown algorithm", { ...uMd5, algorithm: "SHA-1" as "MD5" }, /unknown algorithm/],
  ];
  for (const [name, entry, message] of cases) {
    await t.step(name, () => {
      const error = catchError(() => serializeHtdigest([uSha, entry]), TypeError);
      assert.match(error.message, /^Cannot serialize htdigest entry 1: /);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /[0-9a-f]{16}/, "an HA1 in the message");
    });
  }
});

Deno.test("parseHtdigest() takes linear time over long runs of blanks", () => {
  const blanks = " ".repeat(100_000);
  catchError(() => parseHtdigest(`${blanks}x${blanks}y\n`), ParseError);
  assert.deepEqual(parseHtdigest(`u:r:${U_MD5}${blanks}\t${blanks}\n`), [uMd5]);
});
