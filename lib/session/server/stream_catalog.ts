/**
 * The streams a server offers, by name: the live paths publishers are
 * sending (`live_paths.ts`), looked up first, and the files of its media
 * directory, each loaded once and wrapped once as a {@linkcode FileStream}
 * that all its sessions share.
 *
 * @module
 */
import { MediaLibrary } from "../../media/media_library.ts";
import type { MjpegSource } from "../../media/mjpeg_source.ts";
import { FileStream, type FileStreamOptions } from "./file_stream.ts";
import { LivePaths } from "./live_paths.ts";
import type { ServedStream } from "./served_stream.ts";

/** Options for {@linkcode StreamCatalog}. */
export interface StreamCatalogOptions extends Omit<FileStreamOptions, "onConverted"> {
  /** Directory whose lab MJPEG files are served. */
  mediaDir: string;
  /** Where the catalog reports what it did (frames converted). */
  log(line: string): void;
}

/** A file the catalog offers, as the status lists it. */
export interface CatalogFile {
  /** Its name in the media directory. */
  name: string;
  /** Its size in bytes. */
  bytes: number;
  /** Its stream, once a client has asked for the file (then it is loaded and described). */
  stream?: ServedStream;
}

/** What the catalog lists: files whose names end in `.mjpeg` or `.mjpg`. */
const LISTED = /\.mjpe?g$/i;

/** Finds the stream a request names. */
export class StreamCatalog {
  readonly #library: MediaLibrary;
  readonly #options: StreamCatalogOptions;
  /** One FileStream per loaded file (a changed file is a new source, so a new stream). */
  readonly #files = new WeakMap<MjpegSource, FileStream>();
  /** The paths publishers hold. */
  readonly live: LivePaths = new LivePaths();

  constructor(options: StreamCatalogOptions) {
    this.#options = options;
    this.#library = new MediaLibrary(options.mediaDir);
  }

  /**
   * The lab MJPEG files at the top of the media directory (named `*.mjpeg`
   * or `*.mjpg`), at most `max`, each with its stream when it is loaded;
   * listing loads nothing.
   */
  async files(max: number): Promise<{ files: CatalogFile[]; truncated: boolean }> {
    const { files, truncated } = await this.#library.list((name) => LISTED.test(name), max);
    return {
      files: files.map(({ name, bytes, source }) => {
        const stream = source && this.#files.get(source);
        return stream ? { name, bytes, stream } : { name, bytes };
      }),
      truncated,
    };
  }

  /** Whether `name` is a file of the media directory (which no one may publish over). */
  isFile(name: string): Promise<boolean> {
    return this.#library.exists(name);
  }

  /**
   * The stream called `name`: a live path on the air, or a file.
   *
   * @throws {MediaError} 404 for no such stream, 415 for a file that is not lab MJPEG.
   */
  async open(name: string): Promise<ServedStream> {
    const live = this.live.onAir(name);
    if (live) return live;
    const source = await this.#library.open(name);
    let stream = this.#files.get(source);
    if (!stream) {
      stream = new FileStream(name, source, {
        ...this.#options,
        onConverted: (payloads) =>
          this.#options.log(
            `${source.path}: converted ${payloads.converted} of ${source.frames.length} frames to baseline 4:2:0 for RTP/JPEG (${payloads.conversionReason})`,
          ),
      });
      this.#files.set(source, stream);
    }
    return stream;
  }
}
