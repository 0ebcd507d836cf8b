/**
 * SDP (RFC 4566) for one JPEG video stream: written the way ffmpeg, VLC
 * (live555) and GStreamer all accept, and read leniently.
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** What a DESCRIBE reply says about a JPEG stream. */
export interface JpegSdp {
  /** Session id and version for the `o=` line. */
  sessionId: string;
  /** Address of the server for `o=`. */
  origin: string;
  /** Stream name for `s=`. */
  name: string;
  /** Length in seconds (`a=range:npt=0-<duration>`); absent for a live or looping stream. */
  durationSec?: number;
  /** A live stream: `a=range:npt=now-` (no start, no end). */
  live?: boolean;
  /** Frames per second (`a=framerate`). */
  fps?: number;
  /** Picture size (`a=x-dimensions`, written only when a side exceeds 2040). */
  width?: number;
  /** Picture height in pixels. */
  height?: number;
  /** Average bit rate in kbit/s (`b=AS`). */
  kbitPerSec?: number;
  /** The media's control URL (`a=control`). */
  control: string;
  /** Payload type. @default {26} */
  payloadType?: number;
}

/** Write the SDP for a JPEG stream (CRLF line ends). */
export function serializeJpegSdp(sdp: JpegSdp): string {
  const pt = sdp.payloadType ?? 26;
  const lines = [
    "v=0",
    `o=- ${sdp.sessionId} 1 IN IP${sdp.origin.includes(":") ? 6 : 4} ${sdp.origin}`,
    `s=${sdp.name || "-"}`,
    "t=0 0",
    "a=control:*",
    sdp.live
      ? "a=range:npt=now-"
      : sdp.durationSec !== undefined
      ? `a=range:npt=0-${Number(sdp.durationSec.toFixed(3))}`
      : "a=range:npt=0-",
    `m=video 0 RTP/AVP ${pt}`,
    "c=IN IP4 0.0.0.0",
  ];
  if (sdp.kbitPerSec !== undefined) lines.push(`b=AS:${Math.ceil(sdp.kbitPerSec)}`);
  lines.push(`a=rtpmap:${pt} JPEG/90000`);
  if (sdp.fps !== undefined) lines.push(`a=framerate:${Number(sdp.fps.toFixed(3))}`);
  if (
    sdp.width !== undefined && sdp.height !== undefined && (sdp.width > 2040 || sdp.height > 2040)
  ) {
    lines.push(`a=x-dimensions:${sdp.width},${sdp.height}`);
  }
  lines.push(`a=control:${sdp.control}`);
  return lines.join("\r\n") + "\r\n";
}

/** One `m=` section of a parsed SDP. */
export interface SdpMedia {
  /** "video", "audio", … */
  type: string;
  /** Transport profile, e.g. "RTP/AVP". */
  protocol: string;
  /** Payload types listed on the `m=` line. */
  formats: number[];
  /** `a=` attributes of the section, name → value ("" for flags); first wins. */
  attributes: Map<string, string>;
  /** Every `a=rtpmap` of the section: payload type → encoding, e.g. 26 → `JPEG/90000`. */
  rtpmaps: Map<number, string>;
}

/** A parsed SDP: session attributes and media sections. */
export interface ParsedSdp {
  /** Session-level attributes (`a=name:value`), by name. */
  attributes: Map<string, string>;
  /** The media sections, in order. */
  media: SdpMedia[];
}

/**
 * Parse SDP leniently: CRLF or LF, unknown lines ignored.
 *
 * @throws {ParseError} when it does not start with `v=0`.
 */
export function parseSdp(text: string): ParsedSdp {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  if (lines[0] !== "v=0") throw new ParseError("Cannot parse SDP: it does not start with v=0", 0);
  const parsed: ParsedSdp = { attributes: new Map(), media: [] };
  let current: Map<string, string> = parsed.attributes;
  for (const line of lines) {
    if (line.startsWith("m=")) {
      const [type = "", , protocol = "", ...formats] = line.slice(2).split(/\s+/);
      const media: SdpMedia = {
        type,
        protocol,
        formats: formats.map(Number).filter(Number.isInteger),
        attributes: new Map(),
        rtpmaps: new Map(),
      };
      parsed.media.push(media);
      current = media.attributes;
    } else if (line.startsWith("a=")) {
      const colon = line.indexOf(":");
      const name = colon < 0 ? line.slice(2) : line.slice(2, colon);
      if (!current.has(name)) current.set(name, colon < 0 ? "" : line.slice(colon + 1));
      const media = parsed.media.at(-1);
      const map = name === "rtpmap" && media
        ? /^(\d{1,3})\s+(\S+)/.exec(line.slice(colon + 1))
        : null;
      if (map && media && !media.rtpmaps.has(Number(map[1]))) {
        media.rtpmaps.set(Number(map[1]), map[2]);
      }
    }
  }
  return parsed;
}
