/**
 * RTP and RTCP over UDP (RFC 2326 §12.39 `client_port`): from the server's
 * port pair to the ports the client named, at the address of its RTSP
 * connection and nowhere else (no reflection at a third party).
 *
 * @module
 */
import type { UdpPortPair } from "../../net/udp_port_pair.ts";
import type { TransportSpec } from "../../wire/transport_header.ts";
import type { MediaTransport } from "./media_transport.ts";

/** Options for {@linkcode UdpTransport}. */
export interface UdpTransportOptions {
  /** The server's sockets. */
  pair: UdpPortPair;
  /** The client's address. */
  host: string;
  /** The client's RTP port, and its RTCP port (RTP + 1 when it named one port). */
  rtpPort: number;
  rtcpPort: number;
  /** Send RTCP at all (the lab's client expects none). */
  rtcp: boolean;
}

/** A session's RTP over UDP. */
export class UdpTransport implements MediaTransport {
  readonly kind = "udp";
  readonly description: string;
  readonly host: string;
  readonly reply: TransportSpec;
  readonly #pair: UdpPortPair;
  readonly #rtpPort: number;
  readonly #rtcpPort: number;
  readonly #rtcp: boolean;

  constructor(options: UdpTransportOptions) {
    this.#pair = options.pair;
    this.host = options.host;
    this.#rtpPort = options.rtpPort;
    this.#rtcpPort = options.rtcpPort;
    this.#rtcp = options.rtcp;
    this.description = `udp ${options.host}:${options.rtpPort}-${options.rtcpPort}`;
    this.reply = {
      protocol: "RTP",
      profile: "AVP",
      lowerTransport: "UDP",
      unicast: true,
      clientPort: { start: options.rtpPort, end: options.rtcpPort },
      serverPort: { start: options.pair.rtpPort, end: options.pair.rtcpPort },
      extra: [],
    };
  }

  sendRtp(header: Uint8Array, payload: Uint8Array): void {
    this.#pair.sendRtp(header, payload, this.host, this.#rtpPort);
  }

  sendRtcp(packet: Uint8Array): void {
    if (this.#rtcp) this.#pair.sendRtcp(packet, this.host, this.#rtcpPort);
  }
}
