/**
 * The receiving half of a client session: RTP datagrams in, verified JPEG
 * frames out. Lab RTP carries a whole JPEG per packet; RTP/JPEG (RFC 2435)
 * goes through a small reorder window and the depacketizer. Each frame gets
 * its number in the file (`frame_numberer.ts`), is checked to be a complete
 * JPEG, counted, and written (off the receive path) to the frame sinks.
 *
 * @module
 */
import { ParseError } from "../../wire/errors.ts";
import { jpegProblem } from "../../wire/jpeg.ts";
import {
  type DepacketizeEvent,
  Rfc2435Depacketizer,
  type Rfc2435DepacketizerOptions,
} from "../../wire/rfc2435_depacketizer.ts";
import { parseRtpPacket, PAYLOAD_TYPE_JPEG, type RtpPacket } from "../../wire/rtp_packet.ts";
import { FrameLog } from "./frame_log.ts";
import { FrameNumberer } from "./frame_numberer.ts";
import { FrameSink, MjpegRecorder } from "./frame_sink.ts";
import type { ReceptionStats } from "./reception_stats.ts";
import { ReorderBuffer } from "./reorder_buffer.ts";

/** Options for {@linkcode FrameAssembler}. */
export interface FrameAssemblerOptions {
  /** Where packets and frames are counted. */
  stats: ReceptionStats;
  /** Directory for `frame_NNNNNN.jpg` files. */
  outDir?: string;
  /** A lab MJPEG file to record the frames into. */
  mjpegFile?: string;
  /** Most thumbnails the {@linkcode FrameAssembler.log} keeps. @default {0} */
  thumbnails?: number;
}

/** Most refused frames whose reasons are kept for the report. */
const MAX_DAMAGED = 20;

/** Turns one session's RTP into counted, verified, written frames. */
export class FrameAssembler {
  /** Frames refused and why (the first few), for reporting. */
  readonly damaged: string[] = [];
  /** Packets from SSRCs other than the session's. */
  foreignPackets = 0;
  /** Number of the first and of the last complete frame received, when one was. */
  firstFrameNumber: number | undefined;
  lastFrameNumber: number | undefined;
  /** How frames are numbered; PLAY replies add their mappings to it. */
  numberer: FrameNumberer = new FrameNumberer(undefined);
  /** Thumbnails, and the frames missing, incomplete or damaged, for a report. */
  readonly log: FrameLog;
  readonly #stats: ReceptionStats;
  readonly #sink: FrameSink | undefined;
  readonly #recorder: MjpegRecorder | undefined;
  readonly #reorder = new ReorderBuffer<{ extended: number; packet: RtpPacket }>();
  #depacketizer: Rfc2435Depacketizer | undefined;
  #ssrc: number | undefined;
  #writes: Promise<void> = Promise.resolve();
  #pendingWrites = 0;

  constructor(options: FrameAssemblerOptions) {
    this.#stats = options.stats;
    this.log = new FrameLog({ thumbnails: options.thumbnails ?? 0 });
    this.#sink = options.outDir !== undefined ? new FrameSink(options.outDir) : undefined;
    this.#recorder = options.mjpegFile !== undefined
      ? new MjpegRecorder(options.mjpegFile)
      : undefined;
  }

  /** The session's SSRC: that of the first RTP/JPEG packet received. */
  get ssrc(): number | undefined {
    return this.#ssrc;
  }

  /** Frame writes queued and not yet done. */
  get pendingWrites(): number {
    return this.#pendingWrites;
  }

  /**
   * From now on expect RTP/JPEG (RFC 2435) at `fps` frames per second (the
   * SDP said so); until then packets are lab RTP, a whole JPEG each.
   */
  expectRtpJpeg(fps: number | undefined, options: Rfc2435DepacketizerOptions = {}): void {
    this.numberer = new FrameNumberer(fps);
    this.#depacketizer = new Rfc2435Depacketizer(options);
  }

  /** Account for one RTP datagram; returns whether it was this session's RTP. */
  onRtp(data: Uint8Array, at: number): boolean {
    let packet;
    try {
      packet = parseRtpPacket(data);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      this.#stats.malformed++;
      return false;
    }
    if (packet.payloadType !== PAYLOAD_TYPE_JPEG) {
      this.#stats.malformed++;
      return false;
    }
    this.#ssrc ??= packet.ssrc;
    if (packet.ssrc !== this.#ssrc) {
      this.foreignPackets++;
      return false;
    }
    const { extended, duplicate } = this.#stats.onPacket(
      packet.sequenceNumber,
      packet.timestamp,
      at,
      packet.payload.length,
    );
    if (duplicate) return true;
    // Without RTP-Info, frames are numbered from the first packet's time, even if that frame is lost.
    this.numberer.firstTimestamp ??= packet.timestamp;
    if (!this.#depacketizer) {
      // Lab RTP: one whole JPEG per packet, sequence number = frame number.
      this.#deliver(extended, packet.payload);
      return true;
    }
    for (const held of this.#reorder.push(extended, { extended, packet })) {
      this.#reassemble(held.extended, held.packet);
    }
    return true;
  }

  /**
   * Reassemble what the reorder window still holds; when the stream has
   * ended, a frame still open has lost its last fragment and is counted so.
   * Resolves once every frame is written.
   */
  async finish(ended: boolean): Promise<void> {
    for (const held of this.#reorder.flush()) this.#reassemble(held.extended, held.packet);
    if (ended) this.#account(this.#depacketizer?.end() ?? []);
    await this.#writes;
  }

  /** Resolves once every frame queued so far is written. */
  written(): Promise<void> {
    return this.#writes;
  }

  /** Finish the writes and close the MJPEG recording. */
  async close(): Promise<void> {
    await this.#writes.catch(() => {});
    await this.#recorder?.close();
  }

  /** Feed one in-order RTP/JPEG packet to the depacketizer. */
  #reassemble(extended: number, packet: RtpPacket): void {
    const events = this.#depacketizer!.push({
      sequence: extended,
      timestamp: packet.timestamp,
      marker: packet.marker,
      payload: packet.payload,
    });
    this.#account(events, extended);
  }

  /**
   * Deliver reassembled frames; count the ones that could not be completed.
   *
   * @param sequence Extended sequence number of the packet that completed them.
   */
  #account(events: DepacketizeEvent[], sequence = Infinity): void {
    for (const event of events) {
      if (event.kind === "frame") {
        this.#deliver(this.numberer.frameNumber(sequence, event.timestamp), event.jpeg);
      } else {
        this.#stats.countFrame("incomplete");
        // Numbered only by time: where frames are counted, a lost one has no number.
        this.log.onIncomplete(
          this.numberer.byTime ? this.numberer.frameNumber(sequence, event.timestamp) : undefined,
        );
        this.#note(`frame at RTP time ${event.timestamp}: ${event.reason}`);
      }
    }
  }

  /** Count a frame, and write it when it is a complete JPEG (off the receive path). */
  #deliver(frameNumber: number, jpeg: Uint8Array): void {
    const problem = jpegProblem(jpeg);
    if (problem) {
      this.#stats.countFrame("damaged");
      this.log.onDamaged(frameNumber);
      this.#note(`frame ${frameNumber}: ${problem}`);
      return;
    }
    this.#stats.countFrame("received");
    this.log.onComplete(frameNumber, jpeg);
    this.firstFrameNumber ??= frameNumber;
    this.lastFrameNumber = frameNumber;
    const sink = this.#sink;
    const recorder = this.#recorder;
    if (!sink && !recorder) return;
    this.#pendingWrites++;
    this.#writes = this.#writes.then(async () => {
      await sink?.write(frameNumber, jpeg);
      await recorder?.write(jpeg);
    }).finally(() => this.#pendingWrites--);
  }

  #note(line: string): void {
    if (this.damaged.length < MAX_DAMAGED) this.damaged.push(line);
  }
}
