/**
 * SETUP with `mode=record` (RFC 2326 §10.4, §12.39): the publisher's session
 * for a path it has ANNOUNCEd on this connection. Its RTP comes in on a UDP
 * port pair of its own (the reply's `server_port`; datagrams from any other
 * host are ignored) or on its interleaved channels, into the path's
 * {@linkcode Publisher}. RECORD starts taking it (`record.ts`).
 *
 * @module
 */
import { UdpPortPair } from "../../../net/udp_port_pair.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import type { StreamRef } from "../../../wire/rtsp_url.ts";
import { serializeTransport, type TransportSpec } from "../../../wire/transport_header.ts";
import { Publisher } from "../publisher.ts";
import { RtspError } from "../rtsp_error.ts";
import { transportFor } from "./transport_for.ts";
import type { RequestContext } from "../server_context.ts";
import { ServerSession } from "../server_session.ts";
import { randomUint32 } from "../session_table.ts";

/** Whether a transport asks for recording (`mode=record`, any case, quoted or not). */
export function isRecordMode(spec: TransportSpec): boolean {
  return spec.mode?.replace(/"/g, "").trim().toLowerCase() === "record";
}

/** Set up a publisher's session on the path it announced. */
export function setupRecord(
  context: RequestContext,
  ref: StreamRef,
  spec: TransportSpec,
): RtspResponse {
  const { server, conn, request, user } = context;
  const claim = server.streams.live.get(ref.name);
  if (!claim || claim.owner !== conn) {
    throw new RtspError(455, `SETUP for recording needs an ANNOUNCE of ${ref.name} first`);
  }
  if (claim.stream.ended || [...conn.sessions].some((s) => s.stream === claim.stream)) {
    throw new RtspError(455, `${ref.name} is already set up for recording`);
  }
  server.sessions.checkRoom();
  const peer = conn.rtsp.remoteAddr.hostname;
  // Over UDP the publisher gets a port pair of its own, taking datagrams from its host only.
  const fromPeer = (hostname: string) => hostname === peer;
  const pair = spec.lowerTransport === "TCP" ? undefined : UdpPortPair.bind(
    server.options.hostname,
    (d) => {
      if (fromPeer(d.from.hostname)) publisher.receiveRtcp(d.data);
    },
    {
      sendMode: "portable",
      onRtp: (d) => {
        if (fromPeer(d.from.hostname)) publisher.receiveRtp(d.data);
      },
    },
  );
  const transport = transportFor(context, spec, { pair: pair ?? server.udp, rtcp: true });
  const path = ref.name;
  const stream = claim.stream;
  // The sockets and the session call back into these once datagrams come,
  // after both are made.
  const publisher: Publisher = new Publisher({
    stream,
    now: () => server.clock.now(),
    onHeard: () => session.touch(),
    onClose: async (p) => {
      server.streams.live.release(path, stream);
      const { counters } = stream.source;
      server.log(
        `${path}: publisher ${conn.peer} gone; ${counters.frames} frames taken, ${counters.framesDropped} dropped incomplete, ${counters.framesCapped} over the rate cap, ${counters.malformed} malformed packets`,
      );
      await pair?.close();
      const recorder = p.recorder;
      if (recorder) {
        const r = await recorder.close();
        server.log(
          `${path}: recorded ${r.frames} frames (${r.bytes} bytes) to ${recorder.path}${
            r.tooLarge ? `; ${r.tooLarge} frames over 99,999 bytes not recorded` : ""
          }${r.dropped ? `; ${r.dropped} dropped, the disk fell behind` : ""}${
            r.error ? `; stopped: ${r.error}` : ""
          }`,
        );
      }
    },
  });
  const session = new ServerSession({
    id: server.sessions.newId(),
    dialect: "rtsp",
    streamName: path,
    client: conn.peer,
    controlUrl: request.uri,
    stream,
    transport,
    publisher,
    ssrc: server.sessions.newSsrc(),
    timestampBase: randomUint32(),
    timeoutSec: server.options.sessionTimeout,
    user,
    rtcp: server.rtcp,
    now: () => server.clock.now(),
  });
  server.sessions.add(session);
  conn.sessions.add(session);
  server.counters.sessionsCreated++;
  const response = createResponse(200, { Session: session.header });
  response.headers.set("Transport", serializeTransport({ ...transport.reply, mode: "record" }));
  return response;
}
