import { asObject, TokenizerError, unknownComponent } from "../errors.js";
import { NormalizedString } from "../normalized-string.js";
import { findMatches, readPattern } from "../pattern.js";
import { translateRegex } from "../regex.js";
import { BYTE_TO_CHAR } from "../byte-level.js";
import { isBertPunctuation, isWhitespace } from "../chars.js";
import { charMatches, readBehavior, splitByMatches, splitIsolated } from "./split.js";

/** Splits normalized text into the pieces ("words") the model tokenizes one by one. */
export interface PreTokenizer {
  preTokenize(pieces: NormalizedString[]): NormalizedString[];
}

export const PRE_TOKENIZER_TYPES = [
  "ByteLevel", "Split", "Metaspace", "Whitespace", "WhitespaceSplit", "BertPreTokenizer", "Digits", "Punctuation",
  "CharDelimiterSplit", "Sequence",
] as const;

/** GPT-2's pre-tokenization pattern, used by ByteLevel when use_regex is set. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const each = (split: (s: NormalizedString) => NormalizedString[]): PreTokenizer => ({
  preTokenize: (pieces) => pieces.flatMap(split),
});

export function preTokenizerFromJSON(json: unknown): PreTokenizer | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, "pre_tokenizer");
  switch (o.type) {
    case "ByteLevel": {
      const addPrefixSpace = o.add_prefix_space === true;
      const re = o.use_regex === false ? null : translateRegex(GPT2_PATTERN);
      return each((s) => {
        let piece = s;
        if (addPrefixSpace && !piece.normalized.startsWith(" ")) piece = piece.prepend(" ");
        const parts = re ? splitIsolated(piece, re) : piece.length ? [piece] : [];
        return parts.map(toByteLevel);
      });
    }
    case "Split": {
      const re = readPattern(o.pattern, "pre_tokenizer Split.pattern");
      const behavior = readBehavior(o.behavior, "pre_tokenizer Split.behavior");
      const invert = o.invert === true;
      if (behavior === "Isolated" && !invert) return each((s) => splitIsolated(s, re));
      return each((s) => splitByMatches(s, findMatches(re, s.normalized), behavior, invert));
    }
    case "Metaspace":
      return metaspace(o);
    case "Whitespace": {
      const re = translateRegex("\\w+|[^\\w\\s]+");
      return each((s) => splitByMatches(s, findMatches(re, s.normalized), "Removed", true));
    }
    case "WhitespaceSplit":
      return each((s) => splitByMatches(s, charMatches(s.normalized, isWhitespace), "Removed"));
    case "BertPreTokenizer":
      return each((s) =>
        splitByMatches(s, charMatches(s.normalized, isWhitespace), "Removed").flatMap((w) =>
          splitByMatches(w, charMatches(w.normalized, isBertPunctuation), "Isolated"),
        ),
      );
    case "Punctuation": {
      const behavior = o.behavior === undefined ? "Isolated" : readBehavior(o.behavior, "pre_tokenizer Punctuation.behavior");
      return each((s) => splitByMatches(s, charMatches(s.normalized, isBertPunctuation), behavior));
    }
    case "Digits": {
      const behavior = o.individual_digits === true ? "Isolated" : "Contiguous";
      return each((s) => splitByMatches(s, charMatches(s.normalized, (_, cp) => cp >= 48 && cp <= 57), behavior));
    }
    case "CharDelimiterSplit": {
      const delimiter = String(o.delimiter ?? "");
      return each((s) => splitByMatches(s, charMatches(s.normalized, (ch) => ch === delimiter), "Removed"));
    }
    case "Sequence": {
      const list = o.pretokenizers;
      if (!Array.isArray(list)) throw new TokenizerError("tokenizer.json: pre_tokenizer Sequence.pretokenizers must be an array");
      const steps = list.map((p) => preTokenizerFromJSON(p)).filter((p): p is PreTokenizer => p !== null);
      return { preTokenize: (pieces) => steps.reduce((acc, p) => p.preTokenize(acc), pieces) };
    }
    default:
      return unknownComponent("pre_tokenizer", o.type, PRE_TOKENIZER_TYPES);
  }
}

export type PrependScheme = "first" | "always" | "never";

export function readPrependScheme(o: Record<string, unknown>, where: string): PrependScheme {
  const scheme = o.prepend_scheme;
  if (scheme === undefined) return o.add_prefix_space === false ? "never" : "always";
  if (scheme === "first" || scheme === "always" || scheme === "never") return scheme;
  throw new TokenizerError(`tokenizer.json: ${where}.prepend_scheme must be first, always or never, got ${JSON.stringify(scheme)}`);
}

function metaspace(o: Record<string, unknown>): PreTokenizer {
  const replacement = String(o.replacement ?? "\u2581");
  const scheme = readPrependScheme(o, "pre_tokenizer Metaspace");
  const split = o.split !== false;
  return each((s) => {
    const spaces = charMatches(s.normalized, (ch) => ch === " ");
    let piece = s.replaceRanges(spaces, replacement);
    if (!piece.normalized.startsWith(replacement)) {
      if (scheme === "always" || (scheme === "first" && piece.length > 0 && piece.alignStart(0) === 0)) {
        piece = piece.prepend(replacement);
      }
    }
    if (!split) return piece.length ? [piece] : [];
    return splitByMatches(piece, charMatches(piece.normalized, (ch) => ch === replacement), "MergedWithNext");
  });
}

const NON_ASCII = /[^\x00-\x7f]/;
const CHANGED_ASCII = /[\x00-\x20\x7f]/;
const CHANGED_ASCII_G = /[\x00-\x20\x7f]/g;

// Each ASCII character is one byte and one mapped character, so ASCII text keeps its alignment.
function toByteLevel(s: NormalizedString): NormalizedString {
  const text = s.normalized;
  if (!NON_ASCII.test(text)) {
    // Printable ASCII maps to itself; only spaces and control characters change.
    return CHANGED_ASCII.test(text) ? s.withSameLength(text.replace(CHANGED_ASCII_G, (c) => BYTE_TO_CHAR[c.charCodeAt(0)]!)) : s;
  }
  return s.mapChars((ch, cp) => {
    if (cp < 0x80) return BYTE_TO_CHAR[cp]!;
    let out = "";
    for (const b of utf8Of(cp)) out += BYTE_TO_CHAR[b]!;
    return out;
  });
}

function utf8Of(cp: number): number[] {
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}
