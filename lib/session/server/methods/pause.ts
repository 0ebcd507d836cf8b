/**
 * PAUSE (RFC 2326 §10.6): the stream stops at once and keeps its position;
 * PLAY resumes from there. A standard reply carries the position it paused
 * at as its Range (RFC 7826 §13.6).
 *
 * @module
 */
import { serializeRange } from "../../../wire/range_header.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import type { RequestContext } from "../server_context.ts";

/** Pause the session the request names. */
export function pause({ session }: RequestContext): RtspResponse {
  const s = session!;
  const position = s.pause();
  const response = createResponse(200, { Session: s.header });
  if (s.dialect === "rtsp") {
    response.headers.set(
      "Range",
      serializeRange({ unit: "npt", start: position, end: s.player.endSec }),
    );
  }
  return response;
}
