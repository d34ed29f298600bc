import { TokenizerError } from "../errors.js";
import { utf8Bytes } from "../byte-level.js";
import { NumberHeap } from "./heap.js";
import { type ModelToken, VocabModel, readVocabObject, WordCache } from "./model.js";

// Merge values and heap entries pack two integers into one exactly-representable double.
const ID_SPACE = 2 ** 22;
const POS_SPACE = 2 ** 26;

function splitMerge(merge: string, rank: number): [string, string] {
  const space = merge.indexOf(" ", 1);
  if (space < 0) throw new TokenizerError(`tokenizer.json: model.merges[${rank}] must be "a b" or ["a", "b"], got ${JSON.stringify(merge)}`);
  return [merge.slice(0, space), merge.slice(space + 1)];
}

const SCRATCH_LIMIT = 1 << 16;
const UNSEEN = -2;
const MISSING = -1;

/** The symbols of one word as a linked list in typed arrays; a merged-away symbol has end -1. */
class Symbols {
  id: Int32Array;
  start: Int32Array;
  end: Int32Array;
  prev: Int32Array;
  next: Int32Array;
  count = 0;
  readonly first = 0;
  private size = 0;

  constructor(capacity: number) {
    this.id = new Int32Array(capacity);
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  reset(): void {
    this.count = 0;
    this.size = 0;
  }

  add(id: number, start: number, end: number): void {
    if (this.size === this.id.length) this.grow();
    const i = this.size++;
    this.id[i] = id;
    this.start[i] = start;
    this.end[i] = end;
    this.prev[i] = i - 1;
    this.next[i] = -1;
    if (i > 0) this.next[i - 1] = i;
    this.count++;
  }

  private grow(): void {
    const cap = this.id.length * 2;
    for (const key of ["id", "start", "end", "prev", "next"] as const) {
      const bigger = new Int32Array(cap);
      bigger.set(this[key]);
      this[key] = bigger;
    }
  }
}

/**
 * Byte-pair encoding as tokenizers' BPE model: merges applied lowest rank first (leftmost on ties) through a
 * priority queue, so a word of n characters costs O(n log n) however long it is.
 */
export class BPE extends VocabModel {
  /** merges[left id] maps right id -> rank * ID_SPACE + merged id (small-integer keys keep lookups fast). */
  private readonly merges: Array<Map<number, number> | undefined> = [];
  private mergeCount = 0;
  private readonly cache = new WordCache<ModelToken[]>();
  private readonly charIds = new Int32Array(65536).fill(UNSEEN);
  private readonly unkId: number | undefined;
  private readonly byteIds: Array<number | undefined> = [];
  /** Reused by every word: allocating them per word cost more than the merges of a short word. */
  private symbols = new Symbols(64);
  private heap = new NumberHeap(64);

  constructor(private readonly options: {
    vocab: Map<string, number>;
    /** Pairs, or "a b" strings as older tokenizer.json files write them. */
    merges: ReadonlyArray<readonly [string, string] | string>;
    unkToken?: string | null;
    continuingSubwordPrefix?: string | null;
    endOfWordSuffix?: string | null;
    fuseUnk?: boolean;
    byteFallback?: boolean;
    ignoreMerges?: boolean;
  }) {
    super(options.vocab);
    const prefixLen = options.continuingSubwordPrefix?.length ?? 0;
    options.merges.forEach((pair, rank) => {
      const [a, b] = typeof pair === "string" ? splitMerge(pair, rank) : pair;
      const left = this.vocabMap.get(a);
      const right = this.vocabMap.get(b);
      if (left === undefined || right === undefined) {
        throw new TokenizerError(`tokenizer.json: model.merges[${rank}] "${a} ${b}" uses a token missing from model.vocab`);
      }
      const merged = a + b.slice(prefixLen);
      const id = this.vocabMap.get(merged);
      if (id === undefined) {
        throw new TokenizerError(`tokenizer.json: model.merges[${rank}] produces "${merged}", which is missing from model.vocab`);
      }
      // Later duplicates win, as in the HashMap tokenizers builds.
      (this.merges[left] ??= new Map()).set(right, rank * ID_SPACE + id);
      this.mergeCount++;
    });
    if (options.unkToken != null) this.unkId = this.vocabMap.get(options.unkToken);
    if (options.byteFallback) {
      for (let b = 0; b < 256; b++) this.byteIds[b] = this.vocabMap.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    }
  }

  static fromJSON(o: Record<string, unknown>): BPE {
    const vocab = readVocabObject(o.vocab);
    if (!vocab) throw new TokenizerError("tokenizer.json: model.vocab of a BPE model must map token strings to integer ids");
    if (!Array.isArray(o.merges)) throw new TokenizerError("tokenizer.json: model.merges of a BPE model must be an array");
    const merges = o.merges as unknown[];
    merges.forEach((m, i) => {
      const ok = typeof m === "string" || (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string");
      if (!ok) throw new TokenizerError(`tokenizer.json: model.merges[${i}] must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
    });
    const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
    return new BPE({
      vocab,
      merges: merges as Array<[string, string] | string>,
      unkToken: str(o.unk_token),
      continuingSubwordPrefix: str(o.continuing_subword_prefix),
      endOfWordSuffix: str(o.end_of_word_suffix),
      fuseUnk: o.fuse_unk === true,
      byteFallback: o.byte_fallback === true,
      ignoreMerges: o.ignore_merges === true,
    });
  }

  tokenize(word: string): ModelToken[] {
    if (word.length === 0) return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    const out = this.tokenizeUncached(word);
    this.cache.set(word, out);
    return out;
  }

  private tokenizeUncached(word: string): ModelToken[] {
    if (this.options.ignoreMerges) {
      const id = this.vocabMap.get(word);
      if (id !== undefined) return [{ id, value: word, start: 0, end: word.length }];
    }
    const symbols = this.mergeWord(word);
    if (symbols.count === 0) return [];
    const out: ModelToken[] = new Array(symbols.count);
    for (let k = 0, i = symbols.first; i >= 0; i = symbols.next[i]!, k++) {
      const id = symbols.id[i]!;
      out[k] = { id, value: this.vocabR[id]!, start: symbols.start[i]!, end: symbols.end[i]! };
    }
    if (symbols.id.length > SCRATCH_LIMIT) {
      // A buffer grown for a huge word is not kept.
      this.symbols = new Symbols(64);
      this.heap = new NumberHeap(64);
    }
    return out;
  }

  /** Id of a one-unit character without prefix or suffix, looked up once per character code. */
  private charId(code: number): number {
    let id = this.charIds[code]!;
    if (id === UNSEEN) {
      id = this.vocabMap.get(String.fromCharCode(code)) ?? MISSING;
      this.charIds[code] = id;
    }
    return id;
  }

  private initialSymbols(word: string): Symbols {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, fuseUnk, byteFallback } = this.options;
    const plain = !prefix && !suffix;
    const sym = this.symbols;
    if (plain && this.plainSymbols(word)) return sym;
    sym.reset();
    let unkStart = -1;
    let unkEnd = -1;
    const flushUnk = (): void => {
      if (unkStart >= 0) sym.add(this.unkId!, unkStart, unkEnd);
      unkStart = -1;
    };
    for (let i = 0; i < word.length; ) {
      const code = word.charCodeAt(i);
      const len = code >= 0xd800 && code <= 0xdbff && i + 1 < word.length ? 2 : 1;
      const end = i + len;
      let id: number;
      let s: string | undefined;
      if (plain && len === 1) id = this.charId(code);
      else {
        s = word.slice(i, end);
        if (i > 0 && prefix) s = prefix + s;
        if (end === word.length && suffix) s += suffix;
        id = this.vocabMap.get(s) ?? MISSING;
      }
      if (id !== MISSING) {
        flushUnk();
        sym.add(id, i, end);
      } else {
        let handled = false;
        if (byteFallback) {
          const bytes = utf8Bytes(s ?? word.slice(i, end));
          let all = true;
          for (const b of bytes) if (this.byteIds[b] === undefined) all = false;
          if (all) {
            flushUnk();
            for (const b of bytes) sym.add(this.byteIds[b]!, i, end);
            handled = true;
          }
        }
        if (!handled && this.options.unkToken != null && this.unkId === undefined) {
          throw new TokenizerError(`tokenizer.json: BPE unk_token "${this.options.unkToken}" is not in model.vocab`);
        }
        // Without an unk_token, tokenizers drops characters it cannot spell.
        if (!handled && this.unkId !== undefined) {
          if (unkStart >= 0 && fuseUnk) unkEnd = end;
          else {
            flushUnk();
            unkStart = i;
            unkEnd = end;
          }
        }
      }
      i = end;
    }
    flushUnk();
    return sym;
  }

  /**
   * The common case (no prefix or suffix, every unit its own vocabulary character, as in byte-level BPE) without
   * the unknown-character bookkeeping; false when the word needs the general path.
   */
  private plainSymbols(word: string): boolean {
    const sym = this.symbols;
    sym.reset();
    for (let i = 0; i < word.length; i++) {
      const code = word.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff) return false;
      const id = this.charId(code);
      if (id === MISSING) return false;
      sym.add(id, i, i + 1);
    }
    return true;
  }

  private mergeWord(word: string): Symbols {
    const sym = this.initialSymbols(word);
    const n = sym.count;
    if (n < 2 || this.mergeCount === 0) return sym;
    const { id, end, prev, next } = sym;
    const table = this.merges;
    const heap = this.heap;
    heap.clear();
    for (let i = 0; i + 1 < n; i++) {
      const m = table[id[i]!]?.get(id[i + 1]!);
      if (m !== undefined) heap.push(Math.floor(m / ID_SPACE) * POS_SPACE + i);
    }
    while (heap.size > 0) {
      const top = heap.pop();
      const rank = Math.floor(top / POS_SPACE);
      const pos = top - rank * POS_SPACE;
      const right = next[pos]!;
      if (right < 0 || end[pos]! < 0) continue;
      const m = table[id[pos]!]?.get(id[right]!);
      if (m === undefined || Math.floor(m / ID_SPACE) !== rank) continue;
      const merged = m - rank * ID_SPACE;
      id[pos] = merged;
      end[pos] = end[right]!;
      end[right] = -1;
      sym.count--;
      const after = next[right]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos]!;
      if (before >= 0) {
        const mp = table[id[before]!]?.get(merged);
        if (mp !== undefined) heap.push(Math.floor(mp / ID_SPACE) * POS_SPACE + before);
      }
      if (after >= 0) {
        const mn = table[merged]?.get(id[after]!);
        if (mn !== undefined) heap.push(Math.floor(mn / ID_SPACE) * POS_SPACE + pos);
      }
    }
    return sym;
  }

}
