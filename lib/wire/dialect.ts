/**
 * The two dialects of RTSP this project speaks: the lab's loose one and the
 * standard one (RFC 2326), and how a server tells which one a request is in.
 *
 * @module
 */
import type { RtspRequest } from "./rtsp_message.ts";
import type { StreamRef } from "./rtsp_url.ts";
import type { TransportSpec } from "./transport_header.ts";

/**
 * `lab` for the lab's programs (bare names, bare LF, no blank line,
 * `RTP/UDP`), `rtsp` for standard clients.
 */
export type Dialect = "lab" | "rtsp";

/**
 * The dialect a SETUP is written in: the lab's when the request ended
 * without a blank line, named its file by bare name, or asked for `RTP/UDP`
 * (no profile); standard otherwise.
 */
export function setupDialect(request: RtspRequest, ref: StreamRef, spec: TransportSpec): Dialect {
  return request.end === "idle" || ref.form === "bare" || spec.profile === undefined
    ? "lab"
    : "rtsp";
}

/**
 * The Transport header of a SETUP exactly as the lab's client writes it
 * (`RTP/UDP; client_port= 5008`, with the space): the lab's server reads
 * the port after `client_port= `.
 */
export function labTransport(port: number): string {
  return `RTP/UDP; client_port= ${port}`;
}
