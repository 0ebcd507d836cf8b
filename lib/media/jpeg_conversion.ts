/**
 * Converting JPEGs that RFC 2435 cannot carry (4:4:4 and other samplings,
 * progressive, custom Huffman tables, greyscale, …) into ones it can: decode
 * with jpeg-js (a well-kept pure-JavaScript codec from npm), then encode as
 * baseline 4:2:0 with the standard tables ({@linkcode encodeBaselineJpeg}).
 * No npm encoder writes that exact form: jpeg-js encodes 4:4:4, and the
 * mozjpeg builds optimize the luma Huffman tables whatever they are told.
 *
 * @module
 */
import jpegJs from "jpeg-js";
import { encodeBaselineJpeg } from "../wire/jpeg_encoder.ts";

/** Quality factor of converted frames (RFC 2435 §4.2 tables). */
export const CONVERSION_QUALITY = 90;

/**
 * Decode `jpeg` and encode it again as baseline 4:2:0 with standard tables.
 *
 * @throws {Error} saying why, when the image cannot be decoded.
 */
export function convertForRtpJpeg(jpeg: Uint8Array): Uint8Array {
  let image;
  try {
    image = jpegJs.decode(jpeg, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  } catch (error) {
    throw new Error(
      `Cannot decode it to convert it: ${error instanceof Error ? error.message : error}`,
    );
  }
  return encodeBaselineJpeg(
    { width: image.width, height: image.height, data: image.data },
    CONVERSION_QUALITY,
  );
}
