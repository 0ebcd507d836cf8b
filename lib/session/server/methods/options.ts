/**
 * OPTIONS (RFC 2326 §10.1): the methods the server implements. Clients also
 * send it with their Session as a keep-alive: that refreshes the session
 * (the connection has found it), or answers 454 when it is gone.
 *
 * @module
 */
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import type { RequestContext } from "../server_context.ts";

/** Answer OPTIONS with `Public`. */
export function options({ server, session }: RequestContext): RtspResponse {
  const response = createResponse(200);
  if (session) response.headers.set("Session", session.header);
  response.headers.set("Public", server.methods.join(", "));
  return response;
}
