import assert from "node:assert/strict";
import { OTHER_METHOD, RequestCounts } from "../lib/session/server/request_counts.ts";

Deno.test("RequestCounts counts by method and status; unknown methods as other", () => {
  const counts = new RequestCounts(["OPTIONS", "PLAY"]);
  counts.count("PLAY", 200);
  counts.count("PLAY", 200);
  counts.count("PLAY", 455);
  counts.count("OPTIONS", 200);
  for (let i = 0; i < 100; i++) counts.count(`X${i}`, 501); // a hundred made-up methods
  counts.count(undefined, 400); // did not parse that far
  assert.deepEqual(counts.entries(), [
    { method: "OPTIONS", status: 200, count: 1 },
    { method: "PLAY", status: 200, count: 2 },
    { method: "PLAY", status: 455, count: 1 },
    { method: OTHER_METHOD, status: 400, count: 1 },
    { method: OTHER_METHOD, status: 501, count: 100 },
  ]);
  assert.equal(counts.total, 105);
});
