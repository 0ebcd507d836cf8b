/**
 * The client's receive loop: waits for datagrams (with the lab's 0.5 s per
 * wait), hands RTP to the {@linkcode FrameAssembler} and RTCP to
 * {@linkcode ClientRtcp}, and stops at a limit, at the server's BYE, after
 * silence, or when aborted. While a PLAY awaits its reply the RTP that
 * arrives is held: which PLAY a packet belongs to, and so its segment and
 * frame number, is known only from that reply.
 *
 * @module
 */
import type { Clock } from "../../net/clock.ts";
import type { ReceiveLimits } from "./client_options.ts";
import type { ClientRtcp } from "./client_rtcp.ts";
import type { FrameAssembler } from "./frame_assembler.ts";
import type { ReceptionStats, ReceptionSummary } from "./reception_stats.ts";
import type { Datagram, RtpReceiver } from "./rtp_receiver.ts";
import { RtspClientError } from "./rtsp_client.ts";

/** Why {@linkcode ReceiveLoop.run} returned. */
export type ReceiveEnd = "frames" | "duration" | "end-of-stream" | "bye" | "aborted";

/** What the loop works with. */
export interface ReceiveLoopParts {
  clock: Clock;
  receiver: RtpReceiver;
  stats: ReceptionStats;
  frames: FrameAssembler;
  rtcp: ClientRtcp;
  /** Wait for each datagram this long, in ms. */
  receiveTimeoutMs: number;
  /** Called with the statistics so far, at most every 100 ms. */
  onProgress?(summary: ReceptionSummary): void;
  /** Called before each wait: receiver reports and keep-alives. */
  housekeeping(now: number): void;
}

/**
 * Most RTP datagrams held while a PLAY awaits its reply (as many as the
 * receive queue takes); beyond it they are accounted as they come.
 */
const MAX_HELD = 65_536;
/** How long to keep reading after an RTCP BYE, for packets that were overtaken. */
const BYE_GRACE_MS = 200;
/** Datagrams handled in a row before the loop checks its limits again. */
const DRAIN_BATCH = 256;
/** Least time between two onProgress calls, in ms. */
const PROGRESS_INTERVAL_MS = 100;
/** Frame writes queued before the loop waits for the disk. */
const MAX_PENDING_WRITES = 64;

/** Receives one session's datagrams. */
export class ReceiveLoop {
  readonly #parts: ReceiveLoopParts;
  /** PLAYs awaiting their reply; while there are any, RTP is held. */
  #playsInFlight = 0;
  readonly #held: Datagram[] = [];
  /** When the last RTP datagram arrived (clock ms). */
  #lastRtpAt = -Infinity;
  #progressAt = -Infinity;

  constructor(parts: ReceiveLoopParts) {
    this.#parts = parts;
  }

  /**
   * A PLAY is on its way: hold RTP until its reply has been read. Returns
   * the function to call then (whatever the reply).
   */
  holdForPlay(): () => void {
    this.#playsInFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#playsInFlight > 0) return;
      const { frames } = this.#parts;
      for (const datagram of this.#held.splice(0)) frames.onRtp(datagram.data, datagram.at);
    };
  }

  /**
   * Receive until a limit is reached, the stream ends (silence, or an RTCP
   * BYE), or the signal aborts; then reassemble what is left.
   *
   * @throws {RtspClientError} when no packet arrives within `firstPacketTimeoutSec`.
   */
  async run(limits: ReceiveLimits): Promise<ReceiveEnd> {
    let end: ReceiveEnd | undefined;
    try {
      end = await this.#run(limits);
      return end;
    } finally {
      // After a BYE or silence nothing more will come: a frame still open is incomplete.
      await this.#parts.frames.finish(end === "bye" || end === "end-of-stream");
    }
  }

  async #run(limits: ReceiveLimits): Promise<ReceiveEnd> {
    const { clock, receiver, stats, frames, rtcp } = this.#parts;
    const start = clock.now();
    for (;;) {
      const now = clock.now();
      const end = this.#ended(limits, start, now);
      if (end) return end;
      this.#parts.housekeeping(now);
      let wait = this.#parts.receiveTimeoutMs;
      if (limits.durationSec !== undefined) {
        wait = Math.max(1, Math.min(wait, start + limits.durationSec * 1000 - now));
      }
      const byeAt = rtcp.byeAt;
      if (byeAt !== undefined) wait = Math.max(1, Math.min(wait, byeAt + BYE_GRACE_MS - now));
      let datagram = await receiver.receive(wait);
      // Then everything already queued, before the checks above run again.
      for (let n = 0; datagram && n < DRAIN_BATCH; n++) {
        if (datagram.rtcp) rtcp.onPacket(datagram.data, datagram.at, frames.ssrc);
        else if (this.#playsInFlight > 0 && this.#held.length < MAX_HELD) {
          this.#held.push(datagram);
          this.#lastRtpAt = datagram.at;
        } else if (frames.onRtp(datagram.data, datagram.at)) this.#lastRtpAt = datagram.at;
        if (frames.pendingWrites > MAX_PENDING_WRITES) await frames.written(); // a slow disk
        if (limits.frames !== undefined && stats.framesReceived >= limits.frames) break;
        datagram = n + 1 < DRAIN_BATCH ? receiver.take() : undefined;
      }
      if (this.#parts.onProgress && now - this.#progressAt >= PROGRESS_INTERVAL_MS) {
        this.#progressAt = now;
        this.#parts.onProgress(stats.summary());
      }
    }
  }

  /** Why the loop ends now, if it does. */
  #ended(limits: ReceiveLimits, start: number, now: number): ReceiveEnd | undefined {
    const { receiver, stats, rtcp } = this.#parts;
    // Closed (close() while receiving): a wait would return at once, forever.
    if (limits.signal?.aborted || receiver.closed) return "aborted";
    if (limits.frames !== undefined && stats.framesReceived >= limits.frames) return "frames";
    if (limits.durationSec !== undefined && now - start >= limits.durationSec * 1000) {
      return "duration";
    }
    if (rtcp.byeAt !== undefined && now - rtcp.byeAt >= BYE_GRACE_MS) return "bye";
    if (stats.started && limits.endAfterSec !== undefined) {
      const lastPacketAt = Math.max(start, this.#lastRtpAt);
      if (now - lastPacketAt >= limits.endAfterSec * 1000) return "end-of-stream";
    } else if (!stats.started && limits.firstPacketTimeoutSec !== undefined) {
      if (now - start >= limits.firstPacketTimeoutSec * 1000) {
        throw new RtspClientError(
          `No RTP arrived ${
            receiver.port ? `on UDP port ${receiver.port}` : "on the RTSP connection"
          } within ${limits.firstPacketTimeoutSec} s`,
        );
      }
    }
    return undefined;
  }
}
