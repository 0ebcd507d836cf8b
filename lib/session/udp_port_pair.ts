/**
 * The server's two UDP sockets, on an even port for RTP and the odd port
 * above it for RTCP (RFC 3550 §11), shared by every session: RTP leaves from
 * the port the Transport reply advertises as `server_port`, and RTCP from
 * the one above, as some clients accept packets only from those.
 *
 * @module
 */

/** A datagram that arrived on one of the pair's sockets. */
export interface PairDatagram {
  data: Uint8Array;
  from: Deno.NetAddr;
}

/** Counters of the pair's traffic. */
export interface PairCounters {
  sendErrors: number;
  /** Datagrams received on the RTP port (clients' NAT "punch" packets). */
  rtpReceived: number;
  rtcpReceived: number;
}

/** RTP and RTCP sockets on adjacent ports. */
export class UdpPortPair {
  readonly rtp: Deno.DatagramConn;
  readonly rtcp: Deno.DatagramConn;
  readonly counters: PairCounters = { sendErrors: 0, rtpReceived: 0, rtcpReceived: 0 };
  readonly #loops: Promise<void>[];
  #closed = false;

  private constructor(
    rtp: Deno.DatagramConn,
    rtcp: Deno.DatagramConn,
    onRtcp: (datagram: PairDatagram) => void,
  ) {
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.#loops = [
      this.#receive(rtp, () => this.counters.rtpReceived++),
      this.#receive(rtcp, (d) => {
        this.counters.rtcpReceived++;
        onRtcp(d);
      }),
    ];
  }

  /**
   * Bind an even/odd pair of free ports on `hostname`.
   *
   * @throws {Error} when no pair could be found in 100 attempts.
   */
  static bind(hostname: string, onRtcp: (datagram: PairDatagram) => void): UdpPortPair {
    for (let attempt = 0; attempt < 100; attempt++) {
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
        return new UdpPortPair(rtp, rtcp, onRtcp);
      } catch {
        rtp?.close();
        rtcp?.close();
      }
    }
    throw new Error(`Cannot find two adjacent free UDP ports on ${hostname} for RTP and RTCP`);
  }

  /** The RTP port (even); RTCP is the one above. */
  get rtpPort(): number {
    return (this.rtp.addr as Deno.NetAddr).port;
  }

  /** The RTCP port (odd). */
  get rtcpPort(): number {
    return (this.rtcp.addr as Deno.NetAddr).port;
  }

  /**
   * Send an RTP packet (header + payload) from the RTP socket; errors (such
   * as ICMP port unreachable) are counted, not thrown. Deno's `send` holds its
   * buffer until the datagram is out, so the two parts are joined in a new one.
   */
  sendRtp(header: Uint8Array, payload: Uint8Array, hostname: string, port: number): void {
    const packet = new Uint8Array(header.length + payload.length);
    packet.set(header);
    packet.set(payload, header.length);
    this.#send(this.rtp, packet, hostname, port);
  }

  /** Send from the RTCP socket. */
  sendRtcp(data: Uint8Array, hostname: string, port: number): void {
    this.#send(this.rtcp, data, hostname, port);
  }

  #send(conn: Deno.DatagramConn, data: Uint8Array, hostname: string, port: number): void {
    if (this.#closed) return;
    conn.send(data, { transport: "udp", hostname, port }).catch(this.#onSendError);
  }

  #onSendError = (): void => {
    this.counters.sendErrors++;
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

  /** Close both sockets and wait for their receive loops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.rtp.close();
    this.rtcp.close();
    await Promise.all(this.#loops);
  }
}
