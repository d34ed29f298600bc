/**
 * Python's notion of whitespace (str.split() / str.rstrip() with no argument), which differs from JS `\s`:
 * Python also splits on \x1c-\x1f and \x85 and does not split on \ufeff. sacrebleu's scores depend on it.
 */
const PY_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPLIT_RE = new RegExp(`[${PY_WHITESPACE}]+`);
const TRAILING_RE = new RegExp(`[${PY_WHITESPACE}]+$`);

/** Python's `s.split()`: runs of whitespace separate, no empty pieces. */
export function pySplit(s: string): string[] {
  return s.split(SPLIT_RE).filter((t) => t.length > 0);
}

/** Python's `s.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING_RE, "");
}
