/**
 * Where a publisher's RTP and RTCP go (RFC 2326 §12.39 with `mode=record`):
 * over UDP, from our even/odd port pair (the `client_port` of the SETUP) to
 * the `server_port` of its reply, at the server's address; or interleaved
 * on the RTSP connection (§10.12), on the channels the reply confirms.
 *
 * @module
 */
import { UdpPortPair } from "../../net/udp_port_pair.ts";
import type { RtspResponse } from "../../wire/rtsp_message.ts";
import { parseTransport, type TransportSpec } from "../../wire/transport_header.ts";
import { RTP_HEADER_SIZE } from "../../wire/rtp_packet.ts";
import type { ClientTransport } from "./client_options.ts";
import { type RtspClient, RtspClientError } from "./rtsp_client.ts";
import type { PublishOutput } from "./publish_sender.ts";

/** A pair of ports or channels: RTP, and RTCP. */
export interface RtpRtcpPair {
  /** RTP's port or channel. */
  rtp: number;
  /** RTCP's port or channel. */
  rtcp: number;
}

/** A publisher's media path, negotiated by SETUP. */
export class PublishTransport implements PublishOutput {
  readonly #rtsp: RtspClient;
  readonly #pair: UdpPortPair | undefined;
  /** The server's RTP and RTCP ports (UDP), from the SETUP reply. */
  serverPorts: RtpRtcpPair | undefined;
  /** The interleaved channels (TCP), as the SETUP reply confirmed them. */
  channels: RtpRtcpPair | undefined;
  /** RTCP packets (compound) that came from the server. */
  rtcpReceived = 0;

  private constructor(rtsp: RtspClient, pair: UdpPortPair | undefined) {
    this.#rtsp = rtsp;
    this.#pair = pair;
  }

  /**
   * A transport over `rtsp`: for `udp`, bind a pair of free ports (IPv6
   * when the server's address is).
   *
   * @throws {Error} when no pair of ports can be bound.
   */
  static open(rtsp: RtspClient, kind: ClientTransport): PublishTransport {
    if (kind === "tcp") return new PublishTransport(rtsp, undefined);
    const v6 = rtsp.remoteAddr.hostname.includes(":");
    // RTCP arrives only after the pair is bound and the transport made.
    const pair = UdpPortPair.bind(v6 ? "::" : "0.0.0.0", () => transport.rtcpReceived++, {
      sendMode: "portable",
    });
    const transport = new PublishTransport(rtsp, pair);
    return transport;
  }

  /** How RTP goes. */
  get kind(): ClientTransport {
    return this.#pair ? "udp" : "tcp";
  }

  /** Our RTP and RTCP ports (UDP only). */
  get clientPorts(): RtpRtcpPair | undefined {
    return this.#pair ? { rtp: this.#pair.rtpPort, rtcp: this.#pair.rtcpPort } : undefined;
  }

  /**
   * The SETUP's Transport: `RTP/AVP/UDP;unicast;client_port=A-B;mode=record`,
   * or `RTP/AVP/TCP;unicast;interleaved=0-1;mode=record`.
   */
  setupHeader(): string {
    const pair = this.#pair;
    return pair
      ? `RTP/AVP/UDP;unicast;client_port=${pair.rtpPort}-${pair.rtcpPort};mode=record`
      : "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record";
  }

  /**
   * Read the SETUP reply's Transport: the server's ports (UDP), or the
   * channels (TCP; 0-1 when the reply does not say).
   *
   * @throws {RtspClientError} over UDP when the reply gives no `server_port`.
   */
  accept(reply: RtspResponse): void {
    let chosen: TransportSpec | undefined;
    try {
      [chosen] = parseTransport(reply.headers.get("transport") ?? "");
    } catch {
      chosen = undefined; // read as saying nothing
    }
    if (this.#pair) {
      const ports = chosen?.serverPort;
      if (!ports) {
        throw new RtspClientError(
          "The reply to SETUP gives no server_port, so there is nowhere to send RTP over UDP " +
            "(try --transport tcp)",
          reply.status,
        );
      }
      this.serverPorts = { rtp: ports.start, rtcp: ports.end ?? ports.start + 1 };
      return;
    }
    const channels = chosen?.interleaved;
    this.channels = channels
      ? { rtp: channels.start, rtcp: channels.end ?? channels.start + 1 }
      : { rtp: 0, rtcp: 1 };
  }

  /** An interleaved frame arrived on the RTSP connection. */
  onInterleaved(channel: number): void {
    if (this.channels && channel === this.channels.rtcp) this.rtcpReceived++;
  }

  /** Send one frame's packets: UDP datagrams, or one write of interleaved frames. */
  sendFrame(headers: Uint8Array, payloads: readonly Uint8Array[]): void | Promise<void> {
    const header = (i: number) => headers.subarray(i * RTP_HEADER_SIZE, (i + 1) * RTP_HEADER_SIZE);
    const pair = this.#pair;
    if (pair) {
      const host = this.#rtsp.remoteAddr.hostname;
      const port = this.serverPorts!.rtp;
      for (let i = 0; i < payloads.length; i++) pair.sendRtp(header(i), payloads[i], host, port);
      return;
    }
    const packets = payloads.map((payload, i) => {
      const packet = new Uint8Array(RTP_HEADER_SIZE + payload.length);
      packet.set(header(i));
      packet.set(payload, RTP_HEADER_SIZE);
      return packet;
    });
    return this.#rtsp.writeInterleaved(this.channels!.rtp, packets);
  }

  /** Send a compound RTCP packet from our RTCP port, or on the RTCP channel. */
  sendRtcp(data: Uint8Array): void {
    if (this.#pair && this.serverPorts) {
      this.#pair.sendRtcp(data, this.#rtsp.remoteAddr.hostname, this.serverPorts.rtcp);
    } else if (this.channels) this.#rtsp.sendInterleaved(this.channels.rtcp, data);
  }

  /** Whether packets can no longer go anywhere: the RTSP connection ended. */
  closed(): boolean {
    return this.#rtsp.ended;
  }

  /** Close the UDP ports, if any. */
  async close(): Promise<void> {
    await this.#pair?.close();
  }
}
