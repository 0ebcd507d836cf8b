/**
 * RECORD (RFC 2326 §10.11): the publisher's session starts taking its RTP,
 * and the path goes on the air: readers can DESCRIBE, SETUP and PLAY it from
 * now on. With `--record-dir` the frames are also written to a lab MJPEG
 * file from here on. RECORD after PAUSE takes packets again.
 *
 * @module
 */
import { MjpegRecorder } from "../../../media/mjpeg_recorder.ts";
import { createResponse, type RtspResponse } from "../../../wire/rtsp_message.ts";
import { RtspError } from "../rtsp_error.ts";
import type { RequestContext } from "../server_context.ts";

/** Start (or resume) taking the publisher's stream. */
export async function record({ server, session }: RequestContext): Promise<RtspResponse> {
  const s = session!;
  const publisher = s.publisher;
  if (!publisher) {
    throw new RtspError(455, "RECORD is for a session set up with mode=record (after ANNOUNCE)");
  }
  const claim = server.streams.live.get(s.streamName);
  if (!claim || claim.stream !== publisher.stream) {
    throw new RtspError(455, `${s.streamName} is no longer this session's to publish`);
  }
  const { recordDir } = server.options;
  if (recordDir !== undefined && !publisher.recorder) {
    try {
      const recorder = await MjpegRecorder.create(recordDir, s.streamName, new Date());
      publisher.recordInto(recorder);
      server.log(`${s.streamName}: recording to ${recorder.path}`);
    } catch (error) {
      server.log(`${s.streamName}: cannot record into ${recordDir}: ${error}`);
      throw new RtspError(500, `cannot start the recording: ${error}`);
    }
  }
  s.record();
  claim.onAir = true;
  return createResponse(200, { Session: s.header });
}
