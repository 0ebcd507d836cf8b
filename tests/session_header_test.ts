import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { parseSession, serializeSession } from "../lib/wire/session_header.ts";
import { catchError } from "./_helpers.ts";

Deno.test("parseSession() reads the id and an optional timeout", async (t) => {
  const cases: [string, { id: string; timeout?: number }][] = [
    ["12345678", { id: "12345678" }],
    ["123456", { id: "123456" }],
    ["12345678;timeout=60", { id: "12345678", timeout: 60 }],
    ["  abcDEF  ", { id: "abcDEF" }],
    ["abc ; timeout = 30 ", { id: "abc", timeout: 30 }],
    ["abc;Timeout=5", { id: "abc", timeout: 5 }],
    ["a$-_.+9", { id: "a$-_.+9" }],
    ["abc;foo=bar", { id: "abc" }],
    ["abc;timeout=x", { id: "abc" }],
    ["abc;foo=1;timeout=0", { id: "abc", timeout: 0 }],
  ];
  for (const [input, expected] of cases) {
    await t.step(JSON.stringify(input), () => assert.deepEqual(parseSession(input), expected));
  }
});

Deno.test("parseSession() throws ParseError for a bad session id", async (t) => {
  for (const input of ["", "   ", ";timeout=60", "a b", "a,b", "a:b", "séance", "a\tb", '"abc"']) {
    await t.step(JSON.stringify(input), () => {
      const error = catchError(() => parseSession(input), ParseError);
      assert.match(error.message, /^Cannot parse Session: bad session id/);
    });
  }
});

Deno.test("serializeSession() writes the id and the timeout only when present", () => {
  assert.equal(serializeSession({ id: "12345678" }), "12345678");
  assert.equal(serializeSession({ id: "12345678", timeout: 60 }), "12345678;timeout=60");
  assert.equal(serializeSession({ id: "abc", timeout: 0 }), "abc;timeout=0");
});

Deno.test("serializeSession() output parses back to the same header", () => {
  for (const session of [{ id: "A1B2" }, { id: "xyz", timeout: 65 }]) {
    assert.deepEqual(parseSession(serializeSession(session)), session);
  }
});
