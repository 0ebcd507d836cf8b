/**
 * DESCRIBE (RFC 2326 §10.2): the stream as SDP (one JPEG video track, its
 * control `trackID=0` under the Content-Base), so that a player can SETUP it.
 *
 * @module
 */
import { randomUint32 } from "../session_table.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { contentBase, parseStreamRef } from "../../../wire/rtsp_url.ts";
import { serializeJpegSdp } from "../../../wire/sdp.ts";
import { RtspError } from "../rtsp_error.ts";
import type { RequestContext } from "../server_context.ts";

/** The control URL of the one track, relative to the Content-Base. */
export const TRACK_CONTROL = "trackID=0";

/** Describe the stream the request names. */
export async function describe({ server, conn, request }: RequestContext): Promise<RtspResponse> {
  const ref = parseStreamRef(request.uri);
  if (!ref || ref.name === "") throw new RtspError(400, "DESCRIBE needs a stream name");
  const stream = await server.streams.open(ref.name);
  await stream.prepare("rtsp"); // refuse now what SETUP would refuse
  const local = conn.rtsp.conn.localAddr as Deno.NetAddr;
  const { description } = stream;
  const sdp = serializeJpegSdp({
    sessionId: String(randomUint32()),
    origin: local.hostname,
    name: ref.name,
    durationSec: description.durationSec,
    live: stream.live,
    fps: description.fps,
    width: description.width,
    height: description.height,
    kbitPerSec: description.kbitPerSec,
    control: TRACK_CONTROL,
  });
  return createResponse(
    200,
    { "Content-Base": contentBase(request.uri, ref, local), "Content-Type": "application/sdp" },
    sdp,
  );
}
