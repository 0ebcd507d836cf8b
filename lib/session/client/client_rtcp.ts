/**
 * The client's RTCP (RFC 3550 §6): receiver reports with an SDES CNAME every
 * few seconds, and what the server's RTCP says: its sender reports (for the
 * LSR and DLSR of ours) and its BYE (the end of the stream).
 *
 * @module
 */
import { ntpMiddle, parseRtcpPackets, serializeRtcpCompound } from "../../wire/rtcp_packet.ts";
import type { ReceptionStats } from "./reception_stats.ts";

/** Options for {@linkcode ClientRtcp}. */
export interface ClientRtcpOptions {
  /** The statistics reports are made of (and malformed RTCP is counted in). */
  stats: ReceptionStats;
  /** Sends a compound RTCP packet to the server (its RTCP port, or our interleaved channel). */
  send(packet: Uint8Array): void;
  /** SDES CNAME. @default {"rtsp-client"} */
  cname?: string;
}

/** Receiver reports out, sender reports and BYE in. */
export class ClientRtcp {
  readonly #options: ClientRtcpOptions;
  /** Our own SSRC, for receiver reports. */
  readonly #ownSsrc = crypto.getRandomValues(new Uint32Array(1))[0];
  #lastSr: { ntpMiddle: number; at: number } | undefined;
  #lastReportAt = 0;
  /** When the server's BYE for the session arrived (clock ms). */
  byeAt: number | undefined;

  constructor(options: ClientRtcpOptions) {
    this.#options = options;
  }

  /** Send a receiver report about `ssrc` when `intervalMs` has passed since the last. */
  reportIfDue(now: number, ssrc: number, intervalMs: number): void {
    if (now - this.#lastReportAt < intervalMs) return;
    this.#lastReportAt = now;
    const { stats, cname } = this.#options;
    this.#options.send(serializeRtcpCompound([
      {
        type: "rr",
        ssrc: this.#ownSsrc,
        reports: [stats.reportBlock(ssrc, now, this.#lastSr)],
      },
      {
        type: "sdes",
        chunks: [{ ssrc: this.#ownSsrc, items: [{ type: 1, text: cname ?? "rtsp-client" }] }],
      },
    ]));
  }

  /**
   * RTCP from the server that arrived at `at`: the session's sender reports
   * (or any before its SSRC is known) and a BYE naming it.
   */
  onPacket(data: Uint8Array, at: number, ssrc: number | undefined): void {
    let packets;
    try {
      packets = parseRtcpPackets(data);
    } catch {
      this.#options.stats.malformed++;
      return;
    }
    for (const packet of packets) {
      if (packet.type === "sr" && (ssrc === undefined || packet.ssrc === ssrc)) {
        this.#lastSr = { ntpMiddle: ntpMiddle(packet.ntpSeconds, packet.ntpFraction), at };
      }
      if (packet.type === "bye" && (ssrc === undefined || packet.sources.includes(ssrc))) {
        this.byeAt ??= at;
      }
    }
  }
}
