/**
 * StreamClient's own lifecycle against our server (in process, 127.0.0.1).
 * Seeking is in client_seek_test.ts, whole streams in end_to_end_test.ts.
 */
import assert from "node:assert/strict";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { startServer } from "./_server.ts";

Deno.test("StreamClient.receive() without limits returns 'aborted' when the client is closed", async () => {
  await using srv = await startServer({ fps: 20 });
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port: srv.port,
    resource: "video.mjpeg",
    dialect: "rtsp",
  });
  let receiving: Promise<string> | undefined;
  try {
    await client.setup();
    await client.play();
    receiving = client.receive();
  } finally {
    await client.close();
  }
  // Before the fix the loop spun on the closed receiver, starving the event loop: a hang.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    receiving,
    new Promise((resolve) => timer = setTimeout(() => resolve("still receiving"), 2000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "aborted");
});
