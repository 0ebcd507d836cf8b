/**
 * Recording a live stream as a lab MJPEG file (`--record-dir`): each
 * complete, verified frame is appended in order (five-digit length, then the
 * JPEG), so the file can be served later like any other. Writes never hold
 * up the stream: they queue, and a disk that falls far behind costs frames
 * (counted), not memory.
 *
 * @module
 */
import { LAB_MAX_FRAME, labFrameHeader } from "../wire/lab_mjpeg.ts";

/** What a recorder wrote, and what it could not. */
export interface RecordingCounters {
  /** Frames written, and the file's size in bytes. */
  frames: number;
  bytes: number;
  /** Frames over 99,999 bytes, which the lab format cannot hold. */
  tooLarge: number;
  /** Frames dropped because the disk fell behind ({@linkcode MAX_QUEUED_FRAMES}). */
  dropped: number;
  /** The first write error, if one happened (then recording stops). */
  error?: string;
}

/** Frames waiting to be written before new ones are dropped. */
export const MAX_QUEUED_FRAMES = 100;

/**
 * The file name a recording of `path` started at `start` gets: the path with
 * `/` as `_` (and anything outside `[A-Za-z0-9._-]` as `_`), then the UTC
 * start time, e.g. `live_cam-20261207T164200Z.mjpeg`.
 */
export function recordingName(path: string, start: Date): string {
  const safe = path.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  const time = start.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${safe}-${time}.mjpeg`;
}

/** One recording, one file. */
export class MjpegRecorder {
  /** The file written. */
  readonly path: string;
  readonly counters: RecordingCounters = { frames: 0, bytes: 0, tooLarge: 0, dropped: 0 };
  readonly #file: Deno.FsFile;
  #queued = 0;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Start a new file in `dir` for `path` (never overwriting one: a second
   * recording in the same second gets `-2`, `-3`, … before the extension).
   */
  static async create(dir: string, path: string, start: Date): Promise<MjpegRecorder> {
    const base = recordingName(path, start);
    for (let n = 1; n < 100; n++) {
      const name = n === 1 ? base : base.replace(/\.mjpeg$/, `-${n}.mjpeg`);
      const full = `${dir.replace(/\/+$/, "")}/${name}`;
      try {
        const file = await Deno.open(full, { write: true, createNew: true });
        return new MjpegRecorder(full, file);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
    throw new Error(`Cannot start a recording of ${path} in ${dir}: too many files of that second`);
  }

  /** Append one frame (a complete JPEG); returns at once, the write follows in order. */
  write(jpeg: Uint8Array): void {
    const c = this.counters;
    if (this.#closed || c.error !== undefined) return;
    if (jpeg.length > LAB_MAX_FRAME) {
      c.tooLarge++;
      return;
    }
    if (this.#queued >= MAX_QUEUED_FRAMES) {
      c.dropped++;
      return;
    }
    this.#queued++;
    const header = labFrameHeader(jpeg.length);
    this.#chain = this.#chain.then(async () => {
      try {
        if (c.error === undefined) {
          await writeAll(this.#file, header);
          await writeAll(this.#file, jpeg);
          c.frames++;
          c.bytes += header.length + jpeg.length;
        }
      } catch (error) {
        c.error = error instanceof Error ? error.message : String(error);
      } finally {
        this.#queued--;
      }
    });
  }

  /** Write what is queued and close the file. */
  async close(): Promise<RecordingCounters> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#chain;
      this.#file.close();
    }
    return this.counters;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
