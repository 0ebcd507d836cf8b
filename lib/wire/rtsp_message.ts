/**
 * RTSP requests and responses (RFC 2326 §6, §7) and their serialization.
 *
 * Writers put `CSeq` first and `Session` second, before any other header: the
 * lab's client reads CSeq from a reply's second line and Session from its third.
 *
 * @module
 */
import { RtspHeaders } from "./rtsp_headers.ts";
import { reasonPhrase } from "./rtsp_status.ts";

/** How a parsed message was delimited on the wire. */
export type MessageEnd =
  /** A blank line (and Content-Length body), as RFC 2326 requires. */
  | "blank-line"
  /** No blank line: the sender went quiet (the lab dialect). */
  | "idle";

/** An RTSP request. */
export interface RtspRequest {
  /** A request. */
  kind: "request";
  /** Method, e.g. "SETUP". */
  method: string;
  /** Request-URI as sent: `rtsp://…`, `/path`, `*` or the lab's bare file name. */
  uri: string;
  /** Protocol version, e.g. "RTSP/1.0". */
  version: string;
  /** The headers, in order. */
  headers: RtspHeaders;
  /** The body (empty when there is none). */
  body: Uint8Array;
  /** How the message ended; absent for messages built in code. */
  end?: MessageEnd;
  /** Whether lines ended with a bare LF; absent for messages built in code. */
  bareLf?: boolean;
}

/** An RTSP response. */
export interface RtspResponse {
  /** A response. */
  kind: "response";
  /** Protocol version, e.g. "RTSP/1.0". */
  version: string;
  /** Status code, e.g. 200. */
  status: number;
  /** Reason phrase, e.g. "OK". */
  reason: string;
  /** The headers, in order. */
  headers: RtspHeaders;
  /** The body (empty when there is none). */
  body: Uint8Array;
  /** How the message ended; absent for messages built in code. */
  end?: MessageEnd;
  /** Whether lines ended with a bare LF; absent for messages built in code. */
  bareLf?: boolean;
}

/** An RTP or RTCP packet interleaved on the RTSP connection (RFC 2326 §10.12). */
export interface InterleavedFrame {
  /** An interleaved frame. */
  kind: "interleaved";
  /** The channel (RTP and RTCP of a session take one each). */
  channel: number;
  /** The packet. */
  data: Uint8Array;
}

/** Anything that travels on an RTSP connection. */
export type RtspMessage = RtspRequest | RtspResponse;

/** Options for the serializers. */
export interface SerializeOptions {
  /**
   * `"rtsp"` writes CRLF line ends and the blank line RFC 2326 requires;
   * `"lab"` writes what the lab's original client writes: bare LF between
   * lines and nothing after the last header.
   * @default {"rtsp"}
   */
  dialect?: "rtsp" | "lab";
}

const encoder = new TextEncoder();
const FIRST = ["cseq", "session"];

function serialize(
  startLine: string,
  headers: RtspHeaders,
  body: Uint8Array,
  options: SerializeOptions,
): Uint8Array {
  const lines = [startLine];
  const all = [...headers].filter(([name]) => name.toLowerCase() !== "content-length");
  for (const key of FIRST) {
    for (const [name, value] of all) {
      if (name.toLowerCase() === key) lines.push(`${name}: ${value}`);
    }
  }
  for (const [name, value] of all) {
    if (!FIRST.includes(name.toLowerCase())) lines.push(`${name}: ${value}`);
  }
  if (body.length > 0) lines.push(`Content-Length: ${body.length}`);
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new TypeError(`Cannot serialize RTSP header with a line break`);
  }
  // The lab dialect ends a message with its last header; a body (which the
  // lab never sends) still needs the blank line to stay apart from it.
  const text = options.dialect === "lab"
    ? lines.join("\n") + (body.length > 0 ? "\n\n" : "")
    : lines.join("\r\n") + "\r\n\r\n";
  const head = encoder.encode(text);
  if (body.length === 0) return head;
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/**
 * Encode a request; `Content-Length` is written from the body.
 *
 * @example
 * ```ts
 * const bytes = serializeRequest(createRequest("OPTIONS", "*", { CSeq: "1" }));
 * ```
 */
export function serializeRequest(request: RtspRequest, options: SerializeOptions = {}): Uint8Array {
  return serialize(
    `${request.method} ${request.uri} ${request.version}`,
    request.headers,
    request.body,
    options,
  );
}

/** Encode a response; `Content-Length` is written from the body. */
export function serializeResponse(
  response: RtspResponse,
  options: SerializeOptions = {},
): Uint8Array {
  return serialize(
    `${response.version} ${response.status} ${response.reason}`,
    response.headers,
    response.body,
    options,
  );
}

/** Build a request with version RTSP/1.0. */
export function createRequest(
  method: string,
  uri: string,
  headers: Record<string, string> | RtspHeaders = {},
  body: Uint8Array | string = new Uint8Array(0),
): RtspRequest {
  return {
    kind: "request",
    method,
    uri,
    version: "RTSP/1.0",
    headers: headers instanceof RtspHeaders ? headers : new RtspHeaders(headers),
    body: typeof body === "string" ? encoder.encode(body) : body,
  };
}

/** Build a response with version RTSP/1.0 and the standard reason phrase. */
export function createResponse(
  status: number,
  headers: Record<string, string> | RtspHeaders = {},
  body: Uint8Array | string = new Uint8Array(0),
): RtspResponse {
  return {
    kind: "response",
    version: "RTSP/1.0",
    status,
    reason: reasonPhrase(status),
    headers: headers instanceof RtspHeaders ? headers : new RtspHeaders(headers),
    body: typeof body === "string" ? encoder.encode(body) : body,
  };
}

/**
 * Encode an interleaved frame: `$`, channel, 16-bit length, data.
 *
 * @throws {RangeError} when the channel is over 255 or the data over 65535 bytes.
 */
export function serializeInterleaved(channel: number, data: Uint8Array): Uint8Array {
  if (channel < 0 || channel > 255 || data.length > 0xffff) {
    throw new RangeError(
      `Cannot frame ${data.length} bytes on channel ${channel}: limits are 255 and 65535`,
    );
  }
  const out = new Uint8Array(4 + data.length);
  out[0] = 0x24;
  out[1] = channel;
  out[2] = data.length >> 8;
  out[3] = data.length & 0xff;
  out.set(data, 4);
  return out;
}
