/**
 * An RTSP connection: a TCP stream turned into parsed messages and
 * interleaved frames, with lab-dialect messages completed when the peer goes
 * quiet, and whole writes that never interleave.
 *
 * @module
 */
import { RtspParser, type RtspParserItem, type RtspParserOptions } from "../wire/rtsp_parser.ts";
import { type Clock, realClock, withTimeout } from "./clock.ts";
import type { TcpDescriptors } from "./tcp_descriptor.ts";

/** Options for {@linkcode RtspConnection}. */
export interface RtspConnectionOptions extends RtspParserOptions {
  /**
   * How long the peer must be quiet before a message without a blank line
   * (the lab dialect) is taken as complete, in ms.
   * @default {40}
   */
  idleFlushMs?: number;
  clock?: Clock;
}

/** Wraps a {@linkcode Deno.Conn} for RTSP. */
export class RtspConnection {
  readonly conn: Deno.Conn;
  readonly #parser: RtspParser;
  readonly #idleFlushMs: number;
  readonly #clock: Clock;
  #writing: Promise<void> = Promise.resolve();
  #pendingWrites = 0;
  #closed = false;
  #lastReceived: number;
  /** The connection's descriptor, for writes without Deno's asynchronous write. */
  #direct: { descriptors: TcpDescriptors; fd: number } | undefined;

  constructor(conn: Deno.Conn, options: RtspConnectionOptions = {}) {
    this.conn = conn;
    // Replies and interleaved packets go out the moment they are ready: with
    // Nagle's algorithm a small write waits for the peer's ACK of the one
    // before, and a peer that delays its ACKs (Linux: 40 ms) delays it as long.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#parser = new RtspParser(options);
    this.#idleFlushMs = options.idleFlushMs ?? 40;
    this.#clock = options.clock ?? realClock;
    this.#lastReceived = this.#clock.now();
  }

  /** When bytes last arrived (or the connection opened), on the connection's clock. */
  get lastReceived(): number {
    return this.#lastReceived;
  }

  /** The peer's address. */
  get remoteAddr(): Deno.NetAddr {
    return this.conn.remoteAddr as Deno.NetAddr;
  }

  /** Whether {@linkcode RtspConnection.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Messages and interleaved frames as they complete, until the peer closes
   * the connection or it is closed here.
   *
   * @throws {RtspParseError} when the peer sends something that is not RTSP.
   */
  async *items(): AsyncGenerator<RtspParserItem> {
    const buffer = new Uint8Array(65536);
    let pending: Promise<number | null> | undefined;
    while (!this.#closed) {
      pending ??= this.conn.read(buffer).catch(() => null);
      // A read resolves to a count or null, never undefined: undefined means quiet.
      let n = this.#parser.buffered > 0
        ? await withTimeout(pending, this.#idleFlushMs, this.#clock)
        : await pending;
      if (n === undefined) {
        const message = this.#parser.flushIdle();
        if (message) {
          yield message;
          continue;
        }
        n = await pending;
      }
      pending = undefined;
      if (n === null) return;
      this.#lastReceived = this.#clock.now();
      for (const item of this.#parser.push(buffer.subarray(0, n))) yield item;
      if (this.#parser.failure) throw this.#parser.failure; // after the messages before it
    }
  }

  /** Writes queued and not yet done; a measure of how far the peer lags. */
  get pendingWrites(): number {
    return this.#pendingWrites;
  }

  /**
   * Write all of `bytes`; writes are queued so they never interleave. The
   * caller must not change `bytes` before the returned promise settles.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#pendingWrites === 0 && this.#direct && !this.#closed) {
      // Nothing queued: what the kernel takes now is written, the rest queued.
      const sent = this.#direct.descriptors.send(this.#direct.fd, bytes);
      if (sent === bytes.length) return Promise.resolve();
      if (sent > 0) bytes = bytes.subarray(sent);
    }
    // With nothing queued the write starts now, without a turn of waiting.
    const write = this.#pendingWrites++ === 0
      ? this.#writeAll(bytes)
      : this.#writing.then(() => this.#writeAll(bytes));
    this.#writing = write.catch(() => {});
    return write;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      if (this.#closed) return;
      let offset = 0;
      while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
    } finally {
      this.#pendingWrites--;
    }
  }

  /**
   * Write through `fd`, the connection's descriptor (found by
   * `descriptors`), whenever no write is queued: one system call, with no
   * promise or turn of the event loop. Only for a plain (not TLS) connection.
   */
  useDescriptor(descriptors: TcpDescriptors, fd: number): void {
    if (!this.#closed) this.#direct = { descriptors, fd };
  }

  /** Whether writes go through the connection's descriptor ({@linkcode useDescriptor}). */
  get direct(): boolean {
    return this.#direct !== undefined;
  }

  /** Close the connection; pending reads end, later writes are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#direct = undefined; // the number goes to the next socket opened
    try {
      this.conn.close();
    } catch {
      // already closed by the peer
    }
  }
}
