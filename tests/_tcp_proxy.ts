/**
 * A TCP proxy on 127.0.0.1 for tests that stand between a client and the
 * server (not a test file itself): each connection it accepts is joined to a
 * new one to the upstream port, and the bytes of each direction pass through
 * handlers that may watch or rewrite them. With `tls` it is a TLS relay: it
 * ends the client's TLS with a test certificate and opens its own TLS
 * connection upstream, so the handlers see the bytes in the clear.
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
  /** Speak TLS on both sides: serve `cert` and `key` (PEM), trust `ca` upstream. */
  tls?: { cert: string; key: string; ca: string };
}

const asIs = (chunk: Uint8Array) => chunk;

/** A TCP proxy from a port of its own on 127.0.0.1 to `upstreamPort` there. */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.Listener;
  readonly #upstreamPort: number;
  readonly #options: TcpProxyOptions;
  readonly #accepting: Promise<void>;
  readonly #pipes = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.Conn>();
  #closed = false;

  constructor(upstreamPort: number, options: TcpProxyOptions = {}) {
    this.#upstreamPort = upstreamPort;
    this.#options = options;
    const tls = options.tls;
    this.#listener = tls
      ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key })
      : Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    this.#accepting = this.#accept();
  }

  /** The port clients connect to instead of the upstream one. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      if (this.#closed) {
        client.close();
        return;
      }
      let server: Deno.Conn;
      const upstream = { hostname: "127.0.0.1", port: this.#upstreamPort };
      const tls = this.#options.tls;
      try {
        server = tls
          ? await Deno.connectTls({ ...upstream, caCerts: [tls.ca] })
          : await Deno.connect(upstream);
      } catch {
        client.close();
        continue;
      }
      if (this.#options.noDelay) {
        for (const conn of [client, server]) {
          if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
        }
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
    from: Deno.Conn,
    to: Deno.Conn,
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
