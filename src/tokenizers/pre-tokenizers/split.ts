import { TokenizerError } from "../errors.js";
import type { NormalizedString } from "../normalized-string.js";

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

const BEHAVIORS: readonly SplitBehavior[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

export function readBehavior(value: unknown, where: string): SplitBehavior {
  if (typeof value === "string") {
    // Older files spell these in snake_case.
    const camel = value.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
    const found = BEHAVIORS.find((b) => b === value || b === camel);
    if (found) return found;
  }
  throw new TokenizerError(`tokenizer.json: ${where} must be one of ${BEHAVIORS.join(", ")}, got ${JSON.stringify(value)}`);
}

/**
 * Splits `s` around `matches` (sorted, non-overlapping [start, end) ranges) following tokenizers'
 * SplitDelimiterBehavior; `invert` swaps which pieces count as delimiters. Empty pieces are dropped.
 */
export function splitByMatches(
  s: NormalizedString,
  matches: ReadonlyArray<readonly [number, number]>,
  behavior: SplitBehavior,
  invert = false,
): NormalizedString[] {
  const len = s.length;
  if (len === 0) return [];
  const pieces: Array<[number, number, boolean]> = [];
  let last = 0;
  for (const [a, e] of matches) {
    if (a > last) pieces.push([last, a, invert]);
    pieces.push([a, e, !invert]);
    last = e;
  }
  if (last < len) pieces.push([last, len, invert]);

  const kept: Array<[number, number]> = [];
  switch (behavior) {
    case "Removed":
      for (const [a, e, isMatch] of pieces) if (!isMatch) kept.push([a, e]);
      break;
    case "Isolated":
      for (const [a, e] of pieces) kept.push([a, e]);
      break;
    case "MergedWithPrevious": {
      let previousMatch = false;
      for (const [a, e, isMatch] of pieces) {
        if (isMatch && !previousMatch && kept.length > 0) kept[kept.length - 1]![1] = e;
        else kept.push([a, e]);
        previousMatch = isMatch;
      }
      break;
    }
    case "MergedWithNext": {
      let previousMatch = false;
      for (let k = pieces.length - 1; k >= 0; k--) {
        const [a, e, isMatch] = pieces[k]!;
        if (isMatch && !previousMatch && kept.length > 0) kept[kept.length - 1]![0] = a;
        else kept.push([a, e]);
        previousMatch = isMatch;
      }
      kept.reverse();
      break;
    }
    case "Contiguous": {
      let previousMatch = false;
      for (const [a, e, isMatch] of pieces) {
        if (isMatch === previousMatch && kept.length > 0) kept[kept.length - 1]![1] = e;
        else kept.push([a, e]);
        previousMatch = isMatch;
      }
      break;
    }
  }
  return kept.filter(([a, e]) => e > a).map(([a, e]) => s.slice(a, e));
}

/** Ranges of the single characters for which `test` holds. */
export function charMatches(text: string, test: (ch: string, cp: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    if (test(len === 1 ? text[i]! : text.slice(i, i + 2), cp)) out.push([i, i + len]);
    i += len;
  }
  return out;
}

/** Isolated split around the matches of a global regex, emitting pieces without intermediate lists (the hot path). */
export function splitIsolated(s: NormalizedString, re: RegExp, emit: (piece: NormalizedString) => void): void {
  const text = s.normalized;
  let last = 0;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const a = m.index;
    // lastIndex is the match's end: the matched substring itself is never needed.
    const e = re.lastIndex;
    if (e === a) {
      re.lastIndex = a + (text.codePointAt(a)! > 0xffff ? 2 : 1);
      continue;
    }
    if (a > last) emit(s.slice(last, a));
    emit(s.slice(a, e));
    last = e;
  }
  if (last < text.length) emit(s.slice(last, text.length));
}
