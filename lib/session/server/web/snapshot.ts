/**
 * `/snapshot/<file>?t=SEC`: one JPEG, the frame shown at media time SEC
 * (frame k is shown from k / fps until the next one, as a player sends it),
 * straight from the file's shared frames. For a publisher's live path, the
 * latest complete frame, whatever SEC.
 *
 * @module
 */
import type { ServedStream } from "../served_stream.ts";

/** The media time a `t` query parameter names; undefined when it is not a time. */
export function parseMediaTime(text: string | null): number | undefined {
  if (text === null || text === "") return 0;
  // Plain decimal seconds: no sign, exponent, hex or Infinity.
  if (!/^\d{1,9}(?:\.\d{1,9})?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The frame of `stream` at `sec` as an `image/jpeg` response (headers only
 * for HEAD).
 *
 * @throws {InvalidRangeError} when the stream has no frame at that time.
 */
export function snapshotResponse(stream: ServedStream, sec: number, head: boolean): Response {
  const jpeg = stream.frameAt(sec);
  // A copy: the response body is not the shared frame, whatever the runtime does with it.
  return new Response(head ? null : jpeg.slice(), {
    headers: {
      "Content-Type": "image/jpeg",
      "Content-Length": String(jpeg.length),
      // The frames of a file do not change while it is served (a changed file is
      // reloaded); a live path's latest frame does, all the time.
      "Cache-Control": stream.live ? "no-store" : "no-cache",
    },
  });
}
