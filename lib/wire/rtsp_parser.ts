/**
 * Incremental RTSP parser: bytes in, requests, responses and interleaved
 * frames out, whatever way the bytes were split or pipelined.
 *
 * It accepts CRLF and bare LF line ends. A message in the lab dialect has no
 * blank line at its end; the connection that feeds this parser calls
 * {@linkcode RtspParser.flushIdle} once the peer has gone quiet, which
 * completes such a message.
 *
 * @module
 */
import { ParseError } from "./errors.ts";
import { RtspHeaders } from "./rtsp_headers.ts";
import type {
  InterleavedFrame,
  MessageEnd,
  RtspMessage,
  RtspRequest,
  RtspResponse,
} from "./rtsp_message.ts";

/** A parse failure with the RTSP status a server should answer it with. */
export class RtspParseError extends ParseError {
  /** 400 for malformed input, 413 for an oversized body, 414 for an oversized URI. */
  readonly status: number;

  constructor(message: string, offset: number, status = 400) {
    super(message, offset);
    this.name = "RtspParseError";
    this.status = status;
  }
}

/** Limits that keep a hostile peer from exhausting memory. */
export interface RtspParserOptions {
  /** Largest start line plus headers, in bytes. @default {16384} */
  maxHeaderBytes?: number;
  /** Most header lines in one message. @default {100} */
  maxHeaders?: number;
  /** Largest body (Content-Length), in bytes. @default {65536} */
  maxBodyBytes?: number;
  /** Longest Request-URI, in bytes. @default {4096} */
  maxUriBytes?: number;
}

/** What {@linkcode RtspParser.push} yields. */
export type RtspParserItem = RtspMessage | InterleavedFrame;

const decoder = new TextDecoder();

/** Whether `text` holds a control character other than tab (a bare CR, a NUL, …). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
const LF = 0x0a;
const CR = 0x0d;
const DOLLAR = 0x24;

/**
 * Turns a byte stream into RTSP messages and interleaved frames.
 *
 * @example
 * ```ts
 * const parser = new RtspParser();
 * for (const msg of parser.push(new TextEncoder().encode("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))) {
 *   console.log(msg.kind);
 * }
 * ```
 */
export class RtspParser {
  #buffer = new Uint8Array(0);
  #length = 0;
  /** Where the search for the end of the header block resumes. */
  #scanFrom = 0;
  /** Bytes consumed since the parser was created, for error offsets. */
  #consumed = 0;
  readonly #maxHeaderBytes: number;
  readonly #maxHeaders: number;
  readonly #maxBodyBytes: number;
  readonly #maxUriBytes: number;

  constructor(options: RtspParserOptions = {}) {
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 16384;
    this.#maxHeaders = options.maxHeaders ?? 100;
    this.#maxBodyBytes = options.maxBodyBytes ?? 65536;
    this.#maxUriBytes = options.maxUriBytes ?? 4096;
  }

  /** Bytes held that do not yet form a whole message or frame. */
  get buffered(): number {
    return this.#length;
  }

  /**
   * The parse error that stopped this parser, once it has happened. Messages
   * completed before the error (in the same {@linkcode RtspParser.push}) are
   * still returned; the error is thrown by the next call.
   */
  get failure(): RtspParseError | undefined {
    return this.#failure;
  }

  #failure: RtspParseError | undefined;

  /**
   * Add bytes; return every message and frame they complete.
   *
   * @throws {RtspParseError} on malformed or oversized input when nothing
   * before it completed (otherwise see {@linkcode RtspParser.failure}); the
   * parser is then unusable (the connection should answer and close).
   */
  push(chunk: Uint8Array): RtspParserItem[] {
    if (this.#failure) throw this.#failure;
    this.#append(chunk);
    const out: RtspParserItem[] = [];
    try {
      for (;;) {
        const item = this.#next();
        if (!item) break;
        out.push(item);
      }
    } catch (error) {
      if (!(error instanceof RtspParseError)) throw error;
      this.#failure = error;
      if (out.length === 0) throw error;
    }
    return out;
  }

  /**
   * Complete a message that has no blank line at its end (the lab dialect),
   * once its sender has gone quiet. Returns `undefined` when nothing but
   * white space is buffered, when an interleaved frame or a body is still
   * incomplete (those have explicit lengths and are waited for), or when the
   * buffered bytes contain a CR: the lab dialect ends lines with a bare LF, so
   * a CRLF message is standard RTSP and must end with its blank line; or
   * when no complete request line followed by a CSeq header is buffered.
   *
   * @throws {RtspParseError} when the buffered bytes are not a message.
   */
  flushIdle(): RtspMessage | undefined {
    if (this.#failure) throw this.#failure;
    this.#skipLeadingLineBreaks();
    if (this.#length === 0 || this.#buffer[0] === DOLLAR) return undefined;
    const block = this.#buffer.subarray(0, this.#length);
    if (block.includes(CR)) return undefined;
    if (block.every((b) => b === 0x20 || b === 0x09 || b === LF)) {
      this.#consume(this.#length);
      return undefined;
    }
    // A lab request is complete only after its request line and a CSeq header:
    // anything shorter is a standard request that paused mid-way.
    const text = decoder.decode(block);
    if (!/\n\s*cseq\s*:/i.test(text)) return undefined;
    // A blank line means the headers are complete and a body is still arriving.
    for (let i = 1; i < block.length; i++) {
      if (block[i] === LF && block[i - 1] === LF) return undefined;
    }
    const message = this.#parseHead(block, "idle", true);
    const bodyLength = this.#contentLength(message.headers);
    if (bodyLength > 0) return undefined;
    this.#consume(this.#length);
    return message;
  }

  #append(chunk: Uint8Array): void {
    if (this.#length + chunk.length > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.max(this.#buffer.length * 2, this.#length + chunk.length, 4096),
      );
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length += chunk.length;
  }

  #consume(n: number): void {
    this.#buffer.copyWithin(0, n, this.#length);
    this.#length -= n;
    this.#consumed += n;
    this.#scanFrom = 0;
  }

  #skipLeadingLineBreaks(): void {
    let n = 0;
    while (n < this.#length && (this.#buffer[n] === CR || this.#buffer[n] === LF)) n++;
    if (n > 0) this.#consume(n);
  }

  #next(): RtspParserItem | undefined {
    this.#skipLeadingLineBreaks();
    if (this.#length === 0) return undefined;
    const buf = this.#buffer;
    if (buf[0] === DOLLAR) {
      if (this.#length < 4) return undefined;
      const size = (buf[2] << 8) | buf[3];
      if (this.#length < 4 + size) return undefined;
      const frame: InterleavedFrame = {
        kind: "interleaved",
        channel: buf[1],
        data: buf.slice(4, 4 + size),
      };
      this.#consume(4 + size);
      return frame;
    }
    // A message starts with a method or "RTSP/": a first byte that is not
    // printable is junk now, not after 16 KiB (0x16 0x03 is a TLS handshake).
    if ((buf[0] < 0x20 && buf[0] !== 0x09) || buf[0] > 0x7e) {
      throw new RtspParseError(
        buf[0] === 0x16 && (this.#length < 2 || buf[1] === 0x03)
          ? "Cannot parse RTSP message: it is a TLS handshake, and this is plain RTSP"
          : `Cannot parse RTSP message: it starts with byte 0x${
            buf[0].toString(16).padStart(2, "0")
          }`,
        this.#consumed,
      );
    }
    // Find the blank line: LF followed by LF or CR LF.
    let headEnd = -1;
    let blockEnd = -1;
    for (let i = this.#scanFrom; i < this.#length; i++) {
      if (buf[i] !== LF) continue;
      if (i + 1 < this.#length && buf[i + 1] === LF) {
        headEnd = i;
        blockEnd = i + 2;
        break;
      }
      if (i + 2 < this.#length && buf[i + 1] === CR && buf[i + 2] === LF) {
        headEnd = i;
        blockEnd = i + 3;
        break;
      }
    }
    if (headEnd < 0) {
      this.#scanFrom = Math.max(0, this.#length - 2);
      if (this.#length > this.#maxHeaderBytes) {
        throw new RtspParseError(
          `Cannot parse RTSP message: headers exceed ${this.#maxHeaderBytes} bytes`,
          this.#consumed,
        );
      }
      return undefined;
    }
    const bareLf = !buf.subarray(0, blockEnd).includes(CR);
    const message = this.#parseHead(buf.subarray(0, headEnd), "blank-line", bareLf);
    const bodyLength = this.#contentLength(message.headers);
    if (this.#length < blockEnd + bodyLength) return undefined;
    message.body = buf.slice(blockEnd, blockEnd + bodyLength);
    this.#consume(blockEnd + bodyLength);
    return message;
  }

  #contentLength(headers: RtspHeaders): number {
    const value = headers.get("content-length");
    if (value === undefined) return 0;
    if (!/^\s*\d{1,10}\s*$/.test(value)) {
      throw new RtspParseError(`Cannot parse Content-Length "${value}"`, this.#consumed);
    }
    const length = Number(value);
    if (length > this.#maxBodyBytes) {
      throw new RtspParseError(
        `Cannot accept a body of ${length} bytes: the limit is ${this.#maxBodyBytes}`,
        this.#consumed,
        413,
      );
    }
    return length;
  }

  #parseHead(block: Uint8Array, end: MessageEnd, bareLf: boolean): RtspRequest | RtspResponse {
    if (block.length > this.#maxHeaderBytes) {
      throw new RtspParseError(
        `Cannot parse RTSP message: headers exceed ${this.#maxHeaderBytes} bytes`,
        this.#consumed,
      );
    }
    if (block.includes(0)) {
      throw new RtspParseError("Cannot parse RTSP message: it contains a NUL byte", this.#consumed);
    }
    const text = decoder.decode(block);
    // trimEnd, not /\s+$/: that pattern is quadratic in a run of blanks.
    const lines = text.trimEnd().split(/\r?\n/);
    const startLine = lines[0];
    if (hasControlCharacter(text.trimEnd().replace(/\r?\n/g, ""))) {
      throw new RtspParseError(
        "Cannot parse RTSP message: a control character (such as a bare CR) inside a line",
        this.#consumed,
      );
    }
    const headers = new RtspHeaders();
    let count = 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (/^[ \t]/.test(line) && count > 0) { // obsolete line folding
        const last = [...headers].at(-1)!;
        last[1] = `${last[1]} ${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, colon).trim())) {
        throw new RtspParseError(
          `Cannot parse RTSP header line ${i + 1}: "${line.slice(0, 80)}"`,
          this.#consumed,
        );
      }
      if (++count > this.#maxHeaders) {
        throw new RtspParseError(
          `Cannot parse RTSP message: more than ${this.#maxHeaders} headers`,
          this.#consumed,
        );
      }
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const body = new Uint8Array(0);
    const response = /^(RTSP\/\d\.\d) ([1-5]\d\d)(?: (.*))?$/.exec(startLine);
    if (response) {
      return {
        kind: "response",
        version: response[1],
        status: Number(response[2]),
        reason: response[3] ?? "",
        headers,
        body,
        end,
        bareLf,
      };
    }
    const parts = startLine.trim().split(/[ \t]+/);
    if (
      parts.length !== 3 || !/^[A-Za-z_-]+$/.test(parts[0]) || !/^RTSP\/\d+\.\d+$/.test(parts[2])
    ) {
      throw new RtspParseError(
        `Cannot parse RTSP request line "${startLine.slice(0, 80)}"`,
        this.#consumed,
      );
    }
    if (parts[1].length > this.#maxUriBytes) {
      throw new RtspParseError(
        `Cannot accept a Request-URI of ${
          parts[1].length
        } bytes: the limit is ${this.#maxUriBytes}`,
        this.#consumed,
        414,
      );
    }
    return {
      kind: "request",
      method: parts[0].toUpperCase(),
      uri: parts[1],
      version: parts[2],
      headers,
      body,
      end,
      bareLf,
    };
  }
}
