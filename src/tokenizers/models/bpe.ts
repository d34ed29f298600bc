import { TokenizerError } from "../errors.js";
import { utf8Bytes } from "../byte-level.js";
import { NumberHeap } from "./heap.js";
import { type Model, type ModelToken, readVocabObject, reverseVocab, WordCache } from "./model.js";

// Pair keys and heap entries pack two integers into one exactly-representable double.
const ID_SPACE = 2 ** 22;
const POS_SPACE = 2 ** 26;

interface WordResult {
  ids: number[];
  starts: number[];
  ends: number[];
}

/**
 * Byte-pair encoding as tokenizers' BPE model: merges applied lowest rank first (leftmost on ties) through a
 * priority queue, so a word of n characters costs O(n log n) however long it is.
 */
export class BPE implements Model {
  private readonly vocabMap: Map<string, number>;
  private readonly vocabR: string[];
  /** (left id, right id) -> rank * ID_SPACE + merged id. */
  private readonly merges = new Map<number, number>();
  private readonly cache = new WordCache<WordResult>();
  private readonly unkId: number | undefined;
  private readonly byteIds: Array<number | undefined> = [];

  constructor(private readonly options: {
    vocab: Map<string, number>;
    merges: Array<[string, string]>;
    unkToken?: string | null;
    continuingSubwordPrefix?: string | null;
    endOfWordSuffix?: string | null;
    fuseUnk?: boolean;
    byteFallback?: boolean;
    ignoreMerges?: boolean;
  }) {
    this.vocabMap = options.vocab;
    this.vocabR = reverseVocab(options.vocab);
    const prefixLen = options.continuingSubwordPrefix?.length ?? 0;
    options.merges.forEach(([a, b], rank) => {
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
      const key = left * ID_SPACE + right;
      // Later duplicates win, as in the HashMap tokenizers builds.
      this.merges.set(key, rank * ID_SPACE + id);
    });
    if (options.unkToken != null) this.unkId = this.vocabMap.get(options.unkToken);
    if (options.byteFallback) {
      for (let b = 0; b < 256; b++) this.byteIds[b] = this.vocabMap.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    }
  }

  static fromJSON(o: Record<string, unknown>): BPE {
    const vocab = readVocabObject(o.vocab, "model.vocab");
    if (!vocab) throw new TokenizerError("tokenizer.json: model.vocab of a BPE model must map token strings to integer ids");
    if (!Array.isArray(o.merges)) throw new TokenizerError("tokenizer.json: model.merges of a BPE model must be an array");
    const merges = o.merges.map((m, i): [string, string] => {
      if (typeof m === "string") {
        const space = m.indexOf(" ", 1);
        if (space > 0) return [m.slice(0, space), m.slice(space + 1)];
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") {
        return [m[0], m[1]];
      }
      throw new TokenizerError(`tokenizer.json: model.merges[${i}] must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
    });
    const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
    return new BPE({
      vocab,
      merges,
      unkToken: str(o.unk_token),
      continuingSubwordPrefix: str(o.continuing_subword_prefix),
      endOfWordSuffix: str(o.end_of_word_suffix),
      fuseUnk: o.fuse_unk === true,
      byteFallback: o.byte_fallback === true,
      ignoreMerges: o.ignore_merges === true,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.vocabMap.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocabR[id];
  }

  vocab(): Map<string, number> {
    return new Map(this.vocabMap);
  }

  tokenize(word: string): ModelToken[] {
    if (word.length === 0) return [];
    if (this.options.ignoreMerges) {
      const id = this.vocabMap.get(word);
      if (id !== undefined) return [{ id, value: word, start: 0, end: word.length }];
    }
    let result = this.cache.get(word);
    if (!result) {
      result = this.mergeWord(word);
      this.cache.set(word, result);
    }
    const out: ModelToken[] = new Array(result.ids.length);
    for (let i = 0; i < result.ids.length; i++) {
      const id = result.ids[i]!;
      out[i] = { id, value: this.vocabR[id]!, start: result.starts[i]!, end: result.ends[i]! };
    }
    return out;
  }

  private initialSymbols(word: string): WordResult {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, fuseUnk, byteFallback } = this.options;
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let unk: [number, number, number] | null = null; // id, start, end
    const flushUnk = (): void => {
      if (unk) {
        ids.push(unk[0]);
        starts.push(unk[1]);
        ends.push(unk[2]);
        unk = null;
      }
    };
    for (let i = 0; i < word.length; ) {
      const cp = word.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      const end = i + len;
      let s = len === 1 ? word[i]! : word.slice(i, end);
      if (i > 0 && prefix) s = prefix + s;
      if (end === word.length && suffix) s += suffix;
      const id = this.vocabMap.get(s);
      if (id !== undefined) {
        flushUnk();
        ids.push(id);
        starts.push(i);
        ends.push(end);
      } else {
        let handled = false;
        if (byteFallback) {
          const bytes = utf8Bytes(s);
          const byteIds = Array.from(bytes, (b) => this.byteIds[b]);
          if (byteIds.every((b) => b !== undefined)) {
            flushUnk();
            for (const b of byteIds) {
              ids.push(b!);
              starts.push(i);
              ends.push(end);
            }
            handled = true;
          }
        }
        if (!handled && this.unkId !== undefined) {
          if (unk && fuseUnk) unk[2] = end;
          else {
            flushUnk();
            unk = [this.unkId, i, end];
          }
        }
      }
      i = end;
    }
    flushUnk();
    return { ids, starts, ends };
  }

  private mergeWord(word: string): WordResult {
    const init = this.initialSymbols(word);
    const n = init.ids.length;
    if (n < 2 || this.merges.size === 0) return init;
    const id = Int32Array.from(init.ids);
    const start = Int32Array.from(init.starts);
    const end = Int32Array.from(init.ends);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const merges = this.merges;
    const heap = new NumberHeap();
    for (let i = 0; i + 1 < n; i++) {
      const m = merges.get(id[i]! * ID_SPACE + id[i + 1]!);
      if (m !== undefined) heap.push(Math.floor(m / ID_SPACE) * POS_SPACE + i);
    }
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
      const rank = Math.floor(top / POS_SPACE);
      const pos = top - rank * POS_SPACE;
      if (!alive[pos]) continue;
      const right = next[pos]!;
      if (right < 0) continue;
      const m = merges.get(id[pos]! * ID_SPACE + id[right]!);
      if (m === undefined || Math.floor(m / ID_SPACE) !== rank) continue;
      id[pos] = m - rank * ID_SPACE;
      end[pos] = end[right]!;
      alive[right] = 0;
      const after = next[right]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos]!;
      if (before >= 0) {
        const mp = merges.get(id[before]! * ID_SPACE + id[pos]!);
        if (mp !== undefined) heap.push(Math.floor(mp / ID_SPACE) * POS_SPACE + before);
      }
      if (after >= 0) {
        const mn = merges.get(id[pos]! * ID_SPACE + id[after]!);
        if (mn !== undefined) heap.push(Math.floor(mn / ID_SPACE) * POS_SPACE + pos);
      }
    }
    const out: WordResult = { ids: [], starts: [], ends: [] };
    for (let i = 0; i >= 0; i = next[i]!) {
      out.ids.push(id[i]!);
      out.starts.push(start[i]!);
      out.ends.push(end[i]!);
    }
    return out;
  }
}
