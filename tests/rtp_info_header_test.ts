import assert from "node:assert/strict";
import { ParseError } from "../lib/wire/errors.ts";
import { parseRtpInfo, type RtpInfoEntry, serializeRtpInfo } from "../lib/wire/rtp_info_header.ts";
import { catchError } from "./_helpers.ts";

/** Input, the entries it parses to, and the canonical form they are written as. */
interface RtpInfoCase {
  input: string;
  value: RtpInfoEntry[];
  canonical: string;
}

const URL0 = "rtsp://127.0.0.1:8554/video.mjpeg/trackID=0";
const URL1 = "rtsp://127.0.0.1:8554/video.mjpeg/trackID=1";

const RFC2326: RtpInfoCase[] = [
  {
    input: `url=${URL0};seq=4711;rtptime=90000`,
    value: [{ url: URL0, seq: 4711, rtptime: 90000 }],
    canonical: `url=${URL0};seq=4711;rtptime=90000`,
  },
  {
    // RFC 2326 §12.33's example.
    input: "url=rtsp://foo.com/bar.avi/streamid=0;seq=45102," +
      "url=rtsp://foo.com/bar.avi/streamid=1;seq=30211",
    value: [
      { url: "rtsp://foo.com/bar.avi/streamid=0", seq: 45102 },
      { url: "rtsp://foo.com/bar.avi/streamid=1", seq: 30211 },
    ],
    canonical: "url=rtsp://foo.com/bar.avi/streamid=0;seq=45102," +
      "url=rtsp://foo.com/bar.avi/streamid=1;seq=30211",
  },
  { input: `url=${URL0}`, value: [{ url: URL0 }], canonical: `url=${URL0}` },
  {
    input: `url=${URL0};rtptime=4294967295;seq=65535`,
    value: [{ url: URL0, seq: 65535, rtptime: 4294967295 }],
    canonical: `url=${URL0};seq=65535;rtptime=4294967295`,
  },
  {
    input: `url=${URL0};seq=0;rtptime=0`,
    value: [{ url: URL0, seq: 0, rtptime: 0 }],
    canonical: `url=${URL0};seq=0;rtptime=0`,
  },
  {
    input: "url=video.mjpeg;seq=00001;rtptime=0000000007",
    value: [{ url: "video.mjpeg", seq: 1, rtptime: 7 }],
    canonical: "url=video.mjpeg;seq=1;rtptime=7",
  },
];

const RFC7826: RtpInfoCase[] = [
  {
    input: `url="${URL0}";ssrc=0A13C760:seq=45102;rtptime=12345678`,
    value: [{ url: URL0, ssrc: 0x0a13c760, seq: 45102, rtptime: 12345678 }],
    canonical: `url=${URL0};seq=45102;rtptime=12345678;ssrc=0A13C760`,
  },
  {
    // Two SSRCs of one url: one entry each.
    input: `url="${URL0}";ssrc=0A13C760:seq=1;rtptime=2;ssrc=9A9DE123:seq=3;rtptime=4`,
    value: [
      { url: URL0, ssrc: 0x0a13c760, seq: 1, rtptime: 2 },
      { url: URL0, ssrc: 0x9a9de123, seq: 3, rtptime: 4 },
    ],
    canonical:
      `url=${URL0};seq=1;rtptime=2;ssrc=0A13C760,url=${URL0};seq=3;rtptime=4;ssrc=9A9DE123`,
  },
  {
    input: `url="${URL0}";ssrc=deadbeef:seq=7,url="${URL1}";ssrc=1:seq=8`,
    value: [
      { url: URL0, ssrc: 0xdeadbeef, seq: 7 },
      { url: URL1, ssrc: 1, seq: 8 },
    ],
    canonical: `url=${URL0};seq=7;ssrc=DEADBEEF,url=${URL1};seq=8;ssrc=00000001`,
  },
  {
    input: `url=${URL0};seq=5;rtptime=6;ssrc=FFFFFFFF`,
    value: [{ url: URL0, seq: 5, rtptime: 6, ssrc: 0xffffffff }],
    canonical: `url=${URL0};seq=5;rtptime=6;ssrc=FFFFFFFF`,
  },
];

const AWKWARD_URLS: RtpInfoCase[] = [
  {
    input: 'url="rtsp://h/a,b;c=d";seq=1',
    value: [{ url: "rtsp://h/a,b;c=d", seq: 1 }],
    canonical: 'url="rtsp://h/a,b;c=d";seq=1',
  },
  {
    // Unquoted: the url runs to the first known parameter or the next `,url=`.
    input: "url=rtsp://h/a;b=1;seq=5,url=rtsp://h/x,y;rtptime=9",
    value: [{ url: "rtsp://h/a;b=1", seq: 5 }, { url: "rtsp://h/x,y", rtptime: 9 }],
    canonical: 'url="rtsp://h/a;b=1";seq=5,url="rtsp://h/x,y";rtptime=9',
  },
  {
    input: 'url="rtsp://h/v,url=w";seq=1,url=rtsp://h/z',
    value: [{ url: "rtsp://h/v,url=w", seq: 1 }, { url: "rtsp://h/z" }],
    canonical: 'url="rtsp://h/v,url=w";seq=1,url=rtsp://h/z',
  },
  {
    // Without a following `url=` a comma is part of the url, even at the end.
    input: `url=${URL0},`,
    value: [{ url: `${URL0},` }],
    canonical: `url="${URL0},"`,
  },
  {
    // `;seq` without `=` is no parameter, so an unquoted url runs on.
    input: `url=${URL0};seq`,
    value: [{ url: `${URL0};seq` }],
    canonical: `url="${URL0};seq"`,
  },
  {
    input: "url=rtsp://h/caf\u00e9/trackID=0;seq=2",
    value: [{ url: "rtsp://h/caf\u00e9/trackID=0", seq: 2 }],
    canonical: "url=rtsp://h/caf\u00e9/trackID=0;seq=2",
  },
];

const LOOSE: RtpInfoCase[] = [
  {
    input: ` URL = ${URL0} ; SEQ = 10 ; RtpTime = 20 ,  url=${URL1};seq=11 `,
    value: [{ url: URL0, seq: 10, rtptime: 20 }, { url: URL1, seq: 11 }],
    canonical: `url=${URL0};seq=10;rtptime=20,url=${URL1};seq=11`,
  },
  {
    input: `url=" ${URL0} " ;seq=1`,
    value: [{ url: URL0, seq: 1 }],
    canonical: `url=${URL0};seq=1`,
  },
  {
    input: `url=${URL0};seq=1;x-foo=bar;flag;;rtptime=2`,
    value: [{ url: URL0, seq: 1, rtptime: 2 }],
    canonical: `url=${URL0};seq=1;rtptime=2`,
  },
  {
    input: `url=${URL0};seq=1;seq=2`,
    value: [{ url: URL0, seq: 2 }],
    canonical: `url=${URL0};seq=2`,
  },
  {
    input: `url=${URL0};ssrc = 1a2b : seq = 3`,
    value: [{ url: URL0, ssrc: 0x1a2b, seq: 3 }],
    canonical: `url=${URL0};seq=3;ssrc=00001A2B`,
  },
];

/** Every table: the parse, serialize and round-trip tests and the fuzz seeds all draw on them. */
const ALL_CASES = [...RFC2326, ...RFC7826, ...AWKWARD_URLS, ...LOOSE];

async function parses(t: Deno.TestContext, cases: RtpInfoCase[]): Promise<void> {
  for (const { input, value } of cases) {
    await t.step(JSON.stringify(input), () => assert.deepEqual(parseRtpInfo(input), value));
  }
}

Deno.test("parseRtpInfo() reads RFC 2326 entries with seq and rtptime", async (t) => {
  await parses(t, RFC2326);
});

Deno.test("parseRtpInfo() reads RFC 7826 quoted urls and ssrc parameters", async (t) => {
  await parses(t, RFC7826);
});

Deno.test("parseRtpInfo() reads urls holding commas and semicolons", async (t) => {
  await parses(t, AWKWARD_URLS);
});

Deno.test("parseRtpInfo() tolerates blanks and case, and ignores unknown parameters", async (t) => {
  await parses(t, LOOSE);
});

Deno.test("parseRtpInfo() throws ParseError for unparsable values", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /empty value/],
    ["  \t ", /empty value/],
    ["seq=1;rtptime=2", /entry without url/],
    ["rtsp://h/x;seq=1", /entry without url/],
    [`url=${URL0};seq=1, seq=2`, /bad seq "1, seq=2"/],
    [`url=${URL0};seq=1,`, /bad seq "1,"/],
    [`url=${URL0}, url=`, /bad url ""/],
    ["url=", /bad url ""/],
    ["url=;seq=1", /bad url ""/],
    ['url="";seq=1', /bad url ""/],
    ["url=rtsp://h/a b;seq=1", /bad url "rtsp:\/\/h\/a b"/],
    ['url=rtsp://h/a"b', /bad url/],
    ["url=rtsp://h/a\u0000b", /bad url/],
    ["url=rtsp://h/a\r\nX: y;seq=1", /bad url/],
    ['url="rtsp://h/a;seq=1', /unclosed quote/],
    ['url="rtsp://h/a"x;seq=1', /unexpected "x" after the url/],
    [`url=${URL0};seq=`, /bad seq ""/],
    [`url="${URL0}";seq`, /bad seq ""/],
    [`url=${URL0};seq=65536`, /bad seq "65536": expected 0 to 65535/],
    [`url=${URL0};seq=-1`, /bad seq "-1"/],
    [`url=${URL0};seq=1.5`, /bad seq "1.5"/],
    [`url=${URL0};seq=0x10`, /bad seq "0x10"/],
    [`url=${URL0};seq=00000000001`, /bad seq/],
    [`url=${URL0};rtptime=4294967296`, /bad rtptime "4294967296"/],
    [`url=${URL0};rtptime=abc`, /bad rtptime "abc"/],
    [`url=${URL0};rtptime=1 2`, /bad rtptime "1 2"/],
    [`url=${URL0};ssrc=`, /bad ssrc ""/],
    [`url=${URL0};ssrc=123456789`, /bad ssrc "123456789"/],
    [`url=${URL0};ssrc=xyz`, /bad ssrc "xyz"/],
    [`url=${URL0};ssrc=:seq=1`, /bad ssrc ""/],
    [`url=${URL0};ssrc=1:seq=x`, /bad seq "x"/],
  ];
  for (const [input, message] of cases) {
    await t.step(JSON.stringify(input), () => {
      const error = catchError(() => parseRtpInfo(input), ParseError);
      assert.match(error.message, /^Cannot parse RTP-Info: /);
      assert.match(error.message, message);
    });
  }
});

Deno.test("parseRtpInfo() reports where in the value the problem is", () => {
  const first = `url=${URL0};seq=1,`;
  assert.equal(
    catchError(() => parseRtpInfo(`${first}url=x;seq=y`), ParseError).offset,
    first.length + "url=x;".length,
  );
  assert.equal(catchError(() => parseRtpInfo(`${first}url=`), ParseError).offset, first.length + 4);
  assert.equal(catchError(() => parseRtpInfo("x"), ParseError).offset, 0);
});

Deno.test("serializeRtpInfo() writes loose input in canonical form", async (t) => {
  for (const { input, value, canonical } of ALL_CASES) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(serializeRtpInfo(parseRtpInfo(input)), canonical);
      assert.equal(serializeRtpInfo(value), canonical);
      // Canonical output is a fixed point and reads back as the same entries.
      assert.deepEqual(parseRtpInfo(canonical), value);
      assert.equal(serializeRtpInfo(parseRtpInfo(canonical)), canonical);
    });
  }
});

Deno.test("serializeRtpInfo() writes entries built in code, fields in a fixed order", () => {
  assert.equal(
    serializeRtpInfo([{ ssrc: 0xdeadbeef, rtptime: 3, seq: 2, url: URL0 }, { url: URL1 }]),
    `url=${URL0};seq=2;rtptime=3;ssrc=DEADBEEF,url=${URL1}`,
  );
  assert.equal(serializeRtpInfo([{ url: "a;b", ssrc: 0 }]), 'url="a;b";ssrc=00000000');
});

Deno.test("serializeRtpInfo() throws for entries it cannot write", async (t) => {
  const cases: [string, RtpInfoEntry[], TypeErrorConstructor | RangeErrorConstructor, RegExp][] = [
    ["no entries", [], TypeError, /no entries/],
    ["a CR LF in the url", [{ url: "rtsp://h/a\r\nX: y" }], TypeError, /line break/],
    ["a LF in the url", [{ url: "rtsp://h/a\n" }], TypeError, /line break/],
    ["an empty url", [{ url: "" }], TypeError, /bad url/],
    ["a blank in the url", [{ url: "rtsp://h/a b" }], TypeError, /bad url/],
    ['a " in the url', [{ url: 'rtsp://h/a"b;c' }], TypeError, /bad url/],
    ["seq 65536", [{ url: URL0, seq: 65536 }], RangeError, /seq 65536/],
    ["seq -1", [{ url: URL0, seq: -1 }], RangeError, /seq -1/],
    ["seq 1.5", [{ url: URL0, seq: 1.5 }], RangeError, /seq 1.5/],
    ["rtptime 2^32", [{ url: URL0, rtptime: 2 ** 32 }], RangeError, /rtptime/],
    ["rtptime NaN", [{ url: URL0, rtptime: NaN }], RangeError, /rtptime NaN/],
    ["ssrc -1", [{ url: URL0, ssrc: -1 }], RangeError, /ssrc -1/],
  ];
  for (const [name, entries, cls, message] of cases) {
    await t.step(name, () => {
      const error = catchError(() => serializeRtpInfo(entries), cls);
      assert.match(error.message, /^Cannot serialize RTP-Info: /);
      assert.match(error.message, message);
    });
  }
});
