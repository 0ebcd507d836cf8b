/**
 * PLAY (RFC 2326 §10.5; RFC 7826 §13.4 for what 2.0 clarified): start,
 * resume or seek. Without a Range (or from `now`) the session resumes where
 * it paused; with `npt=A-B` it seeks to the first frame at or after A and
 * stops after the last frame before B. A positive Scale (§12.34) plays
 * faster or slower. The reply says what was done: the Range actually
 * played, RTP-Info (§12.33) with the track's URL and the sequence number and
 * RTP time of the first packet, and the Scale in effect.
 *
 * The lab's dialect has none of these headers: its PLAY starts or resumes,
 * and its reply carries CSeq and Session only.
 *
 * @module
 */
import { ParseError } from "../../../wire/errors.ts";
import { type NptRange, parseRange, serializeRange } from "../../../wire/range_header.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { serializeRtpInfo } from "../../../wire/rtp_info_header.ts";
import { parseScale, serializeScale } from "../../../wire/scale_header.ts";
import { RtspError } from "../rtsp_error.ts";
import { InvalidRangeError } from "../served_stream.ts";
import type { RequestContext } from "../server_context.ts";
import { SCALE_LIMITS } from "../server_options.ts";

/** Start, resume or seek the session the request names. */
export function play({ request, session }: RequestContext): RtspResponse {
  const s = session!;
  if (s.mode === "record") {
    throw new RtspError(455, "PLAY on a session set up to record (RECORD starts it)");
  }
  const response = createResponse(200, { Session: s.header });
  if (s.dialect === "lab") {
    if (s.state === "ready") {
      try {
        s.play({});
      } catch (error) {
        if (!(error instanceof InvalidRangeError)) throw error; // at the end: nothing to send
      }
    }
    return response;
  }
  const range = requestedRange(request.headers.get("range"));
  const scaleHeader = request.headers.get("scale");
  const scale = scaleHeader === undefined ? 1 : supportedScale(scaleHeader);
  let started;
  try {
    // `npt=-B` (no start) plays from the beginning (RFC 2326 §3.6).
    started = s.play({ start: range ? range.start ?? 0 : undefined, end: range?.end, scale });
  } catch (error) {
    if (error instanceof InvalidRangeError) throw new RtspError(457, error.message);
    throw error;
  }
  response.headers.set(
    "Range",
    serializeRange({ unit: "npt", start: started.startSec, end: started.endSec }),
  );
  response.headers.set(
    "RTP-Info",
    serializeRtpInfo([{ url: s.controlUrl, seq: started.seq, rtptime: started.rtptime }]),
  );
  if (scaleHeader !== undefined || started.scale !== 1) {
    response.headers.set("Scale", serializeScale(started.scale));
  }
  return response;
}

/** The npt range a PLAY asks for; 457 for anything this server cannot play. */
function requestedRange(header: string | undefined): NptRange | undefined {
  if (header === undefined) return undefined;
  let range;
  try {
    range = parseRange(header);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    throw new RtspError(457, `bad Range "${header}": ${error.message}`);
  }
  if (range.unit !== "npt") {
    throw new RtspError(457, `Range in ${range.unit} time is not supported (npt only)`);
  }
  return range;
}

/**
 * The Scale to play at: a positive value within {@linkcode SCALE_LIMITS}, or
 * the nearest limit (RFC 2326 §12.34: the server may restrict the range of
 * scales and says which it chose). Reverse or frozen play is 456.
 */
function supportedScale(header: string): number {
  let scale: number;
  try {
    scale = parseScale(header);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    throw new RtspError(400, `bad Scale "${header}": ${error.message}`);
  }
  if (!(scale > 0)) {
    throw new RtspError(456, `Scale ${header} (reverse or frozen play) is not supported`);
  }
  return Math.min(SCALE_LIMITS.max, Math.max(SCALE_LIMITS.min, scale));
}
