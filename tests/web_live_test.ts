/**
 * `/live/<file>` (the file as a live MJPEG stream over HTTP) and
 * `/snapshot/<file>?t=SEC` (one JPEG): the right frames, paced, counted as
 * sessions, ended cleanly; and a browser plays the stream.
 */
import assert from "node:assert/strict";
import { sameBytes } from "./_helpers.ts";
import { runCommand, tail } from "./_peers.ts";
import { RawConn, readLabFrames, req, sleep, waitUntil } from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";
import { grayPixels, haveChromium, MultipartReader, rawHttp, screenshot } from "./_web.ts";

const FRAMES = await readLabFrames();
const WIDTH = 384;
const HEIGHT = 288;

function httpUrl(srv: TestServer, path: string): string {
  return `http://127.0.0.1:${srv.server.httpAddr!.port}${path}`;
}

/** A live view being read. */
async function openLive(srv: TestServer, path = "/live/video.mjpeg"): Promise<MultipartReader> {
  const response = await fetch(httpUrl(srv, path));
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  assert.equal(response.headers.get("content-type"), "multipart/x-mixed-replace; boundary=frame");
  return new MultipartReader(response.body!, "frame");
}

/** Every frame of the file decoded to grey levels by ffmpeg, WIDTH × HEIGHT bytes each. */
async function decodedFrames(): Promise<Uint8Array[]> {
  const joined = new Uint8Array(FRAMES.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of FRAMES) {
    joined.set(frame, offset);
    offset += frame.length;
  }
  const result = await runCommand(
    "ffmpeg",
    [
      ...["-nostdin", "-v", "error", "-f", "jpeg_pipe", "-i", "pipe:0"],
      ...["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
    ],
    { timeoutMs: 30_000, stdin: joined },
  );
  assert.ok(result.success, `ffmpeg decoding the frames: ${tail(result.stderr)}`);
  const size = WIDTH * HEIGHT;
  assert.equal(result.stdout.length, size * FRAMES.length);
  return FRAMES.map((_, k) => result.stdout.subarray(k * size, (k + 1) * size));
}

/**
 * The frame of the file a 640×480 screenshot shows (Chromium centres an
 * image document), and how far it is from it (mean absolute grey difference).
 */
function bestFrame(shot: Uint8Array, frames: Uint8Array[]): { index: number; distance: number } {
  const left = (640 - WIDTH) / 2;
  const top = (480 - HEIGHT) / 2;
  let best = { index: -1, distance: Infinity };
  frames.forEach((frame, index) => {
    let sum = 0;
    for (let y = 0; y < HEIGHT; y += 2) {
      for (let x = 0; x < WIDTH; x += 2) {
        sum += Math.abs(shot[(top + y) * 640 + left + x] - frame[y * WIDTH + x]);
      }
    }
    const distance = sum / ((HEIGHT / 2) * (WIDTH / 2));
    if (distance < best.distance) best = { index, distance };
  });
  return best;
}

Deno.test("a browser plays /live/video.mjpeg: the screenshots show the file's frames, and one a second later another", async () => {
  if (!await haveChromium()) return;
  await using srv = await startServer({ httpPort: 0, fps: 20 });
  const dir = await Deno.makeTempDir({ prefix: "rtsp_test_live_" });
  try {
    const url = httpUrl(srv, "/live/video.mjpeg");
    await screenshot(url, `${dir}/a.png`, 1500);
    await screenshot(url, `${dir}/b.png`, 2500);
    const [a, b] = [await grayPixels(`${dir}/a.png`), await grayPixels(`${dir}/b.png`)];
    assert.equal(a.length, 640 * 480);
    assert.equal(b.length, 640 * 480);
    for (const [name, shot] of [["first", a], ["second", b]] as const) {
      const levels = new Set(shot).size;
      const counts = new Map<number, number>();
      for (const v of shot) counts.set(v, (counts.get(v) ?? 0) + 1);
      const mode = Math.max(...counts.values());
      assert.ok(levels > 20 && mode < 0.9 * shot.length, `${name} screenshot is blank`);
    }
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 16) differing++;
    assert.ok(differing > 200, `the screenshots differ in only ${differing} pixels`);
    const frames = await decodedFrames();
    const first = bestFrame(a, frames);
    const second = bestFrame(b, frames);
    assert.ok(
      first.distance < 6,
      `first screenshot matches no frame (best ${JSON.stringify(first)})`,
    );
    assert.ok(
      second.distance < 6,
      `second screenshot matches no frame (${JSON.stringify(second)})`,
    );
    // A second apart in the stream (each browser's view starts at the first frame): ~20 frames.
    const apart = second.index - first.index;
    assert.ok(
      first.index > 0 && apart >= 10 && apart <= 30,
      `frames ${first.index} then ${second.index}`,
    );
    // Each browser went, and its view ended with it.
    assert.ok(await waitUntil(() => srv.server.sessions.size === 0, 1000));
    assert.ok(
      await waitUntil(
        () => srv.logs.filter((l) => /HTTP live view \d+ .* ended after/.test(l)).length === 2,
        3000,
      ),
      srv.logText(),
    );
    assert.equal((await srv.server.status()).totals.liveViews, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/live/ sends the file's frames in order at the server's fps, and ends after the last", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 100 });
  const live = await openLive(srv);
  const parts: Uint8Array[] = [];
  const times: number[] = [];
  for (;;) {
    const part = await live.next(3000);
    if (!part) break;
    parts.push(part);
    times.push(performance.now());
  }
  assert.equal(parts.length, FRAMES.length);
  parts.forEach((part, i) => assert.ok(sameBytes(part, FRAMES[i]), `part ${i} is frame ${i}`));
  const seconds = (times.at(-1)! - times[0]) / 1000;
  assert.ok(seconds > 1.8 && seconds < 4, `199 frame periods at 100 fps took ${seconds} s`);
  const status = await srv.server.status();
  assert.equal(status.totals.http!.liveViews, 1);
  assert.equal(status.totals.liveViews, 0, "the view ended with its file");
  assert.match(
    srv.logText(),
    /HTTP live view \d+ of \/live\/video\.mjpeg ended after 200 frames \(0 dropped/,
  );
});

Deno.test("/live/?t=5 starts at the frame of 5 s; a client that goes ends its view", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 20 });
  const live = await openLive(srv, "/live/video.mjpeg?t=5");
  try {
    assert.ok(sameBytes((await live.next())!, FRAMES[100]));
    assert.ok(sameBytes((await live.next())!, FRAMES[101]));
    const [view] = (await srv.server.status()).sessions;
    assert.equal(view.dialect, "http");
    assert.equal(view.transport, "http");
    assert.equal(view.file, "video.mjpeg");
    assert.equal(view.state, "playing");
    assert.equal(view.packetsSent, null);
    assert.ok(view.positionSec > 5 && view.positionSec < 6);
  } finally {
    await live.cancel();
  }
  assert.ok(
    await waitUntil(() => srv.logs.some((l) => /live view \d+ .* ended after/.test(l)), 3000),
    "the view ended when its client went",
  );
  assert.equal((await srv.server.status()).sessions.length, 0);
  for (const t of ["10", "-1", "abc", "1e3", "Infinity"]) {
    const reply = await rawHttp(
      srv.server.httpAddr!.port,
      `GET /live/video.mjpeg?t=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(reply.status, 400, `t=${t}`);
  }
  assert.equal((await srv.server.status()).sessions.length, 0, "a refused view holds no place");
});

Deno.test("live views count against --max-sessions", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 20, maxSessions: 1, loop: true });
  const live = await openLive(srv);
  const conn = await RawConn.connect(srv.port);
  try {
    assert.ok(await live.next());
    const setup = (cseq: number) =>
      conn.request(
        req("SETUP", srv.url("video.mjpeg"), {
          CSeq: cseq,
          Transport: "RTP/AVP;unicast;client_port=40100-40101",
        }),
      );
    assert.match(await setup(1), /^RTSP\/1\.0 453 /);
    const second = await rawHttp(
      srv.server.httpAddr!.port,
      "GET /live/video.mjpeg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "5");
    assert.equal((await srv.server.status()).totals.sessionsRefused, 2);
    await live.cancel();
    assert.ok(await waitUntil(() => srv.logs.some((l) => /live view .* ended/.test(l)), 3000));
    assert.match(await setup(2), /^RTSP\/1\.0 200 /);
  } finally {
    await live.cancel();
    await conn.close();
  }
});

Deno.test("closing the server ends its live views", async () => {
  const srv = await startServer({ httpPort: 0, fps: 20, loop: true });
  const live = await openLive(srv);
  try {
    assert.ok(await live.next());
    const closing = srv.close();
    // The body ends (no more parts) rather than hanging.
    let ended = false;
    for (let i = 0; i < 10 && !ended; i++) ended = (await live.next(3000)) === undefined;
    assert.ok(ended, "the live view's body ended");
    await closing;
  } finally {
    await live.cancel();
    await srv.close();
  }
});

Deno.test("/snapshot/ answers the frame at t, as a JPEG; HEAD its head only", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 20 });
  const port = srv.server.httpAddr!.port;
  const get = (path: string, method = "GET") =>
    rawHttp(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  for (
    const [t, index] of [["0", 0], ["", 0], ["5", 100], ["5.04", 100], ["5.05", 101], [
      "9.99",
      199,
    ]] as const
  ) {
    const reply = await get(`/snapshot/video.mjpeg${t === "" ? "" : `?t=${t}`}`);
    assert.equal(reply.status, 200, `t=${t}`);
    assert.equal(reply.headers.get("content-type"), "image/jpeg");
    assert.ok(sameBytes(reply.body, FRAMES[index]), `t=${t} is frame ${index}`);
  }
  for (const t of ["10", "-1", "abc", "1e3", "0x10", "NaN"]) {
    assert.equal((await get(`/snapshot/video.mjpeg?t=${t}`)).status, 400, `t=${t}`);
  }
  const head = await get("/snapshot/video.mjpeg?t=5", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get("content-length"), String(FRAMES[100].length));
  // The shared frames are untouched by what HTTP sent: a session still gets them.
  await sleep(0);
  assert.ok(sameBytes((await get("/snapshot/video.mjpeg?t=5")).body, FRAMES[100]));
});
