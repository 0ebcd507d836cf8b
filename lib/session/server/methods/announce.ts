/**
 * ANNOUNCE (RFC 2326 §10.3): a publisher describes the stream it is about to
 * send to a path (an SDP body, RFC 4566), and the path is its own until it
 * goes. Only one video track of RTP/JPEG (RFC 2435: payload type 26, or a
 * dynamic one with `rtpmap JPEG/90000`) is taken.
 *
 * - 400: no path, a path one cannot publish to, or SDP that does not parse;
 * - 403: the path is a file of the media directory;
 * - 415: the body is not SDP, or its media is not one RTP/JPEG video track
 *   (the reply's log line says what it found);
 * - 455: another publisher holds the path (ANNOUNCE is not valid in the
 *   state the path is in, publishing; 453 would say bandwidth, which is not
 *   the reason).
 *
 * SETUP with `mode=record` and RECORD follow (`setup.ts`, `record.ts`).
 *
 * @module
 */
import { LiveSource } from "../../../media/live_source.ts";
import { ParseError } from "../../../wire/errors.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { parseStreamRef } from "../../../wire/rtsp_url.ts";
import { parseSdp, type SdpMedia } from "../../../wire/sdp.ts";
import { PAYLOAD_TYPE_JPEG } from "../../../wire/rtp_packet.ts";
import { LivePaths } from "../live_paths.ts";
import { LiveStream } from "../live_stream.ts";
import { RtspError } from "../rtsp_error.ts";
import type { RequestContext } from "../server_context.ts";

/** The largest SDP an ANNOUNCE may carry, in bytes. */
export const MAX_SDP_BYTES = 16 * 1024;

/** What the SDP says of the one JPEG track. */
export interface AnnouncedJpeg {
  payloadType: number;
  /** `a=framerate`, when given. */
  fps?: number;
  /** `a=x-dimensions`, when given. */
  dimensions?: { width: number; height: number };
}

/** Take the announced stream, and claim its path for this connection. */
export async function announce({ server, conn, request }: RequestContext): Promise<RtspResponse> {
  const ref = parseStreamRef(request.uri);
  if (!ref || ref.name === "") throw new RtspError(400, "ANNOUNCE needs a path");
  if (ref.track) throw new RtspError(400, "ANNOUNCE names the path, not a track");
  const problem = LivePaths.problem(ref.name);
  if (problem) throw new RtspError(400, problem);
  const type = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (type !== "application/sdp") {
    throw new RtspError(415, `ANNOUNCE needs an application/sdp body, not ${type ?? "none"}`);
  }
  if (request.body.length > MAX_SDP_BYTES) {
    throw new RtspError(413, `the SDP is over ${MAX_SDP_BYTES} bytes`);
  }
  const jpeg = announcedJpeg(new TextDecoder().decode(request.body));
  if (await server.streams.isFile(ref.name)) {
    throw new RtspError(
      403,
      `${ref.name} is a file of the media directory: it cannot be published`,
    );
  }
  if (server.closing || conn.rtsp.closed) throw new RtspError(503, "server is closing");
  const source = new LiveSource({
    payloadType: jpeg.payloadType,
    fps: jpeg.fps ?? server.options.fps,
    dimensions: jpeg.dimensions,
  });
  const stream = new LiveStream(ref.name, source, {
    now: () => server.clock.now(),
    afterFanOut: () => server.udp.flush(),
  });
  server.streams.live.claim(ref.name, stream, conn, conn.peer, server.clock.now());
  return createResponse(200);
}

/**
 * The one RTP/JPEG video track of an ANNOUNCE's SDP.
 *
 * @throws {RtspError} 400 for SDP that does not parse, 415 for anything but
 * one video track of RTP/JPEG.
 */
export function announcedJpeg(text: string): AnnouncedJpeg {
  let sdp;
  try {
    sdp = parseSdp(text);
  } catch (error) {
    if (error instanceof ParseError) throw new RtspError(400, error.message);
    throw error;
  }
  if (sdp.media.length !== 1) {
    throw new RtspError(
      415,
      `the SDP has ${sdp.media.length} media sections (${
        sdp.media.map((m) => m.type).join(", ") || "none"
      }); publish one video track of RTP/JPEG`,
    );
  }
  const media = sdp.media[0];
  if (media.type !== "video" || !/^RTP\/AVP$/i.test(media.protocol)) {
    throw new RtspError(
      415,
      `the SDP offers ${media.type} over ${media.protocol}; publish video over RTP/AVP`,
    );
  }
  const payloadType = media.formats.find((pt) => isJpeg(media, pt));
  if (payloadType === undefined) {
    throw new RtspError(
      415,
      `the SDP offers ${
        describeFormats(media)
      }; this server takes RTP/JPEG only (payload type 26, or rtpmap JPEG/90000)`,
    );
  }
  const result: AnnouncedJpeg = { payloadType };
  const rate = Number(media.attributes.get("framerate") ?? sdp.attributes.get("framerate"));
  if (rate > 0 && rate <= 1000) result.fps = rate;
  const dims = /^\s*(\d{1,5})\s*,\s*(\d{1,5})\s*$/.exec(media.attributes.get("x-dimensions") ?? "");
  if (dims) result.dimensions = { width: Number(dims[1]), height: Number(dims[2]) };
  return result;
}

/** The `a=rtpmap` of payload type `pt`, e.g. `JPEG/90000`. */
function rtpmap(media: SdpMedia, pt: number): string | undefined {
  return media.rtpmaps.get(pt);
}

function isJpeg(media: SdpMedia, pt: number): boolean {
  const map = rtpmap(media, pt);
  if (map !== undefined) return /^JPEG\/90000(\/|$)/i.test(map);
  return pt === PAYLOAD_TYPE_JPEG;
}

function describeFormats(media: SdpMedia): string {
  return media.formats.map((pt) => {
    const map = rtpmap(media, pt);
    return map ? `${map} (payload type ${pt})` : `payload type ${pt}`;
  }).join(", ") || "no payload type";
}
