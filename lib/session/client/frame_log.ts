/**
 * Which frames came and which did not, for the client's report: evenly
 * spaced thumbnails (the JPEGs of every Nth complete frame) and marks for
 * the frames that are missing (no packet of them arrived), incomplete (a
 * fragment was lost) or damaged (not a complete JPEG), by frame number.
 *
 * The thumbnails are picked as the frames come, without knowing how many
 * there will be: every complete frame while there are at most `thumbnails`
 * of them, then every 2nd, every 4th, ... So N, the step, is the smallest
 * power of two that keeps at most `thumbnails` of them, and they are the
 * complete frames 1, N + 1, 2N + 1, ... in the order received (ceil(complete
 * / N) thumbnails). Memory stays at most `thumbnails` + 1 JPEGs and
 * `marks` marks; a run of missing frames is one mark.
 *
 * A frame is missing when the frame numbers jump within a PLAY; across a
 * PLAY (a seek, a resume) a jump is not a loss. A frame that arrives late
 * (a lab packet overtaken by the next) takes its number out of the missing
 * ones again.
 *
 * @module
 */

/** Why a frame is marked in the strip. */
export type FrameMarkKind = "missing" | "incomplete" | "damaged";

/** A frame, or a run of missing frames, that was not received whole. */
export interface FrameMark {
  /** Its number in the file, from 1 (the first of a run). */
  frame: number;
  /** For a run of missing frames: the last one. */
  to?: number;
  /** Why it is marked. */
  kind: FrameMarkKind;
}

/** A complete frame kept for the strip. */
export interface Thumbnail {
  /** Its number in the file, from 1. */
  frame: number;
  /** The whole JPEG. */
  jpeg: Uint8Array;
}

/** What a {@linkcode FrameLog} holds. */
export interface FrameLogSnapshot {
  /** N: a thumbnail was kept of every Nth complete frame. */
  every: number;
  /** In the order received. */
  thumbnails: Thumbnail[];
  /** By frame number. */
  marks: FrameMark[];
  /** Marks not kept because there were `marks` of them already. */
  marksLeftOut: number;
  /** Incomplete frames whose number is unknown (a stream numbered by counting). */
  unnumbered: number;
  /** Complete frames seen. */
  complete: number;
}

/** Options for {@linkcode FrameLog}. */
export interface FrameLogOptions {
  /** Most thumbnails kept; 0 keeps none. @default {0} */
  thumbnails?: number;
  /** Most marks kept. @default {500} */
  marks?: number;
}

/** The most marks a {@linkcode FrameLog} keeps by default. */
export const MAX_FRAME_MARKS = 500;

interface Kept extends Thumbnail {
  /** Its index among the complete frames, from 0. */
  index: number;
}

/** Keeps thumbnails and marks the frames not received whole. */
export class FrameLog {
  readonly #maxThumbnails: number;
  readonly #maxMarks: number;
  #every = 1;
  #thumbnails: Kept[] = [];
  readonly #marks: FrameMark[] = [];
  #marksLeftOut = 0;
  #unnumbered = 0;
  #complete = 0;
  /** Highest frame number seen since the last PLAY. */
  #last: number | undefined;

  constructor(options: FrameLogOptions = {}) {
    this.#maxThumbnails = options.thumbnails ?? 0;
    this.#maxMarks = options.marks ?? MAX_FRAME_MARKS;
  }

  /** A PLAY: the next frame's number may jump without a loss. */
  beginSegment(): void {
    this.#last = undefined;
  }

  /** A complete, verified frame. */
  onComplete(frame: number, jpeg: Uint8Array): void {
    this.#seen(frame);
    const index = this.#complete++;
    if (this.#maxThumbnails === 0 || index % this.#every !== 0) return;
    // A copy: the bytes may be a view into a buffer that is used again.
    this.#thumbnails.push({ frame, jpeg: jpeg.slice(), index });
    if (this.#thumbnails.length > this.#maxThumbnails) {
      this.#every *= 2;
      this.#thumbnails = this.#thumbnails.filter((t) => t.index % this.#every === 0);
    }
  }

  /** A frame that lost a fragment; `undefined` when the stream's frames are only counted. */
  onIncomplete(frame: number | undefined): void {
    if (frame === undefined) {
      this.#unnumbered++;
      return;
    }
    this.#seen(frame);
    this.#mark({ frame, kind: "incomplete" });
  }

  /** A frame that is not a complete JPEG. */
  onDamaged(frame: number): void {
    this.#seen(frame);
    this.#mark({ frame, kind: "damaged" });
  }

  /** Mark the frames skipped since the last one, or take a late one out of them. */
  #seen(frame: number): void {
    const last = this.#last;
    if (last === undefined || frame > last) {
      if (last !== undefined && frame > last + 1) this.#mark(missingRun(last + 1, frame - 1));
      this.#last = frame;
      return;
    }
    const i = this.#marks.findIndex((m) =>
      m.kind === "missing" && m.frame <= frame && frame <= (m.to ?? m.frame)
    );
    if (i < 0) return;
    const run = this.#marks[i];
    const parts: FrameMark[] = [];
    const end = run.to ?? run.frame;
    if (run.frame < frame) parts.push(missingRun(run.frame, frame - 1));
    if (frame < end) parts.push(missingRun(frame + 1, end));
    this.#marks.splice(i, 1, ...parts);
  }

  #mark(mark: FrameMark): void {
    if (this.#marks.length < this.#maxMarks) this.#marks.push(mark);
    else this.#marksLeftOut++;
  }

  /** What is kept so far. */
  snapshot(): FrameLogSnapshot {
    return {
      every: this.#every,
      thumbnails: this.#thumbnails.map(({ frame, jpeg }) => ({ frame, jpeg })),
      marks: this.#marks.map((m) => ({ ...m })).sort((a, b) => a.frame - b.frame),
      marksLeftOut: this.#marksLeftOut,
      unnumbered: this.#unnumbered,
      complete: this.#complete,
    };
  }
}

function missingRun(from: number, to: number): FrameMark {
  return from === to ? { frame: from, kind: "missing" } : { frame: from, to, kind: "missing" };
}
