/**
 * What the server's replies to PLAY and PAUSE say about the stream (RFC 2326
 * §10.5, §10.6): where it starts or stopped (Range, §12.29) and which packet
 * and RTP time start it (RTP-Info, §12.33). A reply that says nothing, or
 * says it oddly, still streams: the fields are then absent.
 *
 * @module
 */
import { ParseError } from "../../wire/errors.ts";
import { parseRange } from "../../wire/range_header.ts";
import { parseRtpInfo, type RtpInfoEntry } from "../../wire/rtp_info_header.ts";
import type { RtspResponse } from "../../wire/rtsp_message.ts";

/** What a PLAY reply said about the stream (standard RTSP). */
export interface PlayInfo {
  /** Where the stream starts, seconds of normal play time (the reply's Range), when it said. */
  startSec?: number;
  /** Where it stops, when it said. */
  endSec?: number;
  /** Sequence number of the first packet (RTP-Info seq), when it said. */
  seq?: number;
  /** RTP timestamp of the first packet (RTP-Info rtptime), when it said. */
  rtptime?: number;
}

/** The npt start and end of a reply's Range, if it has one that parses. */
function nptRange(reply: RtspResponse): { start?: number; end?: number } {
  const header = reply.headers.get("range");
  if (header === undefined) return {};
  try {
    const range = parseRange(header);
    if (range.unit !== "npt") return {};
    return { start: typeof range.start === "number" ? range.start : undefined, end: range.end };
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return {};
  }
}

/**
 * Read a PLAY reply. Of RTP-Info's entries the one for `trackUrl` (the URL
 * SETUP used) counts, or the only one.
 */
export function readPlayReply(reply: RtspResponse, trackUrl: string): PlayInfo {
  const info: PlayInfo = {};
  const { start, end } = nptRange(reply);
  if (start !== undefined) info.startSec = start;
  if (end !== undefined) info.endSec = end;
  const header = reply.headers.get("rtp-info");
  let entries: RtpInfoEntry[];
  try {
    entries = header === undefined ? [] : parseRtpInfo(header);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    entries = [];
  }
  const entry = entries.find((e) => e.url === trackUrl) ??
    (entries.length === 1 ? entries[0] : undefined);
  if (entry?.seq !== undefined) info.seq = entry.seq;
  if (entry?.rtptime !== undefined) info.rtptime = entry.rtptime;
  return info;
}

/** Where a PAUSE reply says the stream stopped, in seconds, when it says. */
export function readPauseReply(reply: RtspResponse): number | undefined {
  return nptRange(reply).start;
}
