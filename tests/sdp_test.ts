import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { type JpegSdp, parseSdp, serializeJpegSdp } from "../lib/wire/sdp.ts";
import { catchError } from "./_helpers.ts";

const TYPICAL: JpegSdp = {
  sessionId: "1234567890",
  origin: "192.0.2.10",
  name: "video.mjpeg",
  durationSec: 10,
  fps: 20,
  width: 384,
  height: 288,
  control: "trackID=0",
};

function lines(sdp: string): string[] {
  assert.ok(sdp.endsWith("\r\n"), "ends with CRLF");
  return sdp.slice(0, -2).split("\r\n");
}

Deno.test("serializeJpegSdp(): a typical stream, line by line", () => {
  const sdp = serializeJpegSdp(TYPICAL);
  assert.deepEqual(lines(sdp), [
    "v=0",
    "o=- 1234567890 1 IN IP4 192.0.2.10",
    "s=video.mjpeg",
    "t=0 0",
    "a=control:*",
    "a=range:npt=0-10",
    "m=video 0 RTP/AVP 26",
    "c=IN IP4 0.0.0.0",
    "a=rtpmap:26 JPEG/90000",
    "a=framerate:20",
    "a=control:trackID=0",
  ]);
});

Deno.test("serializeJpegSdp(): v=0 first, every line ends with CRLF, no bare LF", () => {
  const sdp = serializeJpegSdp(TYPICAL);
  assert.ok(sdp.startsWith("v=0\r\n"));
  assert.equal(sdp.split("\n").length - 1, sdp.split("\r\n").length - 1, "every LF follows a CR");
  assert.ok(!/\r(?!\n)/.test(sdp), "no bare CR");
  assert.ok(!sdp.includes("\r\n\r\n"), "no empty line");
  for (const line of lines(sdp)) assert.match(line, /^[a-z]=\S/, line);
});

Deno.test("serializeJpegSdp(): session lines in RFC 4566 order, then the media section", () => {
  const all = lines(serializeJpegSdp({ ...TYPICAL, kbitPerSec: 1200.2 }));
  const kinds = all.map((l) => l[0]).join("");
  // v o s t a... m c b a...
  assert.match(kinds, /^vosta*mcb?a+$/);
  assert.ok(all.includes("b=AS:1201"), "b=AS rounded up");
  assert.ok(all.indexOf("b=AS:1201") > all.indexOf("m=video 0 RTP/AVP 26"), "b= in the media");
});

Deno.test("serializeJpegSdp(): x-dimensions only when a side exceeds 2040", async (t) => {
  const cases: [number, number, boolean][] = [
    [384, 288, false],
    [2040, 2040, false],
    [2041, 288, true],
    [384, 2041, true],
    [4096, 2160, true],
  ];
  for (const [width, height, present] of cases) {
    await t.step(`${width}x${height}`, () => {
      const all = lines(serializeJpegSdp({ ...TYPICAL, width, height }));
      const dims = all.filter((l) => l.startsWith("a=x-dimensions"));
      assert.deepEqual(dims, present ? [`a=x-dimensions:${width},${height}`] : []);
      if (present) {
        assert.ok(all.indexOf(dims[0]) > all.indexOf("m=video 0 RTP/AVP 26"), "media attribute");
      }
    });
  }
  await t.step("no size given", () => {
    const { width: _w, height: _h, ...noSize } = TYPICAL;
    assert.ok(!serializeJpegSdp(noSize).includes("x-dimensions"));
  });
});

Deno.test("serializeJpegSdp(): optional fields", async (t) => {
  await t.step("no duration: open range", () => {
    const { durationSec: _, ...live } = TYPICAL;
    assert.ok(lines(serializeJpegSdp(live)).includes("a=range:npt=0-"));
  });
  await t.step("fractional duration and frame rate: up to 3 decimals", () => {
    const all = lines(serializeJpegSdp({ ...TYPICAL, durationSec: 9.95, fps: 29.97003 }));
    assert.ok(all.includes("a=range:npt=0-9.95"), all.join("|"));
    assert.ok(all.includes("a=framerate:29.97"), all.join("|"));
  });
  await t.step("no fps: no a=framerate", () => {
    const { fps: _, ...noFps } = TYPICAL;
    assert.ok(!serializeJpegSdp(noFps).includes("a=framerate"));
  });
  await t.step("no bit rate: no b=", () => {
    assert.ok(!lines(serializeJpegSdp(TYPICAL)).some((l) => l.startsWith("b=")));
  });
  await t.step("empty name: s=-", () => {
    assert.ok(lines(serializeJpegSdp({ ...TYPICAL, name: "" })).includes("s=-"));
  });
  await t.step("IPv6 origin", () => {
    assert.ok(
      lines(serializeJpegSdp({ ...TYPICAL, origin: "2001:db8::1" })).includes(
        "o=- 1234567890 1 IN IP6 2001:db8::1",
      ),
    );
  });
  await t.step("another payload type", () => {
    const all = lines(serializeJpegSdp({ ...TYPICAL, payloadType: 96 }));
    assert.ok(all.includes("m=video 0 RTP/AVP 96"));
    assert.ok(all.includes("a=rtpmap:96 JPEG/90000"));
  });
  await t.step("absolute control URL", () => {
    const control = "rtsp://192.0.2.10:8554/video.mjpeg/trackID=0";
    assert.ok(lines(serializeJpegSdp({ ...TYPICAL, control })).includes(`a=control:${control}`));
  });
});

Deno.test("parseSdp() reads serializeJpegSdp() back", () => {
  const parsed = parseSdp(serializeJpegSdp({ ...TYPICAL, width: 4096, height: 2160 }));
  assert.deepEqual(
    parsed.attributes,
    new Map([["control", "*"], ["range", "npt=0-10"]]),
  );
  assert.equal(parsed.media.length, 1);
  const [video] = parsed.media;
  assert.equal(video.type, "video");
  assert.equal(video.protocol, "RTP/AVP");
  assert.deepEqual(video.formats, [26]);
  assert.deepEqual(
    video.attributes,
    new Map([
      ["rtpmap", "26 JPEG/90000"],
      ["framerate", "20"],
      ["x-dimensions", "4096,2160"],
      ["control", "trackID=0"],
    ]),
  );
});

Deno.test("parseSdp() tolerates LF line ends, blank lines, unknown lines and flags", () => {
  const text = [
    "v=0",
    "o=- 1 1 IN IP4 127.0.0.1",
    "s=Some camera",
    "i=unknown information line",
    "",
    "t=0 0",
    "x-vendor=whatever",
    "a=tool:libavformat",
    "a=recvonly",
    "m=audio 0 RTP/AVP 0 8",
    "a=rtpmap:0 PCMU/8000",
    "a=control:trackID=1",
    "m=video 0 RTP/AVP 26 96",
    "b=AS:500",
    "a=control:trackID=0",
    "a=control:ignored-duplicate",
    "a=fmtp:96 a=b;c=d",
    "",
  ].join("\n");
  const parsed = parseSdp(text);
  assert.deepEqual(parsed.attributes, new Map([["tool", "libavformat"], ["recvonly", ""]]));
  assert.deepEqual(parsed.media.map((m) => [m.type, m.protocol, m.formats]), [
    ["audio", "RTP/AVP", [0, 8]],
    ["video", "RTP/AVP", [26, 96]],
  ]);
  assert.equal(parsed.media[0].attributes.get("control"), "trackID=1");
  assert.equal(parsed.media[1].attributes.get("control"), "trackID=0", "first wins");
  assert.equal(parsed.media[1].attributes.get("fmtp"), "96 a=b;c=d", "value after the first colon");
});

Deno.test("parseSdp() accepts mixed CRLF and LF and surrounding whitespace", () => {
  const parsed = parseSdp("\r\n  v=0  \r\ns=-\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000  \n");
  assert.equal(parsed.media[0].attributes.get("rtpmap"), "26 JPEG/90000");
});

Deno.test("parseSdp() throws ParseError when the text does not start with v=0", async (t) => {
  const cases: [string, string][] = [
    ["empty", ""],
    ["no v= line", "o=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"],
    ["v= not first", "s=-\r\nv=0\r\n"],
    ["wrong version", "v=1\r\ns=-\r\n"],
    ["HTML", "<html>404</html>"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      const error = catchError(() => parseSdp(text), ParseError);
      assert.match(error.message, /^Cannot parse SDP/);
      assert.match(error.message, /v=0/);
    });
  }
});
