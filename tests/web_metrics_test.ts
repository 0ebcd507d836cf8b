/**
 * `/metrics`: Prometheus' own checker accepts it, its labels stay bounded
 * whatever clients send, and its RTP counter agrees with what a client
 * counted on its side.
 */
import assert from "node:assert/strict";
import { StreamClient } from "../lib/session/client/stream_client.ts";
import { requirePeer, runCommand } from "./_peers.ts";
import { RawConn, req } from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";
import { MultipartReader, rawHttp } from "./_web.ts";

async function metrics(srv: TestServer): Promise<string> {
  const reply = await rawHttp(
    srv.server.httpAddr!.port,
    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return new TextDecoder().decode(reply.body);
}

/** The value of each sample of `name`, by its label set as written. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && match[1] === name) found.set(match[2] ?? "", Number(match[3]));
  }
  return found;
}

function sum(values: Map<string, number>): number {
  return [...values.values()].reduce((a, b) => a + b, 0);
}

Deno.test("promtool check metrics accepts /metrics, and its labels stay bounded", async () => {
  if (!await requirePeer("promtool", ["--version"])) return;
  await using srv = await startServer({ httpPort: 0, fps: 50, loop: true });
  const port = srv.server.httpAddr!.port;
  // Some of everything: a session, a live view, errors, methods nobody knows.
  const conn = await RawConn.connect(srv.port);
  const live = await fetch(`http://127.0.0.1:${port}/live/video.mjpeg`);
  const parts = new MultipartReader(live.body!, "frame");
  try {
    const reply = await conn.request(
      req("SETUP", srv.url("video.mjpeg"), {
        CSeq: 1,
        Transport: "RTP/AVP;unicast;client_port=40200-40201",
      }),
    );
    assert.match(reply, /^RTSP\/1\.0 200 /);
    assert.ok(await parts.next());
    for (let i = 0; i < 20; i++) {
      const method = Array.from(
        crypto.getRandomValues(new Uint8Array(10)),
        (b) => String.fromCharCode(65 + b % 26),
      ).join("");
      assert.match(await conn.request(req(method, "*", { CSeq: 2 + i })), /^RTSP\/1\.0 501 /);
      const http = await rawHttp(
        port,
        `${method} /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(http.status, 405);
    }
    assert.equal(
      (await rawHttp(port, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")).status,
      404,
    );
    const text = await metrics(srv);

    const check = await runCommand("promtool", ["check", "metrics"], {
      timeoutMs: 20_000,
      stdin: new TextEncoder().encode(text),
    });
    assert.ok(
      check.success,
      `promtool: ${new TextDecoder().decode(check.stdout)}${check.stderr}\n${text}`,
    );

    const rtspMethods = new Set(
      [...samples(text, "rtsp_server_requests_total").keys()].map((l) =>
        /method="([^"]*)"/.exec(l)![1]
      ),
    );
    assert.deepEqual([...rtspMethods].sort(), ["SETUP", "other"]);
    const httpMethods = new Set(
      [...samples(text, "rtsp_server_http_requests_total").keys()].map((l) =>
        /method="([^"]*)"/.exec(l)![1]
      ),
    );
    assert.deepEqual([...httpMethods].sort(), ["GET", "other"]);
    assert.equal(
      samples(text, "rtsp_server_requests_total").get('{method="other",status="501"}'),
      20,
    );
    assert.equal(
      samples(text, "rtsp_server_sessions").get('{dialect="rtsp",transport="udp"}'),
      1,
    );
    assert.equal(samples(text, "rtsp_server_sessions").get('{dialect="http",transport="http"}'), 1);
    assert.equal(samples(text, "rtsp_server_http_requests_in_progress").get(""), 2); // live + this
    // No label carries a session, a client or a file.
    assert.doesNotMatch(text, /127\.0\.0\.1|video\.mjpeg|session="|client="/);
    const rss = samples(text, "process_resident_memory_bytes").get("")!;
    assert.ok(rss > 10e6 && rss < 10e9, `resident memory ${rss}`);
    assert.ok(samples(text, "process_cpu_seconds_total").get("")! > 0);
    const buckets = samples(text, "rtsp_server_pacing_lateness_seconds_bucket");
    assert.equal(buckets.size, 12);
    assert.equal(
      buckets.get('{le="+Inf"}'),
      samples(text, "rtsp_server_pacing_lateness_seconds_count").get(""),
    );
  } finally {
    await parts.cancel();
    await conn.close();
  }
});

Deno.test("after a client played video.mjpeg whole, the RTP packet counter equals what it received plus what it lost", async () => {
  await using srv = await startServer({ httpPort: 0, fps: 100 });
  const client = await StreamClient.open({
    host: "127.0.0.1",
    port: srv.port,
    rtpPort: 0,
    resource: "video.mjpeg",
    dialect: "rtsp",
    transport: "udp",
  });
  try {
    await client.setup();
    await client.play();
    await client.receive({ endAfterSec: 1, firstPacketTimeoutSec: 5 });
    await client.teardown();
  } finally {
    await client.close();
  }
  const counted = client.stats.summary();
  assert.equal(counted.framesReceived, 200, "the client played the whole file");
  const text = await metrics(srv);
  const packets = samples(text, "rtsp_server_rtp_packets_sent_total");
  assert.equal(sum(packets), counted.packetsReceived + counted.packetsLost);
  assert.equal(packets.get('{transport="udp"}'), counted.packetsReceived + counted.packetsLost);
  assert.equal(packets.get('{transport="tcp"}'), 0);
  if (counted.packetsLost === 0) {
    assert.equal(sum(samples(text, "rtsp_server_rtp_payload_bytes_sent_total")), counted.bytes);
  }
  assert.equal(samples(text, "rtsp_server_sessions_created_total").get(""), 1);
  assert.equal(sum(samples(text, "rtsp_server_sessions")), 0);
});
