import { asObject, TokenizerError } from "./errors.js";
import { escapeRegExp, translateRegex } from "./regex.js";

/** A `{"String": ...}` or `{"Regex": ...}` pattern from tokenizer.json, as a global JS RegExp. */
export function readPattern(value: unknown, where: string): RegExp {
  const obj = asObject(value, where);
  if (typeof obj.String === "string") return new RegExp(escapeRegExp(obj.String), "gu");
  if (typeof obj.Regex === "string") return translateRegex(obj.Regex);
  throw new TokenizerError(`tokenizer.json: ${where} must be {"String": ...} or {"Regex": ...}, got ${JSON.stringify(value)}`);
}

/** Non-empty matches of `re` in `text` as [start, end) ranges. */
export function findMatches(re: RegExp, text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (re.source === "(?:)") return out;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex = m.index + (text.codePointAt(m.index)! > 0xffff ? 2 : 1);
      continue;
    }
    out.push([m.index, m.index + m[0].length]);
  }
  return out;
}
