/**
 * Request-URI handling: which stream a request names, whatever form the URI
 * takes (`rtsp://host:port/name`, `/name`, or the lab's bare `name`).
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** The stream a Request-URI names, and in which form it was written. */
export interface StreamRef {
  /** Path of the stream relative to the media directory, percent-decoded, e.g. `video.mjpeg`. */
  name: string;
  /** Track control suffix such as `trackID=0`, when the URI names a track. */
  track?: string;
  /** `url` for `rtsp://…`, `path` for `/…`, `bare` for the lab's bare file name. */
  form: "url" | "path" | "bare";
}

const TRACK = /\/(trackID=\d+|track\d+|stream=\d+|streamid=\d+)$/;

/**
 * Find the stream named by a Request-URI.
 *
 * @returns `undefined` for `*` (no stream).
 * @throws {ParseError} for a URL with another scheme or bad percent-encoding.
 */
export function parseStreamRef(uri: string): StreamRef | undefined {
  if (uri === "*") return undefined;
  let form: StreamRef["form"];
  let path: string;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/[^/?#]*(.*)$/.exec(uri);
  if (scheme) {
    if (!/^rtspu?s?$/i.test(scheme[1])) {
      throw new ParseError(`Cannot serve URI "${uri}": scheme is not rtsp`, 0);
    }
    form = "url";
    path = scheme[2];
  } else if (uri.startsWith("/")) {
    form = "path";
    path = uri;
  } else {
    form = "bare";
    path = uri;
  }
  path = path.replace(/[?#].*$/, "");
  let track: string | undefined;
  const t = TRACK.exec(path);
  if (t) {
    track = t[1];
    path = path.slice(0, t.index);
  }
  let name: string;
  try {
    name = decodeURIComponent(path.replace(/^\/+|\/+$/g, ""));
  } catch {
    throw new ParseError(`Cannot serve URI "${uri}": bad percent-encoding`, 0);
  }
  return track ? { name, track, form } : { name, form };
}

/**
 * Resolve an SDP `a=control` value against the presentation's base URL
 * (RFC 2326 §C.1.1): `*` or nothing is the base itself, an absolute URL
 * stands as it is, and anything else is relative to the base.
 */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === "*" || control === "") return base;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(control)) return control;
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

/**
 * The Content-Base of a DESCRIBE reply (RFC 2326 §C.1.1): the presentation's
 * URL with a trailing slash, so that a track's relative control URL such as
 * `trackID=0` resolves beneath it. A request that named the stream by URL
 * gets that URL back; one that named it by path or bare name gets a URL on
 * the address it reached the server at.
 */
export function contentBase(
  uri: string,
  ref: StreamRef,
  local: { hostname: string; port: number },
): string {
  if (ref.form === "url") return uri.replace(/[?#].*$/, "").replace(/\/*$/, "/");
  const host = local.hostname.includes(":") ? `[${local.hostname}]` : local.hostname;
  return `rtsp://${host}:${local.port}/${encodeURI(ref.name)}/`;
}
