/**
 * A lab MJPEG file loaded once and shared, read-only, by every session that
 * streams it.
 *
 * @module
 */
import { readLabFrames } from "../wire/lab_mjpeg.ts";
import { parseJpegStructure, readJpegFrameInfo } from "../wire/jpeg.ts";
import { LabMjpegError } from "../wire/lab_mjpeg.ts";
import { ParseError } from "../wire/errors.ts";

/** The frames of one lab MJPEG file, validated. */
export interface MjpegSource {
  /** Path the file was read from. */
  path: string;
  /** Each frame's complete JPEG bytes, in file order. */
  frames: readonly Uint8Array[];
  /** Picture size of the first frame. */
  width: number;
  height: number;
  /** Size of the largest frame in bytes. */
  maxFrameBytes: number;
  /** Sum of all frame sizes in bytes. */
  totalBytes: number;
  /** File modification time (ms since epoch) and size when loaded, to detect changes. */
  mtime: number;
  size: number;
}

/**
 * Parse and validate a lab MJPEG buffer: every frame must be one complete JPEG.
 *
 * @param bytes The whole file.
 * @param path Name used in error messages and kept in the result.
 * @throws {LabMjpegError} naming the file, frame index and byte offset of the first problem.
 */
export function parseMjpegSource(
  bytes: Uint8Array,
  path: string,
  stat: { mtime: number; size: number } = { mtime: 0, size: bytes.length },
): MjpegSource {
  const frames: Uint8Array[] = [];
  let width = 0, height = 0, maxFrameBytes = 0, totalBytes = 0;
  for (const frame of readLabFrames(bytes, path)) {
    let structure;
    try {
      structure = parseJpegStructure(frame.data);
      if (frame.index === 0) ({ width, height } = readJpegFrameInfo(structure));
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      throw new LabMjpegError(
        path,
        frame.index,
        frame.offset + 5 + error.offset,
        `not a complete JPEG: ${error.message.replace(/^Cannot (parse|read) JPEG[^:]*: /, "")}`,
      );
    }
    frames.push(frame.data);
    maxFrameBytes = Math.max(maxFrameBytes, frame.data.length);
    totalBytes += frame.data.length;
  }
  if (frames.length === 0) {
    throw new LabMjpegError(path, 0, 0, "the file holds no frames (it is empty)");
  }
  return { path, frames, width, height, maxFrameBytes, totalBytes, ...stat };
}

/**
 * Read and validate a lab MJPEG file.
 *
 * @throws {LabMjpegError} for a malformed file; {@linkcode Deno.errors.NotFound} when absent.
 */
export async function loadMjpegSource(path: string): Promise<MjpegSource> {
  const bytes = await Deno.readFile(path);
  const info = await Deno.stat(path);
  return parseMjpegSource(bytes, path, { mtime: info.mtime?.getTime() ?? 0, size: info.size });
}
