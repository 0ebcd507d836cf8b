/**
 * The media directory a server serves: maps request names to files inside it
 * (never outside) and keeps each loaded file in memory, shared by all sessions.
 *
 * @module
 */
import { loadMjpegSource, type MjpegSource } from "./mjpeg_source.ts";

/** Why a name could not be served. */
export class MediaError extends Error {
  /** The RTSP status to answer with: 404 not found, 415 not a lab MJPEG file. */
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = "MediaError";
    this.status = status;
  }
}

/** A file at the top of the media directory, as {@linkcode MediaLibrary.list} finds it. */
export interface MediaFile {
  /** Its name in the directory (the name to request it by). */
  name: string;
  /** Its size in bytes. */
  bytes: number;
  /** The file as loaded, when it has been (and has not changed since). */
  source?: MjpegSource;
}

/** Serves lab MJPEG files from one directory. */
export class MediaLibrary {
  readonly #root: string;
  #rootReal: string | undefined;
  readonly #cache = new Map<string, Promise<MjpegSource>>();

  /** @param root The directory whose files are served. */
  constructor(root: string) {
    this.#root = root;
  }

  /**
   * The validated file for a stream name such as `video.mjpeg` or `dir/clip.mjpeg`.
   *
   * A file is read once and shared; it is read again when its size or
   * modification time changes.
   *
   * @throws {MediaError} 404 for names outside the directory or absent files,
   * 415 for files that are not valid lab MJPEG.
   */
  async open(name: string): Promise<MjpegSource> {
    const path = await this.#resolve(name);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      throw new MediaError(`Cannot open "${name}": no such file in the media directory`, 404);
    }
    if (!info.isFile) throw new MediaError(`Cannot open "${name}": not a file`, 404);
    const cached = this.#cache.get(path);
    if (cached) {
      const source = await cached.catch(() => undefined);
      if (source && source.size === info.size && source.mtime === (info.mtime?.getTime() ?? 0)) {
        return source;
      }
    }
    const loading = loadMjpegSource(path);
    this.#cache.set(path, loading);
    try {
      return await loading;
    } catch (error) {
      this.#cache.delete(path);
      if (error instanceof Deno.errors.NotFound) {
        throw new MediaError(`Cannot open "${name}": no such file`, 404);
      }
      throw new MediaError(error instanceof Error ? error.message : String(error), 415);
    }
  }

  /** Whether `name` is a file (or anything) in the directory; loads nothing. */
  async exists(name: string): Promise<boolean> {
    try {
      await this.#resolve(name);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The regular files at the top of the directory whose names `accept`
   * takes (not its subdirectories, nor symbolic links, which may lead
   * outside): the first `max` the directory yields, sorted by name, each
   * with its loaded source when it has one. Nothing is loaded.
   *
   * @returns the files, and whether there were more than `max`.
   */
  async list(
    accept: (name: string) => boolean,
    max: number,
  ): Promise<{ files: MediaFile[]; truncated: boolean }> {
    let root: string;
    try {
      root = this.#rootReal ??= await Deno.realPath(this.#root);
    } catch {
      return { files: [], truncated: false };
    }
    const names: string[] = [];
    let truncated = false;
    for await (const entry of Deno.readDir(root)) {
      if (!entry.isFile || !accept(entry.name)) continue;
      if (names.length >= max) {
        truncated = true;
        break;
      }
      names.push(entry.name);
    }
    names.sort();
    const files: MediaFile[] = [];
    for (const name of names) {
      const path = `${root}/${name}`;
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path);
      } catch {
        continue; // gone meanwhile
      }
      const source = await this.#cache.get(path)?.catch(() => undefined);
      const current = source && source.size === info.size &&
        source.mtime === (info.mtime?.getTime() ?? 0);
      files.push({ name, bytes: info.size, ...(current ? { source } : {}) });
    }
    return { files, truncated };
  }

  async #resolve(name: string): Promise<string> {
    if (name === "" || name.includes("\0") || name.includes("\\")) {
      throw new MediaError(`Cannot open "${name}": not a valid media name`, 404);
    }
    const segments = name.split("/").filter((s) => s !== "");
    if (segments.length === 0 || segments.some((s) => s === ".." || s === ".")) {
      throw new MediaError(`Cannot open "${name}": outside the media directory`, 404);
    }
    try {
      this.#rootReal ??= await Deno.realPath(this.#root);
    } catch {
      throw new MediaError(
        `Cannot open "${name}": the media directory ${this.#root} is missing`,
        404,
      );
    }
    const path = `${this.#rootReal}/${segments.join("/")}`;
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch {
      throw new MediaError(`Cannot open "${name}": no such file in the media directory`, 404);
    }
    if (!real.startsWith(this.#rootReal.endsWith("/") ? this.#rootReal : this.#rootReal + "/")) {
      throw new MediaError(`Cannot open "${name}": it leads outside the media directory`, 404);
    }
    return real;
  }
}
