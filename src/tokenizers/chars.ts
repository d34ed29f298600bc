/** Character classes with the meanings Rust's char methods and tokenizers' helpers give them. */

const WHITE_SPACE = /^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const PUNCTUATION = /^\p{P}$/u;
const CONTROL = /^[\p{Cc}\p{Cf}\p{Cn}\p{Co}]$/u;
const NONSPACING_MARK = /^\p{Mn}$/u;

/** Rust's char::is_whitespace (Unicode White_Space). */
export function isWhitespace(ch: string): boolean {
  return ch === " " || WHITE_SPACE.test(ch);
}

/** isWhitespace for one UTF-16 unit (every White_Space character is in the BMP), without a regex. */
export function isWhitespaceCode(u: number): boolean {
  if (u < 0x85) return u === 32 || (u >= 9 && u <= 13);
  return u === 0x85 || u === 0xa0 || u === 0x1680 || (u >= 0x2000 && u <= 0x200a) || u === 0x2028 || u === 0x2029 ||
    u === 0x202f || u === 0x205f || u === 0x3000;
}

/** tokenizers' BERT punctuation: ASCII punctuation or any Unicode P* character. */
export function isBertPunctuation(ch: string, cp: number): boolean {
  if (cp < 128) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  return PUNCTUATION.test(ch);
}

/** BertNormalizer's control test: Cc, Cf, Cn, Co except tab, newline and carriage return. */
export function isControl(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if (cp < 0xa0) return (cp < 32 && cp !== 9 && cp !== 10 && cp !== 13) || (cp >= 0x7f);
  return CONTROL.test(ch);
}

export function isNonspacingMark(ch: string): boolean {
  return NONSPACING_MARK.test(ch);
}

/** The CJK ideograph blocks BertNormalizer surrounds with spaces. */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Rust's char::to_lowercase: per character, so no final-sigma rule. */
export function lowercaseChar(ch: string, cp: number): string {
  if (cp < 128) return cp >= 65 && cp <= 90 ? String.fromCharCode(cp + 32) : ch;
  return ch.toLowerCase();
}
