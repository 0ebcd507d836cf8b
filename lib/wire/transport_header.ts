/**
 * The Transport header (RFC 2326 §12.39): parsed leniently, including the
 * lab's `Transport: RTP/UDP; client_port= 5008`, and written canonically.
 *
 * @module
 */
import { ParseError } from "./errors.ts";

/** An inclusive port range such as `5008-5009`; `end` is absent for one port. */
export interface PortRange {
  /** First port (or channel). */
  start: number;
  /** Last port (or channel), when a range. */
  end?: number;
}

/** One transport specification of a Transport header. */
export interface TransportSpec {
  /** "RTP". */
  protocol: string;
  /** "AVP" in standard RTSP; absent in the lab's `RTP/UDP` form. */
  profile?: string;
  /** "UDP" or "TCP". */
  lowerTransport: string;
  /** True unless the spec says `multicast`. */
  unicast: boolean;
  /** The client's RTP and RTCP ports. */
  clientPort?: PortRange;
  /** The server's RTP and RTCP ports. */
  serverPort?: PortRange;
  /** Multicast `port=`. */
  port?: PortRange;
  /** RTP and RTCP channels on the RTSP connection (§10.12). */
  interleaved?: PortRange;
  /** SSRC as a number (the header carries it as 8 hex digits). */
  ssrc?: number;
  /** Where the stream goes, when not to the requester. */
  destination?: string;
  /** Where the stream comes from. */
  source?: string;
  /** Multicast time to live. */
  ttl?: number;
  /** `PLAY` or `RECORD`. */
  mode?: string;
  /** Parameters this parser does not model, kept verbatim (`name` or `name=value`). */
  extra: string[];
}

function parsePortRange(text: string, offset: number): PortRange {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || start > 65535 || (end !== undefined && (end > 65535 || end < start))) {
    throw new ParseError(`Cannot parse Transport: bad port range "${text.trim()}"`, offset);
  }
  return end === undefined ? { start } : { start, end };
}

function formatPortRange(range: PortRange): string {
  return range.end === undefined ? `${range.start}` : `${range.start}-${range.end}`;
}

/**
 * Parse a Transport header value into its comma-separated specifications.
 *
 * Lenient: spaces around `;`, `=` and `-` are allowed, and the lab's
 * `RTP/UDP` (no profile) is read as protocol RTP over UDP without a profile.
 *
 * @throws {ParseError} when a spec has no `protocol/profile` part or a bad number.
 */
export function parseTransport(value: string): TransportSpec[] {
  const specs: TransportSpec[] = [];
  let offset = 0;
  for (const raw of value.split(",")) {
    const parts = raw.split(";").map((p) => p.trim());
    const id = parts[0].split("/").map((p) => p.trim().toUpperCase());
    if (id.length < 2 || id.length > 3 || id.some((p) => !/^[A-Z0-9._-]+$/.test(p))) {
      throw new ParseError(`Cannot parse Transport: bad transport id "${parts[0]}"`, offset);
    }
    const spec: TransportSpec = {
      protocol: id[0],
      lowerTransport: "UDP",
      unicast: true,
      extra: [],
    };
    if (id.length === 3) {
      spec.profile = id[1];
      spec.lowerTransport = id[2];
    } else if (id[1] === "UDP" || id[1] === "TCP") spec.lowerTransport = id[1];
    else spec.profile = id[1];
    for (const param of parts.slice(1)) {
      if (param === "") continue;
      const eq = param.indexOf("=");
      const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
      const arg = eq < 0 ? "" : param.slice(eq + 1).trim();
      switch (name) {
        case "unicast":
          spec.unicast = true;
          break;
        case "multicast":
          spec.unicast = false;
          break;
        case "client_port":
          spec.clientPort = parsePortRange(arg, offset);
          break;
        case "server_port":
          spec.serverPort = parsePortRange(arg, offset);
          break;
        case "port":
          spec.port = parsePortRange(arg, offset);
          break;
        case "interleaved":
          spec.interleaved = parsePortRange(arg, offset);
          if (spec.interleaved.start > 255 || (spec.interleaved.end ?? 0) > 255) {
            throw new ParseError(`Cannot parse Transport: interleaved channel over 255`, offset);
          }
          break;
        case "ssrc": {
          if (!/^[0-9a-fA-F]{1,8}$/.test(arg)) {
            throw new ParseError(`Cannot parse Transport: bad ssrc "${arg}"`, offset);
          }
          spec.ssrc = parseInt(arg, 16);
          break;
        }
        case "ttl": {
          const ttl = Number(arg);
          if (!/^\d{1,3}$/.test(arg) || ttl > 255) {
            throw new ParseError(`Cannot parse Transport: bad ttl "${arg}"`, offset);
          }
          spec.ttl = ttl;
          break;
        }
        case "destination":
          spec.destination = arg;
          break;
        case "source":
          spec.source = arg;
          break;
        case "mode":
          spec.mode = arg.replace(/^"|"$/g, "");
          break;
        default:
          spec.extra.push(param);
      }
    }
    specs.push(spec);
    offset += raw.length + 1;
  }
  return specs;
}

/** Write one transport specification in canonical RFC 2326 form. */
export function serializeTransport(spec: TransportSpec): string {
  // "RTP/AVP" implies UDP; the lower transport is written only when it is
  // TCP, or when the profile reads as a lower transport ("RTP/UDP/UDP").
  const head = !spec.profile
    ? `${spec.protocol}/${spec.lowerTransport}`
    : spec.lowerTransport === "UDP" && spec.profile !== "UDP" && spec.profile !== "TCP"
    ? `${spec.protocol}/${spec.profile}`
    : `${spec.protocol}/${spec.profile}/${spec.lowerTransport}`;
  const parts = [head, spec.unicast ? "unicast" : "multicast"];
  if (spec.destination !== undefined) parts.push(`destination=${spec.destination}`);
  if (spec.source !== undefined) parts.push(`source=${spec.source}`);
  if (spec.interleaved) parts.push(`interleaved=${formatPortRange(spec.interleaved)}`);
  if (spec.ttl !== undefined) parts.push(`ttl=${spec.ttl}`);
  if (spec.port) parts.push(`port=${formatPortRange(spec.port)}`);
  if (spec.clientPort) parts.push(`client_port=${formatPortRange(spec.clientPort)}`);
  if (spec.serverPort) parts.push(`server_port=${formatPortRange(spec.serverPort)}`);
  if (spec.ssrc !== undefined) {
    parts.push(`ssrc=${(spec.ssrc >>> 0).toString(16).toUpperCase().padStart(8, "0")}`);
  }
  if (spec.mode !== undefined) parts.push(`mode=${spec.mode}`);
  parts.push(...spec.extra);
  return parts.join(";");
}
