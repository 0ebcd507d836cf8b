/**
 * A live in-process server fuzzed over loopback: seeded random and mutated
 * requests (binary junk, invalid UTF-8, NUL bytes, lone `$` frames with bogus
 * channels and lengths, requests split byte by byte, pipelined, overlong
 * lines, headers and bodies, lab-dialect fragments, and follow-ups naming a
 * real session) over many short connections, at most 20 at a time, each
 * reply read with a bounded wait. Publishers are fuzzed too: ANNOUNCE with
 * valid, foreign (H264, two tracks) and mutated SDP bodies and Content-Types,
 * then SETUP mode=record and RECORD on a few shared paths (so publishers
 * collide), followed by mutated RECORD/PAUSE/PLAY/TEARDOWN and interleaved
 * RTP/JPEG and junk on the publisher's channels.
 *
 * Afterwards the server still answers OPTIONS and a lab SETUP/PLAY/TEARDOWN,
 * holds no session and no connection (every one of `maxConnections` fresh
 * connections is served, none refused), and closes promptly; every status it
 * sent is one it documents (never 500); and a second round does not grow the
 * heap by more than 20 MB.
 *
 * A round against a server with users configured feeds the auth gate:
 * valid Digest (MD5 and SHA-256, with and without qop) and Basic credentials
 * mutated with auth tokens, hostile Authorization values (bad base64,
 * unterminated quotes, repeated and overlong parameters, foreign nonces,
 * unknown algorithms and qops), sessions driven with credentials, and
 * brute-force runs past the failure limit. The server must answer only
 * statuses it documents (401 included), put no password or HA1 in its log,
 * hold no session or connection afterwards, and still serve a whole Digest
 * session.
 *
 * The seed is fixed (FUZZ_SEED overrides it).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import v8 from "node:v8";
import vm from "node:vm";
import {
  labFile,
  labParseReply,
  RawConn,
  readLabFrames,
  sleep,
  tempMediaDir,
  waitUntil,
} from "./_raw_rtsp.ts";
import { startServer, type TestServer } from "./_server.ts";
import { Rng } from "./_rng.ts";
import { concat } from "./_helpers.ts";
import { liveMedia } from "./_live_peers.ts";
import { serializeRtpPacket } from "../lib/wire/rtp_packet.ts";

// ---------------------------------------------------------------------------
// Seeded randomness and mutation (tests/_rng.ts)

const BASE_SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5e4e4) >>> 0;
const encoder = new TextEncoder();

const bytes = (text: string) => encoder.encode(text);
/** Latin-1: one byte per character, for raw byte strings. */
const raw = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  "\r\n\r\n",
  "\n\n",
  "$",
  "\x00",
  "\xc3\x28",
  "\xed\xa0\x80",
  "\xff\xfe",
  "CSeq: ",
  "Session: ",
  "Content-Length: ",
  "Content-Length: 70000\r\n",
  "Transport: ",
  ";",
  "=",
  "-",
  ",",
  " ",
  "\t",
  "RTSP/1.0",
  "RTSP/2.0",
  "rtsp://",
  "/trackID=0",
  "%00",
  "%2e%2e/",
  "../",
  "99999",
  "65536",
  "0",
  "interleaved=",
  "client_port=",
  "destination=10.0.0.1;",
  "RTP/AVP/TCP",
  "RTP/UDP",
  "mode=record",
  ";mode=record",
  "Content-Type: application/sdp\r\n",
  "application/sdp",
  "v=0\r\n",
  "m=video 0 RTP/AVP 26\r\n",
  "m=audio 0 RTP/AVP 0\r\n",
  "a=rtpmap:96 JPEG/90000\r\n",
  "a=rtpmap:26 H264/90000\r\n",
  "a=framerate:",
  "a=x-dimensions:65535,0\r\n",
  "a=control:",
  "/streamid=0",
  "live/fuzz0",
].map(raw);

/** Live paths the fuzzed publishers announce (few, so that they collide). */
const LIVE_PATHS = ["live/fuzz0", "live/fuzz1", "live/fuzz2"];

/** An SDP of one track (`media`: its m= line and attributes). */
function sdpOf(media = "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n"): string {
  return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fuzz\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
    `${media}a=framerate:25\r\na=control:streamid=0\r\n`;
}

/** SDP bodies for ANNOUNCE: valid, foreign, odd and broken. */
const SDP_BODIES = [
  sdpOf(),
  sdpOf("m=video 0 RTP/AVP 96\r\na=rtpmap:96 JPEG/90000\r\na=x-dimensions:4096,2160\r\n"),
  sdpOf("m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"),
  sdpOf("m=video 0 RTP/AVP 26\r\nm=audio 0 RTP/AVP 0\r\n"),
  sdpOf("m=video 0 RTP/SAVP 26\r\n"),
  sdpOf("m=video 0 RTP/AVP 26 96 97\r\na=rtpmap:97 JPEG/90000/2\r\na=framerate:1e9\r\n"),
  "v=0\r\n",
  "m=video 0 RTP/AVP 26\r\n",
  "hello, world\r\n",
  "v=0\r\nm=\r\nm=video\r\na=rtpmap:\r\n",
];
const INTERESTING = [0, 0x0a, 0x0d, 0x20, 0x24, 0x3a, 0x3b, 0x2d, 0x30, 0x39, 0x7f, 0x80, 0xff];

/** 1-4 random mutations of `input`, inserting `tokens` among others. */
function mutate(
  rng: Rng,
  input: Uint8Array,
  others: readonly Uint8Array[],
  tokens: readonly Uint8Array[] = TOKENS,
): Uint8Array {
  let data: Uint8Array = input.slice();
  for (let r = rng.range(1, 4); r > 0; r--) {
    const n = data.length;
    const at = rng.int(n + 1);
    switch (rng.int(9)) {
      case 0:
        if (n > 0) data[rng.int(n)] ^= 1 << rng.int(8);
        break;
      case 1:
        if (n > 0) data[rng.int(n)] = rng.pick(INTERESTING);
        break;
      case 2:
        data = data.slice(0, rng.int(n + 1));
        break;
      case 3:
        data = concat(data.subarray(0, at), rng.bytes(rng.range(1, 12)), data.subarray(at));
        break;
      case 4:
        data = concat(data.subarray(0, at), rng.pick(tokens), data.subarray(at));
        break;
      case 5: {
        const from = rng.int(n + 1);
        const piece = data.slice(from, from + rng.int(48));
        data = concat(data.subarray(0, at), piece, data.subarray(at));
        break;
      }
      case 6:
        data = concat(data.subarray(0, at), data.subarray(at + rng.int(24)));
        break;
      case 7: {
        const other = rng.pick(others);
        data = concat(data.subarray(0, at), other.subarray(rng.int(other.length + 1)));
        break;
      }
      default: {
        const text = String.fromCharCode(...data);
        const runs = [...text.matchAll(/\d+/g)];
        if (runs.length === 0) break;
        const run = rng.pick(runs);
        data = concat(
          data.subarray(0, run.index),
          bytes(rng.pick(["0", "1", "255", "256", "65535", "65536", "99999999999", "-1"])),
          data.subarray(run.index + run[0].length),
        );
      }
    }
  }
  return data;
}

// ---------------------------------------------------------------------------
// Requests

/** Where RTP and RTCP of fuzzed sessions go: two adjacent UDP ports that count and discard. */
interface Discard {
  port: number;
  received: number;
  close(): Promise<void>;
}

function discardPair(): Discard {
  for (let attempt = 0; attempt < 100; attempt++) {
    const rtp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (rtp.addr as Deno.NetAddr).port;
    let rtcp: Deno.DatagramConn;
    try {
      if (port % 2 !== 0 || port === 65535) throw new Error("odd");
      rtcp = Deno.listenDatagram({ hostname: "127.0.0.1", port: port + 1, transport: "udp" });
    } catch {
      rtp.close();
      continue;
    }
    const state = { port, received: 0, close: async () => {} };
    const loop = (socket: Deno.DatagramConn) =>
      (async () => {
        for (;;) {
          try {
            await socket.receive();
            state.received++;
          } catch {
            return;
          }
        }
      })();
    const loops = [loop(rtp), loop(rtcp)];
    state.close = async () => {
      rtp.close();
      rtcp.close();
      await Promise.all(loops);
    };
    return state;
  }
  throw new Error("Cannot bind two adjacent UDP ports");
}

/** The seed requests for one server and sink. */
function seeds(port: number, sink: number) {
  const url = `rtsp://127.0.0.1:${port}/video.mjpeg`;
  const live = `rtsp://127.0.0.1:${port}/live/fuzz`;
  const std = (method: string, uri: string, headers: string[], body = "") =>
    `${method} ${uri} RTSP/1.0\r\n${headers.map((h) => `${h}\r\n`).join("")}${
      body ? `Content-Length: ${encoder.encode(body).length}\r\n` : ""
    }\r\n${body}`;
  const standard = [
    std("OPTIONS", "*", ["CSeq: 1"]),
    std("OPTIONS", url, ["CSeq: 2", "User-Agent: fuzz"]),
    std("DESCRIBE", url, ["CSeq: 3", "Accept: application/sdp"]),
    std("DESCRIBE", `rtsp://127.0.0.1:${port}/clip.mjpeg`, ["CSeq: 3"]),
    std("SETUP", `${url}/trackID=0`, [
      "CSeq: 4",
      `Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}`,
    ]),
    std("SETUP", `${url}/trackID=0`, ["CSeq: 4", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]),
    std("PLAY", url, ["CSeq: 5", "Session: 12345678", "Range: npt=0-"]),
    std("PLAY", url, ["CSeq: 5", "Session: 12345678", "Range: npt=00:00:05.5-7", "Scale: 2"]),
    std("PAUSE", url, ["CSeq: 6", "Session: 12345678"]),
    std("TEARDOWN", url, ["CSeq: 7", "Session: 12345678"]),
    std("GET_PARAMETER", url, ["CSeq: 8"]),
    std("SET_PARAMETER", url, ["CSeq: 9", "Content-Type: text/parameters"], "volume: 1\r\n"),
    std("ANNOUNCE", url, ["CSeq: 10"]),
    std("OPTIONS", "*", ["CSeq: 11"]).replace("RTSP/1.0", "RTSP/2.0"),
    // Publishing: ANNOUNCE with SDP bodies, SETUP mode=record, RECORD; a live path read.
    ...SDP_BODIES.map((body, i) =>
      std("ANNOUNCE", `${live}${i % LIVE_PATHS.length}`, [
        "CSeq: 12",
        "Content-Type: application/sdp",
      ], body)
    ),
    std("ANNOUNCE", url, ["CSeq: 12", "Content-Type: application/sdp"], sdpOf()),
    std("ANNOUNCE", `${live}0`, ["CSeq: 12", "Content-Type: text/plain"], sdpOf()),
    std("ANNOUNCE", `${live}1`, ["CSeq: 12"], sdpOf()),
    std("SETUP", `${live}0/streamid=0`, [
      "CSeq: 13",
      "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
    ]),
    std("SETUP", `${live}1/streamid=0`, [
      "CSeq: 13",
      `Transport: RTP/AVP/UDP;unicast;client_port=${sink}-${sink + 1};mode=record`,
    ]),
    std("RECORD", `${live}0`, ["CSeq: 14", "Session: 12345678", "Range: npt=0-"]),
    std("DESCRIBE", `${live}0`, ["CSeq: 15", "Accept: application/sdp"]),
    std("SETUP", `${live}0/trackID=0`, [
      "CSeq: 16",
      `Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}`,
    ]),
  ];
  const lab = [
    `SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink}`,
    `SETUP clip.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink}`,
    "PLAY video.mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456",
    "PAUSE video.mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456",
    "TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456",
  ];
  return { url, standard: standard.map(bytes), lab: lab.map(bytes) };
}

/** Requests that name a live session, standard or lab. */
function followUps(url: string, session: string, lab: boolean, sink: number): Uint8Array[] {
  if (lab) {
    return ["PLAY", "PAUSE", "TEARDOWN", "PLAY"].map((m, i) =>
      bytes(`${m} video.mjpeg RTSP/1.0\nCSeq: ${i + 2}\nSession: ${session}`)
    ).concat(
      bytes(
        `SETUP video.mjpeg RTSP/1.0\nCSeq: 9\nSession: ${session}\nTransport: RTP/UDP; client_port= ${sink}`,
      ),
    );
  }
  const std = (method: string, cseq: number, extra = "") =>
    bytes(`${method} ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\nSession: ${session}\r\n${extra}\r\n`);
  return [
    std("PLAY", 2, "Range: npt=0-\r\n"),
    std("PLAY", 3, "Range: npt=5-7\r\nScale: 0.5\r\n"),
    std("PLAY", 3, "Range: npt=9.5-2\r\n"),
    std("PLAY", 3, "Range: smpte=0:00:05:00-\r\nScale: -1\r\n"),
    std("PAUSE", 3),
    std("PLAY", 4),
    std("PLAY", 4, "Range: npt=now-\r\n"),
    std("GET_PARAMETER", 5),
    std("SET_PARAMETER", 6, "Content-Length: 4\r\n\r\nx: 1"),
    std("TEARDOWN", 7),
    std("TEARDOWN", 8),
    std("OPTIONS", 9),
    std("SETUP", 10, `Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}\r\n`),
  ];
}

/** RTP/JPEG of video.mjpeg's first frame, for fuzzed publishers to send. */
const PUBLISH_RTP = (await liveMedia()).payloads[0].map((payload, i, all) =>
  serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 1000 + i,
    timestamp: 90_000,
    ssrc: 0x5eed,
    marker: i === all.length - 1,
    payload,
  })
);

/** An interleaved frame (RFC 2326 §10.12) on `channel`. */
function interleaved(channel: number, data: Uint8Array): Uint8Array {
  return concat([0x24, channel, data.length >> 8, data.length & 0xff], data);
}

/** What a publisher with a session sends: requests naming it, RTP and junk on its channels. */
function publishFollowUps(live: string, session: string, rng: Rng): Uint8Array[] {
  const std = (method: string, cseq: number, extra = "") =>
    bytes(`${method} ${live} RTSP/1.0\r\nCSeq: ${cseq}\r\nSession: ${session}\r\n${extra}\r\n`);
  return [
    std("RECORD", 4, "Range: npt=0-\r\n"),
    std("RECORD", 4),
    std("PAUSE", 5),
    std("PLAY", 6, "Range: npt=0-\r\n"),
    std("SETUP", 7, "Transport: RTP/AVP/TCP;unicast;interleaved=2-3;mode=record\r\n"),
    std("GET_PARAMETER", 8),
    std("TEARDOWN", 9),
    concat(
      std("ANNOUNCE", 10, "Content-Type: application/sdp\r\n").subarray(0, -2),
      `Content-Length: ${SDP_BODIES[0].length}\r\n\r\n${SDP_BODIES[0]}`,
    ),
    concat(...PUBLISH_RTP.map((packet) => interleaved(0, packet))),
    interleaved(0, PUBLISH_RTP[rng.int(PUBLISH_RTP.length)]),
    interleaved(rng.pick([0, 1]), rng.bytes(rng.range(0, 64))),
  ];
}

/** Limit-probing and junk inputs. */
function hostile(rng: Rng, sink: number): Uint8Array {
  switch (rng.int(10)) {
    case 0:
      return bytes(
        `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: ${"a".repeat(rng.range(16300, 17000))}\r\n\r\n`,
      );
    case 1:
      return bytes(
        `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${
          Array.from({ length: rng.range(98, 104) }, (_, i) => `X-${i}: v\r\n`).join("")
        }\r\n`,
      );
    case 2:
      return bytes(
        `DESCRIBE rtsp://127.0.0.1/${
          "v".repeat(rng.range(4090, 4200))
        } RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
      );
    case 3:
      return bytes(
        `SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${
          rng.pick(["65537", "70000", "99999999999", "-1", "abc", "1e3"])
        }\r\n\r\nbody`,
      );
    case 4: // a lone interleaved frame with a bogus channel and length, maybe followed by a request
      return concat(
        Uint8Array.of(0x24, rng.int(256), rng.int(256), rng.int(256)),
        rng.bytes(rng.int(40)),
        rng.chance(0.5) ? bytes("OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n") : new Uint8Array(0),
      );
    case 5: // binary junk with NULs
      return concat(
        rng.bytes(rng.range(1, 600)),
        rng.chance(0.5) ? bytes("\r\n\r\n") : new Uint8Array(0),
      );
    case 6: // invalid UTF-8 in the request line and headers
      return raw(
        `OPTIONS rtsp://127.0.0.1/\xc3\x28\xed\xa0\x80 RTSP/1.0\r\nCSeq: 1\r\nX: \xff\xfe\xc0\xaf\r\n\r\n`,
      );
    case 7: // lab fragments
      return bytes(
        rng.pick([
          "SETUP video.mjpeg RTSP/1.0\nCSeq: 1",
          "SETUP video.mjpeg RTSP/1.0\nTransport: RTP/UDP; client_port= 5008",
          `SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= ${sink}\nSession: 1`,
          "PLAY video.mjpeg RTSP/1.0\nCSeq: 2",
          "SETUP video.mjpeg",
          "SETUP video.mjpeg RTSP/1.0\n",
          "\n\n\n",
          "CSeq: 1\nSession: 2",
        ]),
      );
    case 8: // paths that must stay inside the media directory
      return bytes(
        `SETUP ${
          rng.pick([
            "../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "rtsp://127.0.0.1/..%2f..%2fetc%2fpasswd",
            "video.mjpeg%00.txt",
            "/",
            "rtsp://127.0.0.1:1/",
            "http://127.0.0.1/video.mjpeg",
            ".",
          ])
        } RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=${sink}-${
          sink + 1
        }\r\n\r\n`,
      );
    default: // odd transports
      return bytes(
        `SETUP rtsp://127.0.0.1/video.mjpeg RTSP/1.0\r\nCSeq: 4\r\nTransport: ${
          rng.pick([
            "RTP/AVP;multicast;port=5000-5001",
            "RTP/AVP/TCP;interleaved=255",
            "RTP/AVP/TCP;interleaved=254-255",
            "RTP/AVP;unicast;client_port=0-1",
            "RTP/AVP;unicast;client_port=65535",
            "RTP/AVP;unicast;destination=127.0.0.2;client_port=5000-5001",
            "RTP/AVP;unicast;destination=127.0.0.1;client_port=" + sink,
            "RAW/RAW/UDP;unicast",
            "RTP/AVP/UDP;unicast;client_port=1-65535;ssrc=ZZ",
            "RTP/AVP;unicast;client_port=5000-4000",
            ",,,",
            "",
          ])
        }\r\n\r\n`,
      );
  }
}

// ---------------------------------------------------------------------------
// Connections

const QUIET_MS = 100;
const MAX_READ_MS = 1500;
const KEEP_BYTES = 256 * 1024;

/** `promise`'s value, or `timeout` after `ms`; the timer is always cleared. */
async function race<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client connection that writes what it is given and reads with bounded, quiet-ended waits. */
class FuzzConn {
  readonly #conn: Deno.TcpConn;
  readonly #buffer = new Uint8Array(65536);
  #pending: Promise<number | null> | undefined;
  #received: Uint8Array[] = [];
  #kept = 0;
  eof = false;
  writeFailed = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async write(data: Uint8Array, chunks: "whole" | "split" | "bytes", rng: Rng): Promise<void> {
    if (this.writeFailed) return;
    const pieces: Uint8Array[] = [];
    if (chunks === "bytes") { for (const b of data) pieces.push(Uint8Array.of(b)); }
    else if (chunks === "split") {
      let at = 0;
      while (at < data.length) {
        const n = rng.range(1, Math.max(1, Math.ceil(data.length / 3)));
        pieces.push(data.subarray(at, at + n));
        at += n;
      }
    } else pieces.push(data);
    try {
      for (const piece of pieces) {
        let offset = 0;
        while (offset < piece.length) offset += await this.#conn.write(piece.subarray(offset));
      }
    } catch {
      this.writeFailed = true; // the server closed (e.g. after a 400): expected
    }
  }

  /** Read until the peer closes, goes quiet for `quietMs`, `maxMs` pass, or `done` holds. */
  async read(
    quietMs = QUIET_MS,
    maxMs = MAX_READ_MS,
    done?: (text: string) => boolean,
  ): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (!this.eof) {
      if (done?.(this.text())) return;
      const left = deadline - performance.now();
      if (left <= 0) return;
      this.#pending ??= this.#conn.read(this.#buffer).catch(() => null);
      const n = await race(this.#pending, Math.min(quietMs, left));
      if (n === "timeout") return;
      this.#pending = undefined;
      if (n === null) {
        this.eof = true;
        return;
      }
      if (this.#kept < KEEP_BYTES) {
        this.#received.push(this.#buffer.slice(0, n));
        this.#kept += n;
      }
    }
  }

  /** What arrived, one character per byte. */
  text(): string {
    return this.#received.map((chunk) => String.fromCharCode(...chunk)).join("");
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#pending;
    this.#pending = undefined;
  }
}

/** Status codes the server documents; 500 would mean an unexpected exception. */
const DOCUMENTED = new Set([
  200,
  400,
  403,
  404,
  405,
  413,
  415,
  414,
  451,
  453,
  454,
  455,
  456,
  457,
  459,
  461,
  501,
  503,
  505,
]);

interface RoundResult {
  cases: number;
  requests: number;
  statuses: Map<number, number>;
  /** Statuses outside DOCUMENTED, with the case that got them. */
  odd: string[];
}

/** Publishes the fuzz got through: ANNOUNCE answered 200, and SETUP and RECORD too. */
const publishes = { announced: 0, recorded: 0 };

/** Every status line in what a connection received. */
function statusesIn(text: string): number[] {
  return [...text.matchAll(/RTSP\/1\.0 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** One seeded case: a connection, some writes, bounded reads; returns the requests sent. */
async function runCase(
  srv: TestServer,
  sink: number,
  seed: number,
  result: RoundResult,
): Promise<void> {
  const rng = new Rng(seed);
  const { url, standard, lab } = seeds(srv.port, sink);
  const all = [...standard, ...lab];
  const conn = new FuzzConn(await Deno.connect({ hostname: "127.0.0.1", port: srv.port }));
  const chunking = (data: Uint8Array) =>
    data.length <= 300 && rng.chance(0.12) ? "bytes" : rng.chance(0.2) ? "split" : "whole";
  let requests = 0;
  let label = "";
  try {
    const kind = rng.int(100);
    if (kind < 30) { // a real session, then mutated requests naming it
      const isLab = rng.chance(0.4);
      const setup = isLab ? lab[rng.int(2)] : standard[rng.pick([4, 4, 5])];
      label = `stateful ${isLab ? "lab" : "rtsp"}`;
      await conn.write(setup, "whole", rng);
      requests++;
      await conn.read(isLab ? 400 : 300, 1500, (t) => /\r\n\r\n/.test(t));
      const session = /Session: *([^\r\n;]+)/.exec(conn.text())?.[1];
      if (session !== undefined) {
        const next = followUps(url, session, isLab, sink);
        for (let i = rng.range(1, 4); i > 0; i--) {
          let request = rng.pick(next);
          if (rng.chance(0.6)) request = mutate(rng, request, next);
          await conn.write(request, chunking(request), rng);
          requests++;
          if (isLab || rng.chance(0.5)) await conn.read(isLab ? 80 : 40, 400);
        }
      }
    } else if (kind < 40) { // a publisher: ANNOUNCE, SETUP mode=record, RECORD, then more
      label = "publish";
      const path = rng.pick(LIVE_PATHS);
      const live = `rtsp://127.0.0.1:${srv.port}/${path}`;
      const body = rng.chance(0.8) ? SDP_BODIES[0] : rng.pick(SDP_BODIES);
      let announce: Uint8Array = bytes(
        `ANNOUNCE ${live} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      if (rng.chance(0.3)) announce = mutate(rng, announce, all);
      await conn.write(announce, chunking(announce), rng);
      requests++;
      await conn.read(300, 1500, (t) => /\r\n\r\n/.test(t));
      if (/^RTSP\/1\.0 200 /.test(conn.text())) {
        publishes.announced++;
        const tcp = rng.chance(0.7);
        const setup = bytes(
          `SETUP ${live}/streamid=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: ${
            tcp
              ? "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"
              : `RTP/AVP/UDP;unicast;client_port=${sink}-${sink + 1};mode=record`
          }\r\n\r\n`,
        );
        await conn.write(setup, "whole", rng);
        requests++;
        await conn.read(300, 1500, (t) => (t.match(/\r\n\r\n/g) ?? []).length >= 2);
        const session = /Session: *([^\r\n;]+)/.exec(conn.text())?.[1];
        if (session !== undefined) {
          const record = bytes(
            `RECORD ${live} RTSP/1.0\r\nCSeq: 3\r\nSession: ${session}\r\nRange: npt=0-\r\n\r\n`,
          );
          await conn.write(record, "whole", rng);
          requests++;
          await conn.read(300, 1500, (t) => (t.match(/\r\n\r\n/g) ?? []).length >= 3);
          if ((conn.text().match(/^RTSP\/1\.0 200 /gm) ?? []).length >= 3) publishes.recorded++;
          const next = publishFollowUps(live, session, rng);
          for (let i = rng.range(1, 5); i > 0; i--) {
            let data = rng.pick(next);
            if (rng.chance(0.4)) data = mutate(rng, data, next);
            await conn.write(data, chunking(data), rng);
            if (/^[A-Z_]+ /.test(String.fromCharCode(...data.subarray(0, 16)))) requests++;
            if (rng.chance(0.5)) await conn.read(40, 400);
          }
        }
      }
    } else if (kind < 56) {
      label = "mutated";
      const request = mutate(rng, rng.pick(all), all);
      await conn.write(request, chunking(request), rng);
      requests++;
    } else if (kind < 64) {
      label = "pipelined";
      const parts = Array.from({ length: rng.range(2, 4) }, () => rng.pick(standard));
      let data = concat(...parts);
      if (rng.chance(0.6)) data = mutate(rng, data, all);
      await conn.write(data, chunking(data), rng);
      requests += parts.length;
    } else if (kind < 90) {
      label = "hostile";
      const data = hostile(rng, sink);
      await conn.write(data, chunking(data), rng);
      requests++;
    } else {
      label = "seed";
      const request = rng.pick(all);
      await conn.write(request, chunking(request), rng);
      requests++;
    }
    await conn.read();
  } finally {
    await conn.close();
  }
  result.cases++;
  result.requests += requests;
  for (const status of statusesIn(conn.text())) {
    result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
    if (!DOCUMENTED.has(status) && result.odd.length < 20) {
      result.odd.push(`${status} in case seed ${seed} (${label})`);
    }
  }
}

/** Run `count` cases, at most `concurrency` at once. */
async function fuzzRound(
  srv: TestServer,
  sink: number,
  round: number,
  count: number,
  concurrency = 20,
): Promise<RoundResult> {
  const result: RoundResult = { cases: 0, requests: 0, statuses: new Map(), odd: [] };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await runCase(srv, sink, (BASE_SEED ^ (round * 0x10000 + i * 2654435761)) >>> 0, result);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

/**
 * V8's `gc()`: exposed by --v8-flags=--expose-gc, or by setting that flag now
 * (node:v8) and taking the function from a new context (node:vm).
 */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    return typeof gc === "function" ? gc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * heapUsed once garbage is collected: full collections where `gc()` can be
 * had, else allocation pressure; the least of a few samples, with the event
 * loop turning in between so closed sockets and finished promises are let go.
 */
async function settledHeap(): Promise<number> {
  const gc = findGc();
  let least = Infinity;
  for (let i = 0; i < 5; i++) {
    await sleep(20);
    if (gc) gc();
    else {
      for (let k = 0; k < 10; k++) {
        let pressure: number[] | undefined = new Array(2_000_000).fill(k);
        pressure = undefined;
        void pressure;
      }
    }
    least = Math.min(least, Deno.memoryUsage().heapUsed);
  }
  return least;
}

const MB = 1024 * 1024;
const MAX_CONNECTIONS = 40;

/**
 * The server leaves nothing behind: all MAX_CONNECTIONS places are free
 * again (a place frees when the server sees the close; a leaked one never
 * frees, so a few tries do not weaken this), and close() returns promptly (a
 * connection the server could not end would hold it).
 */
async function assertLeftWhole(srv: TestServer): Promise<void> {
  let served = 0;
  for (let attempt = 0; attempt < 5 && served < MAX_CONNECTIONS; attempt++) {
    await sleep(100);
    const fresh = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS }, () => RawConn.connect(srv.port)),
    );
    try {
      const replies = await Promise.all(
        fresh.map((f, i) => f.request(`OPTIONS * RTSP/1.0\r\nCSeq: ${i + 1}\r\n\r\n`)),
      );
      served = replies.filter((r) => r.startsWith("RTSP/1.0 200 ")).length;
    } finally {
      await Promise.all(fresh.map((f) => f.close()));
    }
  }
  assert.equal(served, MAX_CONNECTIONS, "every one of maxConnections fresh connections is served");
  const closing = srv.server.close();
  assert.notEqual(await race(closing, 5000), "timeout", "close() returned within 5 s");
}

Deno.test("fuzz: the server survives seeded junk, mutations and limits, and stays whole", async () => {
  const frames = await readLabFrames();
  await using media = await tempMediaDir({
    "video.mjpeg": labFile(frames),
    "clip.mjpeg": labFile(frames.slice(0, 10)),
  });
  await using srv = await startServer({
    mediaDir: media.path,
    fps: 100,
    maxConnections: MAX_CONNECTIONS,
  });
  const sink = discardPair();
  try {
    const started = performance.now();
    const first = await fuzzRound(srv, sink.port, 1, 1000);
    await waitUntil(() => srv.server.sessions.size === 0, 3000);
    const heap1 = await settledHeap();
    const second = await fuzzRound(srv, sink.port, 2, 1000);
    await waitUntil(() => srv.server.sessions.size === 0, 3000);
    const heap2 = await settledHeap();
    const seconds = (performance.now() - started) / 1000;

    const statuses = new Map<number, number>();
    for (const r of [first, second]) {
      for (const [s, n] of r.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n);
    }
    const c = srv.server.counters;
    console.log(
      `fuzz_server: ${first.cases + second.cases} connections, ${
        first.requests + second.requests
      } requests in ${seconds.toFixed(1)} s (seed 0x${BASE_SEED.toString(16)}); statuses ${
        JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))
      }; server counted ${c.requests} requests, ${c.badRequests} bad, ${c.sessionsCreated} sessions, ${c.connectionsRefused} refused; ${sink.received} RTP/RTCP datagrams discarded`,
    );
    console.log(
      `fuzz_server heap: ${(heap1 / MB).toFixed(1)} MB after round 1, ${
        (heap2 / MB).toFixed(1)
      } MB after round 2: growth ${((heap2 - heap1) / MB).toFixed(1)} MB (limit 20 MB)`,
    );

    assert.deepEqual([...first.odd, ...second.odd], [], "every status is one the server documents");
    assert.equal(statuses.get(500), undefined, "no 500 (an unexpected exception)");
    assert.ok(
      (statuses.get(200) ?? 0) > 100 && (statuses.get(400) ?? 0) > 100,
      "the fuzz reached both",
    );
    const internal = srv.logs.filter((l) =>
      /connection error: (TypeError|RangeError|ReferenceError)/.test(l)
    );
    assert.deepEqual(internal, [], "no internal exception ended a connection");
    assert.equal(srv.server.sessions.size, 0, "every session ended with its connection");
    console.log(
      `fuzz_server publishes: ${publishes.announced} announced, ${publishes.recorded} recorded`,
    );
    assert.ok(
      publishes.announced > 20 && publishes.recorded > 10,
      "fuzzed publishers got on the air",
    );
    assert.ok((statuses.get(403) ?? 0) > 0, "ANNOUNCE of a file was refused");
    const gone = srv.logs.filter((l) => /^live\/fuzz\d: publisher .* gone; /.test(l));
    const taken = gone.filter((l) => !/ gone; 0 frames taken/.test(l)).length;
    console.log(`fuzz_server publishers gone: ${gone.length}, ${taken} of them with frames taken`);
    assert.ok(taken > 0, "fuzzed publishers' RTP made frames");
    for (const path of LIVE_PATHS) {
      assert.equal(srv.server.liveCounters(path), undefined, `${path} is free again`);
    }
    assert.ok(
      heap2 - heap1 < 20 * MB,
      `heap grew ${((heap2 - heap1) / MB).toFixed(1)} MB in round 2`,
    );

    // Still serving: OPTIONS, and the lab's SETUP, PLAY, TEARDOWN.
    await using conn = await RawConn.connect(srv.port);
    const options = await conn.request("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert.match(options, /^RTSP\/1\.0 200 OK\r\nCSeq: 1\r\n/);
    assert.match(options, /Public: .*SETUP/);
    const before = sink.received;
    const setup = labParseReply(
      await conn.request(
        `SETUP video.mjpeg RTSP/1.0\nCSeq: 2\nTransport: RTP/UDP; client_port= ${sink.port}`,
      ),
    );
    assert.equal(setup.status, 200);
    assert.equal(setup.cseq, 2);
    const play = labParseReply(
      await conn.request(`PLAY video.mjpeg RTSP/1.0\nCSeq: 3\nSession: ${setup.session}`),
    );
    assert.deepEqual(play, { status: 200, cseq: 3, session: setup.session });
    assert.ok(await waitUntil(() => sink.received >= before + 5, 3000), "RTP flows after PLAY");
    const teardown = labParseReply(
      await conn.request(`TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 4\nSession: ${setup.session}`),
    );
    assert.deepEqual(teardown, { status: 200, cseq: 4, session: setup.session });
    assert.equal(srv.server.sessions.size, 0);
    await conn.close();

    await assertLeftWhole(srv);
  } finally {
    await sink.close();
  }
});

// ---------------------------------------------------------------------------
// With users: the auth gate

const AUTH_REALM = "rtsp-lab";
/** Users of the auth round: alice by password, bob by an MD5 HA1 only (as an htdigest file may hold). */
const AUTH_USERS = [
  { name: "alice", password: "fuzz s3cret:p@ss" },
  { name: "bob", password: "hunter2 fuzz" },
] as const;

const hex = (algorithm: "MD5" | "SHA-256", text: string) =>
  createHash(algorithm === "MD5" ? "md5" : "sha256").update(text).digest("hex");
const ha1Of = (algorithm: "MD5" | "SHA-256", name: string, password: string) =>
  hex(algorithm, `${name}:${AUTH_REALM}:${password}`);

/** What the auth round's server log must never hold: the passwords and every HA1. */
const AUTH_SECRETS = AUTH_USERS.flatMap(({ name, password }) => [
  password,
  encodeURIComponent(password),
  ha1Of("MD5", name, password),
  ha1Of("SHA-256", name, password),
]);

const AUTH_TOKENS = [
  ...TOKENS,
  ...[
    "Authorization: ",
    "Digest ",
    "Basic ",
    "Bearer ",
    'username="alice", ',
    'username="bob", ',
    "username=",
    'realm="rtsp-lab", ',
    'realm="other", ',
    "nonce=",
    'uri="*", ',
    "response=",
    'response="00", ',
    "algorithm=SHA-256, ",
    "algorithm=MD5-sess, ",
    "algorithm=SHA-512-256, ",
    'algorithm="", ',
    "qop=auth, ",
    "qop=auth-int, ",
    'qop="auth,auth-int", ',
    "nc=ffffffff, ",
    "nc=1000000000, ",
    "nc=, ",
    'cnonce="", ',
    'opaque="x", ',
    "stale=true, ",
    '"',
    "\\",
    '\\"',
    ",,",
    "==",
    "Og==",
    "YWxpY2U6",
    "%40",
    "\x7f",
  ].map(raw),
];

interface DigestParts {
  method: string;
  uri: string;
  nonce: string;
  user?: { name: string; password: string };
  algorithm: "MD5" | "SHA-256";
  qop: boolean;
  nc?: number;
}

/** A Digest Authorization value computed here with node:crypto (RFC 7616 §3.4.1; RFC 2069). */
function digestValue(p: DigestParts): string {
  const user = p.user ?? AUTH_USERS[0];
  const ha1 = ha1Of(p.algorithm, user.name, user.password);
  const ha2 = hex(p.algorithm, `${p.method}:${p.uri}`);
  const head = `Digest username="${user.name}", realm="${AUTH_REALM}", nonce="${p.nonce}", ` +
    `uri="${p.uri}"`;
  const named = p.algorithm === "MD5" && !p.qop ? "" : `, algorithm=${p.algorithm}`;
  if (!p.qop) return `${head}, response="${hex(p.algorithm, `${ha1}:${p.nonce}:${ha2}`)}"${named}`;
  const nc = (p.nc ?? 1).toString(16).padStart(8, "0");
  const cnonce = "5ca1ab1e";
  const response = hex(p.algorithm, `${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `${head}, response="${response}"${named}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

const basicValue = (name: string, password: string) =>
  `Basic ${btoa(String.fromCharCode(...encoder.encode(`${name}:${password}`)))}`;

/** An RTSP request with CRLFs, `headers` in order. */
const rtspText = (method: string, uri: string, headers: string[]) =>
  `${method} ${uri} RTSP/1.0\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;
const rtsp = (method: string, uri: string, headers: string[]) =>
  bytes(rtspText(method, uri, headers));

/** Authorization values for `method` on `uri`: right ones, wrong ones, odd ones. */
function authValues(method: string, uri: string, nonce: string, nc: number): string[] {
  const [alice, bob] = AUTH_USERS;
  const d = (extra: Partial<DigestParts>) =>
    digestValue({ method, uri, nonce, algorithm: "MD5", qop: false, nc, ...extra });
  return [
    d({}),
    d({ qop: true }),
    d({ algorithm: "SHA-256", qop: true }),
    d({ algorithm: "SHA-256" }),
    d({ user: bob }),
    d({ user: bob, algorithm: "SHA-256", qop: true }), // bob has no SHA-256 HA1: 401
    d({ user: { name: alice.name, password: "wrong" } }),
    d({ user: { name: "mallory", password: alice.password } }),
    d({ uri: new URL(uri, "rtsp://x").pathname }),
    d({ nonce: nonce.slice(0, -2) + (nonce.endsWith("AA") ? "BB" : "AA") }),
    basicValue(alice.name, alice.password),
    basicValue(bob.name, "nope"),
  ];
}

/** The auth round's seed requests: each method with each kind of credentials. */
function authSeeds(port: number, sink: number, nonce: string): Uint8Array[] {
  const url = `rtsp://127.0.0.1:${port}/video.mjpeg`;
  const track = `${url}/trackID=0`;
  const udp = `Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}`;
  const tcp = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1";
  const seeds: Uint8Array[] = [rtsp("DESCRIBE", url, ["CSeq: 1"])];
  for (const [i, value] of authValues("DESCRIBE", url, nonce, 1).entries()) {
    seeds.push(rtsp("DESCRIBE", url, [`CSeq: ${i + 2}`, `Authorization: ${value}`]));
  }
  for (
    const [transport, value] of [
      [udp, authValues("SETUP", track, nonce, 2)[1]],
      [tcp, authValues("SETUP", track, nonce, 2)[2]],
      [udp, authValues("SETUP", track, nonce, 2)[10]],
    ]
  ) seeds.push(rtsp("SETUP", track, ["CSeq: 3", transport, `Authorization: ${value}`]));
  seeds.push(
    rtsp("PLAY", url, [
      "CSeq: 4",
      "Session: 12345678",
      `Authorization: ${authValues("PLAY", url, nonce, 3)[0]}`,
    ]),
    rtsp("OPTIONS", url, ["CSeq: 5", "Session: 12345678"]),
    rtsp("GET_PARAMETER", url, [
      "CSeq: 6",
      `Authorization: ${authValues("GET_PARAMETER", url, nonce, 4)[2]}`,
    ]),
  );
  return seeds;
}

/** Requests that name a live session, each with right credentials (some mutated later). */
function authFollowUps(url: string, session: string, nonce: string, sink: number): Uint8Array[] {
  let nc = 10;
  const std = (method: string, extra: string[] = []) =>
    rtsp(method, url, [
      `CSeq: ${nc}`,
      `Session: ${session}`,
      ...extra,
      `Authorization: ${
        digestValue({ method, uri: url, nonce, algorithm: "SHA-256", qop: true, nc: nc++ })
      }`,
    ]);
  return [
    std("PLAY", ["Range: npt=0-"]),
    std("PLAY", ["Range: npt=5-7", "Scale: 0.5"]),
    std("PAUSE"),
    std("GET_PARAMETER"),
    std("TEARDOWN"),
    std("OPTIONS"),
    std("SETUP", [`Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}`]),
    rtsp("PLAY", url, [`CSeq: 30`, `Session: ${session}`]), // no credentials: 401
    rtsp("PAUSE", url, [
      `CSeq: 31`,
      `Session: ${session}`,
      `Authorization: ${
        digestValue({
          method: "PAUSE",
          uri: url,
          nonce,
          algorithm: "MD5",
          qop: false,
          user: AUTH_USERS[1],
        })
      }`, // another user's credentials: 454
    ]),
  ];
}

/** Hostile Authorization values. */
function hostileAuthValue(rng: Rng, nonce: string): string {
  const b64 = (data: Uint8Array) => btoa(String.fromCharCode(...data));
  switch (rng.int(12)) {
    case 0:
      return rng.pick([
        "",
        " ",
        "Digest",
        "Basic",
        "Basic ",
        "Digest ,,,,",
        "Negotiate abc",
        "Basic =",
      ]);
    case 1: // Basic: no colon, invalid UTF-8, NULs, overlong
      return `Basic ${
        rng.pick([
          b64(bytes("alice")),
          b64(Uint8Array.of(0x61, 0x3a, 0xc3, 0x28, 0xff)),
          b64(Uint8Array.of(0, 0x3a, 0)),
          b64(rng.bytes(rng.range(1, 64))),
          "!!!!",
          "YWxpY2U6".repeat(rng.range(500, 2000)),
        ])
      }`;
    case 2: // a parameter repeated many times
      return `Digest ${
        Array.from({ length: rng.range(50, 400) }, () => 'username="alice"').join(", ")
      }`;
    case 3: // unterminated and escaped quotes
      return rng.pick([
        `Digest username="alice, realm="${AUTH_REALM}", nonce="${nonce}`,
        `Digest username="al\\"ice", realm="${AUTH_REALM}", nonce="${nonce}", uri="/", response="0"`,
        `Digest username="alice\\", realm="${AUTH_REALM}"`,
        'Digest username=""""""',
      ]);
    case 4: // an overlong nonce or response
      return `Digest username="alice", realm="${AUTH_REALM}", nonce="${
        "A".repeat(rng.range(100, 8000))
      }", uri="/", response="${"0".repeat(rng.range(1, 300))}"`;
    case 5: // a nonce of the right shape that this server did not make
      return digestValue({
        method: "DESCRIBE",
        uri: "/",
        nonce: b64(rng.bytes(24)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
        algorithm: rng.chance(0.5) ? "MD5" : "SHA-256",
        qop: rng.chance(0.5),
      });
    case 6: // unknown algorithms and qops, odd nc
      return `Digest username="alice", realm="${AUTH_REALM}", nonce="${nonce}", uri="/", ` +
        `response="${"a".repeat(64)}", algorithm=${
          rng.pick(["MD5-sess", "SHA-256-sess", "SHA-512-256", "md5", "sha-256", '""', "ROT13"])
        }, qop=${rng.pick(["auth-int", "auth", '"auth,auth-int"', "", "none"])}, nc=${
          rng.pick(["zz", "", "1", "ffffffffff", "-1", "00000001"])
        }, cnonce=${rng.pick(['""', '"x"', "x", ""])}`;
    case 7: // parameters without values, or values without names
      return rng.pick(["Digest =,=,=", "Digest a", "Digest a=", 'Digest ="x"', "Digest ,a=b,,c"]);
    case 8: // random bytes after the scheme
      return `${rng.pick(["Digest", "Basic"])} ${
        String.fromCharCode(...rng.bytes(rng.range(1, 200)))
      }`;
    case 9: // the response of another request
      return digestValue({
        method: rng.pick(["OPTIONS", "TEARDOWN", "describe"]),
        uri: rng.pick(["*", "rtsp://127.0.0.1/other.mjpeg", "/video.mjpeg"]),
        nonce,
        algorithm: rng.chance(0.5) ? "MD5" : "SHA-256",
        qop: rng.chance(0.5),
      });
    case 10: // a huge header
      return `Digest username="${"a".repeat(rng.range(10_000, 17_000))}"`;
    default: // a realm or user name of odd characters
      return digestValue({
        method: "DESCRIBE",
        uri: "/",
        nonce,
        algorithm: "MD5",
        qop: false,
        user: {
          name: rng.pick(["", ":", "al:ice", "ali\u00e9", "a\u0000b", '"'] as const),
          password: "x",
        },
      });
  }
}

/** One seeded case of the auth round. */
async function runAuthCase(
  srv: TestServer,
  sink: number,
  nonce: string,
  seed: number,
  result: RoundResult,
): Promise<void> {
  const rng = new Rng(seed);
  const url = `rtsp://127.0.0.1:${srv.port}/video.mjpeg`;
  const seeds = authSeeds(srv.port, sink, nonce);
  const conn = new FuzzConn(await Deno.connect({ hostname: "127.0.0.1", port: srv.port }));
  const chunking = (data: Uint8Array) =>
    data.length <= 300 && rng.chance(0.12) ? "bytes" : rng.chance(0.2) ? "split" : "whole";
  let requests = 0;
  let label = "";
  try {
    const kind = rng.int(100);
    if (kind < 25) { // a session set up with credentials, then (mutated) requests naming it
      label = "stateful";
      const setup = rtsp("SETUP", `${url}/trackID=0`, [
        "CSeq: 2",
        rng.chance(0.5)
          ? `Transport: RTP/AVP;unicast;client_port=${sink}-${sink + 1}`
          : "Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
        `Authorization: ${
          digestValue({
            method: "SETUP",
            uri: `${url}/trackID=0`,
            nonce,
            algorithm: rng.chance(0.5) ? "MD5" : "SHA-256",
            qop: rng.chance(0.5),
          })
        }`,
      ]);
      await conn.write(setup, "whole", rng);
      requests++;
      await conn.read(300, 1500, (t) => /\r\n\r\n/.test(t));
      const session = /Session: *([^\r\n;]+)/.exec(conn.text())?.[1];
      if (session !== undefined) {
        const next = authFollowUps(url, session, nonce, sink);
        for (let i = rng.range(1, 4); i > 0; i--) {
          let request = rng.pick(next);
          if (rng.chance(0.5)) request = mutate(rng, request, next, AUTH_TOKENS);
          await conn.write(request, chunking(request), rng);
          requests++;
          if (rng.chance(0.5)) await conn.read(40, 400);
        }
      }
    } else if (kind < 55) {
      label = "mutated";
      const request = mutate(rng, rng.pick(seeds), seeds, AUTH_TOKENS);
      await conn.write(request, chunking(request), rng);
      requests++;
    } else if (kind < 85) {
      label = "hostile Authorization";
      const headers = ["CSeq: 1", `Authorization: ${hostileAuthValue(rng, nonce)}`];
      if (rng.chance(0.15)) headers.push(`Authorization: ${hostileAuthValue(rng, nonce)}`);
      const request = raw(
        `${rng.pick(["DESCRIBE", "SETUP", "PLAY", "OPTIONS"])} ${url} RTSP/1.0\r\n${
          headers.map((h) => `${h}\r\n`).join("")
        }${rng.chance(0.3) ? "Session: 12345678\r\n" : ""}\r\n`,
      );
      await conn.write(request, chunking(request), rng);
      requests++;
    } else if (kind < 92) {
      label = "brute force";
      const tries = rng.range(8, 14);
      const data = concat(
        ...Array.from({ length: tries }, (_, i) =>
          rtsp("DESCRIBE", url, [
            `CSeq: ${i + 1}`,
            `Authorization: ${
              rng.chance(0.5) ? basicValue("alice", `guess${i}`) : digestValue({
                method: "DESCRIBE",
                uri: url,
                nonce,
                algorithm: "MD5",
                qop: false,
                user: { name: "alice", password: `guess${i}` },
              })
            }`,
          ])),
      );
      await conn.write(data, chunking(data), rng);
      requests += tries;
    } else {
      label = "seed";
      const request = rng.pick(seeds);
      await conn.write(request, chunking(request), rng);
      requests++;
    }
    await conn.read();
  } finally {
    await conn.close();
  }
  result.cases++;
  result.requests += requests;
  for (const status of statusesIn(conn.text())) {
    result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
    if (status !== 401 && !DOCUMENTED.has(status) && result.odd.length < 20) {
      result.odd.push(`${status} in auth case seed ${seed} (${label})`);
    }
  }
}

/** The challenge of a first DESCRIBE on a new connection: its nonce and algorithms. */
async function authChallenge(srv: TestServer): Promise<{ nonce: string; algorithms: string[] }> {
  await using conn = await RawConn.connect(srv.port);
  const reply = await conn.request(
    `DESCRIBE rtsp://127.0.0.1:${srv.port}/video.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
  );
  assert.match(reply, /^RTSP\/1\.0 401 /, reply);
  const nonce = /nonce="([^"]+)"/.exec(reply)?.[1];
  assert.ok(nonce, reply);
  return { nonce, algorithms: [...reply.matchAll(/algorithm=([^,\s]+)/g)].map((m) => m[1]) };
}

Deno.test("fuzz: with users, the auth gate survives junk and mutated credentials, and stays whole", async () => {
  await using srv = await startServer({
    fps: 100,
    maxConnections: MAX_CONNECTIONS,
    users: [
      AUTH_USERS[0],
      {
        name: AUTH_USERS[1].name,
        ha1: { MD5: ha1Of("MD5", AUTH_USERS[1].name, AUTH_USERS[1].password) },
      },
    ],
    allowBasic: true,
    nonceLifetime: 600,
  });
  const sink = discardPair();
  try {
    const started = performance.now();
    const { nonce } = await authChallenge(srv);
    const result: RoundResult = { cases: 0, requests: 0, statuses: new Map(), odd: [] };
    const count = 1000;
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const seed = (BASE_SEED ^ (3 * 0x10000 + i * 2654435761)) >>> 0;
        await runAuthCase(srv, sink.port, nonce, seed, result);
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    await waitUntil(() => srv.server.sessions.size === 0, 3000);
    const c = srv.server.counters;
    console.log(
      `fuzz_server (users): ${result.cases} connections, ${result.requests} requests in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s (seed 0x${BASE_SEED.toString(16)}); statuses ${
        JSON.stringify(Object.fromEntries([...result.statuses].sort((a, b) => a[0] - b[0])))
      }; server counted ${c.requests} requests, ${c.badRequests} bad, ${c.sessionsCreated} sessions`,
    );

    assert.deepEqual(result.odd, [], "every status is one the server documents, or 401");
    assert.equal(result.statuses.get(500), undefined, "no 500 (an unexpected exception)");
    assert.ok(
      (result.statuses.get(200) ?? 0) > 100 && (result.statuses.get(401) ?? 0) > 300,
      "the fuzz got past the gate and was stopped by it",
    );
    assert.ok((result.statuses.get(454) ?? 0) > 0, "a session's requests reached their checks");
    assert.ok(c.sessionsCreated > 50, "sessions were set up with credentials");
    const internal = srv.logs.filter((l) =>
      /connection error: (TypeError|RangeError|ReferenceError|SyntaxError)/.test(l)
    );
    assert.deepEqual(internal, [], "no internal exception ended a connection");
    assert.ok(
      srv.logs.some((l) => /closed after 10 failed authentications/.test(l)),
      "brute force met the failure limit",
    );
    const log = srv.logText();
    for (const secret of AUTH_SECRETS) {
      assert.ok(!log.includes(secret), `the log holds a secret (${secret.slice(0, 3)}…)`);
    }
    assert.equal(srv.server.sessions.size, 0, "every session ended with its connection");

    // Still guarding: OPTIONS is free, DESCRIBE without credentials is 401 with both challenges.
    const fresh = await authChallenge(srv);
    assert.deepEqual(fresh.algorithms, ["SHA-256", "MD5"]);
    // Still serving a whole Digest session: SETUP, PLAY (RTP flows), TEARDOWN.
    await using conn = await RawConn.connect(srv.port);
    const url = srv.url("video.mjpeg");
    const options = await conn.request("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert.match(options, /^RTSP\/1\.0 200 OK\r\n/);
    const auth = (method: string, uri: string, nc: number) =>
      `Authorization: ${
        digestValue({ method, uri, nonce: fresh.nonce, algorithm: "SHA-256", qop: true, nc })
      }`;
    const setup = await conn.request(
      rtspText("SETUP", `${url}/trackID=0`, [
        "CSeq: 2",
        `Transport: RTP/AVP;unicast;client_port=${sink.port}-${sink.port + 1}`,
        auth("SETUP", `${url}/trackID=0`, 1),
      ]),
    );
    assert.match(setup, /^RTSP\/1\.0 200 OK\r\n/, setup);
    const session = /Session: (\d+)/.exec(setup)![1];
    const before = sink.received;
    const play = await conn.request(
      rtspText("PLAY", url, ["CSeq: 3", `Session: ${session}`, auth("PLAY", url, 2)]),
    );
    assert.match(play, /^RTSP\/1\.0 200 OK\r\n/, play);
    assert.ok(await waitUntil(() => sink.received >= before + 5, 3000), "RTP flows after PLAY");
    const teardown = await conn.request(
      rtspText("TEARDOWN", url, ["CSeq: 4", `Session: ${session}`, auth("TEARDOWN", url, 3)]),
    );
    assert.match(teardown, /^RTSP\/1\.0 200 OK\r\n/, teardown);
    await conn.close();
    assert.equal(srv.server.sessions.size, 0);

    await assertLeftWhole(srv);
  } finally {
    await sink.close();
  }
});

Deno.test("fuzz: a PLAY whose Request-URI holds a bare CR gets 400, and the server goes on", async () => {
  // Found by the fuzzer: the URI (a bare CR is not a line end to the parser) was
  // echoed in RTP-Info, serializing that reply threw and no reply was sent. A
  // control character inside a line now makes the message malformed: 400, and
  // the connection (with its session) ends like any other non-RTSP input.
  await using srv = await startServer({ fps: 100 });
  const sink = discardPair();
  try {
    await using conn = await RawConn.connect(srv.port);
    const url = srv.url("video.mjpeg");
    const setup = await conn.request(
      `SETUP ${url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=${sink.port}-${
        sink.port + 1
      }\r\n\r\n`,
    );
    const session = /Session: (\d+)/.exec(setup)?.[1];
    assert.ok(session, setup);
    let reply = "";
    try {
      reply = await conn.request(
        `PLAY ${url}\rx RTSP/1.0\r\nCSeq: 2\r\nSession: ${session}\r\n\r\n`,
        1000,
      );
    } catch (error) {
      reply = `no reply: ${error}`;
    }
    assert.match(
      reply,
      /^RTSP\/1\.0 400 /,
      `a 400 reply to the PLAY; log: ${srv.logs.slice(-2).join(" | ")}`,
    );
    assert.ok(await conn.waitClosed(2000), "the connection is closed");
    await waitUntil(() => srv.server.sessions.size === 0, 2000);
    assert.equal(srv.server.sessions.size, 0, "its session ended with it");
    await using other = await RawConn.connect(srv.port);
    assert.match(await other.request("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"), /^RTSP\/1\.0 200 /);
  } finally {
    await sink.close();
  }
});

Deno.test("fuzz: a request pipelined before junk in the same write is answered before the 400", async () => {
  // The parser returns nothing from a push that fails, so a complete request
  // that came in the same TCP segment as the junk after it is never answered.
  await using srv = await startServer();
  await using conn = await RawConn.connect(srv.port);
  await conn.send("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n\x01\x02 junk\r\n\r\n");
  const text = await conn.readFor(500);
  const statuses = statusesIn(text);
  assert.deepEqual(statuses, [200, 400], `replies: ${JSON.stringify(text)}`);
});
