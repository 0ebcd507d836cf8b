/**
 * SETUP (RFC 2326 §10.4): a new session for one stream, over the first
 * transport offered that the server serves (`transport_choice.ts`). The
 * reply carries the Session and, in standard RTSP, the Transport chosen with
 * the session's SSRC. The lab's dialect is recognised here, once, per session.
 *
 * @module
 */
import { setupDialect } from "../../../wire/dialect.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { parseStreamRef } from "../../../wire/rtsp_url.ts";
import { parseTransport, serializeTransport } from "../../../wire/transport_header.ts";
import { RtspError } from "../rtsp_error.ts";
import { transportFor } from "./transport_for.ts";
import type { RequestContext } from "../server_context.ts";
import { ServerSession } from "../server_session.ts";
import { randomUint32 } from "../session_table.ts";
import { chooseTransport } from "../transport_choice.ts";
import { isRecordMode, setupRecord } from "./setup_record.ts";

/** Set up a session: to play a stream, or (`mode=record`) to publish one. */
export async function setup(context: RequestContext): Promise<RtspResponse> {
  const { server, conn, request, user } = context;
  const ref = parseStreamRef(request.uri);
  if (!ref || ref.name === "") throw new RtspError(400, "SETUP needs a stream name");
  const header = request.headers.get("transport");
  if (header === undefined) throw new RtspError(461, "SETUP without a Transport header");
  const peer = conn.rtsp.remoteAddr.hostname;
  const spec = chooseTransport(parseTransport(header), {
    peer,
    usedChannels: conn.usedChannels,
    secure: conn.secure,
  });
  if (isRecordMode(spec)) return setupRecord(context, ref, spec);
  if (spec.mode !== undefined && spec.mode.replace(/"/g, "").trim().toLowerCase() !== "play") {
    throw new RtspError(461, `mode=${spec.mode} is not supported (play, or record after ANNOUNCE)`);
  }
  server.sessions.checkRoom();
  const stream = await server.streams.open(ref.name);
  const dialect = setupDialect(request, ref, spec);
  await stream.prepare(dialect);
  if (server.closing || conn.rtsp.closed) throw new RtspError(503, "server is closing");
  const transport = transportFor(context, spec, { pair: server.udp, rtcp: dialect === "rtsp" });
  const session = new ServerSession({
    id: server.sessions.newId(),
    dialect,
    streamName: ref.name,
    client: conn.peer,
    controlUrl: request.uri,
    stream,
    transport,
    ssrc: server.sessions.newSsrc(),
    timestampBase: randomUint32(),
    initialSequence: randomUint32() & 0xffff,
    timeoutSec: server.options.sessionTimeout,
    user,
    rtcp: server.rtcp,
    now: () => server.clock.now(),
    onSkip: (s, _frame, why) => server.log(`session ${s.id}: skipped ${why}`),
    onEnd: (s) => {
      if (!stream.live) {
        server.log(`session ${s.id}: end of stream after ${s.player.sent} frames`);
        return;
      }
      server.log(`session ${s.id}: the publisher of ${ref.name} has gone; ended`);
      conn.endSession(s, "the publisher has gone");
    },
  });
  server.sessions.add(session);
  conn.sessions.add(session);
  server.counters.sessionsCreated++;
  const response = createResponse(200, { Session: session.header });
  if (dialect === "rtsp") {
    response.headers.set(
      "Transport",
      serializeTransport({ ...transport.reply, ssrc: session.ssrc }),
    );
  }
  return response;
}
