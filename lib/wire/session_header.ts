/**
 * The Session header (RFC 2326 §12.37): an id and an optional timeout.
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** A Session header: the id and the optional timeout in seconds. */
export interface SessionHeader {
  /** The session id. */
  id: string;
  /** Seconds of silence after which the server may end the session. */
  timeout?: number;
}

/**
 * Parse a Session header value such as `12345678;timeout=60`.
 *
 * @throws {ParseError} when the id is empty or has characters RFC 2326 forbids.
 */
export function parseSession(value: string): SessionHeader {
  const [rawId, ...params] = value.split(";");
  const id = rawId.trim();
  if (!/^[A-Za-z0-9$\-_.+]+$/.test(id)) {
    throw new ParseError(`Cannot parse Session: bad session id "${id}"`, 0);
  }
  const session: SessionHeader = { id };
  for (const param of params) {
    const m = /^\s*timeout\s*=\s*(\d{1,9})\s*$/i.exec(param);
    if (m) session.timeout = Number(m[1]);
  }
  return session;
}

/** Write a Session header value; the timeout is omitted when absent. */
export function serializeSession(session: SessionHeader): string {
  return session.timeout === undefined ? session.id : `${session.id};timeout=${session.timeout}`;
}
