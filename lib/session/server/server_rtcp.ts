/**
 * The server's RTCP (RFC 3550 §6): for each playing standard session a
 * sender report with an SDES CNAME at once and then every few seconds, a BYE
 * at the end of the stream and at the end of the session; and the receiver
 * reports clients send back, which keep their sessions alive.
 *
 * A sender report's NTP and RTP timestamps describe the same instant
 * (§6.4.1): both come from one reading of the clock, the RTP time from the
 * player's schedule at sub-frame resolution.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import {
  parseRtcpPackets,
  type RtcpPacket,
  serializeRtcpCompound,
  toNtpTime,
} from "../../wire/rtcp_packet.ts";
import type { PacedTask, Pacer } from "./pacer.ts";
import type { ServerSession, SessionRtcp } from "./server_session.ts";

/** Options for {@linkcode ServerRtcp}. */
export interface ServerRtcpOptions {
  pacer: Pacer;
  clock: Clock;
  /** Seconds between sender reports. */
  intervalSec: number;
  /** The session whose stream has this SSRC, for receiver reports that arrive over UDP. */
  sessionBySsrc(ssrc: number): ServerSession | undefined;
  log(line: string): void;
  /** SDES CNAME. @default {"rtsp-lab"} */
  cname?: string;
}

/** Counters of RTCP from clients. */
export interface RtcpCounters {
  /** RTCP packets (compound datagrams or interleaved frames) received. */
  received: number;
  /** Those that did not parse. */
  malformed: number;
  /** Report blocks about one of the server's sessions, from its client. */
  receiverReports: number;
}

/** Sender reports, BYEs and receiver reports for every session of a server. */
export class ServerRtcp implements SessionRtcp {
  readonly #options: ServerRtcpOptions;
  /** Each playing session's report task. */
  readonly #reports = new Map<ServerSession, PacedTask>();
  /** Pending BYEs after the end of a stream. */
  readonly #byes = new Map<ServerSession, PacedTask>();
  /** Sessions that sent a report and no BYE yet. */
  readonly #speaking = new Set<ServerSession>();
  readonly counters: RtcpCounters = { received: 0, malformed: 0, receiverReports: 0 };

  constructor(options: ServerRtcpOptions) {
    this.#options = options;
  }

  /**
   * A report right after the first frame of a PLAY (so it follows the RTP it
   * describes), then every interval. A seek while playing gets its report at
   * once too: RTP time jumped, and receivers map it to wall time by reports.
   */
  start(session: ServerSession): void {
    if (session.dialect === "lab") return; // the lab's client expects no RTCP
    this.#cancel(this.#byes, session);
    let task = this.#reports.get(session);
    if (!task) {
      const interval = this.#options.intervalSec * 1000;
      task = {
        onDue: (now) => {
          session.transport.sendRtcp(this.report(session, now));
          return now + interval;
        },
      };
      this.#reports.set(session, task);
      this.#speaking.add(session);
    }
    this.#options.pacer.schedule(task, this.#options.clock.now() + 1);
  }

  pause(session: ServerSession): void {
    this.#cancel(this.#reports, session);
  }

  endOfStream(session: ServerSession): void {
    if (!this.#speaking.has(session)) return;
    this.#cancel(this.#reports, session);
    // One frame period later, so the BYE cannot overtake the last frame.
    const task: PacedTask = {
      onDue: () => {
        this.#byes.delete(session);
        this.bye(session, "end of stream");
        return undefined;
      },
    };
    this.#byes.set(session, task);
    const period = 1000 / session.stream.description.fps;
    this.#options.pacer.schedule(task, this.#options.clock.now() + period);
  }

  bye(session: ServerSession, reason: string): void {
    this.#cancel(this.#reports, session);
    this.#cancel(this.#byes, session);
    if (!this.#speaking.delete(session)) return;
    session.transport.sendRtcp(this.report(session, this.#options.clock.now(), reason));
  }

  /**
   * A compound RTCP packet: a sender report (NTP time `now` and the RTP time
   * of the same instant) and an SDES CNAME, plus BYE when `bye` is given.
   */
  report(session: ServerSession, now: number, bye?: string): Uint8Array {
    const clock = this.#options.clock;
    const ntp = toNtpTime((clock.timeOrigin ?? Date.now() - clock.now()) + now);
    const packets: RtcpPacket[] = [
      {
        type: "sr",
        ssrc: session.ssrc,
        ntpSeconds: ntp.seconds,
        ntpFraction: ntp.fraction,
        rtpTimestamp: session.player.rtpTimeAt(now),
        packetCount: session.packetsSent >>> 0,
        octetCount: session.octetsSent >>> 0,
        reports: [],
      },
      {
        type: "sdes",
        chunks: [{
          ssrc: session.ssrc,
          items: [{ type: 1, text: this.#options.cname ?? "rtsp-lab" }],
        }],
      },
    ];
    if (bye !== undefined) packets.push({ type: "bye", sources: [session.ssrc], reason: bye });
    return serializeRtcpCompound(packets);
  }

  /**
   * RTCP from a client: its receiver reports keep its session alive, are
   * kept by the session (for the status) and logged. Over UDP (`fromHost`
   * given) the report names the session by SSRC and counts only from the
   * session's own client; interleaved, the channel names the session (`via`).
   */
  onPacket(data: Uint8Array, fromHost: string | undefined, via?: ServerSession): void {
    this.counters.received++;
    let packets;
    try {
      packets = parseRtcpPackets(data);
    } catch {
      this.counters.malformed++;
      return;
    }
    for (const packet of packets) {
      if (packet.type !== "rr" && packet.type !== "sr") continue;
      for (const block of packet.reports) {
        const session = via ?? this.#options.sessionBySsrc(block.ssrc);
        if (!session || session.ssrc !== block.ssrc) continue;
        if (fromHost !== undefined && session.transport.host !== fromHost) continue;
        this.counters.receiverReports++;
        session.noteReceiverReport(block);
        this.#options.log(
          `session ${session.id}: receiver report: ${
            (100 * block.fractionLost / 256).toFixed(1)
          }% lost recently, ${block.cumulativeLost} in all, jitter ${
            (block.jitter * 1000 / 90000).toFixed(2)
          } ms`,
        );
      }
    }
  }

  #cancel(tasks: Map<ServerSession, PacedTask>, session: ServerSession): void {
    const task = tasks.get(session);
    if (!task) return;
    this.#options.pacer.cancel(task);
    tasks.delete(session);
  }
}
