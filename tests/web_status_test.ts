/**
 * The server's status: {@linkcode RtspServer.status}, `/status.json`, and
 * the status page as headless Chromium renders it while clients play.
 */
import assert from "node:assert/strict";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import type { ClientTransport } from "../lib/session/client/client_options.ts";
import type { ServerStatus, SessionStatus } from "../lib/session/server/server_status.ts";
import type { Dialect } from "../lib/wire/dialect.ts";
import { RawConn, req, waitUntil } from "./_raw_rtsp.ts";
import { startServer } from "./_server.ts";
import { dumpDom, haveChromium, rawHttp } from "./_web.ts";

interface Player {
  client: StreamClient;
  receiving: Promise<unknown>;
}

/** A client that has set up and started playing; it receives in the background. */
async function startPlayer(
  port: number,
  dialect: Dialect,
  transport: ClientTransport,
): Promise<Player> {
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port,
    rtpPort: 0,
    resource: "video.mjpeg",
    dialect,
    transport,
    rtcpIntervalSec: 0.5,
  });
  await client.setup();
  await client.play();
  const receiving = client.receive({ endAfterSec: 1, firstPacketTimeoutSec: 5 });
  return { client, receiving };
}

async function stopPlayer(player: Player): Promise<void> {
  await player.client.teardown().catch(() => {});
  await player.client.close();
  await player.receiving.catch(() => {});
}

/** The text of each `data-field` cell of each session row of a dumped status page. */
function sessionRows(html: string): Map<string, Record<string, string>> {
  const rows = new Map<string, Record<string, string>>();
  for (const row of html.matchAll(/<tr data-session="([^"]+)">(.*?)<\/tr>/gs)) {
    const fields: Record<string, string> = {};
    for (const cell of row[2].matchAll(/<td[^>]*data-field="([^"]+)"[^>]*>([^<]*)<\/td>/g)) {
      fields[cell[1]] = cell[2];
    }
    rows.set(row[1], fields);
  }
  return rows;
}

/** The raw value of each total a dumped status page shows. */
function pageTotals(html: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const cell of html.matchAll(/<td\b([^>]*)>/g)) {
    const key = /data-total="([^"]+)"/.exec(cell[1])?.[1];
    const value = /data-value="([^"]+)"/.exec(cell[1])?.[1];
    if (key !== undefined && value !== undefined) totals.set(key, Number(value));
  }
  return totals;
}

Deno.test("the status page, while three clients play, lists the three sessions with their transports, and its totals match the server's", async () => {
  if (!await haveChromium()) return;
  await using srv = await startServer({ httpPort: 0, fps: 20 });
  const players: Player[] = [];
  try {
    players.push(await startPlayer(srv.port, "lab", "udp"));
    players.push(await startPlayer(srv.port, "rtsp", "udp"));
    players.push(await startPlayer(srv.port, "rtsp", "tcp"));
    const ids = players.map((p) => p.client.rtsp.session!);
    // Playing, and the standard clients have reported back at least once.
    assert.ok(
      await waitUntil(() => {
        const sessions = [...srv.server.sessions.values()];
        return sessions.length === 3 && sessions.every((s) => s.packetsSent > 0) &&
          sessions.filter((s) => s.lastReceiverReport !== undefined).length === 2;
      }, 8000),
      "three sessions playing, two with receiver reports",
    );
    const before = await srv.server.status();
    const html = await dumpDom(`http://127.0.0.1:${srv.server.httpAddr!.port}/`);
    const after = await srv.server.status();

    const rows = sessionRows(html);
    assert.deepEqual([...rows.keys()].sort(), [...ids].sort(), `page:\n${html}`);
    const expected: Record<string, [string, string]> = {
      [ids[0]]: ["lab", "udp"],
      [ids[1]]: ["rtsp", "udp"],
      [ids[2]]: ["rtsp", "tcp"],
    };
    for (const [id, fields] of rows) {
      assert.deepEqual([fields.dialect, fields.transport], expected[id], `session ${id}`);
      assert.equal(fields.file, "video.mjpeg");
      assert.equal(fields.state, "playing");
      assert.match(fields.client, /^127\.0\.0\.1:\d+$/);
    }

    // Every total shown lies between the server's counters just before and
    // just after the page read them; the ones that did not move, exactly.
    const totals = pageTotals(html);
    assert.ok(totals.size >= 15, `totals on the page: ${[...totals.keys()]}`);
    for (const [key, shown] of totals) {
      const low = before.totals[key as keyof ServerStatus["totals"]] as number;
      const high = after.totals[key as keyof ServerStatus["totals"]] as number;
      assert.equal(typeof low, "number", `total ${key} is a number in status()`);
      assert.ok(
        low <= shown && shown <= high,
        `total ${key}: page ${shown}, server ${low}..${high}`,
      );
    }
    assert.equal(totals.get("sessions"), 3);
    assert.equal(totals.get("sessionsCreated"), 3);
    assert.equal(totals.get("connections"), 3);
    assert.ok(totals.get("rtpPackets")! > 0);
    assert.match(
      html,
      /<div id="state"[^>]*>updated /,
      "the page's fetch of status.json succeeded",
    );
    assert.match(html, /<div id="pacing"[^>]*>p50 [\d.]+ ms, p99 [\d.]+ ms/);
    assert.match(html, /<tr data-file="video\.mjpeg">/);
  } finally {
    for (const player of players) await stopPlayer(player);
  }
});

Deno.test("RtspServer.status() and /status.json: files with their watchers, sessions with their client's receiver report", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 20 });
  const status0 = await srv.server.status();
  assert.deepEqual(
    status0.files.find((f) => f.name === "video.mjpeg"),
    {
      name: "video.mjpeg",
      bytes: (await Deno.stat(new URL("../video.mjpeg", import.meta.url))).size,
      loaded: false, // listing loads nothing
      frames: null,
      durationSec: null,
      width: null,
      height: null,
      watchers: 0,
    },
  );
  assert.ok(status0.files.every((f) => /\.mjpe?g$/i.test(f.name)), "only MJPEG files listed");
  const player = await startPlayer(srv.port, "rtsp", "udp");
  try {
    const id = player.client.rtsp.session!;
    assert.ok(
      await waitUntil(() => srv.server.sessions.get(id)?.lastReceiverReport !== undefined, 5000),
      "a receiver report arrived",
    );
    const status = await srv.server.status();
    assert.deepEqual(status.files.find((f) => f.name === "video.mjpeg"), {
      name: "video.mjpeg",
      bytes: status0.files.find((f) => f.name === "video.mjpeg")!.bytes,
      loaded: true,
      frames: 200,
      durationSec: 10,
      width: 384,
      height: 288,
      watchers: 1,
    });
    assert.equal(status.sessions.length, 1);
    const session: SessionStatus = status.sessions[0];
    assert.equal(session.id, id);
    assert.match(session.client, /^127\.0\.0\.1:\d+$/);
    assert.equal(session.file, "video.mjpeg");
    assert.equal(session.dialect, "rtsp");
    assert.equal(session.transport, "udp");
    assert.match(session.transportDescription, /^udp 127\.0\.0\.1:\d+-\d+$/);
    assert.equal(session.state, "playing");
    assert.ok(session.packetsSent! > 0 && session.bytesSent > 0 && session.framesSent > 0);
    assert.ok(session.ageSec >= 0 && session.ageSec < 10);
    const report = session.receiverReport;
    assert.ok(report, "the session shows its client's receiver report");
    assert.equal(report.fractionLost, 0);
    assert.equal(report.cumulativeLost, 0);
    assert.ok(report.jitterMs >= 0 && report.jitterMs < 50, `jitter ${report.jitterMs} ms`);
    assert.ok(report.ageSec >= 0 && report.ageSec < 5);
    assert.equal(status.totals.sessionsBy["rtsp/udp"], 1);
    assert.ok(status.totals.receiverReports >= 1);
    assert.equal(status.server.http, `http://127.0.0.1:${srv.server.httpAddr!.port}/`);

    // Without the lists (what /metrics asks for): no rows, the same session counts.
    const totalsOnly = await srv.server.status({ lists: false });
    assert.deepEqual(totalsOnly.sessions, []);
    assert.deepEqual(totalsOnly.files, []);
    assert.equal(totalsOnly.totals.sessions, 1);
    assert.deepEqual(totalsOnly.totals.sessionsBy, status.totals.sessionsBy);

    // /status.json is the same snapshot, as JSON, with the same shape.
    const reply = await rawHttp(
      srv.server.httpAddr!.port,
      "GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get("content-type"), "application/json");
    assert.equal(reply.headers.get("cache-control"), "no-store");
    const json = JSON.parse(new TextDecoder().decode(reply.body)) as ServerStatus;
    assert.deepEqual(shape(json), shape(JSON.parse(JSON.stringify(status))));
    assert.equal(json.sessions[0].id, id);
    // HEAD: the same head, no body.
    const head = await rawHttp(
      srv.server.httpAddr!.port,
      "HEAD /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.ok(Number(head.headers.get("content-length")) > 100);
  } finally {
    await stopPlayer(player);
  }
  // A session that ended leaves the list; what it sent stays in the totals.
  assert.ok(await waitUntil(() => srv.server.sessions.size === 0, 3000));
  const end = await srv.server.status();
  assert.deepEqual(end.sessions, []);
  assert.ok(end.totals.rtpPackets > 0);
  assert.equal(end.files.find((f) => f.name === "video.mjpeg")!.watchers, 0);
});

/** Keys and value types of a JSON value, recursively (arrays by their first element). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shape(v)]),
    );
  }
  return value === null ? "null" : typeof value;
}

Deno.test("without an HTTP port nothing of the web side exists", async () => {
  await using srv = await startServer();
  assert.equal(srv.server.httpAddr, undefined);
  const status = await srv.server.status();
  assert.equal(status.server.http, null);
  assert.equal(status.server.httpMaxRequests, null);
  assert.equal(status.totals.http, null);
});

Deno.test("RTSP requests are counted by method and status, an unknown method as other", async () => {
  await using srv = await startServer();
  const conn = await RawConn.connect(srv.port);
  try {
    const ask = async (method: string, uri: string, cseq: number) =>
      await conn.request(req(method, uri, { CSeq: cseq }));
    assert.match(await ask("OPTIONS", "*", 1), /^RTSP\/1\.0 200 /);
    assert.match(await ask("DESCRIBE", srv.url("video.mjpeg"), 2), /^RTSP\/1\.0 200 /);
    assert.match(await ask("DESCRIBE", srv.url("nope.mjpeg"), 3), /^RTSP\/1\.0 404 /);
    assert.match(await ask("FOO", "*", 4), /^RTSP\/1\.0 501 /);
    assert.match(await ask("BAR", "*", 5), /^RTSP\/1\.0 501 /);
  } finally {
    await conn.close();
  }
  const { requestsBy } = (await srv.server.status()).totals;
  assert.deepEqual(requestsBy, [
    { method: "DESCRIBE", status: 200, count: 1 },
    { method: "DESCRIBE", status: 404, count: 1 },
    { method: "OPTIONS", status: 200, count: 1 },
    { method: "other", status: 501, count: 2 },
  ]);
});
