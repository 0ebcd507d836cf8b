/**
 * JPEG marker walking (ITU T.81 Annex B): list the segments of a JPEG up to
 * the scan, and check that a byte string is one complete JPEG image.
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** Start of image. */
export const SOI = 0xd8;
/** End of image. */
export const EOI = 0xd9;
/** Start of scan. */
export const SOS = 0xda;

/** One marker segment of a JPEG header. */
export interface JpegSegment {
  /** The marker's second byte, e.g. 0xC0 for SOF0, 0xDB for DQT. */
  marker: number;
  /** Offset of the 0xFF that starts the marker. */
  offset: number;
  /** Segment payload after the 2-byte length field (a view into the input). */
  data: Uint8Array;
}

/** The header segments of a JPEG and where its entropy-coded scan data starts. */
export interface JpegStructure {
  /** Segments from after SOI up to and including SOS. */
  segments: JpegSegment[];
  /** Offset of the first byte of scan data (just after the SOS segment). */
  scanOffset: number;
  /** Offset just past the EOI marker, when the image ends with one. */
  end: number;
}

function markerName(marker: number): string {
  return `0xFF${marker.toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * Walk the markers of a JPEG from SOI to the first SOS and find its EOI.
 *
 * Markers without a length (RSTn, TEM, fill bytes 0xFF) are accepted in the
 * header; the scan data is searched for the final EOI, which must be the last
 * two bytes (trailing bytes after EOI are an error, since a lab MJPEG frame
 * must be exactly one image).
 *
 * @throws {ParseError} naming the offset and marker where the image breaks.
 */
export function parseJpegStructure(bytes: Uint8Array): JpegStructure {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) {
    throw new ParseError("Cannot parse JPEG: it does not start with SOI (FF D8)", 0);
  }
  const segments: JpegSegment[] = [];
  let offset = 2;
  for (;;) {
    if (offset + 2 > bytes.length) {
      throw new ParseError("Cannot parse JPEG: header ends before the start of scan", offset);
    }
    if (bytes[offset] !== 0xff) {
      throw new ParseError(
        `Cannot parse JPEG: expected a marker at offset ${offset}, found 0x${
          bytes[offset].toString(16).padStart(2, "0")
        }`,
        offset,
      );
    }
    const marker = bytes[offset + 1];
    if (marker === 0xff) { // fill byte
      offset += 1;
      continue;
    }
    if (marker === SOI || marker === EOI || marker === 0x00) {
      throw new ParseError(
        `Cannot parse JPEG: unexpected marker ${markerName(marker)} before the scan`,
        offset,
      );
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // TEM, RSTn: no length
      offset += 2;
      continue;
    }
    if (offset + 4 > bytes.length) {
      throw new ParseError(`Cannot parse JPEG: truncated ${markerName(marker)} segment`, offset);
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length) {
      throw new ParseError(
        `Cannot parse JPEG: ${
          markerName(marker)
        } segment length ${length} at offset ${offset} runs past the end (${bytes.length} bytes)`,
        offset,
      );
    }
    segments.push({ marker, offset, data: bytes.subarray(offset + 4, end) });
    offset = end;
    if (marker === SOS) break;
  }
  const n = bytes.length;
  if (n - offset < 2 || bytes[n - 2] !== 0xff || bytes[n - 1] !== EOI) {
    throw new ParseError(
      "Cannot parse JPEG: it does not end with EOI (FF D9): truncated, or bytes after the image",
      n,
    );
  }
  return { segments, scanOffset: offset, end: n };
}

/**
 * Describe why `bytes` is not one complete JPEG image, or return `undefined`
 * when it is (SOI, a well-formed header up to SOS, scan data, EOI).
 */
export function jpegProblem(bytes: Uint8Array): string | undefined {
  try {
    parseJpegStructure(bytes);
    return undefined;
  } catch (error) {
    if (error instanceof ParseError) return error.message;
    throw error;
  }
}

/** Whether `bytes` is one complete JPEG image; see {@linkcode jpegProblem}. */
export function isCompleteJpeg(bytes: Uint8Array): boolean {
  return jpegProblem(bytes) === undefined;
}

/** Image size and components, read from the frame header (SOFn). */
export interface JpegFrameInfo {
  /** SOF marker byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, … */
  sofMarker: number;
  /** Sample precision in bits. */
  precision: number;
  width: number;
  height: number;
  /** Per component: id, horizontal and vertical sampling, quantization table id. */
  components: { id: number; h: number; v: number; tq: number }[];
}

/**
 * Read the frame header (SOF0–SOF15, excluding DHT, JPG and DAC) of a JPEG.
 *
 * @throws {ParseError} when the image has no valid frame header.
 */
export function readJpegFrameInfo(structure: JpegStructure): JpegFrameInfo {
  const sof = structure.segments.find((s) =>
    s.marker >= 0xc0 && s.marker <= 0xcf && s.marker !== 0xc4 && s.marker !== 0xc8 &&
    s.marker !== 0xcc
  );
  if (!sof) throw new ParseError("Cannot read JPEG frame header: no SOF marker", 0);
  const d = sof.data;
  if (d.length < 6 || d.length < 6 + d[5] * 3) {
    throw new ParseError("Cannot read JPEG frame header: SOF segment too short", sof.offset);
  }
  const components = [];
  for (let i = 0; i < d[5]; i++) {
    const c = d.subarray(6 + i * 3, 9 + i * 3);
    components.push({ id: c[0], h: c[1] >> 4, v: c[1] & 15, tq: c[2] });
  }
  return {
    sofMarker: sof.marker,
    precision: d[0],
    height: (d[1] << 8) | d[2],
    width: (d[3] << 8) | d[4],
    components,
  };
}
