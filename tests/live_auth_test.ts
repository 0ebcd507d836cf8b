/**
 * Publishing needs credentials like reading does: with users configured,
 * ffmpeg publishes only with a user's password, and a publish without one
 * (or with a wrong one) is refused before any path is claimed. No secret
 * reaches the log.
 */
import assert from "node:assert/strict";
import { requirePeer, runCommand, tail } from "./_peers.ts";
import { startServer } from "./_server.ts";

const PASSWORD = "pa55-live-s3cret";

function publish(url: string) {
  return runCommand("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-re",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=20",
    "-t",
    "1.5",
    "-c:v",
    "mjpeg",
    "-huffman",
    "default",
    "-pix_fmt",
    "yuvj420p",
    "-f",
    "rtsp",
    "-rtsp_transport",
    "tcp",
    url,
  ], { timeoutMs: 20_000 });
}

Deno.test("live auth: ffmpeg publishes with a user's credentials; without them, or wrong, ANNOUNCE is 401", async () => {
  if (!await requirePeer("ffmpeg", ["-version"])) return;
  await using s = await startServer({ users: [{ name: "alice", password: PASSWORD }] });
  const url = (user: string) => `rtsp://${user}127.0.0.1:${s.port}/live/cam`;

  const none = await publish(url(""));
  assert.equal(none.success, false, "a publish without credentials fails");
  assert.match(none.stderr, /401/);
  const wrong = await publish(url("alice:not-it@"));
  assert.equal(wrong.success, false, "a publish with a wrong password fails");
  assert.equal((await s.server.status()).live.length, 0, "no path was claimed");

  const good = await publish(url(`alice:${PASSWORD}@`));
  assert.ok(good.success, `ffmpeg publishes with the password:\n${tail(good.stderr)}`);
  const gone = await s.waitForLog(/live\/cam: publisher .* gone; (\d+) frames taken/, 5000);
  const frames = Number(/gone; (\d+) frames taken/.exec(gone)![1]);
  assert.ok(frames >= 20, `${frames} frames taken from the publisher`);
  assert.match(s.logText(), /ANNOUNCE \S+ session=- 401/);
  assert.match(s.logText(), /RECORD \S+ session=\d+ 200/);
  assert.ok(!s.logText().includes(PASSWORD), "the password is not in the log");
});
