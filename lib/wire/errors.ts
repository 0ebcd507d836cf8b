/**
 * Errors raised by the wire-format layer.
 *
 * @module
 */

/**
 * Raised when bytes or text do not follow the format being parsed.
 *
 * `offset` is the byte (or character) position where the problem was found,
 * relative to the start of the input handed to the parser.
 */
export class ParseError extends SyntaxError {
  /** Byte offset in the parsed input where the problem was found. */
  readonly offset: number;

  /**
   * A parse failure at `offset`.
   *
   * @param message What is wrong, starting with "Cannot …".
   * @param offset Byte offset in the input where the problem was found.
   */
  constructor(message: string, offset = 0) {
    super(message);
    this.name = "ParseError";
    this.offset = offset;
  }
}
