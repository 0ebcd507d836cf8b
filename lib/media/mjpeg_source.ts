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
import { convertForRtpJpeg } from "./jpeg_conversion.ts";
import {
  jpegToRtpFrame,
  packetizeRtpJpeg,
  UnsupportedJpegError,
} from "../wire/rfc2435_packetizer.ts";

/** The frames of one lab MJPEG file, validated. */
export interface MjpegSource {
  /** Path the file was read from. */
  path: string;
  /** Each frame's complete JPEG bytes, in file order. */
  frames: readonly Uint8Array[];
  /** Byte offset of each frame's 5-byte header in the file. */
  frameOffsets: readonly number[];
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
  const frameOffsets: number[] = [];
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
    frameOffsets.push(frame.offset);
    maxFrameBytes = Math.max(maxFrameBytes, frame.data.length);
    totalBytes += frame.data.length;
  }
  if (frames.length === 0) {
    throw new LabMjpegError(path, 0, 0, "the file holds no frames (it is empty)");
  }
  return { path, frames, frameOffsets, width, height, maxFrameBytes, totalBytes, ...stat };
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

/** Every frame of a source cut into RTP/JPEG payloads, shared by all standard sessions. */
export interface RtpJpegPayloads {
  /** Largest payload size used, headers included. */
  maxPayload: number;
  /** Per frame, its payloads in order. */
  frames: readonly (readonly Uint8Array[])[];
  /** Total payloads over all frames. */
  packets: number;
  /** Frames that RFC 2435 could not carry as they were and that were converted. */
  converted: number;
  /** Why the first converted frame needed it. */
  conversionReason?: string;
}

const payloadCache = new WeakMap<MjpegSource, Map<number, Promise<RtpJpegPayloads>>>();

/**
 * The RFC 2435 payloads of every frame, computed once per source and payload size.
 *
 * @throws {LabMjpegError} naming the first frame RFC 2435 cannot carry, and why.
 */
export function rtpJpegPayloads(
  source: MjpegSource,
  maxPayload: number,
  options: {
    /**
     * Awaited between two frame conversions (each takes tens of ms), so the
     * caller can let its event loop pace the sessions already playing.
     */
    pause?: () => Promise<void>;
  } = {},
): Promise<RtpJpegPayloads> {
  let bySize = payloadCache.get(source);
  if (!bySize) payloadCache.set(source, bySize = new Map());
  let cached = bySize.get(maxPayload);
  if (!cached) {
    cached = packetizeSource(source, maxPayload, options.pause ?? (() => Promise.resolve()));
    bySize.set(maxPayload, cached);
    cached.catch(() => bySize.delete(maxPayload)); // a failure is not kept
  }
  return cached;
}

async function packetizeSource(
  source: MjpegSource,
  maxPayload: number,
  pause: () => Promise<void>,
): Promise<RtpJpegPayloads> {
  const frames: Uint8Array[][] = [];
  let packets = 0;
  let converted = 0;
  let conversionReason: string | undefined;
  for (const [index, jpeg] of source.frames.entries()) {
    let frame;
    try {
      frame = jpegToRtpFrame(jpeg);
    } catch (error) {
      if (!(error instanceof UnsupportedJpegError)) throw error;
      // Convert once, here, rather than drop the frame as other servers do;
      // between frames, let the event loop pace the sessions already playing.
      await pause();
      try {
        frame = jpegToRtpFrame(convertForRtpJpeg(jpeg));
      } catch (failure) {
        const why = failure instanceof Error ? failure.message : String(failure);
        throw new LabMjpegError(
          source.path,
          index,
          source.frameOffsets[index] ?? -1,
          `${error.message}; ${why}`,
        );
      }
      converted++;
      conversionReason ??= error.message.replace(
        /^Cannot send this JPEG as RTP\/JPEG \(RFC 2435\): /,
        "",
      );
    }
    const payloads = packetizeRtpJpeg(frame, maxPayload);
    packets += payloads.length;
    frames.push(payloads);
  }
  packInOneBuffer(frames);
  const result: RtpJpegPayloads = { maxPayload, frames, packets, converted };
  if (conversionReason !== undefined) result.conversionReason = conversionReason;
  return result;
}

/**
 * Move every payload into one ArrayBuffer (views in place of the originals):
 * a batched sender passes payloads to the kernel by address, and addresses
 * within one buffer are known after the first, so a file's packets cost one
 * lookup rather than one each.
 */
function packInOneBuffer(frames: Uint8Array[][]): void {
  let total = 0;
  for (const list of frames) for (const payload of list) total += payload.length;
  const all = new Uint8Array(total);
  let offset = 0;
  for (const list of frames) {
    for (let i = 0; i < list.length; i++) {
      all.set(list[i], offset);
      list[i] = all.subarray(offset, offset + list[i].length);
      offset += list[i].length;
    }
  }
}
