/**
 * The error a method handler throws to answer with a status: the one outer
 * function in `server_conn.ts` turns it into the reply and a log line.
 *
 * @module
 */

/** A request that gets an error status; `message` goes to the log. */
export class RtspError extends Error {
  /** The RTSP status code, e.g. 454 Session Not Found. */
  readonly status: number;
  /** Headers the error reply carries, in order, e.g. `Allow` with 501, `WWW-Authenticate` with 401. */
  readonly headers: readonly (readonly [string, string])[];

  constructor(
    status: number,
    message: string,
    headers: readonly (readonly [string, string])[] = [],
  ) {
    super(message);
    this.name = "RtspError";
    this.status = status;
    this.headers = headers;
  }
}
