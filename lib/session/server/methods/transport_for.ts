/**
 * The session's way out for the transport SETUP chose (`transport_choice.ts`):
 * interleaved on the request's connection, or UDP from `pair` to the
 * requester's ports. Shared by SETUP to play and SETUP to record.
 *
 * @module
 */
import type { UdpPortPair } from "../../../net/udp_port_pair.ts";
import type { TransportSpec } from "../../../wire/transport_header.ts";
import { InterleavedTransport } from "../interleaved_transport.ts";
import type { MediaTransport } from "../media_transport.ts";
import type { RequestContext } from "../server_context.ts";
import { UdpTransport } from "../udp_transport.ts";

/** Where UDP goes from, and whether RTCP is sent on it. */
export interface UdpSide {
  /** The server's port pair the packets leave from. */
  pair: UdpPortPair;
  /** Send RTCP (the lab's client expects none). */
  rtcp: boolean;
}

/** The transport for `spec`: interleaved (TCP) or UDP from `udp.pair`. */
export function transportFor(
  { server, conn }: Pick<RequestContext, "server" | "conn">,
  spec: TransportSpec,
  udp: UdpSide,
): MediaTransport {
  if (spec.lowerTransport === "TCP") {
    const { start, end } = spec.interleaved!;
    return new InterleavedTransport(conn.interleaved, [start, end ?? start + 1], (n) => {
      server.counters.interleavedDropped += n;
    });
  }
  const rtpPort = spec.clientPort!.start;
  return new UdpTransport({
    pair: udp.pair,
    host: conn.rtsp.remoteAddr.hostname,
    rtpPort,
    rtcpPort: spec.clientPort!.end ?? rtpPort + 1,
    rtcp: udp.rtcp,
  });
}
