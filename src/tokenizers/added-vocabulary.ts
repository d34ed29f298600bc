import { asObject, TokenizerError } from "./errors.js";
import { isWhitespace } from "./chars.js";

/** A token from tokenizer.json's `added_tokens`, matched in the text before the model sees it. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

export function readAddedTokens(value: unknown): AddedToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TokenizerError("tokenizer.json: added_tokens must be an array");
  return value.map((v, i) => {
    const o = asObject(v, `added_tokens[${i}]`);
    if (typeof o.id !== "number" || typeof o.content !== "string") {
      throw new TokenizerError(`tokenizer.json: added_tokens[${i}] needs a numeric "id" and a string "content"`);
    }
    return {
      id: o.id,
      content: o.content,
      special: o.special === true,
      singleWord: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
      // tokenizers defaults `normalized` to true for non-special tokens.
      normalized: typeof o.normalized === "boolean" ? o.normalized : o.special !== true,
    };
  });
}

interface TrieNode {
  next: Map<number, TrieNode>;
  token: AddedToken | null;
}

/** A [start, end) range of the searched text, with the added token found there (or null for plain text). */
export interface Segment {
  start: number;
  end: number;
  token: AddedToken | null;
}

const WORD_CHAR = /^[\p{L}\p{M}\p{Nd}\p{Pc}]$/u;

/** Leftmost-longest matching of a set of added tokens, with their lstrip/rstrip/single_word rules. */
export class AddedTokenMatcher {
  private readonly root: TrieNode = { next: new Map(), token: null };
  /** 1 for the UTF-16 units some token starts with: text is scanned with a typed-array read per unit. */
  private readonly firstUnits = new Uint8Array(65536);
  readonly size: number;

  constructor(tokens: Array<{ pattern: string; token: AddedToken }>) {
    let size = 0;
    for (const { pattern, token } of tokens) {
      if (pattern.length === 0) continue;
      let node = this.root;
      for (let k = 0; k < pattern.length; k++) {
        const c = pattern.charCodeAt(k);
        let child = node.next.get(c);
        if (!child) {
          child = { next: new Map(), token: null };
          node.next.set(c, child);
        }
        node = child;
      }
      this.firstUnits[pattern.charCodeAt(0)] = 1;
      if (!node.token) size++;
      node.token = token;
    }
    this.size = size;
  }

  split(text: string): Segment[] {
    const out: Segment[] = [];
    if (this.size === 0) return text.length ? [{ start: 0, end: text.length, token: null }] : [];
    const rootNext = this.root.next;
    const firstUnits = this.firstUnits;
    let plainStart = 0;
    let i = 0;
    while (i < text.length) {
      const unit = text.charCodeAt(i);
      if (firstUnits[unit] === 0) {
        i++;
        continue;
      }
      let node = rootNext.get(unit)!;
      let matchEnd = -1;
      let match: AddedToken | null = null;
      for (let j = i + 1; ; j++) {
        if (node.token) {
          matchEnd = j;
          match = node.token;
        }
        if (j >= text.length) break;
        const child: TrieNode | undefined = node.next.get(text.charCodeAt(j));
        if (!child) break;
        node = child;
      }
      if (!match) {
        i++;
        continue;
      }
      let start = i;
      let stop = matchEnd;
      if (match.singleWord) {
        const before = start > 0 ? lastChar(text, start) : "";
        const after = stop < text.length ? String.fromCodePoint(text.codePointAt(stop)!) : "";
        if ((before && WORD_CHAR.test(before)) || (after && WORD_CHAR.test(after))) {
          i = matchEnd;
          continue;
        }
      }
      if (match.lstrip) {
        while (start > plainStart) {
          const ch = lastChar(text, start);
          if (!isWhitespace(ch)) break;
          start -= ch.length;
        }
      }
      if (match.rstrip) {
        while (stop < text.length) {
          const ch = String.fromCodePoint(text.codePointAt(stop)!);
          if (!isWhitespace(ch)) break;
          stop += ch.length;
        }
      }
      if (start > plainStart) out.push({ start: plainStart, end: start, token: null });
      out.push({ start, end: stop, token: match });
      plainStart = stop;
      i = stop;
    }
    if (plainStart < text.length) out.push({ start: plainStart, end: text.length, token: null });
    return out;
  }
}

function lastChar(text: string, end: number): string {
  const low = text.charCodeAt(end - 1);
  if (low >= 0xdc00 && low <= 0xdfff && end >= 2) {
    const high = text.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(end - 2, end);
  }
  return text[end - 1]!;
}
