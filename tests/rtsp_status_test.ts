import assert from "node:assert/strict";
import { reasonPhrase, RTSP_STATUS } from "../lib/wire/rtsp_status.ts";

Deno.test("reasonPhrase() returns the RFC 2326 phrase for known codes", async (t) => {
  const known: [number, string][] = [
    [200, "OK"],
    [400, "Bad Request"],
    [404, "Not Found"],
    [405, "Method Not Allowed"],
    [413, "Request Entity Too Large"],
    [414, "Request-URI Too Large"],
    [454, "Session Not Found"],
    [455, "Method Not Valid in This State"],
    [459, "Aggregate Operation Not Allowed"],
    [461, "Unsupported Transport"],
    [500, "Internal Server Error"],
    [501, "Not Implemented"],
    [505, "RTSP Version Not Supported"],
    [551, "Option Not Supported"],
  ];
  for (const [status, phrase] of known) {
    await t.step(`${status}`, () => assert.equal(reasonPhrase(status), phrase));
  }
});

Deno.test("reasonPhrase() agrees with RTSP_STATUS for every listed code", () => {
  const codes = Object.keys(RTSP_STATUS).map(Number);
  assert.ok(codes.length >= 20);
  for (const status of codes) {
    const phrase = reasonPhrase(status);
    assert.equal(phrase, RTSP_STATUS[status as keyof typeof RTSP_STATUS]);
    assert.ok(phrase.length > 0);
    assert.doesNotMatch(phrase, /[\r\n]/);
  }
});

Deno.test("reasonPhrase() returns a generic phrase for unlisted codes by class", async (t) => {
  const unknown: [number, string][] = [
    [201, "OK"],
    [250, "OK"],
    [299, "OK"],
    [402, "Client Error"],
    [456, "Client Error"],
    [499, "Client Error"],
    [502, "Server Error"],
    [599, "Server Error"],
  ];
  for (const [status, phrase] of unknown) {
    await t.step(`${status}`, () => assert.equal(reasonPhrase(status), phrase));
  }
});

Deno.test("reasonPhrase() does not call an unlisted 3xx redirection a client error", () => {
  // RFC 2326 §7.1.1: "3xx: Redirection"; 301/302/303/305 are defined in §11.
  for (const status of [300, 301, 302, 303, 305]) {
    assert.notEqual(reasonPhrase(status), "Client Error", `reasonPhrase(${status})`);
    assert.notEqual(reasonPhrase(status), "OK", `reasonPhrase(${status})`);
  }
});
