/**
 * Writes received frames to a directory, only when they are complete JPEGs.
 *
 * @module
 */
import { jpegProblem } from "../wire/jpeg.ts";

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
