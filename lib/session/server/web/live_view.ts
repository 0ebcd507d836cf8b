/**
 * `/live/<file>` (or `/live/<path>` of a publisher): one viewer's MJPEG
 * stream over HTTP (`multipart/x-mixed-replace`, which a browser shows in a
 * plain `<img>`).
 *
 * The viewer is a session in all but protocol: a {@linkcode Player} of the
 * stream, with a place under the session limit. A file's player is paced by
 * the server's one pacer at its fps; a live path's gets each frame as the
 * publisher's arrives, and ends when the publisher goes. Each frame it is sent goes into the
 * response body as one part, unless the client has not yet read the frame
 * before (the body's queue holds anything at all): then the frame is
 * dropped and counted, so a client that stops reading costs at most one
 * frame here, plus the socket's buffers, however long it stalls.
 *
 * @module
 */
import type { Player, ServedStream } from "../served_stream.ts";
import type { Viewer } from "../session_table.ts";

/** The boundary between parts. */
export const LIVE_BOUNDARY = "frame";

/** The Content-Type of a live view. */
export const LIVE_CONTENT_TYPE = `multipart/x-mixed-replace; boundary=${LIVE_BOUNDARY}`;

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");

/** Options for {@linkcode LiveView}. */
export interface LiveViewOptions {
  /** An id no session or viewer has. */
  id: string;
  /** `host:port` of the client. */
  client: string;
  /** The file's name as requested. */
  streamName: string;
  stream: ServedStream;
  /** The server's clock, ms. */
  now(): number;
  /** Told of each frame dropped (for the server's counter). */
  onDrop(): void;
  /** Called once when the view ends: its stream ended, its client went, or the server closes. */
  onClose(view: LiveView): void;
}

/** One client's live view of a file. */
export class LiveView implements Viewer {
  readonly id: string;
  readonly client: string;
  readonly streamName: string;
  readonly stream: ServedStream;
  readonly startedAt: number;
  /** The response body: one part per frame. */
  readonly body: ReadableStream<Uint8Array>;
  framesDropped = 0;
  bytesSent = 0;
  #sent = 0;
  readonly #options: LiveViewOptions;
  readonly #player: Player;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #closed = false;

  constructor(options: LiveViewOptions) {
    this.#options = options;
    this.id = options.id;
    this.client = options.client;
    this.streamName = options.streamName;
    this.stream = options.stream;
    this.startedAt = options.now();
    // Whole JPEGs (as the lab's dialect sends them), not RTP/JPEG payloads.
    this.#player = options.stream.player("lab", {
      timestampBase: 0,
      send: (frame) => this.#send(frame.jpeg),
      onEnd: () => this.close(),
    });
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        cancel: () => this.close(), // the client went
      },
      // Room for nothing queued: a frame is taken only once the previous one was read.
      new ByteLengthQueuingStrategy({ highWaterMark: 1 }),
    );
  }

  /** Frames put into the response. */
  get framesSent(): number {
    return this.#sent;
  }

  get positionSec(): number {
    return this.#player.positionSec;
  }

  get playing(): boolean {
    return this.#player.playing;
  }

  /**
   * Start sending at media time `startSec`.
   *
   * @throws {InvalidRangeError} when the file has no frame there.
   */
  start(startSec: number): void {
    this.#player.play(this.#options.now(), { start: startSec });
  }

  /**
   * End the view: no more frames, the response ends, the place is given
   * back (and a live stream forgets the reader). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#player.pause();
    this.#player.close?.();
    try {
      this.#controller?.close();
    } catch { /* cancelled by the client: already closed */ }
    this.#options.onClose(this);
  }

  #send(jpeg: Uint8Array): void {
    const controller = this.#controller;
    if (this.#closed || !controller) return;
    if ((controller.desiredSize ?? 0) <= 0) {
      this.framesDropped++;
      this.#options.onDrop();
      return;
    }
    const head = encoder.encode(
      `--${LIVE_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
    );
    // The JPEG is the shared frame itself, by reference: the body never changes it.
    controller.enqueue(head);
    controller.enqueue(jpeg);
    controller.enqueue(CRLF);
    this.#sent++;
    this.bytesSent += head.length + jpeg.length + CRLF.length;
  }
}
