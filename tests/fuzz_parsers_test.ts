/**
 * Seeded fuzzing of every wire-format parser: generated and mutated inputs
 * (bit flips, truncations, insertions, duplications, splices of valid seeds)
 * from the lab dialect, standard RTSP, RTP/RTCP built with the serializers and
 * the frames of video.mjpeg.
 *
 * Invariants:
 * - every call returns or throws a `ParseError` (or the module's documented
 *   subclass: RtspParseError, LabMjpegError; UnsupportedJpegError for
 *   jpegToRtpFrame), never a TypeError, RangeError or anything else from
 *   inside a parser;
 * - what parses round-trips where a serializer exists;
 * - a ParseError from parseAuthorization repeats neither the value nor a
 *   quoted part of it (the server logs these messages; values are secrets).
 *
 * An input that breaks an invariant is saved as
 * `tests/fixtures/regress/<parser>-<hash>.bin` and replayed by the last test
 * of this file on every run (which passes with no files too). Fixture
 * bytes: the input itself for byte parsers; UTF-16LE for the string parsers
 * (parse_transport, parse_session, parse_range, parse_rtp_info, parse_scale,
 * parse_stream_ref, parse_sdp, parse_www_authenticate, parse_authorization,
 * parse_htdigest); records of
 * [u32 length][bytes] for rtsp_parser (push chunks, an empty record calls
 * flushIdle), rtsp_parser_chunking and rtsp_parser_split (push chunks), and
 * rfc2435_depacketizer (each [u32 sequence][u32 timestamp][u8 marker][payload]).
 *
 * The seed is fixed (FUZZ_SEED overrides it), so a run is reproducible.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  createRequest,
  createResponse,
  serializeInterleaved,
  serializeRequest,
  serializeResponse,
} from "../lib/wire/rtsp_message.ts";
import { isCompleteJpeg, parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  UnsupportedJpegError,
} from "../lib/wire/rfc2435_packetizer.ts";
import { LabMjpegError, readLabFrames, writeLabMjpeg } from "../lib/wire/lab_mjpeg.ts";
import { ParseError } from "../lib/wire/errors.ts";
import { parseMjpegSource } from "../lib/media/mjpeg_source.ts";
import {
  parseRfc2435Header,
  rfc2435HeaderSize,
  writeRfc2435Header,
} from "../lib/wire/rfc2435_headers.ts";
import {
  parseRtcpPackets,
  type RtcpPacket,
  serializeRtcpCompound,
} from "../lib/wire/rtcp_packet.ts";
import { parseRtpPacket, serializeRtpPacket } from "../lib/wire/rtp_packet.ts";
import { parseSdp, serializeJpegSdp } from "../lib/wire/sdp.ts";
import { parseSession, serializeSession } from "../lib/wire/session_header.ts";
import { parseStreamRef } from "../lib/wire/rtsp_url.ts";
import { parseTransport, serializeTransport } from "../lib/wire/transport_header.ts";
import { parseRange, serializeRange } from "../lib/wire/range_header.ts";
import { parseRtpInfo, serializeRtpInfo } from "../lib/wire/rtp_info_header.ts";
import { parseScale, serializeScale } from "../lib/wire/scale_header.ts";
import {
  parseWwwAuthenticate,
  serializeWwwAuthenticate,
} from "../lib/wire/www_authenticate_header.ts";
import { parseAuthorization, serializeAuthorization } from "../lib/wire/authorization_header.ts";
import { parseHtdigest, serializeHtdigest } from "../lib/wire/htdigest.ts";
import { Rfc2435Depacketizer, type RtpJpegPacketView } from "../lib/wire/rfc2435_depacketizer.ts";
import { RtspParseError, RtspParser, type RtspParserItem } from "../lib/wire/rtsp_parser.ts";
import { Rng } from "./_rng.ts";
import { concat, sameBytes } from "./_helpers.ts";

// ---------------------------------------------------------------------------
// Seeded randomness

const BASE_SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed2435) >>> 0;

// ---------------------------------------------------------------------------
// Bytes helpers

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** FNV-1a, 32 bits, as 8 hex digits: a short, stable name for a fixture. */
function shortHash(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of data) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** A string as UTF-16LE code units, so lone surrogates survive a fixture file. */
function utf16(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >> 8;
  }
  return out;
}

function fromUtf16(data: Uint8Array): string {
  let text = "";
  for (let i = 0; i + 1 < data.length; i += 2) {
    text += String.fromCharCode(data[i] | (data[i + 1] << 8));
  }
  return text;
}

/** Records: repeated [u32 big-endian length][bytes]. */
function encodeRecords(records: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, r.length);
    parts.push(head, r);
  }
  return concat(...parts);
}

function decodeRecords(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  while (offset + 4 <= data.length) {
    const n = view.getUint32(offset);
    out.push(data.subarray(offset + 4, Math.min(data.length, offset + 4 + n)));
    offset += 4 + n;
  }
  return out;
}

function encodePacketView(p: RtpJpegPacketView): Uint8Array {
  const out = new Uint8Array(9 + p.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, p.sequence >>> 0);
  view.setUint32(4, p.timestamp >>> 0);
  out[8] = p.marker ? 1 : 0;
  out.set(p.payload, 9);
  return out;
}

function decodePacketView(r: Uint8Array): RtpJpegPacketView | undefined {
  if (r.length < 9) return undefined;
  const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
  return {
    sequence: view.getUint32(0),
    timestamp: view.getUint32(4),
    marker: r[8] !== 0,
    payload: r.subarray(9),
  };
}

// ---------------------------------------------------------------------------
// Invariant checks, one per parser: each returns a problem, or undefined.

type ErrorClass = abstract new (...args: never[]) => Error;

function describe(error: unknown): string {
  if (!(error instanceof Error)) return `a non-Error: ${String(error)}`;
  const where = error.stack?.split("\n").find((l) => l.includes("/lib/"))?.trim() ?? "";
  return `${error.name}: ${error.message}${where ? ` (${where})` : ""}`;
}

/** undefined when `error` is one of `allowed`, else the problem. */
let rejections = 0;
function unexpected(
  what: string,
  error: unknown,
  allowed: readonly ErrorClass[],
): string | undefined {
  if (allowed.some((cls) => error instanceof cls)) {
    rejections++;
    return undefined;
  }
  return `${what} threw ${describe(error)}`;
}

/** Deep equality as a problem string (node's assert does the work). */
function differs(what: string, actual: unknown, expected: unknown): string | undefined {
  try {
    assert.deepStrictEqual(actual, expected);
    return undefined;
  } catch (error) {
    return `${what}: ${(error as Error).message.split("\n").slice(0, 12).join(" | ")}`;
  }
}

/** Comparable, plain form of a parsed RTSP item. */
function plainItem(item: RtspParserItem): unknown {
  if (item.kind === "interleaved") {
    return { kind: item.kind, channel: item.channel, data: [...item.data] };
  }
  const headers = [...item.headers]
    .filter(([name]) => name.toLowerCase() !== "content-length")
    .map(([name, value]) => `${name}\u0000${value.trim()}`)
    .sort();
  const head = item.kind === "request"
    ? { kind: item.kind, method: item.method, uri: item.uri, version: item.version }
    : { kind: item.kind, version: item.version, status: item.status, reason: item.reason };
  return { ...head, headers, body: [...item.body] };
}

/** Round trip of one parsed RTSP item through its serializer and a fresh parser. */
function rtspRoundTrip(item: RtspParserItem): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = item.kind === "interleaved"
      ? serializeInterleaved(item.channel, item.data)
      : item.kind === "request"
      ? serializeRequest(item)
      : serializeResponse(item);
  } catch (error) {
    // A header or start line holding a bare CR is a bad argument to the serializer
    // (it would break the line structure); the parser lets a lone CR through.
    const hasCr = item.kind !== "interleaved" && (
      [...item.headers].some(([n, v]) => /\r/.test(n + v)) ||
      (item.kind === "request" ? /\r/.test(item.uri) : /\r/.test(item.reason))
    );
    if (error instanceof TypeError && hasCr) return undefined;
    return `serializing a parsed ${item.kind} threw ${describe(error)}`;
  }
  let again: RtspParserItem[];
  try {
    again = new RtspParser({ maxHeaderBytes: 1 << 20, maxUriBytes: 1 << 20 }).push(bytes);
  } catch (error) {
    return `re-parsing a serialized ${item.kind} threw ${describe(error)}`;
  }
  if (again.length !== 1) return `a serialized ${item.kind} re-parsed into ${again.length} items`;
  return differs(`${item.kind} round trip`, plainItem(again[0]), plainItem(item));
}

/** RtspParser: records are push chunks; an empty record calls flushIdle(). */
function checkRtspParser(records: Uint8Array[]): string | undefined {
  const parser = new RtspParser();
  const items: RtspParserItem[] = [];
  for (const record of records) {
    try {
      if (record.length === 0) {
        const message = parser.flushIdle();
        if (message) items.push(message);
      } else items.push(...parser.push(record));
    } catch (error) {
      const problem = unexpected("RtspParser", error, [RtspParseError]);
      if (problem) return problem;
      const status = (error as RtspParseError).status;
      if (![400, 413, 414].includes(status)) return `RtspParseError with status ${status}`;
      break; // the parser is unusable after an error
    }
  }
  for (const item of items) {
    if (item.kind !== "interleaved" && item.body.length > 65536) return "a body over the limit";
    const problem = rtspRoundTrip(item);
    if (problem) return problem;
  }
  return undefined;
}

/** What pushing `chunks` yields: the items in order, each with the chunk that completed it, and the end. */
function parseInChunks(
  chunks: Uint8Array[],
): { items: unknown[]; at: number[]; end: string; failedChunk: number } {
  const parser = new RtspParser();
  const items: unknown[] = [];
  const at: number[] = [];
  for (const [i, chunk] of chunks.entries()) {
    try {
      for (const item of parser.push(chunk)) {
        items.push(plainItem(item));
        at.push(i);
      }
      // Messages completed before an error in the same chunk are returned; the error waits.
      if (parser.failure) throw parser.failure;
    } catch (error) {
      const end = error instanceof RtspParseError ? `error ${error.status}` : describe(error);
      return { items, at, end, failedChunk: i };
    }
  }
  return { items, at, end: "end", failedChunk: -1 };
}

function bytewise(data: Uint8Array): Uint8Array[] {
  return Array.from(data, (b) => Uint8Array.of(b));
}

/**
 * RtspParser chunking, strict: the same bytes yield the same items and the
 * same end however they are split (one byte per push is the reference: a
 * push of one byte cannot both complete a message and fail on the next).
 */
function checkRtspChunking(chunks: Uint8Array[]): string | undefined {
  const split = parseInChunks(chunks);
  const reference = parseInChunks(bytewise(concat(...chunks)));
  return differs(
    "items from these chunks vs. one byte per push",
    { items: split.items, end: split.end },
    { items: reference.items, end: reference.end },
  );
}

/**
 * RtspParser chunking, allowing for the known loss checked by its own test
 * below ("keeps a complete request that precedes a malformed one"): items
 * completed by the chunk whose push threw may be missing; nothing else may
 * differ.
 */
function checkRtspSplit(chunks: Uint8Array[]): string | undefined {
  const split = parseInChunks(chunks);
  const whole = concat(...chunks);
  const reference = parseInChunks(bytewise(whole));
  // Messages completed before an error are kept however the bytes were split.
  const expected = reference.items;
  return differs(
    "items from these chunks vs. one byte per push",
    { items: split.items, end: split.end },
    { items: expected, end: reference.end },
  );
}

function checkTransport(value: string): string | undefined {
  let specs;
  try {
    specs = parseTransport(value);
  } catch (error) {
    return unexpected("parseTransport", error, [ParseError]);
  }
  for (const spec of specs) {
    let again;
    try {
      again = parseTransport(serializeTransport(spec));
    } catch (error) {
      return `parseTransport(serializeTransport(spec)) threw ${describe(error)}`;
    }
    // mode is written unquoted: blanks or quotes just inside its quotes do not survive.
    const expected = spec.mode === undefined
      ? spec
      : { ...spec, mode: spec.mode.trim().replace(/^"|"$/g, "") };
    const problem = differs("Transport round trip", again, [expected]);
    if (problem) return problem;
  }
  return undefined;
}

function checkSession(value: string): string | undefined {
  let session;
  try {
    session = parseSession(value);
  } catch (error) {
    return unexpected("parseSession", error, [ParseError]);
  }
  try {
    return differs("Session round trip", parseSession(serializeSession(session)), session);
  } catch (error) {
    return `parseSession(serializeSession(s)) threw ${describe(error)}`;
  }
}

function checkRange(value: string): string | undefined {
  let range;
  try {
    range = parseRange(value);
  } catch (error) {
    return unexpected("parseRange", error, [ParseError]);
  }
  try {
    return differs("Range round trip", parseRange(serializeRange(range)), range);
  } catch (error) {
    return `parseRange(serializeRange(r)) threw ${describe(error)}`;
  }
}

function checkRtpInfo(value: string): string | undefined {
  let entries;
  try {
    entries = parseRtpInfo(value);
  } catch (error) {
    return unexpected("parseRtpInfo", error, [ParseError]);
  }
  try {
    return differs("RTP-Info round trip", parseRtpInfo(serializeRtpInfo(entries)), entries);
  } catch (error) {
    return `parseRtpInfo(serializeRtpInfo(e)) threw ${describe(error)}`;
  }
}

function checkScale(value: string): string | undefined {
  let scale;
  try {
    scale = parseScale(value);
  } catch (error) {
    return unexpected("parseScale", error, [ParseError]);
  }
  try {
    return differs("Scale round trip", parseScale(serializeScale(scale)), scale);
  } catch (error) {
    return `parseScale(serializeScale(n)) threw ${describe(error)}`;
  }
}

function checkWwwAuthenticate(value: string): string | undefined {
  let challenges;
  try {
    challenges = parseWwwAuthenticate(value);
  } catch (error) {
    return unexpected("parseWwwAuthenticate", error, [ParseError]);
  }
  for (const challenge of challenges) {
    let again;
    try {
      again = parseWwwAuthenticate(serializeWwwAuthenticate(challenge));
    } catch (error) {
      return `parseWwwAuthenticate(serializeWwwAuthenticate(c)) threw ${describe(error)}`;
    }
    const problem = differs("WWW-Authenticate round trip", again, [challenge]);
    if (problem) return problem;
  }
  return undefined;
}

/** A ParseError message of parseAuthorization that repeats the value or a long quoted part. */
function echoesSecret(message: string, value: string): string | undefined {
  const body = message.replace(/^Cannot parse Authorization: /, "");
  const parts = [value.trim(), ...[...value.matchAll(/"([^"]*)"/g)].map((m) => m[1])];
  const echoed = parts.find((part) => part.length >= 16 && body.includes(part));
  return echoed === undefined ? undefined : `the error message repeats ${JSON.stringify(echoed)}`;
}

function checkAuthorization(value: string): string | undefined {
  let credentials;
  try {
    credentials = parseAuthorization(value);
  } catch (error) {
    return unexpected("parseAuthorization", error, [ParseError]) ??
      echoesSecret((error as Error).message, value);
  }
  try {
    return differs(
      "Authorization round trip",
      parseAuthorization(serializeAuthorization(credentials)),
      credentials,
    );
  } catch (error) {
    return `parseAuthorization(serializeAuthorization(c)) threw ${describe(error)}`;
  }
}

function checkHtdigest(text: string): string | undefined {
  let entries;
  try {
    entries = parseHtdigest(text, "fuzz.htdigest");
  } catch (error) {
    return unexpected("parseHtdigest", error, [ParseError]);
  }
  try {
    return differs("htdigest round trip", parseHtdigest(serializeHtdigest(entries)), entries);
  } catch (error) {
    return `parseHtdigest(serializeHtdigest(e)) threw ${describe(error)}`;
  }
}

function checkStreamRef(uri: string): string | undefined {
  let ref;
  try {
    ref = parseStreamRef(uri);
  } catch (error) {
    return unexpected("parseStreamRef", error, [ParseError]);
  }
  if (ref === undefined) return uri === "*" ? undefined : `undefined for "${uri}"`;
  if (typeof ref.name !== "string" || !["url", "path", "bare"].includes(ref.form)) {
    return `odd result ${JSON.stringify(ref)}`;
  }
  return undefined;
}

function checkSdp(text: string): string | undefined {
  try {
    const sdp = parseSdp(text);
    if (!(sdp.attributes instanceof Map) || !Array.isArray(sdp.media)) return "odd result";
    return undefined;
  } catch (error) {
    return unexpected("parseSdp", error, [ParseError]);
  }
}

function checkRtp(bytes: Uint8Array): string | undefined {
  let packet;
  try {
    packet = parseRtpPacket(bytes);
  } catch (error) {
    return unexpected("parseRtpPacket", error, [ParseError]);
  }
  let out;
  try {
    out = serializeRtpPacket(packet);
  } catch (error) {
    return `serializeRtpPacket of a parsed packet threw ${describe(error)}`;
  }
  // Padding octets other than the count are not kept (RFC 3550 gives them no meaning).
  const expected = bytes.slice();
  for (let i = bytes.length - packet.padding; i < bytes.length - 1; i++) expected[i] = 0;
  if (!sameBytes(out, expected)) {
    return `RTP round trip differs at byte ${firstDifference(out, expected)} of ${bytes.length}`;
  }
  return undefined;
}

/** RTCP packets as plain data. */
function plainRtcp(packets: RtcpPacket[]): unknown {
  return packets.map((p) => p.type === "unknown" ? { ...p, body: [...p.body] } : p);
}

function checkRtcp(bytes: Uint8Array): string | undefined {
  let packets;
  try {
    packets = parseRtcpPackets(bytes);
  } catch (error) {
    return unexpected("parseRtcpPackets", error, [ParseError]);
  }
  // Unknown types keep their body; one that is not whole words cannot be written back as it was.
  if (packets.some((p) => p.type === "unknown" && p.body.length % 4 !== 0)) return undefined;
  let again;
  try {
    again = parseRtcpPackets(serializeRtcpCompound(packets));
  } catch (error) {
    return `RTCP round trip threw ${describe(error)}`;
  }
  return differs("RTCP round trip", plainRtcp(again), plainRtcp(packets));
}

function checkJpegStructure(bytes: Uint8Array): string | undefined {
  let structure;
  try {
    structure = parseJpegStructure(bytes);
  } catch (error) {
    return unexpected("parseJpegStructure", error, [ParseError]);
  }
  let last = 0;
  for (const s of structure.segments) {
    if (s.offset < last || s.offset + 4 + s.data.length > bytes.length) {
      return "segment out of order";
    }
    last = s.offset;
  }
  if (structure.scanOffset > bytes.length - 2 || structure.end !== bytes.length) {
    return "bad bounds";
  }
  try {
    const info = readJpegFrameInfo(structure);
    if (info.components.some((c) => c.h > 15 || c.v > 15)) return "odd sampling";
  } catch (error) {
    return unexpected("readJpegFrameInfo", error, [ParseError]);
  }
  return undefined;
}

function checkLabFrames(bytes: Uint8Array): string | undefined {
  const frames: Uint8Array[] = [];
  try {
    for (const frame of readLabFrames(bytes, "fuzz.mjpeg")) {
      if (frame.index !== frames.length) return "frame indices skip";
      frames.push(frame.data);
    }
  } catch (error) {
    return unexpected("readLabFrames", error, [LabMjpegError]);
  }
  const out = writeLabMjpeg(frames);
  if (!sameBytes(out, bytes)) {
    return `lab MJPEG round trip differs at byte ${firstDifference(out, bytes)}`;
  }
  return undefined;
}

function checkMjpegSource(bytes: Uint8Array): string | undefined {
  let source;
  try {
    source = parseMjpegSource(bytes, "fuzz.mjpeg");
  } catch (error) {
    return unexpected("parseMjpegSource", error, [LabMjpegError]);
  }
  if (source.frames.some((f) => !isCompleteJpeg(f))) return "accepted a frame that is not a JPEG";
  const out = writeLabMjpeg(source.frames);
  if (!sameBytes(out, bytes)) {
    return `MJPEG source round trip differs at byte ${firstDifference(out, bytes)}`;
  }
  return undefined;
}

function checkRfc2435Header(payload: Uint8Array): string | undefined {
  let header;
  try {
    header = parseRfc2435Header(payload);
  } catch (error) {
    return unexpected("parseRfc2435Header", error, [ParseError]);
  }
  if (header.dataOffset > payload.length) return "dataOffset past the end";
  const size = rfc2435HeaderSize(header);
  if (size !== header.dataOffset) {
    return `rfc2435HeaderSize ${size}, dataOffset ${header.dataOffset}`;
  }
  const out = new Uint8Array(size);
  try {
    writeRfc2435Header(out, header);
  } catch (error) {
    return `writeRfc2435Header threw ${describe(error)}`;
  }
  const expected = payload.slice(0, size);
  if (header.quantTables) expected[size - header.quantTables.length - 4] = 0; // MBZ
  if (!sameBytes(out, expected)) {
    return `RFC 2435 header round trip differs at byte ${firstDifference(out, expected)}`;
  }
  return undefined;
}

/** Rfc2435Depacketizer: records are packet views; every frame out must be a complete JPEG. */
function checkDepacketizer(records: Uint8Array[]): string | undefined {
  const depacketizer = new Rfc2435Depacketizer();
  for (const record of records) {
    const packet = decodePacketView(record);
    if (!packet) continue;
    let events;
    try {
      events = depacketizer.push(packet);
    } catch (error) {
      return unexpected("Rfc2435Depacketizer.push", error, [ParseError]);
    }
    for (const event of events) {
      if (event.kind === "frame" && !isCompleteJpeg(event.jpeg)) {
        return "emitted an incomplete JPEG";
      }
      if (event.kind === "dropped" && !event.reason) return "a drop without a reason";
    }
  }
  return undefined;
}

/** jpegToRtpFrame, then packetize and depacketize: the rebuilt JPEG carries the same frame. */
function checkJpegToRtpFrame(jpeg: Uint8Array): string | undefined {
  let frame;
  try {
    frame = jpegToRtpFrame(jpeg);
  } catch (error) {
    return unexpected("jpegToRtpFrame", error, [ParseError, UnsupportedJpegError]);
  }
  let payloads;
  try {
    payloads = packetizeRtpJpeg(frame, 1388);
  } catch (error) {
    return `packetizeRtpJpeg of an accepted frame threw ${describe(error)}`;
  }
  const depacketizer = new Rfc2435Depacketizer({
    dimensions: { width: frame.width, height: frame.height },
  });
  const events = payloads.flatMap((payload, i) =>
    depacketizer.push({
      sequence: 7 + i,
      timestamp: 1234,
      marker: i === payloads.length - 1,
      payload,
    })
  );
  if (frame.width === 0 || frame.height === 0) {
    return events.length === 1 && events[0].kind === "dropped" ? undefined : "size 0 not dropped";
  }
  if (events.length !== 1 || events[0].kind !== "frame") {
    return `packetized frame did not come back: ${JSON.stringify(events.map((e) => e.kind))}`;
  }
  let rebuilt;
  try {
    rebuilt = jpegToRtpFrame(events[0].jpeg);
  } catch (error) {
    return `the rebuilt JPEG is refused: ${describe(error)}`;
  }
  const big = frame.width > 2040 || frame.height > 2040;
  const ceil8 = (n: number) => Math.ceil(n / 8) * 8;
  const scanEndsWithEoi = frame.scan.length >= 2 && frame.scan.at(-2) === 0xff &&
    frame.scan.at(-1) === 0xd9;
  return differs("jpegToRtpFrame → RTP/JPEG → JPEG", {
    ...rebuilt,
    quantTables: [...rebuilt.quantTables],
    scan: scanEndsWithEoi ? "ends with EOI" : [...rebuilt.scan],
  }, {
    ...frame,
    width: big ? frame.width : ceil8(frame.width),
    height: big ? frame.height : ceil8(frame.height),
    quantTables: [...frame.quantTables],
    scan: scanEndsWithEoi ? "ends with EOI" : [...frame.scan],
  });
}

/** Every fuzzed parser by fixture-name prefix; the input is the fixture's bytes. */
const CHECKS: Record<string, (input: Uint8Array) => string | undefined> = {
  rtsp_parser: (b) => checkRtspParser(decodeRecords(b)),
  rtsp_parser_chunking: (b) => checkRtspChunking(decodeRecords(b)),
  rtsp_parser_split: (b) => checkRtspSplit(decodeRecords(b)),
  parse_transport: (b) => checkTransport(fromUtf16(b)),
  parse_session: (b) => checkSession(fromUtf16(b)),
  parse_range: (b) => checkRange(fromUtf16(b)),
  parse_rtp_info: (b) => checkRtpInfo(fromUtf16(b)),
  parse_scale: (b) => checkScale(fromUtf16(b)),
  parse_www_authenticate: (b) => checkWwwAuthenticate(fromUtf16(b)),
  parse_authorization: (b) => checkAuthorization(fromUtf16(b)),
  parse_htdigest: (b) => checkHtdigest(fromUtf16(b)),
  parse_stream_ref: (b) => checkStreamRef(fromUtf16(b)),
  parse_sdp: (b) => checkSdp(fromUtf16(b)),
  parse_rtp_packet: checkRtp,
  parse_rtcp_packets: checkRtcp,
  parse_jpeg_structure: checkJpegStructure,
  read_lab_frames: checkLabFrames,
  parse_mjpeg_source: checkMjpegSource,
  parse_rfc2435_header: checkRfc2435Header,
  rfc2435_depacketizer: (b) => checkDepacketizer(decodeRecords(b)),
  jpeg_to_rtp_frame: checkJpegToRtpFrame,
};

const REGRESS_DIR = new URL("./fixtures/regress/", import.meta.url);

/** Save an input that broke `parser` (at most a few per parser per run); returns its file name. */
const savedThisRun = new Map<string, number>();
function saveRegression(parser: string, input: Uint8Array): string {
  const name = `${parser}-${shortHash(input)}.bin`;
  const count = savedThisRun.get(parser) ?? 0;
  if (count >= 3) return `${name} (not saved: 3 already saved for ${parser} this run)`;
  savedThisRun.set(parser, count + 1);
  Deno.mkdirSync(REGRESS_DIR, { recursive: true });
  Deno.writeFileSync(new URL(name, REGRESS_DIR), input);
  return `tests/fixtures/regress/${name}`;
}

// ---------------------------------------------------------------------------
// Seeds

const VIDEO = await Deno.readFile(new URL("../video.mjpeg", import.meta.url));
const FRAMES: Uint8Array[] = [...readLabFrames(VIDEO, "video.mjpeg")].map((f) => f.data);
/** A handful of frames spread over the file. */
const SEED_FRAMES = [0, 1, 2, 50, 99, 150, 199].map((i) => FRAMES[i]);

/** A JPEG rebuilt from its segments, so header variants can be made. */
function rebuildJpeg(
  jpeg: Uint8Array,
  edit: (segments: [number, Uint8Array][]) => void,
): Uint8Array {
  const structure = parseJpegStructure(jpeg);
  const segments: [number, Uint8Array][] = structure.segments.map((s) => [s.marker, s.data]);
  edit(segments);
  const parts: Uint8Array[] = [Uint8Array.of(0xff, 0xd8)];
  for (const [marker, data] of segments) {
    parts.push(Uint8Array.of(0xff, marker, (data.length + 2) >> 8, (data.length + 2) & 0xff), data);
  }
  parts.push(jpeg.subarray(structure.scanOffset));
  return concat(...parts);
}

/** Header variants RFC 2435 handles differently: restart markers, 16-bit tables, 4:2:2, other SOFs. */
const JPEG_VARIANTS: Uint8Array[] = [
  rebuildJpeg(FRAMES[3], (s) => s.splice(1, 0, [0xdd, Uint8Array.of(0x00, 0x10)])),
  rebuildJpeg(FRAMES[4], (s) => {
    for (const seg of s) {
      if (seg[0] !== 0xdb) continue;
      const parts: number[] = [];
      for (let at = 0; at < seg[1].length; at += 65) {
        parts.push(0x10 | (seg[1][at] & 15));
        for (const v of seg[1].subarray(at + 1, at + 65)) parts.push(0, v);
      }
      seg[1] = Uint8Array.from(parts);
    }
  }),
  rebuildJpeg(FRAMES[5], (s) => {
    const sof = s.find((seg) => seg[0] === 0xc0)!;
    sof[1] = sof[1].slice();
    sof[1][7] = 0x21; // Y 2x1: 4:2:2
  }),
  rebuildJpeg(FRAMES[6], (s) => {
    s.find((seg) => seg[0] === 0xc0)![0] = 0xc2; // progressive
  }),
  rebuildJpeg(FRAMES[7], (s) => {
    const sof = s.find((seg) => seg[0] === 0xc0)!;
    sof[1] = sof[1].slice();
    sof[1][1] = 0x0b; // height 2816: over 2040
    sof[1][2] = 0x00;
  }),
];
const JPEG_SEEDS = [...SEED_FRAMES, ...JPEG_VARIANTS];

const LAB_REQUESTS = [
  "SETUP video.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 5008",
  "PLAY video.mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456",
  "PAUSE video.mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456",
  "TEARDOWN video.mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456",
  "RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456",
];
const URL0 = "rtsp://127.0.0.1:1025/video.mjpeg";
const SDP_TEXT = serializeJpegSdp({
  sessionId: "42",
  origin: "127.0.0.1",
  name: "video.mjpeg",
  durationSec: 10,
  fps: 20,
  width: 384,
  height: 288,
  kbitPerSec: 1665.2,
  control: "trackID=0",
});
const STANDARD_MESSAGES: Uint8Array[] = [
  serializeRequest(createRequest("OPTIONS", URL0, { CSeq: "1", "User-Agent": "fuzz" })),
  serializeRequest(createRequest("DESCRIBE", URL0, { CSeq: "2", Accept: "application/sdp" })),
  serializeRequest(createRequest("SETUP", `${URL0}/trackID=0`, {
    CSeq: "3",
    Transport: "RTP/AVP;unicast;client_port=5008-5009",
  })),
  serializeRequest(createRequest("SETUP", `${URL0}/trackID=0`, {
    CSeq: "3",
    Transport: "RTP/AVP/TCP;unicast;interleaved=0-1",
  })),
  serializeRequest(
    createRequest("PLAY", URL0, { CSeq: "4", Session: "12345678", Range: "npt=0-" }),
  ),
  serializeRequest(
    createRequest("GET_PARAMETER", URL0, {
      CSeq: "5",
      Session: "12345678",
      "Content-Type": "text/parameters",
    }, "position\r\n"),
  ),
  serializeRequest(createRequest("TEARDOWN", URL0, { CSeq: "6", Session: "12345678" })),
  serializeResponse(createResponse(200, {
    CSeq: "2",
    "Content-Base": `${URL0}/`,
    "Content-Type": "application/sdp",
  }, SDP_TEXT)),
  serializeResponse(createResponse(200, {
    CSeq: "3",
    Session: "12345678;timeout=60",
    Transport: "RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971;ssrc=DEADBEEF",
  })),
  serializeResponse(createResponse(454, { CSeq: "9" })),
  encoder.encode("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Folded: a\r\n  b\r\n\r\n"),
  encoder.encode("OPTIONS * RTSP/1.0\nCSeq: 7\n\n"),
  serializeRequest(createRequest("OPTIONS", "*", { CSeq: "8" }), { dialect: "lab" }),
];

const RTP_SEEDS: Uint8Array[] = [
  serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 1,
    timestamp: 0,
    ssrc: 1,
    payload: FRAMES[0],
  }),
  serializeRtpPacket({
    payloadType: 26,
    sequenceNumber: 65535,
    timestamp: 0xffffffff,
    ssrc: 0xdeadbeef,
    marker: true,
    payload: FRAMES[1].subarray(0, 100),
  }),
  serializeRtpPacket({
    payloadType: 96,
    sequenceNumber: 7,
    timestamp: 9,
    ssrc: 3,
    csrc: [1, 2, 3],
    extension: { profile: 0xbede, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
    padding: 4,
    payload: Uint8Array.of(9, 9, 9),
  }),
  serializeRtpPacket({
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    csrc: Array.from({ length: 15 }, (_, i) => i),
    extension: { profile: 1, data: new Uint8Array(0) },
    padding: 255,
    payload: new Uint8Array(0),
  }),
  ...packetizeRtpJpeg(jpegToRtpFrame(FRAMES[2]), 1388).slice(0, 3).map((payload, i) =>
    serializeRtpPacket({ payloadType: 26, sequenceNumber: 100 + i, timestamp: 5, ssrc: 6, payload })
  ),
];

const REPORT = {
  ssrc: 0x11223344,
  fractionLost: 12,
  cumulativeLost: -5,
  extendedHighestSequence: 70000,
  jitter: 33,
  lastSr: 0xabcdef01,
  delaySinceLastSr: 65536,
};
const RTCP_SEEDS: Uint8Array[] = [
  serializeRtcpCompound([
    {
      type: "sr",
      ssrc: 1,
      ntpSeconds: 3900000000,
      ntpFraction: 123,
      rtpTimestamp: 456,
      packetCount: 7,
      octetCount: 8,
      reports: [],
    },
    { type: "sdes", chunks: [{ ssrc: 1, items: [{ type: 1, text: "rtsp-lab" }] }] },
  ]),
  serializeRtcpCompound([
    {
      type: "sr",
      ssrc: 2,
      ntpSeconds: 1,
      ntpFraction: 2,
      rtpTimestamp: 3,
      packetCount: 4,
      octetCount: 5,
      reports: [REPORT, { ...REPORT, ssrc: 9 }],
    },
    { type: "bye", sources: [2], reason: "end of stream" },
  ]),
  serializeRtcpCompound([
    { type: "rr", ssrc: 3, reports: [REPORT] },
    {
      type: "sdes",
      chunks: [
        { ssrc: 3, items: [{ type: 1, text: "rtsp-client" }, { type: 2, text: "name" }] },
        { ssrc: 4, items: [] },
      ],
    },
    { type: "bye", sources: [3, 4] },
    { type: "unknown", packetType: 204, count: 1, body: Uint8Array.of(0, 0, 0, 1, 65, 66, 67, 68) },
  ]),
  // RR with the padding bit and 4 bytes of padding.
  Uint8Array.of(0xa0, 201, 0, 2, 0, 0, 0, 5, 0, 0, 0, 4),
];

const TRANSPORT_SEEDS = [
  "RTP/UDP; client_port= 5008",
  "RTP/AVP;unicast;client_port=5008-5009",
  "RTP/AVP/TCP;unicast;interleaved=0-1",
  "RTP/AVP;unicast;client_port=5008-5009;server_port=6970-6971;ssrc=DEADBEEF",
  "RTP/AVP;multicast;destination=224.2.0.1;port=3456-3457;ttl=16",
  'RTP/AVP;unicast;client_port=4588-4589;mode="PLAY"',
  "RTP/AVP/UDP;unicast;client_port=1-2,RTP/AVP/TCP;interleaved=2-3",
  "RTP/SAVP;unicast;client_port=5008-5009;source=10.0.0.1;x-foo=bar;append",
];
const SESSION_SEEDS = [
  "12345678",
  "12345678;timeout=60",
  "abc$-_.+;timeout=5;foo=bar",
  " 1 ; timeout = 30 ",
];
/** From the tables of tests/range_header_test.ts, valid and invalid. */
const RANGE_SEEDS = [
  "npt=5-7.25",
  "npt=0-",
  "npt=123.45-125",
  "npt=.5-6.",
  "npt=1.0005-2.9996",
  "npt=12:05:35.3-",
  "npt=0:00:10-0:01:00",
  "npt=100:59:59.999-",
  "npt=-3",
  "npt=-0:00:03.5",
  "npt=now-",
  "npt=now-30",
  "  NPT = 5 - 7 ",
  "npt=0- ; x-foo=bar ; flag",
  "npt=5-10 ; TIME = 19970123T143720.25Z ",
  "npt=10-5",
  "npt=9999999999.999-",
  "smpte=10:07:00-10:07:33:05.01",
  "smpte-30-drop=10:12:33:20-",
  "SMPTE-25 = 10:07:00 - 10:07:33",
  "clock=19961108T142300Z-;time=19970123T143720Z",
  "npt=-5-10",
  "npt=1:60:00-",
  "npt=5-now",
  "npt=0-5,7-9",
];
/** From the tables of tests/rtp_info_header_test.ts. */
const RTP_INFO_SEEDS = [
  `url=${URL0}/trackID=0;seq=4711;rtptime=90000`,
  "url=rtsp://foo.com/bar.avi/streamid=0;seq=45102,url=rtsp://foo.com/bar.avi/streamid=1;seq=30211",
  `url=${URL0};rtptime=4294967295;seq=65535`,
  `url="${URL0}";ssrc=0A13C760:seq=1;rtptime=2;ssrc=9A9DE123:seq=3;rtptime=4`,
  `url=${URL0};seq=5;rtptime=6;ssrc=FFFFFFFF`,
  'url="rtsp://h/a,b;c=d";seq=1',
  "url=rtsp://h/a;b=1;seq=5,url=rtsp://h/x,y;rtptime=9",
  'url="rtsp://h/v,url=w";seq=1,url=rtsp://h/z',
  ` URL = ${URL0} ; SEQ = 10 ; RtpTime = 20 ,  url=${URL0};seq=11 `,
  `url=" ${URL0} " ;seq=1;x-foo=bar;flag;;rtptime=2`,
  `url=${URL0};ssrc = 1a2b : seq = 3`,
  'url="rtsp://h/a"x;seq=1',
];
/** From the tables of tests/scale_header_test.ts. */
const SCALE_SEEDS = [
  "1",
  "-2.5",
  "0.3333333333333333",
  "2.",
  " +0.5 ",
  "-.25",
  "-0",
  "0.0000001",
  "1000000000000000000000",
  "1e3",
];
/** From the tables of tests/www_authenticate_header_test.ts, valid and invalid. */
const WWW_AUTHENTICATE_SEEDS = [
  'Digest realm="LIVE555 Streaming Media", nonce="8d6bba1c4b0fe2f2d5b7c7a4e0b1a2f3"',
  'Digest realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e"',
  'Basic realm="GStreamer RTSP Server"',
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ' +
  'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
  'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  'Basic realm="foo", charset="UTF-8"',
  'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
  'digest REALM = "r" ,NONCE= n , QOP = auth',
  ',, Digest\trealm="r" , ,\tnonce="n",',
  'Digest realm="r", nonce="n", algorithm="md5", stale="TRUE"',
  'Digest realm="IP Camera(C6413)", nonce="6d2b3e", stale="FALSE"',
  'Digest realm="r", nonce="n", qop="Auth , ,AUTH-INT,"',
  'Digest realm="r", domain="/ rtsp://h/", nonce="n", charset=UTF-8, userhash=true',
  'Digest realm="a\\\\b\\"c\\d", nonce="n", opaque="a, b"',
  'Digest realm="Kamera Flur (Jäsøn)", nonce="n"',
  "Basic",
  "NTLM, Negotiate YIIGhg==, Basic",
  'Bearer realm="example", Error="invalid_token"',
  "X __proto__=1, constructor=2",
  'Digest realm="r" nonce="n"',
  'Newauth abc==, realm="x"',
  'Digest realm="r", nonce="n", algorithm="MD 5"',
];
const AUTH_URL = "rtsp://127.0.0.1:8554/video.mjpeg";
/** From the tables of tests/authorization_header_test.ts, valid and invalid. */
const AUTHORIZATION_SEEDS = [
  `Digest username="u", realm="r", nonce="n", uri="${AUTH_URL}", ` +
  'response="9ca28c21562823751d0fb9e7dc7f7aa2"',
  `Digest username="u", realm="r", nonce="n", uri="${AUTH_URL}", ` +
  'response="9ca28c21562823751d0fb9e7dc7f7aa2", algorithm="MD5", ' +
  'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop="auth", cnonce="0a4f113b", nc=00000001',
  'Digest username="user", realm="GStreamer RTSP Server", nonce="5a0c1e2f9b3d4c6e", ' +
  'uri="rtsp://127.0.0.1:8554/test", response="0123456789abcdef0123456789abcdef", opaque="x1"',
  "Basic dXNlcjpwYXNz",
  'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ' +
  'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
  'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, ' +
  'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ' +
  'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
  "Basic dGVzdDoxMjPCow==",
  `digest USERNAME = "u" ,Realm="r",nonce=n,  uri=${AUTH_URL} , response=abc`,
  'Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=sha-256, ' +
  "QOP=AUTH, NC=0000000A, CNONCE=c",
  'Digest username="J\\"ä\\\\s", realm="r", nonce="n", uri="/", response="x"',
  "  basic \t dXNlcjpwYXNz  ",
  "Basic dTpwdw",
  "Basic dTphOmI6",
  "Bearer mF_9.B5f-4.1JqM",
  '  Newauth  realm="apps", type=1 ',
  "Basic dXNlcg==",
  "Basic /w==",
  'Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=1',
];
/** From the tables of tests/htdigest_test.ts. */
const HTDIGEST_SEEDS = [
  "Mufasa:testrealm@host.com:4945ecf42b1bb868634058a845bedde8\n",
  "u:r:44add22b6f3179b751eafd68ee370f7d\n" +
  "u:r:dcb021102e491e701a4a236daa8923af2161447bce7bb7260a351ee83e9f8154\n",
  "\ufeff# users of the lab\r\n\r\n  \t\r\nu:r:44add22b6f3179b751eafd68ee370f7d \t\r\n" +
  "  # u:r:old\r\nJäsøn :other realm:44ADD22B6F3179B751EAFD68EE370F7D\r\n",
  "::44add22b6f3179b751eafd68ee370f7d",
  "u:r:x:44add22b6f3179b751eafd68ee370f7d\nu:r:password\n",
];
/** Tokens of the authentication headers and the htdigest file. */
const AUTH_TOKENS = [
  "Digest ",
  "Basic ",
  "Newauth ",
  "realm=",
  'realm="',
  "nonce=",
  "username=",
  "response=",
  "uri=",
  "algorithm=",
  "SHA-256",
  "MD5",
  "qop=",
  "auth",
  "auth-int",
  "nc=",
  "cnonce=",
  "opaque=",
  "stale=",
  "TRUE",
  '"',
  '\\"',
  "\\",
  ",",
  ", ",
  "=",
  "==",
  " ",
  "\t",
  ":",
  "#",
  "\n",
  "\r\n",
  "\r",
  "dXNlcjpwYXNz",
  '=""',
  "0000000",
];
/** Tokens of the Range, RTP-Info and Scale grammars, inserted into their mutated seeds. */
const HEADER_TOKENS = [
  "npt=",
  "smpte=",
  "clock=",
  "now",
  ":",
  ".",
  "-",
  "+",
  " ",
  "\t",
  ";time=",
  "url=",
  'url="',
  '"',
  ";seq=",
  ";rtptime=",
  ";ssrc=",
  ":seq=",
  ",url=",
  "59",
  "60",
  "9999999999",
  "99999999999999999999",
  ".9995",
  "e5",
];

const URI_SEEDS = [
  "video.mjpeg",
  "/video.mjpeg",
  URL0,
  `${URL0}/trackID=0`,
  "rtsp://[::1]:554/a%20b.mjpeg?x=1#f",
  "*",
  "rtspu://h/x/track1",
  "rtsps://h/dir/clip.mjpeg/stream=1",
  "http://h/x",
  "%zz",
  "../etc/passwd",
  "rtsp://h/%2e%2e/%00",
];
const SDP_SEEDS = [
  SDP_TEXT,
  serializeJpegSdp({ sessionId: "1", origin: "::1", name: "", control: "rtsp://h/x/trackID=0" }),
  "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=No Name\nt=0 0\na=tool:libavformat\nm=video 0 RTP/AVP 26\n" +
  "a=control:streamid=0\na=x-dimensions:2560,1440\n",
];

// ---------------------------------------------------------------------------
// Mutations

const INTERESTING = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x24,
  0x0d,
  0x0a,
  0x3a,
  0x20,
  0x09,
  0x3b,
  0x2d,
  0x3d,
  0x2c,
  0x25,
  0x2f,
  0x30,
  0x35,
  0x39,
  0xd8,
  0xd9,
  0xda,
  0xdb,
  0xc0,
  0xc4,
  0xdd,
  0xc8,
  0xcb,
  0xcc,
];
const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  "\n\n",
  "\r\n\r\n",
  "$",
  "CSeq: ",
  "Session: ",
  "Content-Length: ",
  "Content-Length: 99999999999\r\n",
  "Content-Length: 70000\r\n\r\n",
  "Transport: ",
  "RTSP/1.0",
  "RTSP/2.0 ",
  " 200 ",
  "rtsp://",
  "%",
  "%00",
  "%2e%2e/",
  "..",
  ";",
  "=",
  "-",
  ",",
  "99999",
  "65536",
  "4294967296",
  "0",
  "00000",
  "\u00ff",
  "\u2028",
  "\ud800",
  "client_port=",
  "interleaved=",
  "ssrc=",
  "timeout=",
  "trackID=0",
  "a=control:",
  "m=video 0 RTP/AVP ",
  "\xff\xd9",
  "\xff\xda\x00\x0c",
  "\xff\xdb\x00\x43\x00",
  "\xff\xdd\x00\x04\x00\x01",
  "\xff\xc4\x00\x02",
  "\xff\xff\xff",
];
const TOKEN_BYTES = TOKENS.map((t) => Uint8Array.from(t, (c) => c.charCodeAt(0) & 0xff));
const TOKEN_UTF8 = TOKENS.map((t) => encoder.encode(t));

/** A position, biased towards the first `head` bytes, where headers live. */
function position(rng: Rng, length: number, head = 700): number {
  if (length === 0) return 0;
  return rng.chance(0.7) ? rng.int(Math.min(length, head)) : rng.int(length);
}

/** Apply 1-5 random mutations to a copy of `input`; `others` are splice partners. */
function mutate(
  rng: Rng,
  input: Uint8Array,
  others: readonly Uint8Array[],
  utf8 = false,
): Uint8Array {
  let data: Uint8Array = input.slice();
  const rounds = rng.range(1, 5);
  for (let r = 0; r < rounds; r++) {
    const n = data.length;
    const at = position(rng, n + 1);
    switch (rng.int(12)) {
      case 0: { // bit flip
        if (n === 0) break;
        const i = position(rng, n);
        data[i] ^= 1 << rng.int(8);
        break;
      }
      case 1: // interesting byte
        if (n > 0) data[position(rng, n)] = rng.pick(INTERESTING);
        break;
      case 2: // truncate
        data = data.slice(0, rng.int(n + 1));
        break;
      case 3: // insert random bytes
        data = concat(data.subarray(0, at), rng.bytes(rng.range(1, 16)), data.subarray(at));
        break;
      case 4: // insert a token
        data = concat(
          data.subarray(0, at),
          rng.pick(utf8 ? TOKEN_UTF8 : TOKEN_BYTES),
          data.subarray(at),
        );
        break;
      case 5: { // duplicate a range elsewhere
        const from = rng.int(n + 1);
        const len = rng.int(Math.min(64, n - from) + 1);
        data = concat(data.subarray(0, at), data.slice(from, from + len), data.subarray(at));
        break;
      }
      case 6: { // delete a range
        const len = rng.int(Math.min(32, n - at) + 1);
        data = concat(data.subarray(0, at), data.subarray(at + len));
        break;
      }
      case 7: { // splice with another seed
        const other = rng.pick(others);
        data = concat(data.subarray(0, at), other.subarray(rng.int(other.length + 1)));
        break;
      }
      case 8: { // overwrite a range with random bytes
        const len = Math.min(rng.range(1, 8), n - at);
        if (len > 0) data.set(rng.bytes(len), at);
        break;
      }
      case 9: // repeat (pipelining)
        if (n < 20_000) data = concat(data, data, ...(rng.chance(0.3) ? [data] : []));
        break;
      case 10: { // a digit run becomes a boundary number
        const text = String.fromCharCode(...data.subarray(0, Math.min(n, 4096)));
        const runs = [...text.matchAll(/\d+/g)];
        if (runs.length === 0) break;
        const run = rng.pick(runs);
        const value = rng.pick([
          "0",
          "1",
          "255",
          "256",
          "65535",
          "65536",
          "99999",
          "4294967295",
          "00",
        ]);
        data = concat(
          data.subarray(0, run.index),
          encoder.encode(value),
          data.subarray(run.index + run[0].length),
        );
        break;
      }
      default: { // swap two bytes
        if (n < 2) break;
        const i = position(rng, n), j = position(rng, n);
        [data[i], data[j]] = [data[j], data[i]];
      }
    }
    if (data.length > 200_000) data = data.slice(0, 200_000);
  }
  return data;
}

/** A mutated string: bytes mutated as UTF-8, decoded; sometimes odd code points added. */
function mutateText(rng: Rng, seeds: readonly string[]): string {
  const base = encoder.encode(rng.pick(seeds));
  let text = decoder.decode(mutate(rng, base, seeds.map((s) => encoder.encode(s)), true));
  if (rng.chance(0.15)) {
    const at = rng.int(text.length + 1);
    const odd = rng.pick([
      "\ud800",
      "\udfff",
      "\u0000",
      "\ufeff",
      "\u00a0",
      "ß",
      "ı",
      "\u2028",
      "é",
    ]);
    text = text.slice(0, at) + odd + text.slice(at);
  }
  return text;
}

/**
 * A mutated string as mutateText makes it; with `tokens`, sometimes a seed
 * with only a token or two inserted instead (short headers rarely survive
 * byte mutations), sometimes both. No tokens: exactly mutateText.
 */
function mutateWithTokens(rng: Rng, seeds: readonly string[], tokens: readonly string[]): string {
  if (tokens.length === 0) return mutateText(rng, seeds);
  const roll = rng.float();
  let text = roll < 0.4 ? rng.pick(seeds) : mutateText(rng, seeds);
  if (roll < 0.6) {
    for (let n = rng.range(1, 2); n > 0; n--) {
      const at = rng.int(text.length + 1);
      text = text.slice(0, at) + rng.pick(tokens) + text.slice(at);
    }
  }
  return text;
}

/** A random split of `data` into 1-8 chunks (sometimes one byte each for short inputs). */
function chunksOf(rng: Rng, data: Uint8Array): Uint8Array[] {
  if (data.length <= 64 && rng.chance(0.2)) return Array.from(data, (b) => Uint8Array.of(b));
  const cuts = new Set<number>();
  const count = rng.int(8);
  for (let i = 0; i < count; i++) cuts.add(rng.int(data.length + 1));
  const sorted = [0, ...[...cuts].sort((a, b) => a - b), data.length];
  const out: Uint8Array[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] > sorted[i - 1]) out.push(data.slice(sorted[i - 1], sorted[i]));
  }
  return out.length > 0 ? out : [data];
}

/** Overlong and limit-probing RTSP inputs. */
function overlongRtsp(rng: Rng): Uint8Array {
  switch (rng.int(5)) {
    case 0:
      return encoder.encode(
        `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: ${"a".repeat(rng.range(16000, 17000))}\r\n\r\n`,
      );
    case 1:
      return encoder.encode(
        `OPTIONS * RTSP/1.0\r\n${
          Array.from({ length: rng.range(95, 105) }, (_, i) => `H${i}: v`).join("\r\n")
        }\r\n\r\n`,
      );
    case 2:
      return encoder.encode(
        `SETUP rtsp://h/${"v".repeat(rng.range(4080, 4110))} RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
      );
    case 3: {
      const length = rng.pick([65535, 65536, 65537, 1 << 20]);
      return encoder.encode(
        `SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${length}\r\n\r\nxyz`,
      );
    }
    default:
      return concat(
        Uint8Array.of(0x24, rng.int(256), rng.int(256), rng.int(256)),
        rng.bytes(rng.int(64)),
      );
  }
}

// ---------------------------------------------------------------------------
// The fuzz loop

interface Outcome {
  cases: number;
  failures: string[];
}

/** Run `count` generated inputs through the check for `parser`. */
function fuzz(
  parser: string,
  count: number,
  seed: number,
  generate: (rng: Rng, i: number) => Uint8Array,
  outcome: Outcome,
  check: (input: Uint8Array) => string | undefined = CHECKS[parser],
): { failed: number; accepted: number } {
  const rng = new Rng(BASE_SEED ^ seed);
  let failed = 0;
  let accepted = 0;
  for (let i = 0; i < count; i++) {
    const input = generate(rng, i);
    const rejectedBefore = rejections;
    let problem: string | undefined;
    try {
      problem = check(input);
    } catch (error) { // a check that throws is itself a finding (e.g. a serializer crash)
      problem = `check threw ${describe(error)}`;
    }
    outcome.cases++;
    if (!problem && rejections === rejectedBefore) accepted++;
    if (problem) {
      failed++;
      if (outcome.failures.length < 40) {
        outcome.failures.push(`${parser} case ${i}: ${problem} [${saveRegression(parser, input)}]`);
      }
    }
  }
  return { failed, accepted };
}

/** RTP/JPEG packet views for 1-3 consecutive frames, split at a random payload size. */
function packetViews(rng: Rng): RtpJpegPacketView[] {
  const start = rng.int(FRAMES.length - 3);
  const size = rng.pick([300, 600, 1388, 4000]);
  const views: RtpJpegPacketView[] = [];
  let sequence = rng.int(70000);
  const ts0 = rng.int(0x100000000);
  for (let f = 0; f < rng.range(1, 3); f++) {
    const payloads = packetizeRtpJpeg(jpegToRtpFrame(FRAMES[start + f]), size);
    payloads.forEach((payload, i) =>
      views.push({
        sequence: sequence++,
        timestamp: (ts0 + f * 4500) >>> 0,
        marker: i === payloads.length - 1,
        payload,
      })
    );
  }
  return views;
}

/** A packet sequence with losses, duplicates, reordering and damaged payloads. */
function impairedViews(rng: Rng): RtpJpegPacketView[] {
  let views = packetViews(rng);
  const rounds = rng.range(1, 4);
  for (let r = 0; r < rounds && views.length > 0; r++) {
    const i = rng.int(views.length);
    const v = views[i];
    switch (rng.int(9)) {
      case 0:
        views.splice(i, 1);
        break;
      case 1:
        views.splice(i, 0, v);
        break;
      case 2:
        if (i + 1 < views.length) [views[i], views[i + 1]] = [views[i + 1], views[i]];
        break;
      case 3:
        views[i] = { ...v, payload: mutate(rng, v.payload, [v.payload], false) };
        break;
      case 4:
        views[i] = { ...v, payload: v.payload.slice(0, rng.int(v.payload.length + 1)) };
        break;
      case 5:
        views[i] = { ...v, marker: !v.marker };
        break;
      case 6:
        views[i] = { ...v, timestamp: rng.int(0x100000000) };
        break;
      case 7: { // another Q, type or size in the main header
        const payload = v.payload.slice();
        if (payload.length >= 8) {
          payload[rng.range(4, 7)] = rng.pick([0, 1, 50, 99, 100, 127, 128, 200, 255, 64, 65, 66]);
        }
        views[i] = { ...v, payload };
        break;
      }
      default:
        views = rng.chance(0.5) ? views.slice().reverse() : views.slice(rng.int(views.length));
    }
  }
  return views;
}

Deno.test("fuzz: every parser returns or throws its documented ParseError, and round-trips", () => {
  const started = performance.now();
  const outcome: Outcome = { cases: 0, failures: [] };
  const counts: string[] = [];
  const run = (
    parser: string,
    count: number,
    seed: number,
    gen: (rng: Rng, i: number) => Uint8Array,
  ) => {
    const before = outcome.cases;
    const { failed, accepted } = fuzz(parser, count, seed, gen, outcome);
    counts.push(
      `${parser} ${outcome.cases - before} (${accepted} accepted${
        failed ? `, ${failed} FAILED` : ""
      })`,
    );
  };

  const rtspSeeds = [...LAB_REQUESTS.map((t) => encoder.encode(t)), ...STANDARD_MESSAGES];
  const labAndStandard = [
    ...rtspSeeds,
    ...RTP_SEEDS.slice(0, 2).map((p) => serializeInterleaved(0, p)),
  ];
  run("rtsp_parser", 12000, 1, (rng, i) => {
    const input = i < labAndStandard.length
      ? labAndStandard[i]
      : rng.chance(0.08)
      ? overlongRtsp(rng)
      : rng.chance(0.05)
      ? rng.bytes(rng.int(300))
      : mutate(rng, rng.pick(labAndStandard), labAndStandard);
    const records = chunksOf(rng, input);
    // flushIdle (an empty record) after some chunks, as a quiet peer would cause.
    const withFlush: Uint8Array[] = [];
    for (const chunk of records) {
      withFlush.push(chunk);
      if (rng.chance(0.3)) withFlush.push(new Uint8Array(0));
    }
    if (rng.chance(0.7)) withFlush.push(new Uint8Array(0));
    return encodeRecords(withFlush);
  });

  const textRun = (
    parser: string,
    count: number,
    seed: number,
    seeds: readonly string[],
    tokens: readonly string[] = [],
  ) =>
    run(parser, count, seed, (rng, i) =>
      utf16(
        i < seeds.length
          ? seeds[i]
          : rng.chance(0.05)
          ? String.fromCharCode(...rng.bytes(rng.int(40)))
          : mutateWithTokens(rng, seeds, tokens),
      ));
  textRun("parse_transport", 8000, 2, TRANSPORT_SEEDS);
  textRun("parse_session", 4000, 3, SESSION_SEEDS);
  textRun("parse_range", 8000, 17, RANGE_SEEDS, HEADER_TOKENS);
  textRun("parse_rtp_info", 8000, 18, RTP_INFO_SEEDS, HEADER_TOKENS);
  textRun("parse_scale", 4000, 19, SCALE_SEEDS, HEADER_TOKENS);
  textRun("parse_www_authenticate", 8000, 20, WWW_AUTHENTICATE_SEEDS, AUTH_TOKENS);
  textRun("parse_authorization", 8000, 21, AUTHORIZATION_SEEDS, AUTH_TOKENS);
  textRun("parse_htdigest", 4000, 22, HTDIGEST_SEEDS, AUTH_TOKENS);
  textRun("parse_stream_ref", 6000, 4, URI_SEEDS);
  textRun("parse_sdp", 4000, 5, SDP_SEEDS);

  const bytesRun = (
    parser: string,
    count: number,
    seed: number,
    seeds: readonly Uint8Array[],
    random = 64,
  ) =>
    run(
      parser,
      count,
      seed,
      (rng, i) =>
        i < seeds.length
          ? seeds[i]
          : rng.chance(0.05)
          ? rng.bytes(rng.int(random))
          : mutate(rng, rng.pick(seeds), seeds),
    );
  bytesRun("parse_rtp_packet", 10000, 6, RTP_SEEDS);
  bytesRun("parse_rtcp_packets", 10000, 7, RTCP_SEEDS);
  bytesRun("parse_jpeg_structure", 6000, 8, JPEG_SEEDS);

  const labSeeds = [
    writeLabMjpeg(FRAMES.slice(0, 2)),
    writeLabMjpeg([FRAMES[10]]),
    writeLabMjpeg([Uint8Array.of(1, 2, 3), Uint8Array.of(4)]),
    encoder.encode("00003abc00001x"),
    new Uint8Array(0),
  ];
  bytesRun("read_lab_frames", 6000, 9, labSeeds);
  bytesRun("parse_mjpeg_source", 2000, 10, [
    writeLabMjpeg(FRAMES.slice(20, 23)),
    writeLabMjpeg([JPEG_VARIANTS[0], FRAMES[30]]),
    writeLabMjpeg([FRAMES[40]]),
  ]);

  const payloadSeeds = [
    ...packetizeRtpJpeg(jpegToRtpFrame(FRAMES[8]), 600).slice(0, 2),
    ...packetizeRtpJpeg(jpegToRtpFrame(JPEG_VARIANTS[0]), 1388).slice(0, 2),
    ...packetizeRtpJpeg(jpegToRtpFrame(JPEG_VARIANTS[1]), 1388).slice(0, 1),
    Uint8Array.of(0, 0, 0, 0, 1, 50, 48, 36, 1, 2, 3),
    Uint8Array.of(0, 0, 0, 0, 1, 128, 48, 36, 0, 0, 0, 0, 9),
  ];
  bytesRun("parse_rfc2435_header", 10000, 11, payloadSeeds);

  run("rfc2435_depacketizer", 4000, 12, (rng, i) => {
    let views: RtpJpegPacketView[];
    if (i < 20) views = packetViews(rng);
    else if (rng.chance(0.1)) {
      views = Array.from({ length: rng.range(1, 12) }, (_, k) => ({
        sequence: k + rng.int(3),
        timestamp: rng.int(4),
        marker: rng.chance(0.3),
        payload: mutate(rng, rng.pick(payloadSeeds), payloadSeeds),
      }));
    } else views = impairedViews(rng);
    return encodeRecords(views.map(encodePacketView));
  });

  bytesRun("jpeg_to_rtp_frame", 4000, 13, JPEG_SEEDS);

  const ms = performance.now() - started;
  console.log(
    `fuzz_parsers: ${outcome.cases} cases in ${(ms / 1000).toFixed(1)} s (seed 0x${
      BASE_SEED.toString(16)
    }): ${counts.join(", ")}`,
  );
  assert.deepEqual(outcome.failures, [], `${outcome.failures.length}+ inputs broke an invariant`);
});

Deno.test("fuzz: a clean RTP/JPEG packet sequence gives back the frames of video.mjpeg exactly", () => {
  const rng = new Rng(BASE_SEED ^ 14);
  let cases = 0;
  for (let round = 0; round < 40; round++) {
    const start = rng.int(FRAMES.length - 3);
    const size = rng.pick([200, 700, 1388, 9000]);
    const depacketizer = new Rfc2435Depacketizer();
    let sequence = rng.int(0x10000);
    for (let f = 0; f < 3; f++) {
      const payloads = packetizeRtpJpeg(jpegToRtpFrame(FRAMES[start + f]), size);
      const events = payloads.flatMap((payload, i) =>
        depacketizer.push({
          sequence: sequence++,
          timestamp: 1000 + f * 4500,
          marker: i === payloads.length - 1,
          payload,
        })
      );
      assert.equal(events.length, 1, `frame ${start + f} at ${size}: ${JSON.stringify(events)}`);
      const event = events[0];
      assert.ok(event.kind === "frame", `frame ${start + f} dropped`);
      assert.ok(sameBytes(event.jpeg, FRAMES[start + f]), `frame ${start + f} differs at ${size}`);
      cases++;
    }
  }
  console.log(`clean RTP/JPEG round trips: ${cases} frames`);
});

Deno.test("fuzz: serializeJpegSdp output parses back to the same stream description", () => {
  const rng = new Rng(BASE_SEED ^ 15);
  let cases = 0;
  for (let i = 0; i < 500; i++) {
    const fps = rng.chance(0.2) ? undefined : rng.range(1, 240000) / 1000;
    const width = rng.range(1, 8192);
    const height = rng.range(1, 8192);
    const durationSec = rng.chance(0.3) ? undefined : rng.range(0, 1e7) / 1000;
    const control = rng.pick(["trackID=0", "rtsp://h:1/x/trackID=0", "*", "streamid=1"]);
    const pt = rng.chance(0.5) ? undefined : rng.range(0, 127);
    const name = String.fromCharCode(
      ...Array.from({ length: rng.int(20) }, () => rng.range(0x20, 0x7e)),
    );
    const text = serializeJpegSdp({
      sessionId: String(rng.int(0x100000000)),
      origin: rng.pick(["127.0.0.1", "::1"]),
      name,
      durationSec,
      fps,
      width,
      height,
      kbitPerSec: rng.chance(0.5) ? undefined : rng.range(1, 1e6) / 10,
      control,
      payloadType: pt,
    });
    const sdp = parseSdp(text);
    assert.equal(sdp.media.length, 1, text);
    const media = sdp.media[0];
    assert.equal(media.type, "video");
    assert.deepEqual(media.formats, [pt ?? 26]);
    assert.equal(media.attributes.get("control"), control);
    assert.equal(media.attributes.get("rtpmap"), `${pt ?? 26} JPEG/90000`);
    assert.equal(
      media.attributes.get("framerate"),
      fps === undefined ? undefined : String(Number(fps.toFixed(3))),
    );
    assert.equal(
      media.attributes.get("x-dimensions"),
      width > 2040 || height > 2040 ? `${width},${height}` : undefined,
    );
    assert.equal(
      sdp.attributes.get("range"),
      `npt=0-${durationSec === undefined ? "" : Number(durationSec.toFixed(3))}`,
    );
    cases++;
  }
  console.log(`SDP round trips: ${cases}`);
});

Deno.test("fuzz: RtspParser gives the same messages however the same bytes are split", () => {
  const outcome: Outcome = { cases: 0, failures: [] };
  const seeds = [...LAB_REQUESTS.map((t) => encoder.encode(t)), ...STANDARD_MESSAGES];
  fuzz("rtsp_parser_split", 3000, 16, (rng) => {
    const input = mutate(rng, rng.pick(seeds), seeds);
    return encodeRecords(chunksOf(rng, input));
  }, outcome);
  console.log(`RtspParser chunking: ${outcome.cases} cases`);
  assert.deepEqual(
    outcome.failures,
    [],
    `${outcome.failures.length}+ inputs parsed differently when split`,
  );
});

Deno.test("fuzz: RtspParser keeps a complete request that precedes a malformed one in the same chunk", () => {
  // Pipelined: a valid OPTIONS, then junk, arriving in one TCP segment. Split at the
  // boundary, the OPTIONS comes out before the error; in one push it must too.
  const good = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
  const junk = "\x01\x02 junk\r\n\r\n";
  const chunks = [encoder.encode(good + junk)];
  const problem = checkRtspChunking(chunks);
  if (problem) {
    const file = saveRegression("rtsp_parser_chunking", encodeRecords(chunks));
    assert.fail(`${problem} [${file}]`);
  }
});

Deno.test("fuzz: every saved regression input replays cleanly", async () => {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(REGRESS_DIR)) {
      if (entry.isFile && entry.name.endsWith(".bin")) files.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  files.sort();
  const problems: string[] = [];
  for (const name of files) {
    const parser = name.slice(0, name.lastIndexOf("-"));
    const check = CHECKS[parser];
    if (!check) {
      problems.push(`${name}: no parser called "${parser}"`);
      continue;
    }
    const input = await Deno.readFile(new URL(name, REGRESS_DIR));
    let problem: string | undefined;
    try {
      problem = check(input);
    } catch (error) {
      problem = `check threw ${describe(error)}`;
    }
    if (problem) problems.push(`${name}: ${problem}`);
  }
  console.log(`regression inputs replayed: ${files.length}`);
  assert.deepEqual(problems, [], "saved regression inputs still break an invariant");
});
