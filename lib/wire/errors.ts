/**
 * Errors of the layers above as well as this one: input that does not parse,
 * and an option out of range.
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

/**
 * An option out of range, as a library entry point reports it: `option`
 * names it, `value` is what was given and `rule` what it must be. The CLIs
 * turn it into a message about their flag.
 */
export class OptionError extends RangeError {
  /** The option's name, e.g. `sessionTimeout` or `rtpPort`. */
  readonly option: string;
  /** The value given. */
  readonly value: unknown;
  /** What the option must be, e.g. "a number above 0". */
  readonly rule: string;

  /** An option out of range: `option` is its name, `rule` what it must be. */
  constructor(option: string, value: unknown, rule: string) {
    // Strings quoted; numbers as JavaScript writes them (NaN, not JSON's null).
    const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
    super(`Cannot use ${option} ${shown}: must be ${rule}`);
    this.name = "OptionError";
    this.option = option;
    this.value = value;
    this.rule = rule;
  }
}
