/**
 * BPE merge learning as `tokenizers`' BpeTrainer does it (bpe/trainer.rs): special tokens first, then the alphabet
 * sorted by code point, then one new token per merge. The most frequent pair is merged next; ties go to the pair
 * with the smaller (left id, right id), so the result is deterministic. Pair counts are updated incrementally from
 * the words a merge touched (a pair -> words index plus a lazily invalidated max-heap), never recounted.
 */
import { TokenizerTrainerError } from "./errors.js";

export interface BpeTrainOptions {
  vocabSize: number;
  minFrequency: number;
  specialTokens: readonly string[];
  /** Characters always in the alphabet (byte-level BPE: the 256 byte characters). */
  initialAlphabet?: readonly string[];
  /** Keep at most this many characters, dropping the rarest (initial alphabet characters count as most frequent). */
  limitAlphabet?: number;
  /** Prefix marking a piece that continues a word (WordPiece: "##"). */
  continuingSubwordPrefix?: string;
}

export interface BpeTrainResult {
  /** Tokens in id order. */
  vocab: string[];
  /** Merged pairs in the order they were learned. */
  merges: Array<[string, string]>;
}

// Pair keys pack two ids below 2^21 into one exact double.
const PAIR_SHIFT = 2 ** 21;
const pairKey = (a: number, b: number): number => a * PAIR_SHIFT + b;

export function trainBpe(wordCounts: Map<string, number>, options: BpeTrainOptions): BpeTrainResult {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  const add = (token: string): number => {
    let id = ids.get(token);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(token);
      ids.set(token, id);
    }
    return id;
  };
  for (const token of options.specialTokens) add(token);
  for (const c of computeAlphabet(wordCounts, options)) add(c);

  if (Math.max(options.vocabSize, vocab.length) > PAIR_SHIFT) {
    throw new TokenizerTrainerError(`vocabSize must be at most ${PAIR_SHIFT}, got ${options.vocabSize}`);
  }
  const prefix = options.continuingSubwordPrefix;
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    const symbols: number[] = [];
    let first = true;
    for (const c of word) {
      // Characters left out of a limited alphabet are dropped from the word, as tokenizers does.
      if (ids.has(c)) symbols.push(add(prefix !== undefined && !first ? prefix + c : c));
      first = false;
    }
    words.push(symbols);
    counts.push(count);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const symbols = words[w]!;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i]!, symbols[i + 1]!);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + counts[w]!);
      let where = pairWords.get(key);
      if (!where) pairWords.set(key, (where = new Set()));
      where.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: Array<[string, string]> = [];
  const grown = new Set<number>();
  while (vocab.length < options.vocabSize && heap.size > 0) {
    const { count: queued, key } = heap.pop();
    const count = pairCounts.get(key) ?? 0;
    if (count !== queued) {
      // Stale entry (the count changed since it was queued): re-queue it at its current count.
      if (count > 0) heap.push(count, key);
      continue;
    }
    if (count < 1 || count < options.minFrequency) break;
    const a = Math.floor(key / PAIR_SHIFT);
    const b = key - a * PAIR_SHIFT;
    const left = vocab[a]!;
    let right = vocab[b]!;
    if (prefix !== undefined && right.startsWith(prefix)) right = right.slice(prefix.length);
    const merged = add(left + right);
    merges.push([vocab[a]!, vocab[b]!]);

    const change = (x: number, y: number, delta: number, w: number): void => {
      const k = pairKey(x, y);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + delta);
      if (delta > 0) {
        let where = pairWords.get(k);
        if (!where) pairWords.set(k, (where = new Set()));
        where.add(w);
        grown.add(k);
      }
    };
    for (const w of pairWords.get(key)!) {
      const symbols = words[w]!;
      const wc = counts[w]!;
      const out: number[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === a && i + 1 < symbols.length && symbols[i + 1] === b) {
          if (out.length > 0) {
            const prev = out[out.length - 1]!;
            change(prev, a, -wc, w);
            change(prev, merged, wc, w);
          }
          if (i + 2 < symbols.length) {
            const next = symbols[i + 2]!;
            change(b, next, -wc, w);
            change(merged, next, wc, w);
          }
          out.push(merged);
          i++;
        } else {
          out.push(symbols[i]!);
        }
      }
      words[w] = out;
    }
    // The pair is gone from every word that had it.
    pairCounts.delete(key);
    pairWords.delete(key);
    for (const k of grown) {
      const c = pairCounts.get(k)!;
      if (c > 0) heap.push(c, k);
    }
    grown.clear();
  }
  return { vocab, merges };
}

function computeAlphabet(wordCounts: Map<string, number>, options: BpeTrainOptions): string[] {
  const frequency = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const c of word) frequency.set(c, (frequency.get(c) ?? 0) + count);
  }
  for (const c of options.initialAlphabet ?? []) frequency.set(c, Infinity);
  let kept = [...frequency.keys()];
  const limit = options.limitAlphabet;
  if (limit !== undefined && kept.length > limit) {
    kept.sort((x, y) => frequency.get(y)! - frequency.get(x)! || codePointCompare(x, y));
    kept = kept.slice(0, limit);
  }
  return kept.sort(codePointCompare);
}

function codePointCompare(x: string, y: string): number {
  return x.codePointAt(0)! - y.codePointAt(0)!;
}

/** Max-heap of (count, pair key): higher count first, then the smaller pair, i.e. the smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    const n = this.counts.length;
    if (n > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < n && this.above(l, best)) best = l;
        if (r < n && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}
