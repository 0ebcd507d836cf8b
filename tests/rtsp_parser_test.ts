import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { parseTransport } from "../lib/wire/transport_header.ts";
import { serializeInterleaved } from "../lib/wire/rtsp_message.ts";
import type { RtspMessage } from "../lib/wire/rtsp_message.ts";
import { RtspParseError, RtspParser, type RtspParserItem } from "../lib/wire/rtsp_parser.ts";
import { bytes, catchError, concat, text } from "./_helpers.ts";

/** A comparable, plain-data form of a parsed item. */
function plain(item: RtspParserItem | undefined): unknown {
  if (item === undefined) return undefined;
  if (item.kind === "interleaved") {
    return { kind: item.kind, channel: item.channel, data: [...item.data] };
  }
  return { ...item, headers: [...item.headers], body: text(item.body) };
}

/** Item `index` of `items`, asserted to be a request or response. */
function messageOf(items: RtspParserItem[], index = 0): RtspMessage {
  const item = items[index];
  assert.ok(item !== undefined, `no item ${index}`);
  assert.ok(item.kind !== "interleaved", `item ${index} is an interleaved frame`);
  return item;
}

/** Parse `input` in one push. */
function parseAll(input: Uint8Array, parser = new RtspParser()): unknown[] {
  return parser.push(input).map(plain);
}

/** Parse `input` split into the given chunks. */
function parseChunks(chunks: Uint8Array[], parser = new RtspParser()): unknown[] {
  return chunks.flatMap((chunk) => parser.push(chunk).map(plain));
}

/** The RtspParseError that parsing `input` (in one push, then flushIdle) throws. */
function parseError(input: Uint8Array | string, parser = new RtspParser()): RtspParseError {
  return catchError(() => {
    parser.push(typeof input === "string" ? bytes(input) : input);
    parser.flushIdle();
  }, RtspParseError);
}

const OPTIONS = "OPTIONS rtsp://127.0.0.1:8554/video.mjpeg RTSP/1.0\r\nCSeq: 1\r\n" +
  "User-Agent: test\r\n\r\n";
const SETUP_LF = "SETUP rtsp://h/video.mjpeg RTSP/1.0\nCSeq: 2\n" +
  "Transport: RTP/AVP;unicast;client_port=5008-5009\n\n";
const SDP = "v=0\r\ns=lab\r\nm=video 0 RTP/AVP 26";
const DESCRIBE_REPLY = "RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\n" +
  `Content-Length: ${SDP.length}\r\n\r\n${SDP}`;
const LAB_SETUP = "SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 5008";

Deno.test("RtspParseError() is a ParseError carrying an RTSP status, 400 by default", () => {
  const error = new RtspParseError("Cannot parse", 12);
  assert.ok(error instanceof ParseError);
  assert.equal(error.name, "RtspParseError");
  assert.equal(error.status, 400);
  assert.equal(error.offset, 12);
  assert.equal(new RtspParseError("Cannot accept", 0, 413).status, 413);
});

Deno.test("push() parses a CRLF request with its fields and headers", () => {
  const message = messageOf(new RtspParser().push(bytes(OPTIONS)));
  assert.deepEqual(plain(message), {
    kind: "request",
    method: "OPTIONS",
    uri: "rtsp://127.0.0.1:8554/video.mjpeg",
    version: "RTSP/1.0",
    headers: [["CSeq", "1"], ["User-Agent", "test"]],
    body: "",
    end: "blank-line",
    bareLf: false,
  });
});

Deno.test("push() parses a bare-LF request and reports bareLf", () => {
  const message = messageOf(new RtspParser().push(bytes(SETUP_LF)));
  assert.equal(message.kind, "request");
  if (message.kind !== "request") return;
  assert.equal(message.method, "SETUP");
  assert.equal(message.bareLf, true);
  assert.equal(message.end, "blank-line");
  assert.equal(message.headers.get("transport"), "RTP/AVP;unicast;client_port=5008-5009");
});

Deno.test("push() reports bareLf for a bare-LF request that has no headers", () => {
  const message = messageOf(new RtspParser().push(bytes("OPTIONS * RTSP/1.0\n\n")));
  assert.equal(message.kind, "request");
  assert.equal(message.bareLf, true);
  const crlf = messageOf(new RtspParser().push(bytes("OPTIONS * RTSP/1.0\r\n\r\n")));
  assert.equal(crlf.bareLf, false);
});

Deno.test("push() parses responses: version, status and reason", async (t) => {
  const cases: [string, string, number, string][] = [
    ["RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: 123456\r\n\r\n", "RTSP/1.0", 200, "OK"],
    ["RTSP/1.0 454 Session Not Found\r\nCSeq: 9\r\n\r\n", "RTSP/1.0", 454, "Session Not Found"],
    ["RTSP/1.0 200\r\nCSeq: 1\r\n\r\n", "RTSP/1.0", 200, ""],
    ["RTSP/2.0 503 Service Unavailable\n\n", "RTSP/2.0", 503, "Service Unavailable"],
  ];
  for (const [input, version, status, reason] of cases) {
    await t.step(JSON.stringify(input.split(/\r?\n/)[0]), () => {
      const message = messageOf(new RtspParser().push(bytes(input)));
      assert.equal(message.kind, "response");
      if (message.kind !== "response") return;
      assert.equal(message.version, version);
      assert.equal(message.status, status);
      assert.equal(message.reason, reason);
      assert.equal(message.end, "blank-line");
    });
  }
  const reply = messageOf(new RtspParser().push(bytes(cases[0][0])));
  assert.equal(reply.headers.get("session"), "123456");
  assert.equal(reply.headers.get("CSEQ"), "1");
});

Deno.test("push() upper-cases the method and trims header names and values", () => {
  const message = messageOf(new RtspParser().push(
    bytes("teardown  rtsp://h/v \t RTSP/1.0\r\nCSeq :   7  \r\nSession:abc\r\n\r\n"),
  ));
  assert.equal(message.kind, "request");
  if (message.kind !== "request") return;
  assert.equal(message.method, "TEARDOWN");
  assert.equal(message.uri, "rtsp://h/v");
  assert.deepEqual([...message.headers], [["CSeq", "7"], ["Session", "abc"]]);
});

Deno.test("push() joins obsolete folded header lines onto the previous header", () => {
  const message = messageOf(new RtspParser().push(
    bytes(
      "SETUP rtsp://h/v RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;\r\n  unicast;\r\n\tclient_port=5008-5009\r\n\r\n",
    ),
  ));
  assert.equal(message.headers.get("Transport"), "RTP/AVP; unicast; client_port=5008-5009");
  assert.equal(message.headers.size, 2);
});

Deno.test("push() keeps a header value containing colons whole", () => {
  const message = messageOf(new RtspParser().push(
    bytes("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Base: rtsp://h:8554/v/\r\n\r\n"),
  ));
  assert.equal(message.headers.get("content-base"), "rtsp://h:8554/v/");
});

Deno.test("push() yields the same request however the bytes are split", async (t) => {
  const streams: [string, string][] = [
    ["CRLF request", OPTIONS],
    ["bare-LF request", SETUP_LF],
    ["response with a body", DESCRIBE_REPLY],
    ["two pipelined requests", OPTIONS + SETUP_LF],
    ["LF CR LF blank line", "PLAY rtsp://h/v RTSP/1.0\r\nCSeq: 4\n\r\n"],
  ];
  for (const [name, input] of streams) {
    await t.step(name, () => {
      const all = bytes(input);
      const whole = parseAll(all);
      assert.ok(whole.length >= 1);
      for (let i = 0; i <= all.length; i++) {
        assert.deepEqual(
          parseChunks([all.subarray(0, i), all.subarray(i)]),
          whole,
          `split at ${i}`,
        );
      }
      for (let i = 1; i < all.length; i += 7) {
        for (let j = i; j < all.length; j += 5) {
          assert.deepEqual(
            parseChunks([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]),
            whole,
            `split at ${i} and ${j}`,
          );
        }
      }
      assert.deepEqual(
        parseChunks([...all].map((b) => Uint8Array.of(b))),
        whole,
        "one byte at a time",
      );
    });
  }
});

Deno.test("push() returns nothing until the blank line and buffers the partial bytes", () => {
  const parser = new RtspParser();
  const all = bytes(OPTIONS);
  assert.deepEqual(parser.push(all.subarray(0, 30)), []);
  assert.equal(parser.buffered, 30);
  assert.deepEqual(parser.push(all.subarray(30, all.length - 1)), []);
  assert.equal(parser.buffered, all.length - 1);
  const done = parser.push(all.subarray(all.length - 1));
  assert.equal(done.length, 1);
  assert.equal(parser.buffered, 0);
});

Deno.test("push() returns every pipelined message in one chunk, in order", () => {
  const input = OPTIONS + SETUP_LF + "PLAY rtsp://h/v RTSP/1.0\r\nCSeq: 3\r\nSession: s\r\n\r\n" +
    "TEARDOWN rtsp://h/v RTSP/1.0\nCSeq: 4\nSession: s\n\n";
  const messages = new RtspParser().push(bytes(input));
  assert.deepEqual(
    messages.map((m) => m.kind === "request" && [m.method, m.headers.get("cseq"), m.bareLf]),
    [["OPTIONS", "1", false], ["SETUP", "2", true], ["PLAY", "3", false], [
      "TEARDOWN",
      "4",
      true,
    ]],
  );
});

Deno.test("push() skips blank lines before and between messages", () => {
  const parser = new RtspParser();
  const input = "\r\n\n\r\n" + OPTIONS + "\r\n\r\n\n" + SETUP_LF + "\n\r\n";
  const messages = parser.push(bytes(input));
  assert.equal(messages.length, 2);
  assert.equal(messages[0].kind === "request" && messages[0].method, "OPTIONS");
  assert.equal(messages[1].kind === "request" && messages[1].method, "SETUP");
  assert.equal(parser.flushIdle(), undefined);
  assert.equal(parser.buffered, 0);
});

Deno.test("push() reads a Content-Length body, also when it arrives in pieces", () => {
  const parser = new RtspParser();
  const all = bytes(DESCRIBE_REPLY + OPTIONS);
  const head = DESCRIBE_REPLY.indexOf("v=0");
  assert.deepEqual(parser.push(all.subarray(0, head)), []);
  assert.deepEqual(parser.push(all.subarray(head, head + 10)), []);
  const items = parser.push(all.subarray(head + 10));
  assert.equal(items.length, 2);
  const [reply, next] = items;
  assert.equal(reply.kind, "response");
  if (reply.kind !== "response") return;
  assert.equal(reply.status, 200);
  assert.equal(SDP.length, 32);
  assert.equal(reply.body.length, 32);
  assert.equal(text(reply.body), SDP);
  assert.equal(next.kind === "request" && next.method, "OPTIONS");
});

Deno.test("push() treats a body that looks like a blank line or a message as body", () => {
  const body = "\r\n\r\nOPTIONS * RTSP/1.0\r\n\r\n";
  const input =
    `ANNOUNCE rtsp://h/v RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const messages = new RtspParser().push(bytes(input));
  assert.equal(messages.length, 1);
  assert.equal(text(messageOf(messages).body), body);
});

Deno.test("push() reads interleaved $ frames mixed with RTSP responses", () => {
  const rtp = Uint8Array.from([0x80, 0x9a, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xd8]);
  const rtcp = Uint8Array.from([0x81, 0xc8, 0, 6]);
  const input = concat(
    "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: s\r\n\r\n",
    serializeInterleaved(0, rtp),
    serializeInterleaved(1, rtcp),
    serializeInterleaved(0, new Uint8Array(0)),
    DESCRIBE_REPLY,
    serializeInterleaved(0, Uint8Array.from([0x24, 0x0d, 0x0a, 0x0a])),
  );
  const expected = [
    { kind: "response", status: 200 },
    { kind: "interleaved", channel: 0, data: [...rtp] },
    { kind: "interleaved", channel: 1, data: [...rtcp] },
    { kind: "interleaved", channel: 0, data: [] },
    { kind: "response", status: 200 },
    { kind: "interleaved", channel: 0, data: [0x24, 0x0d, 0x0a, 0x0a] },
  ];
  const summary = (items: unknown[]) =>
    items.map((item) => {
      const i = item as { kind: string; status?: number; channel?: number; data?: number[] };
      return i.kind === "interleaved"
        ? { kind: i.kind, channel: i.channel, data: i.data }
        : { kind: i.kind, status: i.status };
    });
  const whole = parseAll(input);
  assert.deepEqual(summary(whole), expected);
  for (let i = 0; i <= input.length; i++) {
    assert.deepEqual(
      parseChunks([input.subarray(0, i), input.subarray(i)]),
      whole,
      `split at ${i}`,
    );
  }
  assert.deepEqual(parseChunks([...input].map((b) => Uint8Array.of(b))), whole);
});

Deno.test("push() returns bodies and frame data that later pushes do not overwrite", () => {
  const parser = new RtspParser();
  const first = parser.push(
    concat(serializeInterleaved(2, Uint8Array.from([1, 2, 3])), DESCRIBE_REPLY),
  );
  assert.equal(first.length, 2);
  const before = first.map(plain);
  for (let i = 0; i < 50; i++) {
    parser.push(concat(serializeInterleaved(2, new Uint8Array(200).fill(i)), OPTIONS));
  }
  assert.deepEqual(first.map(plain), before);
});

Deno.test("push() leaves an incomplete interleaved frame buffered", () => {
  const parser = new RtspParser();
  const frame = serializeInterleaved(0, new Uint8Array(100).fill(9));
  assert.deepEqual(parser.push(frame.subarray(0, 3)), []);
  assert.deepEqual(parser.push(frame.subarray(3, 50)), []);
  assert.equal(parser.flushIdle(), undefined);
  assert.equal(parser.buffered, 50);
  const [item] = parser.push(frame.subarray(50));
  assert.deepEqual(plain(item), { kind: "interleaved", channel: 0, data: new Array(100).fill(9) });
});

// --- The lab dialect and flushIdle() -------------------------------------------------------------

Deno.test("flushIdle() completes the lab's SETUP, which push() alone never yields", () => {
  const parser = new RtspParser();
  assert.deepEqual(parser.push(bytes(LAB_SETUP)), []);
  assert.equal(parser.buffered, LAB_SETUP.length);
  const message = parser.flushIdle();
  assert.deepEqual(plain(message), {
    kind: "request",
    method: "SETUP",
    uri: "video.mjpeg",
    version: "RTSP/1.0",
    headers: [["CSeq", "1"], ["Transport", "RTP/UDP; client_port= 5008"]],
    body: "",
    end: "idle",
    bareLf: true,
  });
  assert.equal(parser.buffered, 0);
  assert.equal(parser.flushIdle(), undefined);
  const [spec] = parseTransport(message!.headers.get("Transport")!);
  assert.equal(spec.lowerTransport, "UDP");
  assert.deepEqual(spec.clientPort, { start: 5008 });
});

Deno.test("flushIdle() completes one lab request after another on the same parser", () => {
  const parser = new RtspParser();
  const requests = [
    LAB_SETUP,
    "PLAY video.mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456",
    "PAUSE video.mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456\n",
    "TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456",
  ];
  const seen = [];
  for (const request of requests) {
    assert.deepEqual(parser.push(bytes(request)), []);
    const message = parser.flushIdle();
    assert.ok(message);
    assert.equal(message.kind, "request");
    assert.equal(message.end, "idle");
    seen.push(message.kind === "request" && `${message.method} ${message.headers.get("CSeq")}`);
  }
  assert.deepEqual(seen, ["SETUP 1", "PLAY 2", "PAUSE 3", "TEARDOWN 4"]);
});

Deno.test("flushIdle() completes a lab request delivered in pieces", () => {
  const parser = new RtspParser();
  const all = bytes(LAB_SETUP);
  for (let i = 0; i < all.length; i += 9) {
    assert.deepEqual(parser.push(all.subarray(i, i + 9)), []);
  }
  const message = parser.flushIdle();
  assert.equal(message?.kind === "request" && message.method, "SETUP");
  assert.equal(message?.headers.get("transport"), "RTP/UDP; client_port= 5008");
});

Deno.test("flushIdle() returns undefined when nothing or only line breaks are buffered", async (t) => {
  for (const input of ["", "\n", "\r\n", "\n\n\n", "\r\n\r\n"]) {
    await t.step(JSON.stringify(input), () => {
      const parser = new RtspParser();
      assert.deepEqual(parser.push(bytes(input)), []);
      assert.equal(parser.flushIdle(), undefined);
      assert.equal(parser.buffered, 0);
    });
  }
});

Deno.test("flushIdle() returns undefined when only spaces and tabs are buffered", async (t) => {
  // The documented contract: "Returns undefined when nothing but white space is buffered".
  for (const input of [" ", "   ", "\t", " \t \n", "\n  "]) {
    await t.step(JSON.stringify(input), () => {
      const parser = new RtspParser();
      parser.push(bytes(input));
      assert.equal(parser.flushIdle(), undefined);
    });
  }
});

Deno.test("flushIdle() waits for a lab request that declares a body", () => {
  const parser = new RtspParser();
  parser.push(bytes("SET_PARAMETER video.mjpeg RTSP/1.0\nCSeq: 5\nContent-Length: 4"));
  assert.equal(parser.flushIdle(), undefined);
  assert.ok(parser.buffered > 0);
});

Deno.test("flushIdle() waits for the rest of a bare-LF body that has only partly arrived", () => {
  const parser = new RtspParser();
  const head = "ANNOUNCE rtsp://h/v RTSP/1.0\nCSeq: 5\nContent-Length: 10\n\n";
  assert.deepEqual(parser.push(bytes(head + "abc")), []);
  assert.equal(parser.flushIdle(), undefined);
  const message = messageOf(parser.push(bytes("defghij")));
  assert.equal(text(message.body), "abcdefghij");
});

Deno.test("flushIdle() leaves a CRLF message without its blank line to push()", () => {
  const parser = new RtspParser();
  assert.deepEqual(parser.push(bytes("PLAY rtsp://h/v RTSP/1.0\r\nCSeq: 3\r\n")), []);
  assert.equal(parser.flushIdle(), undefined);
  const message = messageOf(parser.push(bytes("\r\n")));
  assert.equal(message.kind === "request" && message.method, "PLAY");
  assert.equal(message.end, "blank-line");
});

Deno.test("flushIdle() waits while no request line and CSeq are buffered (a paused standard request)", () => {
  const parser = new RtspParser();
  parser.push(bytes("OPTIONS rtsp://"));
  assert.equal(parser.flushIdle(), undefined);
  parser.push(bytes("h/v RTSP/1.0"));
  assert.equal(parser.flushIdle(), undefined);
  const [message] = parser.push(bytes("\r\nCSeq: 3\r\n\r\n"));
  assert.equal(message.kind, "request");
});

Deno.test("flushIdle() throws RtspParseError 400 when the buffered bytes are not a message", () => {
  const parser = new RtspParser();
  parser.push(bytes("hello there\nCSeq: 1"));
  const error = catchError(() => parser.flushIdle(), RtspParseError);
  assert.equal(error.status, 400);
});

// --- Errors ---------------------------------------------------------------------------------------

Deno.test("push() throws RtspParseError 400 for headers over the limit without a blank line", () => {
  const parser = new RtspParser();
  const huge = "OPTIONS * RTSP/1.0\r\nX-Pad: " + "a".repeat(17000);
  const error = catchError(() => parser.push(bytes(huge)), RtspParseError);
  assert.equal(error.status, 400);
  assert.match(error.message, /headers exceed 16384 bytes/);
});

Deno.test("push() throws RtspParseError 400 for headers over the limit arriving in pieces", () => {
  const parser = new RtspParser({ maxHeaderBytes: 100 });
  parser.push(bytes("OPTIONS * RTSP/1.0\r\n"));
  const error = catchError(() => {
    for (let i = 0; i < 20; i++) parser.push(bytes("X-Pad: aaaa\r\n"));
  }, RtspParseError);
  assert.equal(error.status, 400);
});

Deno.test("push() throws RtspParseError 400 for a complete message whose headers are too big", () => {
  const parser = new RtspParser({ maxHeaderBytes: 64 });
  const input = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + "a".repeat(100) + "\r\n\r\n";
  assert.equal(parseError(input, parser).status, 400);
  const ok = new RtspParser({ maxHeaderBytes: 64 }).push(
    bytes("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
  );
  assert.equal(ok.length, 1);
});

Deno.test("push() throws RtspParseError 400 for more headers than allowed", () => {
  const input = "OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  const error = parseError(input, new RtspParser({ maxHeaders: 2 }));
  assert.equal(error.status, 400);
  assert.match(error.message, /more than 2 headers/);
  assert.equal(new RtspParser({ maxHeaders: 3 }).push(bytes(input)).length, 1);
});

Deno.test("push() throws RtspParseError 413 for a body over the limit, before it arrives", () => {
  const error = parseError(
    "ANNOUNCE rtsp://h/v RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 70000\r\n\r\n",
  );
  assert.equal(error.status, 413);
  const small = new RtspParser({ maxBodyBytes: 10 });
  assert.equal(
    parseError("RTSP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n", small).status,
    413,
  );
  const exact = new RtspParser({ maxBodyBytes: 10 }).push(
    bytes("RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"),
  );
  assert.equal(text(messageOf(exact).body), "0123456789");
});

Deno.test("push() throws RtspParseError 414 for a Request-URI over the limit", () => {
  const long = `DESCRIBE rtsp://h/${"v".repeat(5000)} RTSP/1.0\r\nCSeq: 1\r\n\r\n`;
  const error = parseError(long);
  assert.equal(error.status, 414);
  assert.equal(
    parseError("PLAY rtsp://h/0123456789 RTSP/1.0\r\n\r\n", new RtspParser({ maxUriBytes: 10 }))
      .status,
    414,
  );
  assert.equal(
    new RtspParser({ maxUriBytes: 10 }).push(bytes("PLAY 0123456789 RTSP/1.0\r\n\r\n")).length,
    1,
  );
});

Deno.test("push() throws RtspParseError 400 for a NUL byte in the head", () => {
  const input = concat("OPTIONS * RTSP/1.0\r\nCSeq: 1", [0], "\r\n\r\n");
  const error = parseError(input);
  assert.equal(error.status, 400);
  assert.match(error.message, /NUL/);
});

Deno.test("push() throws RtspParseError 400 for a bad request line", async (t) => {
  const lines = [
    "HELLO",
    "GET / HTTP/1.1",
    "OPTIONS *",
    "OPTIONS * RTSP/1.0 extra",
    "OPTIONS * RTSP",
    "OPTIONS * rtsp/1.0",
    "PLAY2 rtsp://h/v RTSP/1.0",
    "PL@Y rtsp://h/v RTSP/1.0",
    "RTSP/1.0 20 OK",
    "RTSP/1.0 2000 OK",
  ];
  for (const line of lines) {
    await t.step(JSON.stringify(line), () => {
      const error = parseError(`${line}\r\nCSeq: 1\r\n\r\n`);
      assert.equal(error.status, 400);
    });
  }
});

Deno.test("push() throws RtspParseError 400 for a bad header line", async (t) => {
  const headerLines = [
    "CSeq 1",
    ": no name",
    "Bad Name: x",
    "Na(me: x",
    "\u00e9t\u00e9: x",
  ];
  for (const line of headerLines) {
    await t.step(JSON.stringify(line), () => {
      const error = parseError(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${line}\r\n\r\n`);
      assert.equal(error.status, 400);
      assert.match(error.message, /header line 3/);
    });
  }
});

Deno.test("push() throws RtspParseError 400 for a bad Content-Length", async (t) => {
  for (const value of ["abc", "-1", "1.5", "10 20", "0x10", "12345678901"]) {
    await t.step(value, () => {
      const error = parseError(`RTSP/1.0 200 OK\r\nContent-Length: ${value}\r\n\r\n`);
      assert.equal(error.status, 400);
    });
  }
});

Deno.test("push() reports the error offset counted from the start of the stream", () => {
  const parser = new RtspParser();
  const good = bytes(OPTIONS + "\r\n");
  assert.equal(parser.push(good).length, 1);
  parser.push(serializeInterleaved(0, new Uint8Array(10)));
  const error = parseError("BAD\r\n\r\n", parser);
  assert.equal(error.offset, good.length + 14);
});
