/**
 * Who may use the HTTP side: the same users as RTSP, checked by the same
 * {@linkcode ServerAuth} (RTSP borrowed its authentication from HTTP, RFC
 * 2326 §16.1, so the headers are the same). Browsers answer the Digest
 * challenges (SHA-256 or MD5) by themselves. The HTTP side is plain HTTP, so
 * Basic is offered and accepted only where RTSP accepts it over plain TCP:
 * with `allowBasic`.
 *
 * @module
 */
import type { RtspRequest } from "../../../wire/rtsp_message.ts";
import { RtspHeaders } from "../../../wire/rtsp_headers.ts";
import { RtspError } from "../rtsp_error.ts";
import type { ServerAuth } from "../server_auth.ts";

/** The outcome of a check: the user, or why not with the 401 to answer. */
export type HttpAuthResult =
  | { ok: true; user?: string }
  | { ok: false; reason: string; challenges: string[] };

/**
 * Check the credentials of an HTTP request (none needed when no user is
 * configured).
 *
 * @param target The request-target as the server understood it (path and query).
 */
export function checkHttpCredentials(
  auth: ServerAuth,
  request: Request,
  target: string,
): HttpAuthResult {
  if (!auth.enabled) return { ok: true };
  const authorization = request.headers.get("authorization");
  // The fields ServerAuth reads, as an RTSP request would carry them.
  const asRtsp: RtspRequest = {
    kind: "request",
    method: request.method,
    uri: target,
    version: "HTTP/1.1",
    headers: new RtspHeaders(authorization === null ? [] : [["Authorization", authorization]]),
    body: new Uint8Array(0),
  };
  try {
    return { ok: true, user: auth.authenticate(asRtsp, false) };
  } catch (error) {
    if (!(error instanceof RtspError) || error.status !== 401) throw error;
    return {
      ok: false,
      reason: error.message,
      challenges: error.headers.filter(([name]) => name === "WWW-Authenticate").map(([, v]) => v),
    };
  }
}
