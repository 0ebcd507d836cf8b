import assert from "node:assert/strict";
import { RtspHeaders } from "../lib/wire/rtsp_headers.ts";
import {
  createRequest,
  createResponse,
  serializeInterleaved,
  serializeRequest,
  serializeResponse,
} from "../lib/wire/rtsp_message.ts";
import { RtspParser } from "../lib/wire/rtsp_parser.ts";
import { bytes, text } from "./_helpers.ts";

Deno.test("createRequest() fills version, kind and an empty body", () => {
  const request = createRequest("OPTIONS", "*", { CSeq: "1" });
  assert.equal(request.kind, "request");
  assert.equal(request.method, "OPTIONS");
  assert.equal(request.uri, "*");
  assert.equal(request.version, "RTSP/1.0");
  assert.ok(request.headers instanceof RtspHeaders);
  assert.equal(request.headers.get("cseq"), "1");
  assert.equal(request.body.length, 0);
  assert.equal(request.end, undefined);
  assert.equal(request.bareLf, undefined);
});

Deno.test("createRequest() keeps a given RtspHeaders object and encodes a string body", () => {
  const headers = new RtspHeaders([["CSeq", "4"]]);
  const request = createRequest("SET_PARAMETER", "rtsp://h/v", headers, "x: é");
  assert.equal(request.headers, headers);
  assert.deepEqual([...request.body], [...bytes("x: é")]);
});

Deno.test("createResponse() fills the reason phrase from the status", () => {
  const ok = createResponse(200, { CSeq: "1" });
  assert.equal(ok.kind, "response");
  assert.equal(ok.version, "RTSP/1.0");
  assert.equal(ok.status, 200);
  assert.equal(ok.reason, "OK");
  assert.equal(ok.body.length, 0);
  assert.equal(createResponse(454).reason, "Session Not Found");
  assert.equal(createResponse(461).reason, "Unsupported Transport");
  assert.equal(text(createResponse(200, {}, "v=0").body), "v=0");
});

Deno.test("serializeRequest() puts CSeq first and Session second, even when added later", () => {
  const request = createRequest("PLAY", "rtsp://127.0.0.1:8554/video.mjpeg", {
    Range: "npt=0-",
    Session: "12345678",
    "User-Agent": "lab",
    CSeq: "3",
  });
  assert.equal(
    text(serializeRequest(request)),
    "PLAY rtsp://127.0.0.1:8554/video.mjpeg RTSP/1.0\r\n" +
      "CSeq: 3\r\n" +
      "Session: 12345678\r\n" +
      "Range: npt=0-\r\n" +
      "User-Agent: lab\r\n" +
      "\r\n",
  );
});

Deno.test("serializeRequest() orders CSeq and Session case-insensitively, keeping spelling", () => {
  const headers = new RtspHeaders()
    .append("Transport", "RTP/AVP;unicast;client_port=5008-5009")
    .append("session", "abc")
    .append("X-Other", "1")
    .append("cseq", "2");
  assert.equal(
    text(serializeRequest(createRequest("SETUP", "rtsp://h/v", headers))),
    "SETUP rtsp://h/v RTSP/1.0\r\ncseq: 2\r\nsession: abc\r\n" +
      "Transport: RTP/AVP;unicast;client_port=5008-5009\r\nX-Other: 1\r\n\r\n",
  );
});

Deno.test("serializeResponse() puts CSeq first, Session second, then the rest in order", () => {
  const headers = new RtspHeaders()
    .append("Transport", "RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971")
    .append("Session", "12345678;timeout=60")
    .append("Date", "x")
    .append("CSeq", "2");
  assert.equal(
    text(serializeResponse(createResponse(200, headers))),
    "RTSP/1.0 200 OK\r\n" +
      "CSeq: 2\r\n" +
      "Session: 12345678;timeout=60\r\n" +
      "Transport: RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971\r\n" +
      "Date: x\r\n" +
      "\r\n",
  );
});

Deno.test("serializeResponse() writes only the status line and blank line when there are no headers", () => {
  assert.equal(text(serializeResponse(createResponse(404))), "RTSP/1.0 404 Not Found\r\n\r\n");
});

Deno.test("serializeResponse() writes Content-Length from the body, last, and the body after", () => {
  const sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n";
  const response = createResponse(200, { CSeq: "2", "Content-Type": "application/sdp" }, sdp);
  const wire = text(serializeResponse(response));
  assert.equal(
    wire,
    "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n" +
      `Content-Length: ${bytes(sdp).length}\r\n\r\n${sdp}`,
  );
});

Deno.test("serializeRequest() replaces a stale Content-Length with the body's byte length", () => {
  const body = bytes("héllo"); // 6 bytes, 5 characters
  const request = createRequest("SET_PARAMETER", "*", {
    "content-length": "999",
    CSeq: "9",
  }, body);
  const wire = text(serializeRequest(request));
  assert.equal(wire, "SET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 6\r\n\r\nhéllo");
  assert.doesNotMatch(wire, /999/);
});

Deno.test("serializeRequest() drops Content-Length entirely for an empty body", () => {
  const request = createRequest("OPTIONS", "*", { CSeq: "1", "Content-Length": "5" });
  assert.equal(text(serializeRequest(request)), "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
});

Deno.test("serializeResponse() in the lab dialect joins lines with LF and adds nothing after", () => {
  const response = createResponse(200, { Session: "123456", CSeq: "1" });
  const wire = text(serializeResponse(response, { dialect: "lab" }));
  assert.equal(wire, "RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456");
  assert.doesNotMatch(wire, /\r/);
  assert.doesNotMatch(wire, /\n$/);
});

Deno.test("serializeRequest() in the lab dialect writes what the lab client sends", () => {
  const request = createRequest("SETUP", "video.mjpeg", {
    CSeq: "1",
    Transport: "RTP/UDP; client_port= 5008",
  });
  assert.equal(
    text(serializeRequest(request, { dialect: "lab" })),
    "SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 5008",
  );
  assert.equal(
    text(serializeRequest(request, { dialect: "rtsp" })),
    "SETUP video.mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 5008\r\n\r\n",
  );
});

Deno.test("serializeResponse() in the lab dialect keeps a body apart from the last header", () => {
  // A parser must be able to read back what the serializer wrote; with no line
  // break before it the body would be glued onto "Content-Length: 5".
  const response = createResponse(200, { CSeq: "2" }, "hello");
  const wire = serializeResponse(response, { dialect: "lab" });
  assert.doesNotMatch(text(wire), /Content-Length: 5hello/);
  const parser = new RtspParser();
  const items = [...parser.push(wire)];
  const idle = parser.flushIdle();
  if (idle) items.push(idle);
  assert.equal(items.length, 1);
  const [parsed] = items;
  assert.equal(parsed.kind, "response");
  assert.equal(text(parsed.body), "hello");
});

Deno.test("serializeRequest() throws TypeError for a CR or LF in a header", async (t) => {
  const cases: [string, Record<string, string>][] = [
    ["LF in a value", { CSeq: "1", "X-Evil": "a\nInjected: yes" }],
    ["CR in a value", { CSeq: "1", "X-Evil": "a\rb" }],
    ["CRLF in a value", { CSeq: "1", "X-Evil": "a\r\n\r\nPLAY x RTSP/1.0" }],
    ["LF in CSeq", { CSeq: "1\n" }],
    ["LF in Session", { CSeq: "1", Session: "abc\nx" }],
    ["LF in a name", { CSeq: "1", "X\nEvil": "a" }],
  ];
  for (const [name, headers] of cases) {
    await t.step(name, () => {
      assert.throws(() => serializeRequest(createRequest("OPTIONS", "*", headers)), TypeError);
      assert.throws(
        () => serializeRequest(createRequest("OPTIONS", "*", headers), { dialect: "lab" }),
        TypeError,
      );
      assert.throws(() => serializeResponse(createResponse(200, headers)), TypeError);
    });
  }
});

Deno.test("serializeRequest() throws TypeError for a line break in the request line", () => {
  assert.throws(
    () => serializeRequest(createRequest("OPTIONS", "*\r\nX: y", { CSeq: "1" })),
    TypeError,
  );
});

Deno.test("serializeRequest() output parses back to the same request", () => {
  const request = createRequest("ANNOUNCE", "rtsp://h/v", {
    Session: "s1",
    CSeq: "5",
    "Content-Type": "application/sdp",
  }, "v=0\r\n");
  const parsed = new RtspParser().push(serializeRequest(request));
  assert.equal(parsed.length, 1);
  const [message] = parsed;
  assert.equal(message.kind, "request");
  if (message.kind !== "request") return;
  assert.equal(message.method, "ANNOUNCE");
  assert.equal(message.uri, "rtsp://h/v");
  assert.deepEqual([...message.headers], [
    ["CSeq", "5"],
    ["Session", "s1"],
    ["Content-Type", "application/sdp"],
    ["Content-Length", "5"],
  ]);
  assert.equal(text(message.body), "v=0\r\n");
});

Deno.test("serializeInterleaved() frames data as $, channel, 16-bit length, data", () => {
  assert.deepEqual(
    [...serializeInterleaved(1, Uint8Array.from([0xaa, 0xbb, 0xcc]))],
    [0x24, 0x01, 0x00, 0x03, 0xaa, 0xbb, 0xcc],
  );
  assert.deepEqual([...serializeInterleaved(0, new Uint8Array(0))], [0x24, 0, 0, 0]);
  const big = serializeInterleaved(255, new Uint8Array(0x1234));
  assert.deepEqual([...big.subarray(0, 4)], [0x24, 0xff, 0x12, 0x34]);
  assert.equal(big.length, 4 + 0x1234);
  const max = serializeInterleaved(7, new Uint8Array(0xffff).fill(1));
  assert.deepEqual([...max.subarray(0, 4)], [0x24, 7, 0xff, 0xff]);
  assert.equal(max.length, 4 + 0xffff);
});

Deno.test("serializeInterleaved() throws RangeError past channel 255 or 65535 bytes", async (t) => {
  const cases: [string, number, number][] = [
    ["channel 256", 256, 1],
    ["channel -1", -1, 1],
    ["65536 bytes", 0, 0x10000],
  ];
  for (const [name, channel, size] of cases) {
    await t.step(name, () => {
      assert.throws(() => serializeInterleaved(channel, new Uint8Array(size)), RangeError);
    });
  }
});
