/**
 * Every live view of a server: each one takes a place under the session
 * limit when it starts and gives it back when it ends (its file ended, its
 * client went, or the server closes), and is logged both times. The views
 * started and the frames they dropped are counted for the status.
 *
 * @module
 */
import type { Clock } from "../../../net/clock.ts";
import type { ServedStream } from "../served_stream.ts";
import type { SessionTable } from "../session_table.ts";
import { LiveView } from "./live_view.ts";

/** Options for {@linkcode LiveViews}. */
export interface LiveViewsOptions {
  /** The server's sessions: views count under the same limit. */
  sessions: SessionTable;
  clock: Clock;
  log(line: string): void;
}

/** What a view is of, and for whom. */
export interface LiveViewRequest {
  stream: ServedStream;
  /** The file's name as requested. */
  name: string;
  /** The path as requested, percent-encoded, for the log. */
  path: string;
  /** `host:port` of the client. */
  client: string;
  /** Media time to start at, seconds. */
  startSec: number;
}

/** The live views of a server. */
export class LiveViews {
  readonly #options: LiveViewsOptions;
  readonly #views = new Set<LiveView>();
  /** Views started. */
  started = 0;
  /** Frames dropped by every view, because their clients did not read in time. */
  framesDropped = 0;

  constructor(options: LiveViewsOptions) {
    this.#options = options;
  }

  /**
   * Start a view.
   *
   * @throws {RtspError} 453 when no other session fits.
   * @throws {InvalidRangeError} when the file has no frame at the start asked for.
   */
  open(request: LiveViewRequest): LiveView {
    const { sessions, clock, log } = this.#options;
    sessions.checkRoom();
    const { client, path } = request;
    const view = new LiveView({
      id: sessions.newId(),
      client,
      streamName: request.name,
      stream: request.stream,
      now: () => clock.now(),
      onDrop: () => this.framesDropped++,
      onClose: (v) => {
        sessions.removeViewer(v);
        this.#views.delete(v);
        log(
          `${client} HTTP live view ${v.id} of ${path} ended after ${v.framesSent} frames` +
            ` (${v.framesDropped} dropped: not read in time)`,
        );
      },
    });
    sessions.addViewer(view);
    this.#views.add(view);
    try {
      view.start(request.startSec);
    } catch (error) {
      view.close();
      throw error;
    }
    this.started++;
    log(`${client} HTTP live view ${view.id} of ${path} from ${request.startSec} s`);
    return view;
  }

  /** End every view (the server closes). */
  closeAll(): void {
    for (const view of [...this.#views]) view.close();
  }
}
