/**
 * The server's two UDP sockets, on an even port for RTP and the odd port
 * above it for RTCP (RFC 3550 §11), shared by every session: RTP leaves from
 * the port the Transport reply advertises as `server_port`, and RTCP from
 * the one above, as some clients accept packets only from those.
 *
 * RTP goes out one of two ways:
 * - **batched** (Linux, with the ffi permission): the RTP socket is a
 *   {@linkcode LinuxUdpSocket}; packets queued during one turn of the event
 *   loop (one pacer wake-up, every session due in it) leave in one
 *   `sendmmsg` call at the end of the turn, each frame's packets to one
 *   client as one UDP GSO message where the kernel supports it. Headers are
 *   stamped into a reused arena and payloads are passed by reference, so
 *   nothing is copied or allocated per packet.
 * - **portable**: Deno's `DatagramConn.send`, one call per packet (each
 *   packet joined into a new buffer, which Deno holds until the send is done).
 *
 * @module
 */
import { isIpv4, LinuxUdpSocket, linuxUdpSupport } from "./linux_udp.ts";

/** A datagram that arrived on one of the pair's sockets. */
export interface PairDatagram {
  data: Uint8Array;
  from: Deno.NetAddr;
}

/** Counters of the pair's traffic. */
export interface PairCounters {
  /** RTP packets sent (batched: accepted by the kernel; portable: handed to Deno). */
  rtpSent: number;
  /** System calls (or Deno sends) that carried them. */
  rtpSendCalls: number;
  /** Sends that failed (such as an ICMP port unreachable). */
  sendErrors: number;
  /**
   * Datagrams not sent because the process could not keep up: the send
   * buffer was full (batched), or {@linkcode MAX_SENDS_IN_FLIGHT} sends were
   * still waiting (portable).
   */
  sendDropped: number;
  /** Datagrams received on the RTP port (clients' NAT "punch" packets). */
  rtpReceived: number;
  /** Datagrams received on the RTCP port. */
  rtcpReceived: number;
}

/**
 * How RTP leaves: `auto` picks `gso`, else `sendmmsg`, else `portable`;
 * `sendmmsg` is batched without GSO.
 */
export type UdpSendMode = typeof UDP_SEND_MODES[number];

/** Every {@linkcode UdpSendMode}. */
export const UDP_SEND_MODES = ["auto", "gso", "sendmmsg", "portable"] as const;

/** Options for {@linkcode UdpPortPair.bind}. */
export interface UdpPortPairOptions {
  /** @default {"auto"} */
  sendMode?: UdpSendMode;
  /**
   * Called with each datagram that arrives on the RTP port (a publisher's
   * RTP); without it they are only counted. The data is the caller's to keep
   * only for the call (batched receives reuse their buffer).
   */
  onRtp?: (datagram: PairDatagram) => void;
}

/**
 * Most sends on the Deno sockets waiting to complete at once. Each holds its
 * datagram; beyond this the pair drops new datagrams (and counts them) rather
 * than queue without bound when sending falls behind.
 */
export const MAX_SENDS_IN_FLIGHT = 8192;

/** A datagram held until its socket's first send is done. */
interface EarlySend {
  data: Uint8Array;
  hostname: string;
  port: number;
}

/** Bytes of RTP headers stamped per arena (then a new one is started). */
const HEADER_ARENA_BYTES = 64 * 1024;
/** Send buffer of the batched RTP socket: a flush may queue many 64 KB GSO messages. */
const BATCH_SEND_BUFFER = 8 * 1024 * 1024;

/** RTP and RTCP sockets on adjacent ports. */
export class UdpPortPair {
  /** The RTP socket, when sending is portable. */
  readonly #rtp: Deno.DatagramConn | undefined;
  /** The RTP socket, when sending is batched. */
  readonly #batched: LinuxUdpSocket | undefined;
  readonly #rtcp: Deno.DatagramConn;
  readonly #rtpPort: number;
  readonly #counters: PairCounters = {
    rtpSent: 0,
    rtpSendCalls: 0,
    sendErrors: 0,
    sendDropped: 0,
    rtpReceived: 0,
    rtcpReceived: 0,
  };
  /** How RTP leaves, for logs: "portable", "sendmmsg" or "sendmmsg+gso". */
  get sendMode(): string {
    if (!this.#batched) return "portable";
    // The socket gives up GSO if the kernel keeps refusing it.
    return this.#batched.gsoEnabled ? "sendmmsg+gso" : "sendmmsg";
  }
  /** Why batched sending is not used, when it is not. */
  readonly portableReason: string | undefined;
  readonly #loops: Promise<void>[];
  /**
   * Deno completes many sends on a socket that has not yet sent anything in
   * reverse order, so a first burst would arrive reversed: a socket's first
   * datagram goes alone, and what is sent while it is under way waits for it
   * here, in order.
   */
  readonly #waiting = new Map<Deno.DatagramConn, EarlySend[]>();
  /** Sockets whose first send is done. */
  readonly #started = new Set<Deno.DatagramConn>();
  #closed = false;
  #inFlight = 0;
  #headers = new Uint8Array(HEADER_ARENA_BYTES);
  #headerOffset = 0;

  private constructor(
    rtp: Deno.DatagramConn | LinuxUdpSocket,
    rtcp: Deno.DatagramConn,
    onRtcp: (datagram: PairDatagram) => void,
    portableReason: string | undefined,
    onRtp: ((datagram: PairDatagram) => void) | undefined,
  ) {
    this.#rtcp = rtcp;
    this.portableReason = portableReason;
    const rtcpLoop = this.#receive(rtcp, (d) => {
      this.#counters.rtcpReceived++;
      onRtcp(d);
    });
    if (rtp instanceof LinuxUdpSocket) {
      this.#batched = rtp;
      this.#rtpPort = rtp.localPort;
      this.#loops = [this.#receiveBatched(rtp, onRtp), rtcpLoop];
    } else {
      this.#rtp = rtp;
      this.#rtpPort = (rtp.addr as Deno.NetAddr).port;
      this.#loops = [
        this.#receive(rtp, (d) => {
          this.#counters.rtpReceived++;
          onRtp?.(d);
        }),
        rtcpLoop,
      ];
    }
  }

  /**
   * Bind an even/odd pair of free ports on `hostname`.
   *
   * @throws {Error} when no pair could be found in 100 attempts, or when a
   * batched `sendMode` was asked for and cannot be had (the error says why).
   */
  static bind(
    hostname: string,
    onRtcp: (datagram: PairDatagram) => void,
    options: UdpPortPairOptions = {},
  ): UdpPortPair {
    const mode = options.sendMode ?? "auto";
    let portableReason: string | undefined = mode === "portable" ? "asked for" : undefined;
    if (mode !== "portable") {
      const support = linuxUdpSupport();
      if (!support.available) portableReason = support.reason;
      else if (!isIpv4(hostname)) {
        portableReason = `batched sending is IPv4 only, not ${hostname}`;
      } else if (mode === "gso" && !support.gso) portableReason = "the kernel refuses UDP GSO";
      if (portableReason !== undefined && mode !== "auto") {
        throw new Error(`Cannot send RTP with ${mode}: ${portableReason}`);
      }
    }
    for (let attempt = 0; attempt < 100; attempt++) {
      const pair = portableReason === undefined
        ? UdpPortPair.#tryBatched(hostname, onRtcp, mode !== "sendmmsg", options.onRtp)
        : UdpPortPair.#tryPortable(hostname, onRtcp, portableReason, options.onRtp);
      if (pair) return pair;
    }
    throw new Error(`Cannot find two adjacent free UDP ports on ${hostname} for RTP and RTCP`);
  }

  static #tryBatched(
    hostname: string,
    onRtcp: (datagram: PairDatagram) => void,
    gso: boolean,
    onRtp: ((datagram: PairDatagram) => void) | undefined,
  ): UdpPortPair | undefined {
    const rtp = LinuxUdpSocket.bind({
      hostname,
      port: 0,
      gso,
      sendBufferBytes: BATCH_SEND_BUFFER,
    });
    const port = rtp.localPort;
    if (port % 2 === 0) {
      try {
        const rtcp = Deno.listenDatagram({ hostname, port: port + 1, transport: "udp" });
        return new UdpPortPair(rtp, rtcp, onRtcp, undefined, onRtp);
      } catch { /* the odd port is taken: try another pair */ }
    }
    void rtp.close();
    return undefined;
  }

  static #tryPortable(
    hostname: string,
    onRtcp: (datagram: PairDatagram) => void,
    reason: string,
    onRtp: ((datagram: PairDatagram) => void) | undefined,
  ): UdpPortPair | undefined {
    const probe = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
    const port = (probe.addr as Deno.NetAddr).port;
    const base = port - (port % 2);
    let rtp: Deno.DatagramConn | undefined;
    let rtcp: Deno.DatagramConn | undefined;
    if (port === base) rtp = probe;
    else rtcp = probe;
    try {
      rtp ??= Deno.listenDatagram({ hostname, port: base, transport: "udp" });
      rtcp ??= Deno.listenDatagram({ hostname, port: base + 1, transport: "udp" });
      return new UdpPortPair(rtp, rtcp, onRtcp, reason, onRtp);
    } catch {
      rtp?.close();
      rtcp?.close();
      return undefined;
    }
  }

  /** The RTP port (even); RTCP is the one above. */
  get rtpPort(): number {
    return this.#rtpPort;
  }

  /** The RTCP port (odd). */
  get rtcpPort(): number {
    return (this.#rtcp.addr as Deno.NetAddr).port;
  }

  /** Counters of the pair's traffic (a snapshot). */
  get counters(): PairCounters {
    const counters = { ...this.#counters };
    const batched = this.#batched?.counters;
    if (batched) {
      counters.rtpSent = batched.datagramsSent;
      counters.rtpSendCalls = batched.sendCalls;
      counters.sendErrors += batched.sendErrors;
      counters.sendDropped += batched.sendDropped;
    }
    return counters;
  }

  /**
   * Send an RTP packet (header + payload) from the RTP socket; errors (such
   * as ICMP port unreachable) are counted, not thrown. The header is copied
   * at once; the payload must not change until the end of this event-loop
   * turn (shared, immutable payloads are what sessions send).
   */
  sendRtp(header: Uint8Array, payload: Uint8Array, hostname: string, port: number): void {
    if (this.#closed) return;
    const batched = this.#batched;
    if (!batched) {
      const packet = new Uint8Array(header.length + payload.length);
      packet.set(header);
      packet.set(payload, header.length);
      if (this.#send(this.#rtp!, packet, hostname, port)) {
        this.#counters.rtpSent++;
        this.#counters.rtpSendCalls++;
      }
      return;
    }
    let offset = this.#headerOffset;
    if (offset + header.length > this.#headers.length) {
      // The full arena stays alive through the queued packets that point into it.
      this.#headers = new Uint8Array(Math.max(HEADER_ARENA_BYTES, header.length));
      offset = 0;
    }
    const headers = this.#headers;
    headers.set(header, offset);
    const end = offset + header.length;
    this.#headerOffset = end;
    if (batched.pending === 0) queueMicrotask(this.#flush);
    try {
      batched.begin(hostname, port);
    } catch {
      this.#counters.sendErrors++; // not an IPv4 address: cannot come from an IPv4 listener
      return;
    }
    batched.part(headers, offset, end);
    batched.part(payload);
  }

  /**
   * Hand what is queued to the kernel now (batched sending); the header arena
   * starts over. The pacer calls it at the end of each wake-up; whatever is
   * queued outside one is flushed at the end of the event-loop turn.
   */
  flush(): void {
    if (this.#batched?.pending) this.#batched.flush();
    this.#headerOffset = 0;
  }

  #flush = (): void => this.flush();

  /** Send from the RTCP socket. */
  sendRtcp(data: Uint8Array, hostname: string, port: number): void {
    this.#send(this.#rtcp, data, hostname, port);
  }

  /** Start a send; false when the pair is closed or too many sends are in flight. */
  #send(conn: Deno.DatagramConn, data: Uint8Array, hostname: string, port: number): boolean {
    if (this.#closed) return false;
    if (this.#inFlight >= MAX_SENDS_IN_FLIGHT) {
      this.#counters.sendDropped++;
      return false;
    }
    this.#inFlight++;
    const to = { transport: "udp" as const, hostname, port };
    if (this.#started.has(conn)) {
      conn.send(data, to).then(this.#onSent, this.#onSendError);
      return true;
    }
    const waiting = this.#waiting.get(conn);
    if (waiting) {
      waiting.push({ data, hostname, port });
      return true;
    }
    this.#waiting.set(conn, []);
    const release = () => {
      this.#started.add(conn);
      const held = this.#waiting.get(conn) ?? [];
      this.#waiting.delete(conn);
      for (const d of held) {
        conn.send(d.data, { transport: "udp", hostname: d.hostname, port: d.port })
          .then(this.#onSent, this.#onSendError);
      }
    };
    conn.send(data, to).then(
      () => (this.#onSent(), release()),
      () => (this.#onSendError(), release()),
    );
    return true;
  }

  #onSent = (): void => {
    this.#inFlight--;
  };

  #onSendError = (): void => {
    this.#inFlight--;
    this.#counters.sendErrors++;
  };

  async #receive(conn: Deno.DatagramConn, handle: (d: PairDatagram) => void): Promise<void> {
    while (!this.#closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await conn.receive();
      } catch {
        if (this.#closed) return;
        continue; // e.g. ICMP errors reported on receive
      }
      handle({ data: received[0], from: received[1] as Deno.NetAddr });
    }
  }

  async #receiveBatched(
    socket: LinuxUdpSocket,
    onRtp: ((datagram: PairDatagram) => void) | undefined,
  ): Promise<void> {
    while (!this.#closed) {
      const datagrams = await socket.receive(64, 1000);
      this.#counters.rtpReceived += datagrams.length;
      if (!onRtp) continue;
      for (const d of datagrams) {
        if (d.truncated) continue;
        onRtp({ data: d.data, from: { transport: "udp", hostname: d.hostname, port: d.port } });
      }
    }
  }

  /** Close both sockets and wait for their receive loops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.clear();
    this.#rtp?.close();
    const closing = this.#batched?.close();
    this.#rtcp.close();
    await Promise.all([...this.#loops, closing]);
  }
}
