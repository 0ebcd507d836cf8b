/**
 * The URL a client is given: `rtsp://` or `rtsps://` (RTSP over TLS), with
 * optional userinfo (`rtsp://name:pa%40ss@host:8554/cam`, percent-decoded,
 * RFC 3986 §3.2.1). The request URIs the client sends, and every URL it
 * prints, leave the userinfo out (as ffmpeg does), so that a password never
 * reaches the wire in the clear or a log line.
 *
 * @module
 */

/** Default ports (RFC 2326 §3.2: 554 for rtsp; IANA: 322 for rtsps). */
export const RTSP_DEFAULT_PORTS = { rtsp: 554, rtsps: 322 } as const;

/** What an `rtsp://` or `rtsps://` URL says. */
export interface ClientUrl {
  /** `rtsps` is RTSP over TLS. */
  scheme: "rtsp" | "rtsps";
  /** Host name or address, without the brackets of an IPv6 literal. */
  host: string;
  /** The port, or the scheme's default (554, or 322 for rtsps). */
  port: number;
  /** The URL without its userinfo: the request URI. */
  uri: string;
  /** The user name of the userinfo, percent-decoded. */
  username?: string;
  /** The password of the userinfo (after the first ":"), percent-decoded. */
  password?: string;
}

const URL_SHAPE = /^(rtsps?):\/\/([^/?#]*)(.*)$/i;

/** Whether `text` is an `rtsp://` or `rtsps://` URL (by its scheme). */
export function isRtspUrl(text: string): boolean {
  return /^rtsps?:\/\//i.test(text);
}

/** Whether `text` is an `rtsps://` URL. */
export function isRtspsUrl(text: string): boolean {
  return /^rtsps:\/\//i.test(text);
}

/**
 * Read an `rtsp://` or `rtsps://` URL.
 *
 * @throws {TypeError} for another scheme, a missing host, a bad port or bad
 * percent-encoding in the userinfo; the message shows the URL without its
 * password.
 */
export function parseClientUrl(url: string): ClientUrl {
  const m = URL_SHAPE.exec(url);
  const shown = redactUrl(url);
  if (!m) throw new TypeError(`Cannot read URL "${shown}": expected rtsp:// or rtsps://`);
  const scheme = m[1].toLowerCase() as ClientUrl["scheme"];
  const authority = m[2];
  // The last "@" ends the userinfo (WHATWG URL does the same): a raw "@" in a password still works.
  const at = authority.lastIndexOf("@");
  const hostPort = authority.slice(at + 1);
  const hp = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d*))?$/.exec(hostPort);
  const host = hp?.[1] ?? hp?.[2] ?? "";
  if (!hp || host === "") throw new TypeError(`Cannot read URL "${shown}": no host`);
  const port = hp[3] === undefined || hp[3] === "" ? RTSP_DEFAULT_PORTS[scheme] : Number(hp[3]);
  if (!(port >= 1 && port <= 65535)) {
    throw new TypeError(`Cannot read URL "${shown}": port must be from 1 to 65535`);
  }
  const result: ClientUrl = { scheme, host, port, uri: `${m[1]}://${hostPort}${m[3]}` };
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    try {
      result.username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      if (colon >= 0) result.password = decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      throw new TypeError(`Cannot read URL "${shown}": bad percent-encoding in the userinfo`);
    }
  }
  return result;
}

/**
 * The URL as it may be shown: the password left out
 * (`rtsp://name@host:8554/cam`), the rest as given. Text that is not an
 * rtsp URL comes back as it is, except that anything like a userinfo
 * password (`scheme://name:password@`) is left out too.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const at = m[2].lastIndexOf("@");
  if (at < 0) return url;
  const userinfo = m[2].slice(0, at);
  const colon = userinfo.indexOf(":");
  const name = colon < 0 ? userinfo : userinfo.slice(0, colon);
  return `${m[1]}${name}@${m[2].slice(at + 1)}${m[3]}`;
}

/**
 * A URL to show: `uri` (without userinfo) with the user name put back, but
 * never a password: `rtsp://name@host:8554/cam`.
 *
 * @param uri An `rtsp://` or `rtsps://` URL without userinfo; other text comes back as it is.
 * @param username The user name, when there is one.
 */
export function displayUrl(uri: string, username?: string): string {
  const shown = redactUrl(uri);
  if (username === undefined || !isRtspUrl(shown) || /^[^:]+:\/\/[^/?#]*@/.test(shown)) {
    return shown;
  }
  return shown.replace(/^([^:]+:\/\/)/, `$1${encodeURIComponent(username)}@`);
}
