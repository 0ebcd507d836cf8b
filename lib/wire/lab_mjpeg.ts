/**
 * The lab's MJPEG file format: JPEG images concatenated, each preceded by its
 * length in bytes as five ASCII decimal digits (e.g. `06014`).
 *
 * ```text
 * +-------+-----------------+-------+-----------------+----
 * | 06014 | 6014 bytes JPEG | 05987 | 5987 bytes JPEG | ...
 * +-------+-----------------+-------+-----------------+----
 * ```
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** Size of the ASCII length header before each frame. */
export const LAB_HEADER_SIZE = 5;
/** Largest frame a five-digit header can describe. */
export const LAB_MAX_FRAME = 99_999;

/** One frame found in a lab MJPEG buffer. */
export interface LabFrame {
  /** 0-based index of the frame in the file. */
  index: number;
  /** Offset of the frame's 5-byte header in the file. */
  offset: number;
  /** The JPEG bytes (a view into the input). */
  data: Uint8Array;
}

/** Raised for a malformed lab MJPEG file; names the file, frame and offset. */
export class LabMjpegError extends ParseError {
  /** 0-based index of the frame that is broken. */
  readonly frameIndex: number;
  /** Name of the file (or "<buffer>"). */
  readonly file: string;

  /** A malformed frame: its file, 0-based index, byte offset and what is wrong. */
  constructor(file: string, frameIndex: number, offset: number, problem: string) {
    super(
      `Cannot read ${file}: frame ${frameIndex}${
        offset >= 0 ? ` at byte offset ${offset}` : ""
      }: ${problem}`,
      Math.max(0, offset),
    );
    this.name = "LabMjpegError";
    this.file = file;
    this.frameIndex = frameIndex;
  }
}

/**
 * Iterate the frames of a lab MJPEG buffer in order.
 *
 * @param bytes The whole file.
 * @param file The name used in error messages.
 * @throws {LabMjpegError} on a header that is not five ASCII digits, a zero
 * length, or a frame that runs past the end of the file.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("00003abc");
 * for (const frame of readLabFrames(bytes)) console.log(frame.index, frame.data.length);
 * ```
 */
export function* readLabFrames(bytes: Uint8Array, file = "<buffer>"): Generator<LabFrame> {
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    if (bytes.length - offset < LAB_HEADER_SIZE) {
      throw new LabMjpegError(
        file,
        index,
        offset,
        `truncated length header (${bytes.length - offset} of 5 bytes)`,
      );
    }
    let length = 0;
    for (let i = 0; i < LAB_HEADER_SIZE; i++) {
      const c = bytes[offset + i];
      if (c < 0x30 || c > 0x39) {
        const shown = Array.from(
          bytes.subarray(offset, offset + LAB_HEADER_SIZE),
          (b) =>
            b >= 0x20 && b < 0x7f
              ? String.fromCharCode(b)
              : `\\x${b.toString(16).padStart(2, "0")}`,
        )
          .join("");
        throw new LabMjpegError(
          file,
          index,
          offset,
          `length header "${shown}" is not five ASCII digits`,
        );
      }
      length = length * 10 + (c - 0x30);
    }
    if (length === 0) throw new LabMjpegError(file, index, offset, "frame length is 0");
    const start = offset + LAB_HEADER_SIZE;
    if (start + length > bytes.length) {
      throw new LabMjpegError(
        file,
        index,
        offset,
        `frame of ${length} bytes runs past the end of the file (${
          bytes.length - start
        } bytes left); truncated file?`,
      );
    }
    yield { index, offset, data: bytes.subarray(start, start + length) };
    offset = start + length;
  }
}

/** The five-digit length header for a frame of `length` bytes. */
export function labFrameHeader(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > LAB_MAX_FRAME) {
    throw new RangeError(
      `Cannot write lab MJPEG frame of ${length} bytes: must be 1-${LAB_MAX_FRAME}`,
    );
  }
  return new TextEncoder().encode(String(length).padStart(LAB_HEADER_SIZE, "0"));
}

/**
 * Write frames in the lab format into one buffer.
 *
 * @throws {RangeError} when a frame is empty or larger than 99,999 bytes.
 */
export function writeLabMjpeg(frames: Iterable<Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const frame of frames) {
    const header = labFrameHeader(frame.length);
    parts.push(header, frame);
    total += header.length + frame.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
