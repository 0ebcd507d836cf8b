/**
 * Trimming the blanks (spaces and tabs, RFC 7230's OWS) around header
 * values with a loop: a pattern such as `/[ \t]+$/` backtracks through every
 * run of blanks that does not end the text, which is quadratic in its
 * length, and header values come from the network.
 *
 * @module
 */

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/** `text` without leading and trailing spaces and tabs. */
export function trimBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text[start])) start++;
  while (end > start && isBlank(text[end - 1])) end--;
  return text.slice(start, end);
}

/** How many spaces and tabs `text` starts with. */
export function leadingBlanks(text: string): number {
  let n = 0;
  while (n < text.length && isBlank(text[n])) n++;
  return n;
}
