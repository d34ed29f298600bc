import { asObject, TokenizerError, unknownComponent } from "../errors.js";
import { NormalizedString } from "../normalized-string.js";
import { findMatches, readPattern } from "../pattern.js";
import { isChineseChar, isControl, isNonspacingMark, isWhitespace, lowercaseChar } from "../chars.js";

/** One step of text normalization; returns a new NormalizedString (or the same one when nothing changes). */
export interface Normalizer {
  normalize(input: NormalizedString): NormalizedString;
}

export const NORMALIZER_TYPES = [
  "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "StripAccents", "BertNormalizer", "Prepend", "Replace", "Strip",
  "Nmt", "Sequence",
] as const;

export function normalizerFromJSON(json: unknown): Normalizer | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, "normalizer");
  switch (o.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = o.type;
      return { normalize: (s) => s.unicodeNormalize(form) };
    }
    case "Lowercase":
      return { normalize: lowercase };
    case "StripAccents":
      return { normalize: stripAccents };
    case "BertNormalizer":
      return bertNormalizer(o);
    case "Prepend": {
      const text = String(o.prepend ?? "");
      return { normalize: (s) => s.prepend(text) };
    }
    case "Replace": {
      const re = readPattern(o.pattern, "normalizer Replace.pattern");
      const content = String(o.content ?? "");
      return { normalize: (s) => s.replaceRanges(findMatches(re, s.normalized), content) };
    }
    case "Strip": {
      const left = o.strip_left !== false;
      const right = o.strip_right !== false;
      return { normalize: (s) => strip(s, left, right) };
    }
    case "Nmt":
      return { normalize: nmt };
    case "Sequence": {
      const list = o.normalizers;
      if (!Array.isArray(list)) throw new TokenizerError("tokenizer.json: normalizer Sequence.normalizers must be an array");
      const steps = list.map((n) => normalizerFromJSON(n)).filter((n): n is Normalizer => n !== null);
      return { normalize: (s) => steps.reduce((acc, n) => n.normalize(acc), s) };
    }
    default:
      return unknownComponent("normalizer", o.type, NORMALIZER_TYPES);
  }
}

function lowercase(s: NormalizedString): NormalizedString {
  return s.mapChars(lowercaseChar);
}

function stripAccents(s: NormalizedString): NormalizedString {
  return s.mapChars((ch, cp) => (cp >= 0x300 && isNonspacingMark(ch) ? "" : ch));
}

function strip(s: NormalizedString, left: boolean, right: boolean): NormalizedString {
  const text = s.normalized;
  let start = 0;
  let end = text.length;
  if (left) {
    while (start < end) {
      const ch = String.fromCodePoint(text.codePointAt(start)!);
      if (!isWhitespace(ch)) break;
      start += ch.length;
    }
  }
  if (right) {
    while (end > start) {
      const low = text.charCodeAt(end - 1);
      const len = low >= 0xdc00 && low <= 0xdfff && end - 2 >= start ? 2 : 1;
      if (!isWhitespace(text.slice(end - len, end))) break;
      end -= len;
    }
  }
  return s.slice(start, end);
}

function bertNormalizer(o: Record<string, unknown>): Normalizer {
  const cleanText = o.clean_text !== false;
  const chinese = o.handle_chinese_chars !== false;
  const lower = o.lowercase !== false;
  // strip_accents: null follows lowercase, as in BERT.
  const accents = o.strip_accents === null || o.strip_accents === undefined ? lower : o.strip_accents === true;
  return {
    normalize(s) {
      let out = s;
      if (cleanText) {
        out = out.mapChars((ch, cp) => {
          if (cp === 0 || cp === 0xfffd || isControl(ch)) return "";
          return isWhitespace(ch) ? " " : ch;
        });
      }
      if (chinese) out = out.mapChars((ch, cp) => (isChineseChar(cp) ? ` ${ch} ` : ch));
      if (accents) out = stripAccents(out.unicodeNormalize("NFD"));
      if (lower) out = lowercase(out);
      return out;
    },
  };
}

/** SentencePiece's NMT normalization: drop some control characters, turn other odd spaces into spaces. */
function nmt(s: NormalizedString): NormalizedString {
  return s.mapChars((ch, cp) => {
    if ((cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || cp === 0x7f || cp === 0x8f || cp === 0x9f) {
      return "";
    }
    if (
      cp === 0x9 || cp === 0xa || cp === 0xc || cp === 0xd || cp === 0x1680 || (cp >= 0x200b && cp <= 0x200f) ||
      cp === 0x2028 || cp === 0x2029 || cp === 0x2581 || cp === 0xfeff || cp === 0xfffd
    ) {
      return " ";
    }
    return ch;
  });
}
