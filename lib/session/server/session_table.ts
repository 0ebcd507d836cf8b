/**
 * The server's live sessions: by id (the Session header) and by SSRC (RTCP
 * receiver reports), with the limit on how many there may be, and the
 * random ids and SSRCs new sessions get (RFC 3550 §8: SSRCs are random).
 *
 * HTTP live views ({@linkcode Viewer}) take places under the same limit.
 * What the sessions sent lives on after them here, in totals added to once
 * per session that ends (nothing per packet), for the status and metrics.
 *
 * @module
 */
import type { TransportKind } from "./media_transport.ts";
import { RtspError } from "./rtsp_error.ts";
import type { ServedStream } from "./served_stream.ts";
import type { ServerSession } from "./server_session.ts";

/** A random 32-bit number. */
export function randomUint32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A session outside RTSP (an HTTP live view): it takes a place under the
 * session limit and is listed in the server's status, as a session is.
 */
export interface Viewer {
  /** An id no session or other viewer has. */
  readonly id: string;
  /** `host:port` of the client. */
  readonly client: string;
  /** The stream's name as requested. */
  readonly streamName: string;
  /** What it watches. */
  readonly stream: ServedStream;
  /** When it started, on the server's clock, ms. */
  readonly startedAt: number;
  /** Frames handed to the client's response. */
  readonly framesSent: number;
  /** Frames dropped because the client did not read the earlier ones in time. */
  readonly framesDropped: number;
  /** Bytes handed to the client's response. */
  readonly bytesSent: number;
  /** Media time of the next frame, in seconds. */
  readonly positionSec: number;
  /** Whether frames are being sent (false once its stream ended). */
  readonly playing: boolean;
}

/** RTP sent, by the way it left. */
export type SentTotals = Record<TransportKind, { packets: number; octets: number }>;

/** Every live session of a server. */
export class SessionTable {
  readonly #byId = new Map<string, ServerSession>();
  readonly #bySsrc = new Map<number, ServerSession>();
  readonly #viewers = new Map<string, Viewer>();
  readonly #max: number;
  /** What the sessions that ended sent. */
  readonly #ended: SentTotals = { udp: { packets: 0, octets: 0 }, tcp: { packets: 0, octets: 0 } };
  #refused = 0;

  /** @param max Most sessions (and viewers) at once; SETUP beyond it is answered 453. */
  constructor(max: number) {
    this.#max = max;
  }

  /** The sessions by id. */
  get byId(): ReadonlyMap<string, ServerSession> {
    return this.#byId;
  }

  /** The HTTP live views by id. */
  get viewers(): ReadonlyMap<string, Viewer> {
    return this.#viewers;
  }

  /** How many sessions there are (viewers not included). */
  get size(): number {
    return this.#byId.size;
  }

  /** Sessions and viewers refused for want of room. */
  get refused(): number {
    return this.#refused;
  }

  /** The session called `id`. */
  get(id: string): ServerSession | undefined {
    return this.#byId.get(id);
  }

  /** The session whose RTP carries `ssrc`. */
  bySsrc(ssrc: number): ServerSession | undefined {
    return this.#bySsrc.get(ssrc);
  }

  /** @throws {RtspError} 453 when no other session (or viewer) fits. */
  checkRoom(): void {
    if (this.#byId.size + this.#viewers.size >= this.#max) {
      this.#refused++;
      throw new RtspError(453, `more than ${this.#max} sessions`);
    }
  }

  /** An 8-digit id that no live session or viewer has. */
  newId(): string {
    for (;;) {
      const id = String(10_000_000 + (randomUint32() % 90_000_000));
      if (!this.#byId.has(id) && !this.#viewers.has(id)) return id;
    }
  }

  /** An SSRC that no live session has. */
  newSsrc(): number {
    for (;;) {
      const ssrc = randomUint32();
      if (!this.#bySsrc.has(ssrc)) return ssrc;
    }
  }

  add(session: ServerSession): void {
    this.#byId.set(session.id, session);
    this.#bySsrc.set(session.ssrc, session);
  }

  /** The session leaves; what it sent goes into the totals. */
  remove(session: ServerSession): void {
    if (this.#byId.get(session.id) === session) {
      this.#byId.delete(session.id);
      const ended = this.#ended[session.transport.kind];
      ended.packets += session.packetsSent;
      ended.octets += session.octetsSent;
    }
    if (this.#bySsrc.get(session.ssrc) === session) this.#bySsrc.delete(session.ssrc);
  }

  /** A viewer takes a place (after {@linkcode checkRoom}). */
  addViewer(viewer: Viewer): void {
    this.#viewers.set(viewer.id, viewer);
  }

  removeViewer(viewer: Viewer): void {
    if (this.#viewers.get(viewer.id) === viewer) this.#viewers.delete(viewer.id);
  }

  /** RTP packets and payload bytes sent by every session so far, ended or live. */
  sent(): SentTotals {
    const totals: SentTotals = {
      udp: { ...this.#ended.udp },
      tcp: { ...this.#ended.tcp },
    };
    for (const session of this.#byId.values()) {
      const kind = totals[session.transport.kind];
      kind.packets += session.packetsSent;
      kind.octets += session.octetsSent;
    }
    return totals;
  }
}
