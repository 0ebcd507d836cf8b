/**
 * Which of the transports a SETUP offers (RFC 2326 §12.39: in order of
 * preference) this server serves: RTP over unicast UDP to the requester's
 * own address, or RTP interleaved on its RTSP connection.
 *
 * @module
 */
import type { TransportSpec } from "../../wire/transport_header.ts";
import { RtspError } from "./rtsp_error.ts";

/** What the choice depends on. */
export interface TransportChoiceContext {
  /** The requester's address: `destination=` may name nothing else. */
  peer: string;
  /** Interleaved channels the connection's other sessions use. */
  usedChannels: ReadonlySet<number>;
  /** Whether the SETUP came over TLS: then the media must go inside it (interleaved). */
  secure?: boolean;
}

/**
 * The first transport of `specs` the server can serve, with interleaved
 * channels filled in when the client left them to the server.
 *
 * @throws {RtspError} 461 when none can be served, or one aims the stream at a third party.
 */
export function chooseTransport(
  specs: readonly TransportSpec[],
  context: TransportChoiceContext,
): TransportSpec {
  let udpOverTls = false;
  for (const spec of specs) {
    if (spec.protocol !== "RTP" || !spec.unicast) continue;
    if (spec.profile !== undefined && spec.profile !== "AVP") continue;
    if (spec.destination !== undefined && spec.destination !== context.peer) {
      throw new RtspError(
        461,
        `destination ${spec.destination} is not the requester (${context.peer})`,
      );
    }
    if (spec.lowerTransport === "TCP") {
      if (spec.profile === undefined) continue; // the lab form is UDP only
      const used = context.usedChannels;
      let start = spec.interleaved?.start;
      if (start === undefined) { // the client left the choice to us
        start = 0;
        while (used.has(start) || used.has(start + 1)) start += 2;
      }
      const end = spec.interleaved?.end ?? start + 1;
      if (end > 255 || used.has(start) || used.has(end)) {
        throw new RtspError(461, `interleaved channels ${start}-${end} are not free`);
      }
      return { ...spec, interleaved: { start, end } };
    }
    if (spec.lowerTransport !== "UDP" || !spec.clientPort || spec.clientPort.start === 0) {
      continue;
    }
    if (context.secure) {
      udpOverTls = true;
      continue;
    }
    return spec;
  }
  if (udpOverTls) {
    throw new RtspError(
      461,
      "RTP over UDP from a TLS session would cross the network unencrypted: use RTP/AVP/TCP (interleaved)",
    );
  }
  throw new RtspError(
    461,
    "no supported transport (RTP/AVP unicast UDP with client_port, or RTP/AVP/TCP interleaved)",
  );
}
