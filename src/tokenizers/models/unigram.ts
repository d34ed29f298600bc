import { TokenizerError } from "../errors.js";
import { utf8Bytes } from "../byte-level.js";
import { type Model, type ModelToken, WordCache } from "./model.js";

// SentencePiece's penalty below the lowest piece score for an unknown character.
const UNK_PENALTY = 10;

interface TrieNode {
  children: Map<number, TrieNode>;
  id: number;
}

/**
 * SentencePiece's unigram model: the Viterbi path of highest total score over the pieces that match. Unknown
 * characters in a row fuse into one unknown token whose value is the text itself, as tokenizers does.
 */
export class Unigram implements Model {
  private readonly vocabMap = new Map<string, number>();
  private readonly root: TrieNode = { children: new Map(), id: -1 };
  private readonly minScore: number;
  private readonly cache = new WordCache<ModelToken[]>();

  constructor(
    private readonly pieces: Array<[string, number]>,
    private readonly unkId: number | undefined,
    private readonly byteFallback: boolean,
  ) {
    let min = Infinity;
    pieces.forEach(([piece, score], id) => {
      this.vocabMap.set(piece, id);
      min = Math.min(min, score);
      let node = this.root;
      for (let k = 0; k < piece.length; k++) {
        const c = piece.charCodeAt(k);
        let child = node.children.get(c);
        if (!child) {
          child = { children: new Map(), id: -1 };
          node.children.set(c, child);
        }
        node = child;
      }
      node.id = id;
    });
    this.minScore = min;
  }

  static fromJSON(o: Record<string, unknown>): Unigram {
    if (!Array.isArray(o.vocab)) throw new TokenizerError("tokenizer.json: model.vocab of a Unigram model must be an array of [piece, score]");
    const pieces = o.vocab.map((entry, i): [string, number] => {
      if (Array.isArray(entry) && typeof entry[0] === "string" && typeof entry[1] === "number") return [entry[0], entry[1]];
      throw new TokenizerError(`tokenizer.json: model.vocab[${i}] must be [piece, score], got ${JSON.stringify(entry)}`);
    });
    const unkId = typeof o.unk_id === "number" ? o.unk_id : undefined;
    if (unkId !== undefined && (unkId < 0 || unkId >= pieces.length)) {
      throw new TokenizerError(`tokenizer.json: model.unk_id ${unkId} is outside the vocabulary of ${pieces.length} pieces`);
    }
    return new Unigram(pieces, unkId, o.byte_fallback === true);
  }

  tokenToId(token: string): number | undefined {
    return this.vocabMap.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id]?.[0];
  }

  vocab(): Map<string, number> {
    return new Map(this.vocabMap);
  }

  tokenize(word: string): ModelToken[] {
    if (word.length === 0) return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    const out: ModelToken[] = [];
    for (const [start, end] of this.viterbi(word)) {
      const piece = word.slice(start, end);
      const id = this.vocabMap.get(piece);
      if (id !== undefined) {
        out.push({ id, value: piece, start, end });
        continue;
      }
      if (this.byteFallback) {
        const ids: number[] = [];
        const names: string[] = [];
        for (const b of utf8Bytes(piece)) {
          const name = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
          const byteId = this.vocabMap.get(name);
          if (byteId === undefined) break;
          ids.push(byteId);
          names.push(name);
        }
        if (ids.length === utf8Bytes(piece).length) {
          ids.forEach((byteId, k) => out.push({ id: byteId, value: names[k]!, start, end }));
          continue;
        }
      }
      if (this.unkId === undefined) {
        throw new TokenizerError(`tokenizer.json: Unigram model has no unk_id but "${piece}" is not in its vocabulary`);
      }
      out.push({ id: this.unkId, value: piece, start, end });
    }
    this.cache.set(word, out);
    return out;
  }

  /** Best segmentation as [start, end) ranges, consecutive unknowns fused. */
  private viterbi(s: string): Array<[number, number]> {
    const n = s.length;
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const idAt = new Int32Array(n + 1).fill(-1);
    const unkScore = this.minScore - UNK_PENALTY;
    for (let i = 0; i < n; ) {
      const charLen = s.codePointAt(i)! > 0xffff ? 2 : 1;
      // Positions after a surrogate half are not character boundaries; unreachable ones never start a piece.
      if (i > 0 && from[i] < 0) {
        i += charLen;
        continue;
      }
      const base = score[i]!;
      let hasSingle = false;
      let node: TrieNode | undefined = this.root;
      for (let j = i; j < n; j++) {
        node = node.children.get(s.charCodeAt(j));
        if (!node) break;
        if (node.id < 0) continue;
        const end = j + 1;
        if (end < n && isLowSurrogate(s.charCodeAt(end)) && isHighSurrogate(s.charCodeAt(j))) continue;
        const candidate = base + this.pieces[node.id]![1];
        if (from[end]! < 0 || candidate > score[end]!) {
          score[end] = candidate;
          from[end] = i;
          idAt[end] = node.id;
        }
        if (end - i === charLen) hasSingle = true;
      }
      if (!hasSingle) {
        const end = i + charLen;
        const candidate = base + unkScore;
        if (from[end]! < 0 || candidate > score[end]!) {
          score[end] = candidate;
          from[end] = i;
          idAt[end] = -2;
        }
      }
      i += charLen;
    }
    const ranges: Array<[number, number]> = [];
    let unkEnd = -1;
    for (let end = n; end > 0; ) {
      const start = from[end]!;
      const isUnk = idAt[end] === -2 || (this.unkId !== undefined && idAt[end] === this.unkId);
      if (isUnk) {
        if (unkEnd < 0) unkEnd = end;
      } else {
        if (unkEnd >= 0) {
          ranges.push([end, unkEnd]);
          unkEnd = -1;
        }
        ranges.push([start, end]);
      }
      end = start;
    }
    if (unkEnd >= 0) ranges.push([0, unkEnd]);
    return ranges.reverse();
  }
}

function isHighSurrogate(u: number): boolean {
  return u >= 0xd800 && u <= 0xdbff;
}

function isLowSurrogate(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}
