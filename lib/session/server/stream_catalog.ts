/**
 * The streams a server offers, by name: today the files of its media
 * directory, each loaded once and wrapped once as a {@linkcode FileStream}
 * that all its sessions share. A live source would be looked up here first.
 *
 * @module
 */
import { MediaLibrary } from "../../media/media_library.ts";
import type { MjpegSource } from "../../media/mjpeg_source.ts";
import { FileStream, type FileStreamOptions } from "./file_stream.ts";
import type { ServedStream } from "./served_stream.ts";

/** Options for {@linkcode StreamCatalog}. */
export interface StreamCatalogOptions extends Omit<FileStreamOptions, "onConverted"> {
  /** Directory whose lab MJPEG files are served. */
  mediaDir: string;
  /** Where the catalog reports what it did (frames converted). */
  log(line: string): void;
}

/** Finds the stream a request names. */
export class StreamCatalog {
  readonly #library: MediaLibrary;
  readonly #options: StreamCatalogOptions;
  /** One FileStream per loaded file (a changed file is a new source, so a new stream). */
  readonly #files = new WeakMap<MjpegSource, FileStream>();

  constructor(options: StreamCatalogOptions) {
    this.#options = options;
    this.#library = new MediaLibrary(options.mediaDir);
  }

  /**
   * The stream called `name`.
   *
   * @throws {MediaError} 404 for no such stream, 415 for a file that is not lab MJPEG.
   */
  async open(name: string): Promise<ServedStream> {
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
