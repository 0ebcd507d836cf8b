/**
 * A seeded, deterministic network impairment for the RTP path between the
 * server and a client (not a test file itself):
 *
 * - {@linkcode RtspPortRewriter}: a TCP proxy for the RTSP control connection
 *   that rewrites the `client_port` of each SETUP so the server sends RTP and
 *   RTCP to the impairment proxy instead of the client, and tells the proxy
 *   where the client really listens. Everything else passes unchanged, so an
 *   unmodified {@linkcode StreamClient} can be used.
 * - {@linkcode UdpImpairmentProxy}: receives the server's RTP and RTCP and
 *   forwards them to the client, applying a fixed plan by RTP packet index
 *   (0 = the first RTP datagram): drop, duplicate, swap with the next,
 *   truncate, or delay (a spike: the packet and all after it wait, order
 *   kept). RTCP is forwarded unimpaired, in order with RTP, so a BYE never
 *   overtakes a delayed packet. Every datagram seen is recorded.
 *
 * Every loop is bounded by its socket's life; `close()` releases every socket
 * and waits for every pending operation, so Deno's sanitizers stay on.
 *
 * @module
 */
import { TcpProxy } from "./_tcp_proxy.ts";

/** What happens to one RTP packet. */
export type Impairment =
  | { kind: "drop" }
  | { kind: "duplicate" }
  | { kind: "swap" }
  | { kind: "truncate"; length: number }
  | { kind: "delay"; ms: number };

/** RTP packet index → its impairment; indices not listed pass unchanged. */
export type ImpairmentPlan = ReadonlyMap<number, Impairment>;

/** One RTP datagram the proxy received from the server. */
export interface SeenPacket {
  index: number;
  length: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

/** Counts of what the proxy did, for checking against the plan. */
export interface ProxyCounters {
  rtpIn: number;
  rtpOut: number;
  rtcpIn: number;
  rtcpOut: number;
  dropped: number;
  duplicated: number;
  swapped: number;
  truncated: number;
  delayed: number;
  /** Datagrams that came before the client's ports were known (should stay 0). */
  unroutable: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Two UDP sockets on adjacent ports, the first even (at most 100 attempts). */
function bindPair(): [Deno.DatagramConn, Deno.DatagramConn] {
  for (let attempt = 0; attempt < 100; attempt++) {
    const rtp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (rtp.addr as Deno.NetAddr).port;
    if (port % 2 === 0 && port < 65535) {
      try {
        return [
          rtp,
          Deno.listenDatagram({ hostname: "127.0.0.1", port: port + 1, transport: "udp" }),
        ];
      } catch { /* taken: try another */ }
    }
    rtp.close();
  }
  throw new Error("Cannot bind two adjacent UDP ports for the impairment proxy");
}

/** Forwards the server's RTP/RTCP to the client through an {@linkcode ImpairmentPlan}. */
export class UdpImpairmentProxy {
  readonly #rtp: Deno.DatagramConn;
  readonly #rtcp: Deno.DatagramConn;
  readonly #plan: ImpairmentPlan;
  readonly #loops: Promise<void>[];
  /** Sends happen one after another in this chain, so order and delays are exact. */
  #chain: Promise<void> = Promise.resolve();
  /** A packet waiting for its successor, to be sent after it (a swap). */
  #held: Uint8Array | undefined;
  #target: { hostname: string; rtpPort: number; rtcpPort: number } | undefined;
  #closed = false;
  readonly seen: SeenPacket[] = [];
  readonly counters: ProxyCounters = {
    rtpIn: 0,
    rtpOut: 0,
    rtcpIn: 0,
    rtcpOut: 0,
    dropped: 0,
    duplicated: 0,
    swapped: 0,
    truncated: 0,
    delayed: 0,
    unroutable: 0,
  };

  /** Bind an even RTP port and the RTCP port above it on 127.0.0.1 (a Transport port range). */
  constructor(plan: ImpairmentPlan) {
    this.#plan = plan;
    [this.#rtp, this.#rtcp] = bindPair();
    this.#loops = [this.#receive(this.#rtp, false), this.#receive(this.#rtcp, true)];
  }

  /** The ports the server must send RTP and RTCP to. */
  get rtpPort(): number {
    return (this.#rtp.addr as Deno.NetAddr).port;
  }

  get rtcpPort(): number {
    return (this.#rtcp.addr as Deno.NetAddr).port;
  }

  /** Where the client listens (learned from its SETUP). */
  setTarget(hostname: string, rtpPort: number, rtcpPort: number): void {
    this.#target = { hostname, rtpPort, rtcpPort };
  }

  async #receive(socket: Deno.DatagramConn, rtcp: boolean): Promise<void> {
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await socket.receive();
      } catch {
        if (this.#closed) return;
        continue; // an ICMP error reported on the socket
      }
      if (rtcp) this.#onRtcp(data);
      else this.#onRtp(data);
    }
  }

  #send(data: Uint8Array, rtcp: boolean, delayMs = 0): void {
    const target = this.#target;
    if (!target) {
      this.counters.unroutable++;
      return;
    }
    const socket = rtcp ? this.#rtcp : this.#rtp;
    const port = rtcp ? target.rtcpPort : target.rtpPort;
    this.#chain = this.#chain.then(async () => {
      if (delayMs > 0) await sleep(delayMs);
      if (this.#closed) return;
      try {
        await socket.send(data, { transport: "udp", hostname: target.hostname, port });
        if (rtcp) this.counters.rtcpOut++;
        else this.counters.rtpOut++;
      } catch {
        // the client went away: nothing to forward to
      }
    });
  }

  #onRtcp(data: Uint8Array): void {
    this.counters.rtcpIn++;
    this.#send(data, true);
  }

  #onRtp(data: Uint8Array): void {
    const index = this.counters.rtpIn++;
    if (data.length >= 12) {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      this.seen.push({
        index,
        length: data.length,
        sequenceNumber: view.getUint16(2),
        timestamp: view.getUint32(4),
        marker: (data[1] & 0x80) !== 0,
      });
    }
    const held = this.#held;
    this.#held = undefined;
    const impairment = this.#plan.get(index);
    switch (impairment?.kind) {
      case "drop":
        this.counters.dropped++;
        break;
      case "duplicate":
        this.counters.duplicated++;
        this.#send(data, false);
        this.#send(data, false);
        break;
      case "swap":
        this.counters.swapped++;
        this.#held = data;
        break;
      case "truncate":
        this.counters.truncated++;
        this.#send(data.slice(0, impairment.length), false);
        break;
      case "delay":
        this.counters.delayed++;
        this.#send(data, false, impairment.ms);
        break;
      default:
        this.#send(data, false);
    }
    if (held) this.#send(held, false); // after its successor
  }

  /** Forward a packet still held for a swap, and wait until everything queued is sent. */
  async flush(): Promise<void> {
    if (this.#held) {
      this.#send(this.#held, false);
      this.#held = undefined;
    }
    await this.#chain;
  }

  /** Close both sockets and wait for the receive loops and queued sends. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rtp.close();
    this.#rtcp.close();
    await Promise.all(this.#loops);
    await this.#chain;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const CLIENT_PORT = /client_port=(\s*)(\d+)(?:-(\d+))?/g;

/**
 * A TCP proxy for RTSP that points each SETUP's `client_port` at a
 * {@linkcode UdpImpairmentProxy} and aims that proxy at the client's ports.
 */
export class RtspPortRewriter implements AsyncDisposable {
  readonly #proxy: UdpImpairmentProxy;
  readonly #tcp: TcpProxy;
  /** SETUPs rewritten. */
  rewritten = 0;

  constructor(upstreamPort: number, proxy: UdpImpairmentProxy) {
    this.#proxy = proxy;
    this.#tcp = new TcpProxy(upstreamPort, {
      handlers: () => ({ toServer: (chunk) => this.#rewrite(chunk) }),
    });
  }

  /** The port clients connect to instead of the server's. */
  get port(): number {
    return this.#tcp.port;
  }

  /** Rewrite `client_port=a[-b]` (any spacing, as in the lab's `client_port= 5008`). */
  #rewrite(chunk: Uint8Array): Uint8Array {
    const text = String.fromCharCode(...chunk);
    if (!/client_port=/.test(text)) return chunk;
    const rewritten = text.replace(
      CLIENT_PORT,
      (_all, space: string, rtp: string, rtcp?: string) => {
        this.rewritten++;
        this.#proxy.setTarget(
          "127.0.0.1",
          Number(rtp),
          rtcp !== undefined ? Number(rtcp) : Number(rtp) + 1,
        );
        return rtcp !== undefined
          ? `client_port=${space}${this.#proxy.rtpPort}-${this.#proxy.rtcpPort}`
          : `client_port=${space}${this.#proxy.rtpPort}`;
      },
    );
    return Uint8Array.from(rewritten, (c) => c.charCodeAt(0));
  }

  /** Stop accepting, close every proxied connection and wait for the pipes. */
  close(): Promise<void> {
    return this.#tcp.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
