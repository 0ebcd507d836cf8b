/**
 * Regenerate the lab-format sample video (`video.mjpeg`): ffmpeg renders its
 * `testsrc2` pattern as numbered baseline JPEGs into a temporary directory,
 * each is checked, and they are written one after another, each preceded by
 * its length as five ASCII digits.
 *
 * ```sh
 * deno task video                       # video.mjpeg, 384x288, 20 fps, 10 s
 * deno task video --out /tmp/a.mjpeg --size 320x240 --pix-fmt yuvj422p
 * ```
 *
 * ffmpeg's mjpeg encoder has no option to set a restart interval. It writes
 * restart markers only when it encodes in slices (`-slices N`, N >= 2), and
 * then always with an interval of one row of MCUs; `--restart-rows` asks for that.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { parseJpegStructure, readJpegFrameInfo } from "../lib/wire/jpeg.ts";
import { LAB_MAX_FRAME, writeLabMjpeg } from "../lib/wire/lab_mjpeg.ts";
import { jpegToRtpFrame, UnsupportedJpegError } from "../lib/wire/rfc2435_packetizer.ts";
import { buildJpegHeader } from "../lib/wire/rfc2435_depacketizer.ts";

/**
 * Pixel formats the sample may use, with the luma-to-chroma sampling ratio
 * each gives. Only the ratio is checked: ffmpeg 5.1 writes yuvj420p as Y 2x2,
 * Cb/Cr 1x1, but yuvj422p as Y 2x2, Cb/Cr 1x2 and yuvj444p as 1x2 for all three
 * (not the Y 2x1 / 1x1 layouts RFC 2435 types 0 and 1 assume).
 */
const PIX_FMTS = {
  yuvj420p: { h: 2, v: 2 },
  yuvj422p: { h: 2, v: 1 },
  yuvj444p: { h: 1, v: 1 },
} as const;

/** A pixel format accepted by {@linkcode makeLabVideo}. */
export type LabPixFmt = keyof typeof PIX_FMTS;

/**
 * Largest frame the lab's original Python client can receive: it reads 20480
 * bytes per datagram, and 12 of those are the RTP header.
 */
export const LAB_CLIENT_MAX_FRAME = 20480 - 12;

/** Options for {@linkcode makeLabVideo}; every field has a default. */
export interface MakeLabVideoOptions {
  /** File to write (default `video.mjpeg`, relative to the cwd). */
  out?: string;
  /** Frame width in pixels (default 384). */
  width?: number;
  /** Frame height in pixels (default 288). */
  height?: number;
  /** Frames per second (default 20). */
  fps?: number;
  /** Length in seconds (default 10). */
  seconds?: number;
  /** JPEG chroma subsampling (default `yuvj420p`). */
  pixFmt?: LabPixFmt;
  /** ffmpeg `-q:v`, 1 (best) to 31 (smallest) (default 5). */
  quality?: number;
  /** Encode in slices so that every JPEG has a DRI marker and RST markers after each MCU row. */
  restartRows?: boolean;
  /** Fail when a frame is larger than this many bytes (default {@linkcode LAB_CLIENT_MAX_FRAME}). */
  maxFrame?: number;
  /** The ffmpeg executable (default `ffmpeg` on PATH). */
  ffmpeg?: string;
  /**
   * Store each frame that RFC 2435 can carry in the form an RTP/JPEG receiver
   * rebuilds (RFC 2435 Appendix B: SOI, DQT, [DRI], SOF0, DHT, SOS, scan,
   * EOI; no APP0 or comment), so a frame arrives byte-identical over the
   * lab's RTP and over RTP/JPEG alike. The pixels are unchanged (default true).
   */
  canonical?: boolean;
}

/** What {@linkcode makeLabVideo} wrote. */
export interface LabVideoStats {
  /** Number of frames. */
  frames: number;
  /** Size of the file in bytes, length headers included. */
  bytes: number;
  /** Size of the largest JPEG in bytes. */
  largest: number;
}

/**
 * The JPEG as an RFC 2435 receiver rebuilds it from the same scan data and
 * tables, or the JPEG itself when RFC 2435 cannot carry it (4:4:4, …).
 */
export function canonicalJpeg(jpeg: Uint8Array): Uint8Array {
  let frame;
  try {
    frame = jpegToRtpFrame(jpeg);
  } catch (error) {
    if (error instanceof UnsupportedJpegError) return jpeg;
    throw error;
  }
  const header = buildJpegHeader(
    frame.type,
    frame.width,
    frame.height,
    { precision: frame.quantPrecision, data: frame.quantTables },
    frame.restartInterval,
  );
  const out = new Uint8Array(header.length + frame.scan.length + 2);
  out.set(header);
  out.set(frame.scan, header.length);
  out.set([0xff, 0xd9], header.length + frame.scan.length);
  return out;
}

/**
 * Render a test pattern with ffmpeg and write it as a lab MJPEG file.
 *
 * @throws {Error} when ffmpeg is missing or fails, a frame is not the expected
 * baseline JPEG, or a frame is larger than `maxFrame`.
 */
export async function makeLabVideo(options: MakeLabVideoOptions = {}): Promise<LabVideoStats> {
  const {
    out = "video.mjpeg",
    width = 384,
    height = 288,
    fps = 20,
    seconds = 10,
    pixFmt = "yuvj420p",
    quality = 5,
    restartRows = false,
    maxFrame = LAB_CLIENT_MAX_FRAME,
    ffmpeg = "ffmpeg",
    canonical = true,
  } = options;
  const ratio = PIX_FMTS[pixFmt];
  if (!ratio) throw new Error(`Unsupported pixel format ${pixFmt}`);

  const dir = await Deno.makeTempDir({ prefix: "lab-video-" });
  try {
    const args = [
      ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
      ...["-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`],
      ...["-pix_fmt", pixFmt, "-huffman", "default", "-q:v", String(quality)],
      ...(restartRows ? ["-slices", "2"] : []),
      ...["-f", "image2", join(dir, "frame%06d.jpg")],
    ];
    let result: Deno.CommandOutput;
    try {
      result = await new Deno.Command(ffmpeg, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      })
        .output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(
          `Cannot make the video: ${ffmpeg} was not found; install ffmpeg (apt-get install ffmpeg)`,
        );
      }
      throw error;
    }
    if (!result.success) {
      const stderr = new TextDecoder().decode(result.stderr).trim();
      throw new Error(`Cannot make the video: ffmpeg exited with status ${result.code}: ${stderr}`);
    }

    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (/^frame\d+\.jpg$/.test(entry.name)) names.push(entry.name);
    }
    names.sort(); // zero-padded numbers sort in order
    if (names.length === 0) throw new Error("Cannot make the video: ffmpeg wrote no frames");

    const frames: Uint8Array[] = [];
    let largest = 0;
    for (const [index, name] of names.entries()) {
      let jpeg: Uint8Array = await Deno.readFile(join(dir, name));
      if (canonical) jpeg = canonicalJpeg(jpeg);
      const where = `frame ${index} (${name}, ${jpeg.length} bytes)`;
      let structure, info;
      try {
        structure = parseJpegStructure(jpeg);
        info = readJpegFrameInfo(structure);
      } catch (error) {
        throw new Error(`Cannot make the video: ${where}: ${(error as Error).message}`);
      }
      const [y, cb, cr] = info.components;
      const problems = [
        info.sofMarker !== 0xc0 && `SOF marker 0x${info.sofMarker.toString(16)} is not 0xC0`,
        info.precision !== 8 && `precision ${info.precision} is not 8`,
        (info.width !== width || info.height !== height) &&
        `size ${info.width}x${info.height} is not ${width}x${height}`,
        info.components.length !== 3 && `${info.components.length} components, not 3`,
        y && cb && cr &&
        (cb.h !== cr.h || cb.v !== cr.v || y.h !== cb.h * ratio.h || y.v !== cb.v * ratio.v) &&
        `sampling Y ${y.h}x${y.v}, Cb ${cb.h}x${cb.v}, Cr ${cr.h}x${cr.v} is not ${pixFmt}`,
        restartRows && !structure.segments.some((s) => s.marker === 0xdd) && "no DRI marker",
        jpeg.length > maxFrame && `larger than ${maxFrame} bytes (try a higher --quality number)`,
      ].filter(Boolean);
      if (problems.length > 0) {
        throw new Error(`Cannot make the video: ${where}: ${problems.join("; ")}`);
      }
      frames.push(jpeg);
      largest = Math.max(largest, jpeg.length);
    }

    const file = writeLabMjpeg(frames);
    await Deno.writeFile(out, file);
    return { frames: frames.length, bytes: file.length, largest };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HELP = `Usage: deno task video [options]

Regenerate the lab-format MJPEG sample (each JPEG preceded by its length as
five ASCII digits) from ffmpeg's testsrc2 pattern.

Options:
  --out FILE         file to write (default video.mjpeg)
  --size WxH         frame size (default 384x288)
  --fps N            frames per second (default 20)
  --seconds N        length in seconds (default 10)
  --pix-fmt FMT      yuvj420p (default), yuvj422p or yuvj444p
  --quality Q        ffmpeg -q:v, 1 (best) to 31 (smallest) (default 5)
  --keep-headers     keep ffmpeg's JPEG headers (APP0, comment, one DQT) instead
                     of the RFC 2435 receiver's form (see canonicalJpeg)
  --restart-rows     restart markers after every MCU row (ffmpeg's mjpeg encoder
                     has no restart-interval option; this encodes in slices)
  --max-frame N      fail if a JPEG is larger than N bytes (default ${LAB_CLIENT_MAX_FRAME},
                     what the lab's Python client can receive; max ${LAB_MAX_FRAME})
  --help             show this help
`;

function positive(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new Error(
      `--${name} must be a positive ${integer ? "integer" : "number"}, not "${text}"`,
    );
  }
  return value;
}

function parseOptions(argv: string[]): MakeLabVideoOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      size: { type: "string" },
      fps: { type: "string" },
      seconds: { type: "string" },
      "pix-fmt": { type: "string" },
      quality: { type: "string" },
      "restart-rows": { type: "boolean" },
      "keep-headers": { type: "boolean" },
      "max-frame": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  const options: MakeLabVideoOptions = {
    out: values.out,
    fps: positive("fps", values.fps, false),
    seconds: positive("seconds", values.seconds, false),
    quality: positive("quality", values.quality, true),
    maxFrame: positive("max-frame", values["max-frame"], true),
    restartRows: values["restart-rows"],
    canonical: !values["keep-headers"],
  };
  if (values.size !== undefined) {
    const match = /^(\d+)x(\d+)$/.exec(values.size);
    if (!match || +match[1] < 1 || +match[2] < 1 || +match[1] > 65535 || +match[2] > 65535) {
      throw new Error(`--size must look like 384x288, not "${values.size}"`);
    }
    options.width = +match[1];
    options.height = +match[2];
  }
  const pixFmt = values["pix-fmt"];
  if (pixFmt !== undefined) {
    if (!Object.hasOwn(PIX_FMTS, pixFmt)) {
      throw new Error(`--pix-fmt must be one of ${Object.keys(PIX_FMTS).join(", ")}`);
    }
    options.pixFmt = pixFmt as LabPixFmt;
  }
  if (options.quality !== undefined && options.quality > 31) {
    throw new Error(`--quality must be 1-31, not ${options.quality}`);
  }
  if (options.maxFrame !== undefined && options.maxFrame > LAB_MAX_FRAME) {
    throw new Error(`--max-frame must be at most ${LAB_MAX_FRAME}`);
  }
  return options;
}

if (import.meta.main) {
  let options: MakeLabVideoOptions | undefined;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`make_video: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (!options) {
    console.log(HELP);
    Deno.exit(0);
  }
  try {
    const out = options.out ?? "video.mjpeg";
    const { frames, bytes, largest } = await makeLabVideo(options);
    console.log(`${out}: ${frames} frames, ${bytes} bytes, largest frame ${largest} bytes`);
  } catch (error) {
    console.error(`make_video: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
