/**
 * RTSP status codes and reason phrases (RFC 2326 §7.1.1, RFC 7826 §17).
 *
 * @module
 */

/** Status codes this project sends or understands, with their reason phrases. */
export const RTSP_STATUS = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Request Entity Too Large",
  414: "Request-URI Too Large",
  415: "Unsupported Media Type",
  451: "Parameter Not Understood",
  453: "Not Enough Bandwidth",
  454: "Session Not Found",
  455: "Method Not Valid in This State",
  457: "Invalid Range",
  459: "Aggregate Operation Not Allowed",
  460: "Only Aggregate Operation Allowed",
  461: "Unsupported Transport",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "RTSP Version Not Supported",
  551: "Option Not Supported",
} as const;

/** A status code listed in {@linkcode RTSP_STATUS}. */
export type RtspStatus = keyof typeof RTSP_STATUS;

/** The reason phrase for `status`, or a generic one for unlisted codes. */
export function reasonPhrase(status: number): string {
  return (RTSP_STATUS as Record<number, string>)[status] ??
    (status < 300
      ? "OK"
      : status < 400
      ? "Redirection"
      : status < 500
      ? "Client Error"
      : "Server Error");
}
