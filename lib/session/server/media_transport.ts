/**
 * Where one session's RTP and RTCP go (RFC 2326 §12.39 negotiates it):
 * UDP to the client's ports (`udp_transport.ts`) or interleaved on its RTSP
 * connection (`interleaved_transport.ts`).
 *
 * @module
 */
import type { TransportSpec } from "../../wire/transport_header.ts";

/** How a session's packets leave: UDP datagrams, or interleaved on its RTSP connection (TCP). */
export type TransportKind = "udp" | "tcp";

/** A session's way out. */
export interface MediaTransport {
  /** UDP or TCP (interleaved). */
  readonly kind: TransportKind;
  /** For logs, e.g. `udp 127.0.0.1:5008-5009` or `tcp channels 0-1`. */
  readonly description: string;
  /** The client's address, for UDP: RTCP only from it keeps the session alive. */
  readonly host?: string;
  /** RTP and RTCP channels, for TCP interleaving. */
  readonly channels?: readonly [number, number];
  /** The Transport the SETUP reply announces (without the session's ssrc). */
  readonly reply: TransportSpec;
  /**
   * Send one RTP packet made of a 12-byte header and a payload; must not
   * throw. The header is valid only during the call (the session re-stamps
   * it for the next packet), so a transport that sends later copies it; the
   * payload is shared between sessions and never changes, so it may be sent
   * by reference later in the same event-loop turn.
   */
  sendRtp(header: Uint8Array, payload: Uint8Array): void;
  /** Send one RTCP compound packet; must not throw. */
  sendRtcp(packet: Uint8Array): void;
}
