/**
 * The server's live sessions: by id (the Session header) and by SSRC (RTCP
 * receiver reports), with the limit on how many there may be, and the
 * random ids and SSRCs new sessions get (RFC 3550 §8: SSRCs are random).
 *
 * @module
 */
import { RtspError } from "./rtsp_error.ts";
import type { ServerSession } from "./server_session.ts";

/** A random 32-bit number. */
export function randomUint32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Every live session of a server. */
export class SessionTable {
  readonly #byId = new Map<string, ServerSession>();
  readonly #bySsrc = new Map<number, ServerSession>();
  readonly #max: number;

  /** @param max Most sessions at once; SETUP beyond it is answered 453. */
  constructor(max: number) {
    this.#max = max;
  }

  /** The sessions by id. */
  get byId(): ReadonlyMap<string, ServerSession> {
    return this.#byId;
  }

  /** How many sessions there are. */
  get size(): number {
    return this.#byId.size;
  }

  /** The session called `id`. */
  get(id: string): ServerSession | undefined {
    return this.#byId.get(id);
  }

  /** The session whose RTP carries `ssrc`. */
  bySsrc(ssrc: number): ServerSession | undefined {
    return this.#bySsrc.get(ssrc);
  }

  /** @throws {RtspError} 453 when no other session fits. */
  checkRoom(): void {
    if (this.#byId.size >= this.#max) {
      throw new RtspError(453, `more than ${this.#max} sessions`);
    }
  }

  /** An 8-digit id that no live session has. */
  newId(): string {
    for (;;) {
      const id = String(10_000_000 + (randomUint32() % 90_000_000));
      if (!this.#byId.has(id)) return id;
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

  remove(session: ServerSession): void {
    if (this.#byId.get(session.id) === session) this.#byId.delete(session.id);
    if (this.#bySsrc.get(session.ssrc) === session) this.#bySsrc.delete(session.ssrc);
  }
}
