import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";

Deno.test("ParseError() is a SyntaxError named ParseError with the given message", () => {
  const error = new ParseError("Cannot parse thing: bad byte", 7);
  assert.ok(error instanceof ParseError);
  assert.ok(error instanceof SyntaxError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ParseError");
  assert.equal(error.message, "Cannot parse thing: bad byte");
  assert.equal(error.offset, 7);
});

Deno.test("ParseError() defaults offset to 0 when none is given", () => {
  assert.equal(new ParseError("Cannot parse thing").offset, 0);
});

Deno.test("ParseError() includes its name and message in String() and a stack", () => {
  const error = new ParseError("Cannot parse thing: bad byte", 3);
  assert.equal(String(error), "ParseError: Cannot parse thing: bad byte");
  assert.equal(typeof error.stack, "string");
  assert.match(error.stack!, /ParseError: Cannot parse thing: bad byte/);
});

Deno.test("ParseError() can be caught with assert.throws() by class", () => {
  assert.throws(() => {
    throw new ParseError("Cannot parse", 1);
  }, ParseError);
  assert.throws(() => {
    throw new SyntaxError("plain");
  }, (e) => !(e instanceof ParseError));
});
