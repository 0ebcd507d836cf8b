/**
 * A TCP proxy on 127.0.0.1 for tests that stand between a client and the
 * server (not a test file itself): each connection it accepts is joined to a
 * new one to the upstream port, and the bytes of each direction pass through
 * handlers that may watch or rewrite them.
 *
 * When either side of a connection closes, both are closed. `close()` stops
 * accepting, closes every connection and waits for every pipe, so Deno's
 * sanitizers stay on.
 *
 * @module
 */

/** What a proxied connection does with each chunk read, per direction. */
export interface ChunkHandlers {
  /** The bytes to send upstream for a chunk from the client (default: the chunk). */
  toServer?: (chunk: Uint8Array) => Uint8Array;
  /** The bytes to send the client for a chunk from upstream (default: the chunk). */
  toClient?: (chunk: Uint8Array) => Uint8Array;
}

/** Options for {@linkcode TcpProxy}. */
export interface TcpProxyOptions {
  /** Called once for each connection accepted: its handlers. @default {() => ({})} */
  handlers?: () => ChunkHandlers;
  /** Turn off Nagle's algorithm on both connections, so the proxy adds no delay. @default {false} */
  noDelay?: boolean;
}

const asIs = (chunk: Uint8Array) => chunk;

/** A TCP proxy from a port of its own on 127.0.0.1 to `upstreamPort` there. */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #upstreamPort: number;
  readonly #options: TcpProxyOptions;
  readonly #accepting: Promise<void>;
  readonly #pipes = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.TcpConn>();
  #closed = false;

  constructor(upstreamPort: number, options: TcpProxyOptions = {}) {
    this.#upstreamPort = upstreamPort;
    this.#options = options;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    this.#accepting = this.#accept();
  }

  /** The port clients connect to instead of the upstream one. */
  get port(): number {
    return this.#listener.addr.port;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      if (this.#closed) {
        client.close();
        return;
      }
      let server: Deno.TcpConn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: this.#upstreamPort });
      } catch {
        client.close();
        continue;
      }
      if (this.#options.noDelay) {
        client.setNoDelay(true);
        server.setNoDelay(true);
      }
      this.#conns.add(client).add(server);
      const close = () => {
        for (const conn of [client, server]) {
          if (!this.#conns.delete(conn)) continue;
          try {
            conn.close();
          } catch { /* closed */ }
        }
      };
      const handlers = this.#options.handlers?.() ?? {};
      const pipe = Promise.all([
        this.#pump(client, server, handlers.toServer ?? asIs).finally(close),
        this.#pump(server, client, handlers.toClient ?? asIs).finally(close),
      ]).then(() => {});
      this.#pipes.add(pipe);
      pipe.finally(() => this.#pipes.delete(pipe));
    }
  }

  /** Copy `from` to `to`, each chunk through `handle`, until either side fails or closes. */
  async #pump(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    handle: (chunk: Uint8Array) => Uint8Array,
  ): Promise<void> {
    const buffer = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await from.read(buffer);
      } catch {
        return;
      }
      if (n === null) return;
      try {
        const out = handle(buffer.slice(0, n));
        for (let offset = 0; offset < out.length;) offset += await to.write(out.subarray(offset));
      } catch {
        return; // closed (or a handler failed: the connection ends)
      }
    }
  }

  /** Stop accepting, close every proxied connection and wait for the pipes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
    await Promise.all(this.#pipes);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
