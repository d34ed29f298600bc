import { asObject, TokenizerError, unknownComponent } from "../errors.js";
import { NormalizedString } from "../normalized-string.js";
import { findMatches, readPattern } from "../pattern.js";
import { translateRegex } from "../regex.js";
import { BYTE_TO_CHAR } from "../byte-level.js";
import { isBertPunctuation, isWhitespace } from "../chars.js";
import { charMatches, readBehavior, splitByMatches, splitIsolated } from "./split.js";

/**
 * Splits normalized text into the pieces ("words") the model tokenizes one by one, handing each to `emit` as
 * soon as it is found: a huge text never holds all its words at once, and Sequence steps chain without lists.
 */
export interface PreTokenizer {
  preTokenize(piece: NormalizedString, emit: (word: NormalizedString) => void): void;
}

export const PRE_TOKENIZER_TYPES = [
  "ByteLevel", "Split", "Metaspace", "Whitespace", "WhitespaceSplit", "BertPreTokenizer", "Digits", "Punctuation",
  "CharDelimiterSplit", "Sequence",
] as const;

/** GPT-2's pre-tokenization pattern, used by ByteLevel when use_regex is set. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const each = (split: (s: NormalizedString) => NormalizedString[]): PreTokenizer => ({
  preTokenize(piece, emit) {
    for (const word of split(piece)) emit(word);
  },
});

export function preTokenizerFromJSON(json: unknown): PreTokenizer | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, "pre_tokenizer");
  switch (o.type) {
    case "ByteLevel": {
      const addPrefixSpace = o.add_prefix_space === true;
      const re = o.use_regex === false ? null : translateRegex(GPT2_PATTERN);
      return {
        preTokenize(s, emit) {
          const piece = addPrefixSpace && !s.normalized.startsWith(" ") ? s.prepend(" ") : s;
          if (re) splitIsolated(piece, re, (word) => emit(toByteLevel(word)));
          else if (piece.length > 0) emit(toByteLevel(piece));
        },
      };
    }
    case "Split": {
      const re = readPattern(o.pattern, "pre_tokenizer Split.pattern");
      const behavior = readBehavior(o.behavior, "pre_tokenizer Split.behavior");
      const invert = o.invert === true;
      if (behavior === "Isolated" && !invert) return { preTokenize: (s, emit) => splitIsolated(s, re, emit) };
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
      return {
        preTokenize(piece, emit) {
          // Feed each step's words straight into the next step.
          const chained = steps.reduceRight<(w: NormalizedString) => void>((next, step) => (w) => step.preTokenize(w, next), emit);
          chained(piece);
        },
      };
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

// Each ASCII character is one byte and one mapped character, so ASCII text keeps its alignment.
function toByteLevel(s: NormalizedString): NormalizedString {
  const text = s.normalized;
  // One pass over the units: printable ASCII maps to itself; only spaces and control characters change, and
  // the text is rebuilt only from the first of those (usually a leading space).
  let out: string | null = null;
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    if (u > 0x20 && u < 0x7f) continue;
    if (u >= 0x80) return nonAsciiToByteLevel(s);
    out = (out ?? "") + text.slice(last, i) + BYTE_TO_CHAR[u]!;
    last = i + 1;
  }
  if (out === null) return s;
  return s.withSameLength(last < text.length ? out + text.slice(last) : out);
}

function nonAsciiToByteLevel(s: NormalizedString): NormalizedString {
  const text = s.normalized;
  // Every byte becomes one BMP character carrying its source character's range: fill codes and ranges
  // in typed arrays and decode them at once instead of building a string per character.
  // A UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair is 4 bytes for 2 units).
  if (scratchCodes.length < 3 * text.length) {
    scratchCodes = new Uint16Array(3 * text.length);
    scratchAlign = new Int32Array(6 * text.length);
  }
  const codes = scratchCodes;
  const align = scratchAlign;
  let n = 0;
  const emit = (byte: number, a: number, b: number): void => {
    codes[n] = BYTE_CODES[byte]!;
    align[2 * n] = a;
    align[2 * n + 1] = b;
    n++;
  };
  for (let i = 0; i < text.length; ) {
    let cp = text.charCodeAt(i);
    let len = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
        len = 2;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const a = s.alignStart(i);
    const b = s.alignEnd(i + len - 1);
    if (cp < 0x80) emit(cp, a, b);
    else if (cp < 0x800) {
      emit(0xc0 | (cp >> 6), a, b);
      emit(0x80 | (cp & 63), a, b);
    } else if (cp < 0x10000) {
      emit(0xe0 | (cp >> 12), a, b);
      emit(0x80 | ((cp >> 6) & 63), a, b);
      emit(0x80 | (cp & 63), a, b);
    } else {
      emit(0xf0 | (cp >> 18), a, b);
      emit(0x80 | ((cp >> 12) & 63), a, b);
      emit(0x80 | ((cp >> 6) & 63), a, b);
      emit(0x80 | (cp & 63), a, b);
    }
    i += len;
  }
  const result = NormalizedString.fromParts(UTF16.decode(codes.subarray(0, n)), align.slice(0, 2 * n));
  if (scratchCodes.length > 1 << 16) {
    scratchCodes = new Uint16Array(256);
    scratchAlign = new Int32Array(512);
  }
  return result;
}

// Reused between words; a buffer grown for a huge word is dropped again afterwards.
let scratchCodes = new Uint16Array(256);
let scratchAlign = new Int32Array(512);

const BYTE_CODES = Uint16Array.from(BYTE_TO_CHAR, (c) => c.charCodeAt(0));
// Byte-level characters are all below U+0200, so UTF-16LE code units decode to exactly these characters.
const UTF16 = new TextDecoder("utf-16le");
