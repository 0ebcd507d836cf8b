/**
 * TEARDOWN (RFC 2326 §10.7): the session ends, its stream stops and an RTCP
 * BYE goes to the client.
 *
 * @module
 */
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import type { RequestContext } from "../server_context.ts";

/** End the session the request names. */
export function teardown({ conn, session }: RequestContext): RtspResponse {
  conn.endSession(session!, "teardown");
  return createResponse(200, { Session: session!.header });
}
