/**
 * The server's live paths: which path a publisher has announced (ANNOUNCE
 * claims it, one publisher per path), and which are on the air (RECORD)
 * for readers to find. A path is free again once its publisher has gone.
 *
 * @module
 */
import type { LiveStream } from "./live_stream.ts";
import { RtspError } from "./rtsp_error.ts";

/** One claimed path. */
export interface LivePath {
  readonly path: string;
  readonly stream: LiveStream;
  /** Who claimed it (its RTSP connection); only they may set it up. */
  readonly owner: object;
  /** `host:port` of the publisher's RTSP connection. */
  readonly publisher: string;
  /** When it was claimed, on the server's clock (ms). */
  readonly claimedAt: number;
  /** Whether RECORD has started it (readers can find it). */
  onAir: boolean;
}

/** What publishes took in: frames and malformed packets (`LiveSource` counters). */
export interface LiveIntake {
  /** Complete frames released to readers. */
  frames: number;
  /** Frames that could not be completed. */
  framesDropped: number;
  /** Complete frames over the rate cap. */
  framesCapped: number;
  /** Datagrams that were not RTP of the announced payload type. */
  malformed: number;
}

/** Paths a publisher may name: letters, digits and `._~-`, in `/`-separated parts. */
const PUBLISHABLE = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

/** Most characters of a published path. */
export const MAX_PATH_LENGTH = 200;

/** The live paths of one server. */
export class LivePaths {
  readonly #paths = new Map<string, LivePath>();
  /** What the publishes that ended took in (added to once per release). */
  readonly #ended: LiveIntake = { frames: 0, framesDropped: 0, framesCapped: 0, malformed: 0 };

  /** Every claimed path. */
  get all(): Iterable<LivePath> {
    return this.#paths.values();
  }

  /**
   * Why `path` cannot be published to, by its form (400), or undefined.
   */
  static problem(path: string): string | undefined {
    if (path.length > MAX_PATH_LENGTH) return `the path is longer than ${MAX_PATH_LENGTH}`;
    if (!PUBLISHABLE.test(path) || path.split("/").some((part) => /^\.+$/.test(part))) {
      return `"${path}" is not a path one can publish to (letters, digits, ._~- and /)`;
    }
    return undefined;
  }

  /**
   * Claim `path` for a publisher.
   *
   * @throws {RtspError} 455 when another publisher holds it (the path is in
   * the publishing state, where ANNOUNCE is not valid).
   */
  claim(path: string, stream: LiveStream, owner: object, publisher: string, now: number): void {
    const held = this.#paths.get(path);
    if (held) {
      throw new RtspError(
        455,
        `${path} is already being published (by ${
          held.owner === owner ? "this connection" : "another publisher"
        })`,
      );
    }
    this.#paths.set(path, { path, stream, owner, publisher, claimedAt: now, onAir: false });
  }

  /** The claim on `path`, if any. */
  get(path: string): LivePath | undefined {
    return this.#paths.get(path);
  }

  /** The live stream readers of `path` find: one whose publisher has started RECORD. */
  onAir(path: string): LiveStream | undefined {
    const claim = this.#paths.get(path);
    return claim?.onAir ? claim.stream : undefined;
  }

  /** Let go of `path`, if `stream` still holds it. */
  release(path: string, stream: LiveStream): void {
    if (this.#paths.get(path)?.stream !== stream) return;
    this.#paths.delete(path);
    addIntake(this.#ended, stream.source.counters);
  }

  /** What every publish took in so far, ended or live (for totals that outlive the paths). */
  intake(): LiveIntake {
    const totals = { ...this.#ended };
    for (const claim of this.#paths.values()) addIntake(totals, claim.stream.source.counters);
    return totals;
  }

  /** The claims `owner` made (to release those it never set up when it goes). */
  ownedBy(owner: object): LivePath[] {
    return [...this.#paths.values()].filter((claim) => claim.owner === owner);
  }
}

function addIntake(to: LiveIntake, from: LiveIntake): void {
  to.frames += from.frames;
  to.framesDropped += from.framesDropped;
  to.framesCapped += from.framesCapped;
  to.malformed += from.malformed;
}
