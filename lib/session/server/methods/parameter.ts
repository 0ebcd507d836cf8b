/**
 * GET_PARAMETER and SET_PARAMETER (RFC 2326 §10.8, §10.9): no parameters
 * are defined, so an empty one is a keep-alive (the connection has already
 * refreshed the session it names) and any parameter is 451.
 *
 * @module
 */
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { RtspError } from "../rtsp_error.ts";
import type { RequestContext } from "../server_context.ts";

function parameter({ request, session }: RequestContext): RtspResponse {
  if (request.body.length > 0) throw new RtspError(451, "no parameters are defined");
  return createResponse(200, session ? { Session: session.header } : {});
}

/** GET_PARAMETER: a keep-alive; asking for a parameter is 451. */
export const getParameter: (context: RequestContext) => RtspResponse = parameter;

/** SET_PARAMETER: a keep-alive; setting a parameter is 451. */
export const setParameter: (context: RequestContext) => RtspResponse = parameter;
