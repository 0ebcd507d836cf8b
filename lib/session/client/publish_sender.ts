/**
 * The sending half of a publisher: a file's RTP/JPEG payloads (RFC 2435,
 * cut beforehand) sent as RTP at a fixed frame rate on an absolute schedule
 * (frame k at start + k/fps, so the rate does not drift), with RTCP sender
 * reports every few seconds and a BYE at the end (RFC 3550 §6.4.1, §6.6).
 *
 * RTP: payload type 26, a random SSRC, sequence numbers from a random
 * start, timestamps from a random base plus 90000·k/fps (on across passes of
 * a looping file), the marker bit on each frame's last packet. Where the
 * packets go (UDP, or interleaved on the RTSP connection) is the
 * {@linkcode PublishOutput}'s business.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../../net/clock.ts";
import {
  PAYLOAD_TYPE_JPEG,
  RTP_HEADER_SIZE,
  VIDEO_CLOCK_RATE,
  writeRtpHeader,
} from "../../wire/rtp_packet.ts";
import { type RtcpPacket, serializeRtcpCompound, toNtpTime } from "../../wire/rtcp_packet.ts";

/** Why publishing stopped. */
export type PublishEnd =
  /** The last frame of the file was sent (without `loop`). */
  | "end"
  /** The `frames` limit was reached. */
  | "frames"
  /** The `durationSec` limit was reached. */
  | "duration"
  /** The signal was aborted, or the publisher stopped. */
  | "aborted"
  /** The server closed the connection, or packets could not be sent. */
  | "closed";

/** Where a sender's packets go. */
export interface PublishOutput {
  /**
   * Send one frame's packets: packet i is the 12-byte RTP header at
   * `headers[12·i]` and `payloads[i]`. A promise holds the next frame back
   * until the transport took this one (TCP flow control); a rejection ends
   * publishing (`closed`).
   */
  sendFrame(headers: Uint8Array, payloads: readonly Uint8Array[]): void | Promise<void>;
  /** Send a compound RTCP packet. */
  sendRtcp(data: Uint8Array): void;
  /** Whether packets can no longer go anywhere (the RTSP connection ended). */
  closed(): boolean;
}

/** Options for {@linkcode PublishSender}. */
export interface PublishSenderOptions {
  /** Each frame's RFC 2435 payloads, in order. */
  frames: readonly (readonly Uint8Array[])[];
  /** Frames per second. */
  fps: number;
  /** Start again after the last frame. */
  loop: boolean;
  /** Where packets go. */
  output: PublishOutput;
  /** The clock of the schedule. */
  clock: Clock;
  /** Time between sender reports, in ms. */
  rtcpIntervalMs: number;
  /** SDES CNAME. @default {"rtsp-client"} */
  cname?: string;
  /** SSRC. @default {random} */
  ssrc?: number;
  /** First sequence number. @default {random} */
  initialSequence?: number;
  /** RTP time of the first frame. @default {random} */
  timestampBase?: number;
}

/** What was sent. */
export interface PublishSummary {
  /** Frames sent. */
  framesSent: number;
  /** RTP packets sent. */
  packetsSent: number;
  /** RTP payload bytes sent (the octet count of the sender reports). */
  payloadBytes: number;
  /** Seconds from the first frame to the last. */
  durationSec: number;
  /** Frames per second over that time (0 with fewer than 2 frames). */
  framesPerSec: number;
  /** Payload bit rate over that time, kbit/s. */
  kbitPerSec: number;
  /** Whole passes through the file. */
  passes: number;
  /** Latest a frame left after its time on the schedule, in ms. */
  maxLateMs: number;
  /** RTCP sender reports sent. */
  senderReports: number;
}

function random32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Paces a file's frames out as RTP, with RTCP sender reports. */
export class PublishSender {
  readonly #options: PublishSenderOptions;
  readonly #clock: Clock;
  /** The SSRC of the stream. */
  readonly ssrc: number;
  readonly #initialSequence: number;
  readonly #timestampBase: number;
  readonly #stop = new AbortController();
  /** Frame 0's time on the schedule (moved on when the sender fell behind). */
  #start = 0;
  #firstSentAt: number | undefined;
  #lastSentAt: number | undefined;
  #lastReportAt: number | undefined;
  #framesSent = 0;
  #packetsSent = 0;
  #payloadBytes = 0;
  #maxLateMs = 0;
  #senderReports = 0;
  #byeSent = false;
  /** Why sending failed, when it did. */
  failure: string | undefined;

  /** A sender for `options.frames`; nothing is sent before {@linkcode PublishSender.run}. */
  constructor(options: PublishSenderOptions) {
    this.#options = options;
    this.#clock = options.clock;
    this.ssrc = (options.ssrc ?? random32()) >>> 0;
    this.#initialSequence = (options.initialSequence ?? random32()) & 0xffff;
    this.#timestampBase = (options.timestampBase ?? random32()) >>> 0;
  }

  /** The sequence number of the first packet. */
  get initialSequence(): number {
    return this.#initialSequence;
  }

  /** The RTP time of the first frame. */
  get timestampBase(): number {
    return this.#timestampBase;
  }

  /** RTP time of frame `k` (counted over passes): base + 90000·k/fps, modulo 2^32. */
  rtpTimeOfFrame(k: number): number {
    return (this.#timestampBase + Math.round(k * VIDEO_CLOCK_RATE / this.#options.fps)) >>> 0;
  }

  /**
   * Send frames on the schedule until the file ends (without `loop`), a
   * limit is reached, `signal` aborts, {@linkcode PublishSender.stop} is
   * called, or the output closes. A sender that falls more than a frame
   * period behind (a stalled process, a slow TCP peer) sends the late frame
   * at once and starts its schedule again from it, rather than send the
   * backlog in a burst; no frame is skipped, and RTP time stays 90000/fps per
   * frame.
   */
  async run(limits: { frames?: number; durationSec?: number; signal?: AbortSignal } = {}): Promise<
    PublishEnd
  > {
    const { frames, fps, loop, output } = this.#options;
    const period = 1000 / fps;
    const signal = limits.signal;
    const onAbort = () => this.#stop.abort();
    signal?.addEventListener("abort", onAbort);
    if (signal?.aborted) this.#stop.abort();
    const durationMs = limits.durationSec === undefined ? Infinity : limits.durationSec * 1000;
    this.#start = this.#clock.now();
    let shifted = 0;
    try {
      for (let k = 0;; k++) {
        if (limits.frames !== undefined && k >= limits.frames) return "frames";
        if (!loop && k >= frames.length) return "end";
        const due = this.#start + k * period;
        if (k * period + shifted >= durationMs) return "duration";
        let now = this.#clock.now();
        if (due > now) {
          await this.#sleep(due - now);
          now = this.#clock.now();
        }
        if (now - due > period) {
          // More than a period late: this frame goes now and the schedule starts again from
          // it, so the frames behind it are not sent in a burst.
          this.#start += now - due;
          shifted += now - due;
        }
        if (this.#stop.signal.aborted) return "aborted";
        if (output.closed()) return "closed";
        const sentAt = this.#clock.now();
        this.#maxLateMs = Math.max(this.#maxLateMs, sentAt - due);
        try {
          await this.#sendFrame(k, frames[k % frames.length]);
        } catch (error) {
          this.failure = error instanceof Error ? error.message : String(error);
          return "closed";
        }
        this.#firstSentAt ??= sentAt;
        this.#lastSentAt = sentAt;
        this.#reportIfDue(this.#clock.now());
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Stop a running {@linkcode PublishSender.run} (it returns `aborted`). */
  stop(): void {
    this.#stop.abort();
  }

  /** Wait `ms`, or less when stopped. */
  #sleep(ms: number): Promise<void> {
    const stop = this.#stop.signal;
    if (stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined = undefined;
      const done = () => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        stop.removeEventListener("abort", done);
        resolve();
      };
      timer = this.#clock.setTimeout(done, ms);
      stop.addEventListener("abort", done);
    });
  }

  #sendFrame(k: number, payloads: readonly Uint8Array[]): void | Promise<void> {
    const timestamp = this.rtpTimeOfFrame(k);
    const headers = new Uint8Array(RTP_HEADER_SIZE * payloads.length);
    let bytes = 0;
    for (let i = 0; i < payloads.length; i++) {
      const sequence = (this.#initialSequence + this.#packetsSent + i) & 0xffff;
      const last = i === payloads.length - 1;
      writeRtpHeader(
        headers,
        i * RTP_HEADER_SIZE,
        PAYLOAD_TYPE_JPEG,
        last,
        sequence,
        timestamp,
        this.ssrc,
      );
      bytes += payloads[i].length;
    }
    this.#framesSent++;
    this.#packetsSent += payloads.length;
    this.#payloadBytes += bytes;
    return this.#options.output.sendFrame(headers, payloads);
  }

  /** A sender report after the first frame, then every `rtcpIntervalMs`. */
  #reportIfDue(now: number): void {
    if (
      this.#lastReportAt !== undefined && now - this.#lastReportAt < this.#options.rtcpIntervalMs
    ) return;
    this.#lastReportAt = now;
    this.#options.output.sendRtcp(this.report(now));
  }

  /**
   * A compound RTCP packet: a sender report (the NTP and RTP times of the
   * instant `now`, packets and octets so far) and an SDES CNAME, then a BYE
   * when `bye` (its reason) is given.
   */
  report(now: number, bye?: string): Uint8Array {
    const clock = this.#clock;
    const ntp = toNtpTime((clock.timeOrigin ?? Date.now() - clock.now()) + now);
    const rtpNow = (this.#timestampBase +
      Math.round((now - this.#start) * VIDEO_CLOCK_RATE / 1000)) >>> 0;
    const packets: RtcpPacket[] = [
      {
        type: "sr",
        ssrc: this.ssrc,
        ntpSeconds: ntp.seconds,
        ntpFraction: ntp.fraction,
        rtpTimestamp: rtpNow,
        packetCount: this.#packetsSent >>> 0,
        octetCount: this.#payloadBytes >>> 0,
        reports: [],
      },
      {
        type: "sdes",
        chunks: [{
          ssrc: this.ssrc,
          items: [{ type: 1, text: this.#options.cname ?? "rtsp-client" }],
        }],
      },
    ];
    if (bye !== undefined) packets.push({ type: "bye", sources: [this.ssrc], reason: bye });
    this.#senderReports++;
    return serializeRtcpCompound(packets);
  }

  /** Send a sender report and a BYE, once, if anything was sent. */
  bye(reason: string): void {
    if (this.#byeSent || this.#framesSent === 0 || this.#options.output.closed()) return;
    this.#byeSent = true;
    this.#options.output.sendRtcp(this.report(this.#clock.now(), reason));
  }

  /** What was sent so far. */
  summary(): PublishSummary {
    const first = this.#firstSentAt, last = this.#lastSentAt;
    const durationMs = first !== undefined && last !== undefined ? last - first : 0;
    const sec = durationMs / 1000;
    const round = (n: number, digits: number) => Number(n.toFixed(digits));
    return {
      framesSent: this.#framesSent,
      packetsSent: this.#packetsSent,
      payloadBytes: this.#payloadBytes,
      durationSec: round(sec, 3),
      framesPerSec: sec > 0 ? round((this.#framesSent - 1) / sec, 3) : 0,
      kbitPerSec: sec > 0 ? round(this.#payloadBytes * 8 / sec / 1000, 1) : 0,
      passes: Math.floor(this.#framesSent / this.#options.frames.length),
      maxLateMs: round(this.#maxLateMs, 1),
      senderReports: this.#senderReports,
    };
  }
}

/** One line about what was published, e.g. for `rtsp-client --publish`. */
export function formatPublishSummary(summary: PublishSummary): string {
  return `published ${summary.framesSent} frames in ${summary.packetsSent} RTP packets ` +
    `(${summary.payloadBytes} payload bytes) over ${summary.durationSec.toFixed(3)} s: ` +
    `${summary.framesPerSec} frames/s, ${summary.kbitPerSec} kbit/s`;
}
