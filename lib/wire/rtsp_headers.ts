/**
 * The header list of an RTSP message: ordered and case-insensitive. Headers
 * with structure have a file each (`transport_header.ts`,
 * `session_header.ts`, `range_header.ts`, `rtp_info_header.ts`,
 * `scale_header.ts`, `www_authenticate_header.ts`, `authorization_header.ts`),
 * with a parse/serialize pair.
 *
 * @module
 */

/**
 * An ordered list of headers with case-insensitive names.
 *
 * Unlike the Fetch `Headers` class it keeps the order and spelling in which
 * headers were added, which RTSP peers such as the lab client depend on.
 */
export class RtspHeaders {
  #entries: [string, string][] = [];

  /** A header list, with `init` added in order. */
  constructor(init?: Iterable<readonly [string, string]> | Record<string, string>) {
    if (!init) return;
    const pairs = Symbol.iterator in init
      ? init as Iterable<readonly [string, string]>
      : Object.entries(init);
    for (const [name, value] of pairs) this.append(name, value);
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.#entries.find(([n]) => n.toLowerCase() === key)?.[1];
  }

  /** Every value of `name`, in order (a response may carry several WWW-Authenticate headers). */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.#entries.filter(([n]) => n.toLowerCase() === key).map(([, value]) => value);
  }

  /** Whether a header called `name` is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Add a header after the existing ones. */
  append(name: string, value: string): this {
    this.#entries.push([name, value]);
    return this;
  }

  /** Replace every header called `name` with one, kept at the first one's place. */
  set(name: string, value: string): this {
    const key = name.toLowerCase();
    const at = this.#entries.findIndex(([n]) => n.toLowerCase() === key);
    if (at < 0) return this.append(name, value);
    this.#entries[at] = [name, value];
    this.#entries = this.#entries.filter(([n], i) => i === at || n.toLowerCase() !== key);
    return this;
  }

  /** Remove every header called `name`. */
  delete(name: string): this {
    const key = name.toLowerCase();
    this.#entries = this.#entries.filter(([n]) => n.toLowerCase() !== key);
    return this;
  }

  /** Number of header lines. */
  get size(): number {
    return this.#entries.length;
  }

  /** The headers in order. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#entries[Symbol.iterator]();
  }
}
