/**
 * Where received frames go: a directory of `frame_NNNNNN.jpg` files, and a
 * lab MJPEG recording that the server can serve again. Only complete JPEGs
 * are written.
 *
 * @module
 */
import { jpegProblem } from "../../wire/jpeg.ts";
import { LAB_MAX_FRAME, labFrameHeader } from "../../wire/lab_mjpeg.ts";

/** File name of frame number `n`: `frame_000001.jpg`. */
export function frameFileName(n: number): string {
  return `frame_${String(n).padStart(6, "0")}.jpg`;
}

/** Saves verified JPEG frames as `DIR/frame_NNNNNN.jpg`. */
export class FrameSink {
  readonly dir: string;
  #ready: Promise<void> | undefined;

  /** @param dir Directory to write into; created when missing. */
  constructor(dir: string) {
    this.dir = dir.replace(/\/+$/, "") || "/";
  }

  /**
   * Write frame `frameNumber` if `jpeg` is one complete JPEG.
   *
   * @returns `undefined` when written, or why the frame was refused.
   */
  async write(frameNumber: number, jpeg: Uint8Array): Promise<string | undefined> {
    const problem = jpegProblem(jpeg);
    if (problem) return problem;
    this.#ready ??= Deno.mkdir(this.dir, { recursive: true });
    await this.#ready;
    await Deno.writeFile(`${this.dir}/${frameFileName(frameNumber)}`, jpeg);
    return undefined;
  }
}

/** Appends frames to a lab MJPEG file (5-digit length, then the JPEG). */
export class MjpegRecorder {
  readonly path: string;
  #file: Promise<Deno.FsFile> | undefined;
  /** Frames written, and frames skipped for being over 99,999 bytes. */
  written = 0;
  skipped = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Append one complete JPEG; returns why it was not written, if it was not. */
  async write(jpeg: Uint8Array): Promise<string | undefined> {
    const problem = jpegProblem(jpeg);
    if (problem) return problem;
    if (jpeg.length > LAB_MAX_FRAME) {
      this.skipped++;
      return `${jpeg.length} bytes is more than a lab MJPEG frame can hold (${LAB_MAX_FRAME})`;
    }
    this.#file ??= Deno.open(this.path, { write: true, create: true, truncate: true });
    const file = await this.#file;
    const record = new Uint8Array(5 + jpeg.length);
    record.set(labFrameHeader(jpeg.length));
    record.set(jpeg, 5);
    for (let offset = 0; offset < record.length;) {
      offset += await file.write(record.subarray(offset));
    }
    this.written++;
    return undefined;
  }

  /** Close the file. */
  async close(): Promise<void> {
    if (this.#file) (await this.#file).close();
    this.#file = undefined;
  }
}
