import { asObject, TokenizerError, unknownComponent } from "../errors.js";
import { CHAR_TO_BYTE, utf8Bytes, utf8DecodeLossy, utf8DecodeStrict } from "../byte-level.js";
import { readPattern } from "../pattern.js";
import { readPrependScheme } from "../pre-tokenizers/index.js";

/** Turns tokens back into text; each step maps the list of token strings to a new list (tokenizers' decode_chain). */
export interface Decoder {
  decodeChain(tokens: string[]): string[];
}

export const DECODER_TYPES = [
  "ByteLevel", "Metaspace", "WordPiece", "ByteFallback", "Fuse", "Strip", "Replace", "BPEDecoder", "Sequence",
] as const;

export function decoderFromJSON(json: unknown): Decoder | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, "decoder");
  switch (o.type) {
    case "ByteLevel":
      return { decodeChain: (tokens) => [byteLevelDecode(tokens)] };
    case "Metaspace": {
      const replacement = String(o.replacement ?? "\u2581");
      const scheme = readPrependScheme(o, "decoder Metaspace");
      return {
        decodeChain: (tokens) =>
          tokens.map((token, i) => {
            let out = "";
            for (const ch of token) {
              if (ch === replacement) {
                if (!(i === 0 && scheme !== "never")) out += " ";
              } else out += ch;
            }
            return out;
          }),
      };
    }
    case "WordPiece": {
      const prefix = String(o.prefix ?? "##");
      const cleanup = o.cleanup !== false;
      return {
        decodeChain: (tokens) =>
          tokens.map((token, i) => {
            let out = token;
            if (i !== 0) out = token.startsWith(prefix) ? token.slice(prefix.length) : ` ${token}`;
            return cleanup ? cleanupSpaces(out) : out;
          }),
      };
    }
    case "ByteFallback":
      return { decodeChain: byteFallback };
    case "Fuse":
      return { decodeChain: (tokens) => [tokens.join("")] };
    case "Strip": {
      const content = String(o.content ?? " ");
      const start = Number(o.start ?? 0);
      const stop = Number(o.stop ?? 0);
      return {
        decodeChain: (tokens) =>
          tokens.map((token) => {
            const chars = Array.from(token);
            let a = 0;
            while (a < start && a < chars.length && chars[a] === content) a++;
            let b = chars.length;
            while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
            return chars.slice(a, b).join("");
          }),
      };
    }
    case "Replace": {
      const re = readPattern(o.pattern, "decoder Replace.pattern");
      const content = String(o.content ?? "");
      return { decodeChain: (tokens) => tokens.map((t) => t.replace(re, () => content)) };
    }
    case "BPEDecoder": {
      const suffix = String(o.suffix ?? "</w>");
      return {
        decodeChain: (tokens) => tokens.map((t, i) => t.split(suffix).join(i === tokens.length - 1 ? "" : " ")),
      };
    }
    case "Sequence": {
      const list = o.decoders;
      if (!Array.isArray(list)) throw new TokenizerError("tokenizer.json: decoder Sequence.decoders must be an array");
      const steps = list.map((d) => decoderFromJSON(d)).filter((d): d is Decoder => d !== null);
      return { decodeChain: (tokens) => steps.reduce((acc, d) => d.decodeChain(acc), tokens) };
    }
    default:
      return unknownComponent("decoder", o.type, DECODER_TYPES);
  }
}

/** Maps byte-level characters back to bytes; a token with any other character keeps its own UTF-8 bytes. */
function byteLevelDecode(tokens: string[]): string {
  const bytes: number[] = [];
  for (const token of tokens) {
    const mapped: number[] = [];
    let ok = true;
    for (const ch of token) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) {
        ok = false;
        break;
      }
      mapped.push(b);
    }
    if (ok) for (const b of mapped) bytes.push(b);
    else for (const b of utf8Bytes(token)) bytes.push(b);
  }
  return utf8DecodeLossy(Uint8Array.from(bytes));
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** Runs of <0xXX> tokens become their UTF-8 text, or one U+FFFD per byte when the run is not valid UTF-8. */
function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = utf8DecodeStrict(Uint8Array.from(pending));
    if (text !== undefined) out.push(text);
    else for (let k = 0; k < pending.length; k++) out.push("\ufffd");
    pending = [];
  };
  for (const token of tokens) {
    const m = token.length === 6 ? BYTE_TOKEN.exec(token) : null;
    if (m) pending.push(parseInt(m[1]!, 16));
    else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out;
}

/** The clean-up tokenizers' WordPiece decoder (and transformers) apply: no space before punctuation and contractions. */
export function cleanupSpaces(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" do not", " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
