import assert from "node:assert/strict";
import { RtspHeaders } from "../lib/wire/rtsp_headers.ts";

// --- RtspHeaders ----------------------------------------------------------------------------------

Deno.test("RtspHeaders() keeps insertion order and spelling from a record", () => {
  const headers = new RtspHeaders({ CSeq: "1", "Content-Type": "application/sdp", session: "42" });
  assert.deepEqual([...headers], [["CSeq", "1"], ["Content-Type", "application/sdp"], [
    "session",
    "42",
  ]]);
  assert.equal(headers.size, 3);
});

Deno.test("RtspHeaders() accepts pairs, including duplicates, and another RtspHeaders", () => {
  const pairs: [string, string][] = [["Via", "a"], ["CSeq", "2"], ["via", "b"]];
  const headers = new RtspHeaders(pairs);
  assert.deepEqual([...headers], pairs);
  const copy = new RtspHeaders(headers);
  assert.deepEqual([...copy], pairs);
  copy.set("CSeq", "3");
  assert.equal(headers.get("cseq"), "2", "the copy is independent");
});

Deno.test("RtspHeaders() starts empty without init", () => {
  const headers = new RtspHeaders();
  assert.equal(headers.size, 0);
  assert.deepEqual([...headers], []);
  assert.equal(headers.get("CSeq"), undefined);
});

Deno.test("RtspHeaders.get() and has() ignore case; get() returns the first value", () => {
  const headers = new RtspHeaders([["CSeq", "7"], ["Via", "first"], ["VIA", "second"]]);
  for (const name of ["CSeq", "cseq", "CSEQ", "cSeQ"]) {
    assert.equal(headers.get(name), "7", name);
    assert.equal(headers.has(name), true, name);
  }
  assert.equal(headers.get("via"), "first");
  assert.equal(headers.has("Session"), false);
  assert.equal(headers.get("Session"), undefined);
});

Deno.test("RtspHeaders.has() is true for a header with an empty value", () => {
  const headers = new RtspHeaders([["X-Empty", ""]]);
  assert.equal(headers.has("x-empty"), true);
  assert.equal(headers.get("X-EMPTY"), "");
});

Deno.test("RtspHeaders.append() adds after existing headers and keeps duplicates", () => {
  const headers = new RtspHeaders({ A: "1" });
  const returned = headers.append("b", "2").append("A", "3");
  assert.equal(returned, headers);
  assert.deepEqual([...headers], [["A", "1"], ["b", "2"], ["A", "3"]]);
  assert.equal(headers.size, 3);
});

Deno.test("RtspHeaders.set() replaces every same-named header at the first one's place", () => {
  const headers = new RtspHeaders([["A", "1"], ["cseq", "1"], ["B", "2"], ["CSEQ", "9"]]);
  const returned = headers.set("CSeq", "5");
  assert.equal(returned, headers);
  assert.deepEqual([...headers], [["A", "1"], ["CSeq", "5"], ["B", "2"]]);
  assert.equal(headers.size, 3);
});

Deno.test("RtspHeaders.set() appends when the header is absent", () => {
  const headers = new RtspHeaders({ A: "1" });
  headers.set("Session", "abc");
  assert.deepEqual([...headers], [["A", "1"], ["Session", "abc"]]);
});

Deno.test("RtspHeaders.delete() removes every header of that name, any case", () => {
  const headers = new RtspHeaders([["Via", "a"], ["CSeq", "1"], ["VIA", "b"], ["via", "c"]]);
  const returned = headers.delete("vIa");
  assert.equal(returned, headers);
  assert.deepEqual([...headers], [["CSeq", "1"]]);
  assert.equal(headers.has("via"), false);
  headers.delete("Absent");
  assert.equal(headers.size, 1);
});

Deno.test("RtspHeaders.getAll() returns every value of a name, any case, in order", () => {
  // GStreamer's server answers 401 with one WWW-Authenticate header per scheme.
  const headers = new RtspHeaders([
    ["CSeq", "2"],
    ["WWW-Authenticate", 'Basic realm="GStreamer RTSP Server"'],
    ["Server", "GStreamer RTSP server"],
    ["www-authenticate", 'Digest realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e"'],
  ]);
  assert.deepEqual(headers.getAll("WWW-Authenticate"), [
    'Basic realm="GStreamer RTSP Server"',
    'Digest realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e"',
  ]);
  assert.deepEqual(headers.getAll("cseq"), ["2"]);
  assert.equal(headers.get("WWW-AUTHENTICATE"), headers.getAll("WWW-AUTHENTICATE")[0]);
});

Deno.test("RtspHeaders.getAll() returns an empty list for an absent name, and a copy", () => {
  const headers = new RtspHeaders([["X-Empty", ""], ["Via", "a"]]);
  assert.deepEqual(headers.getAll("Authorization"), []);
  assert.deepEqual(headers.getAll("x-empty"), [""]);
  const values = headers.getAll("via");
  values.push("b");
  assert.deepEqual(headers.getAll("Via"), ["a"], "changing the list leaves the headers alone");
  headers.append("VIA", "c").delete("x-empty");
  assert.deepEqual(headers.getAll("via"), ["a", "c"]);
});

// --- Transport ------------------------------------------------------------------------------------
