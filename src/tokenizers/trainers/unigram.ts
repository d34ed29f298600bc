/**
 * Unigram language-model training as `tokenizers`' UnigramTrainer does it (unigram/trainer.rs, after
 * SentencePiece): seed pieces from frequent substrings, then EM rounds (expected counts from forward-backward
 * over each word's lattice, a Bayesian M step through digamma) each followed by pruning the pieces whose removal
 * costs the corpus likelihood least, shrinking the vocabulary by `shrinkingFactor` until it is near `vocabSize`.
 */
import { TokenizerTrainerError } from "./errors.js";

export interface UnigramTrainOptions {
  vocabSize: number;
  specialTokens: readonly string[];
  /** Characters that must be in the vocabulary even if the corpus lacks them. */
  initialAlphabet?: readonly string[];
  maxPieceLength?: number;
  shrinkingFactor?: number;
  nSubIterations?: number;
  seedSize?: number;
}

export type UnigramPiece = [piece: string, score: number];

/**
 * Seeds are the characters (scored by frequency) and the substrings that repeat and are followed by more than one
 * character (scored by frequency x length), each distinct word counted once: the internal nodes of the suffix tree
 * of the words joined with separators, which tokenizers enumerates with a suffix array; found here by counting
 * substrings up to `maxPieceLength` instead.
 */
function seedPieces(words: ReadonlyArray<readonly [string, number]>, maxPieceLength: number, seedSize: number): UnigramPiece[] {
  const charFreq = new Map<string, number>();
  const substrings = new Map<string, number>();
  for (const [word, count] of words) {
    const offsets = codePointOffsets(word);
    const length = offsets.length - 1;
    for (let i = 0; i < length; i++) {
      const c = word.slice(offsets[i], offsets[i + 1]);
      charFreq.set(c, (charFreq.get(c) ?? 0) + count);
      const last = Math.min(length, i + maxPieceLength);
      for (let j = i + 2; j <= last; j++) {
        const sub = word.slice(offsets[i], offsets[j]);
        substrings.set(sub, (substrings.get(sub) ?? 0) + 1);
      }
    }
  }
  // Suffix-tree internal nodes: a substring whose occurrences are all followed by the same character is not one.
  const extended = new Map<string, number>();
  for (const [s, freq] of substrings) {
    const last = isLowSurrogate(s.charCodeAt(s.length - 1)) ? 2 : 1;
    const parent = s.slice(0, s.length - last);
    if ((extended.get(parent) ?? 0) < freq) extended.set(parent, freq);
  }
  const scored: Array<[string, number]> = [];
  for (const [s, freq] of substrings) {
    if (freq < 2 || (extended.get(s) ?? 0) >= freq) continue;
    scored.push([s, freq * codePointLength(s)]);
  }
  scored.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0));
  const chars = [...charFreq].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0));
  const seeds: UnigramPiece[] = chars.map(([c, f]) => [c, f]);
  for (const [s, score] of scored) {
    if (seeds.length >= seedSize) break;
    seeds.push([s, score]);
  }
  const logSum = Math.log(seeds.reduce((sum, [, f]) => sum + f, 0));
  for (const seed of seeds) seed[1] = Math.log(seed[1]) - logSum;
  return seeds;
}

const UNK_PENALTY = 10;

/** One word's lattice: every (begin, end, seed index) whose substring is a seed piece, by begin then length. */
interface WordLattice {
  length: number;
  count: number;
  nodes: Int32Array;
}

/**
 * The current vocabulary, as ids into the seed list: pieces are only ever removed during training, so each word's
 * candidate substrings are looked up once and the lattices afterwards are plain integer arrays.
 */
class Model {
  readonly alive: Int32Array;
  readonly scores: Float64Array;
  readonly unkScore: number;

  constructor(
    readonly pieces: UnigramPiece[],
    readonly seedIndexOf: readonly number[],
    seedCount: number,
  ) {
    this.alive = new Int32Array(seedCount).fill(-1);
    this.scores = new Float64Array(pieces.length);
    let min = Infinity;
    for (let id = 0; id < pieces.length; id++) {
      const score = pieces[id]![1];
      this.scores[id] = score;
      if (id > 0) this.alive[seedIndexOf[id]!] = id;
      if (score < min) min = score;
    }
    this.unkScore = min - UNK_PENALTY;
  }

  /** Writes the live nodes of a lattice into `out`, by begin; a character no piece covers gets the unk piece. */
  fill(lattice: WordLattice, out: Nodes, skipWhole = false): void {
    const { nodes, length } = lattice;
    out.clear();
    let k = 0;
    for (let pos = 0; pos < length; pos++) {
      let single = false;
      while (k < nodes.length && nodes[k] === pos) {
        const end = nodes[k + 1]!;
        const id = this.alive[nodes[k + 2]!]!;
        k += 3;
        if (id < 0 || (skipWhole && pos === 0 && end === length)) continue;
        if (end === pos + 1) single = true;
        out.push(pos, end, id, this.scores[id]!);
      }
      if (!single) out.push(pos, pos + 1, 0, this.unkScore);
    }
  }
}

/** Reused scratch arrays for one lattice's nodes, so the EM loops allocate nothing per word. */
class Nodes {
  n = 0;
  begin = new Int32Array(256);
  end = new Int32Array(256);
  id = new Int32Array(256);
  score = new Float64Array(256);

  clear(): void {
    this.n = 0;
  }

  push(begin: number, end: number, id: number, score: number): void {
    if (this.n === this.begin.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.begin = grow(this.begin);
      this.end = grow(this.end);
      this.id = grow(this.id);
      this.score = grow(this.score);
    }
    const i = this.n++;
    this.begin[i] = begin;
    this.end[i] = end;
    this.id[i] = id;
    this.score[i] = score;
  }
}

function logSumExp(x: number, y: number, init: boolean): number {
  if (init) return y;
  const hi = Math.max(x, y);
  const lo = Math.min(x, y);
  return hi > lo + 50 ? hi : hi + Math.log(Math.exp(lo - hi) + 1);
}

/** Best segmentation as node indices (ties go to the longer piece ending a position, as tokenizers' lattice does). */
function viterbi(nodes: Nodes, length: number): number[] {
  const best = new Float64Array(length + 1).fill(-Infinity);
  const from = new Int32Array(length + 1).fill(-1);
  best[0] = 0;
  for (let k = 0; k < nodes.n; k++) {
    const b = nodes.begin[k]!;
    if (best[b] === -Infinity) continue;
    const s = best[b]! + nodes.score[k]!;
    const e = nodes.end[k]!;
    if (from[e] === -1 || s > best[e]!) {
      best[e] = s;
      from[e] = k;
    }
  }
  const path: number[] = [];
  for (let pos = length; pos > 0; ) {
    const k = from[pos]!;
    if (k < 0) return [];
    path.push(k);
    pos = nodes.begin[k]!;
  }
  return path.reverse();
}

export function digamma(x: number): number {
  let result = 0;
  while (x < 7) {
    result -= 1 / x;
    x += 1;
  }
  x -= 0.5;
  const xx = 1 / x;
  const xx2 = xx * xx;
  const xx4 = xx2 * xx2;
  return result + Math.log(x) + xx2 / 24 - (7 / 960) * xx4 + (31 / 8064) * xx4 * xx2 - (127 / 30720) * xx4 * xx4;
}

/**
 * Trains the pieces and scores; returns the final vocabulary (special tokens first with score 0, then pieces by
 * decreasing score), `vocabSize` long unless the corpus has fewer pieces to offer.
 */
export function trainUnigram(wordCounts: Map<string, number>, options: UnigramTrainOptions): UnigramPiece[] {
  const maxPieceLength = options.maxPieceLength ?? 16;
  const shrinkingFactor = options.shrinkingFactor ?? 0.75;
  const nSubIterations = options.nSubIterations ?? 2;
  const words = [...wordCounts].filter(([w]) => w.length > 0);
  const target = options.vocabSize - options.specialTokens.length;

  const requiredChars = new Set<string>();
  for (const [word] of words) for (const c of word) requiredChars.add(c);
  for (const c of options.initialAlphabet ?? []) requiredChars.add(c);
  if (requiredChars.size > target) {
    throw new TokenizerTrainerError(
      `vocabSize ${options.vocabSize} cannot hold the ${options.specialTokens.length} special tokens and the ` +
        `${requiredChars.size} characters of the corpus; expected vocabSize >= ${requiredChars.size + options.specialTokens.length}`,
    );
  }

  const seeds = seedPieces(words, maxPieceLength, options.seedSize ?? 1_000_000);
  const seedIndex = new Map<string, number>();
  seeds.forEach(([piece], i) => seedIndex.set(piece, i));
  const lattices = words.map(([word, count]) => buildLattice(word, count, seedIndex, maxPieceLength));
  const totalCount = words.reduce((sum, [, c]) => sum + c, 0);
  const pieceLattices = new Map<number, WordLattice>();
  const pieceLattice = (seed: number): WordLattice => {
    let lattice = pieceLattices.get(seed);
    if (!lattice) pieceLattices.set(seed, (lattice = buildLattice(seeds[seed]![0], 1, seedIndex, maxPieceLength)));
    return lattice;
  };

  // Id 0 is the training-time unknown piece; its score is never used (unknown nodes score min - 10).
  let pieces: UnigramPiece[] = [["<UNK>", NaN], ...seeds.map(([p, s]): UnigramPiece => [p, s])];
  let seedIndexOf = [-1, ...seeds.map((_, i) => i)];
  const desired = Math.floor((options.vocabSize * 11) / 10);
  let model = new Model(pieces, seedIndexOf, seeds.length);
  for (;;) {
    for (let iter = 0; iter < nSubIterations; iter++) {
      const expected = expectation(model, lattices);
      ({ pieces, seedIndexOf } = maximization(pieces, seedIndexOf, expected));
      model = new Model(pieces, seedIndexOf, seeds.length);
    }
    if (pieces.length <= desired) break;
    ({ pieces, seedIndexOf } = prune(model, lattices, pieceLattice, totalCount, shrinkingFactor, desired));
    model = new Model(pieces, seedIndexOf, seeds.length);
  }
  return finalize(model, requiredChars, target, options.specialTokens);
}

function buildLattice(word: string, count: number, seedIndex: Map<string, number>, maxPieceLength: number): WordLattice {
  const offsets = codePointOffsets(word);
  const length = offsets.length - 1;
  const nodes: number[] = [];
  for (let b = 0; b < length; b++) {
    const last = Math.min(length, b + maxPieceLength);
    for (let e = b + 1; e <= last; e++) {
      const index = seedIndex.get(word.slice(offsets[b], offsets[e]));
      if (index !== undefined) nodes.push(b, e, index);
    }
  }
  return { length, count, nodes: Int32Array.from(nodes) };
}

/** Code-unit offset of each code point, plus the string's length. */
function codePointOffsets(word: string): number[] {
  const offsets: number[] = [];
  for (let i = 0; i < word.length; i++) if (!isLowSurrogate(word.charCodeAt(i))) offsets.push(i);
  offsets.push(word.length);
  return offsets;
}

function expectation(model: Model, lattices: readonly WordLattice[]): Float64Array {
  const expected = new Float64Array(model.pieces.length);
  const n = new Nodes();
  let alpha = new Float64Array(64);
  let beta = new Float64Array(64);
  let seen = new Uint8Array(64);
  for (const lattice of lattices) {
    model.fill(lattice, n);
    const L = lattice.length;
    if (alpha.length <= L) {
      alpha = new Float64Array(2 * L + 2);
      beta = new Float64Array(2 * L + 2);
      seen = new Uint8Array(2 * L + 2);
    }
    // Forward: alpha[p] = log of the summed scores of all segmentations of the first p characters.
    seen.fill(0, 0, L + 1);
    alpha[0] = 0;
    seen[0] = 1;
    for (let k = 0; k < n.n; k++) {
      const e = n.end[k]!;
      alpha[e] = logSumExp(alpha[e]!, alpha[n.begin[k]!]! + n.score[k]!, seen[e] === 0);
      seen[e] = 1;
    }
    seen.fill(0, 0, L + 1);
    beta[L] = 0;
    seen[L] = 1;
    for (let k = n.n - 1; k >= 0; k--) {
      const b = n.begin[k]!;
      beta[b] = logSumExp(beta[b]!, n.score[k]! + beta[n.end[k]!]!, seen[b] === 0);
      seen[b] = 1;
    }
    const z = alpha[L]!;
    for (let k = 0; k < n.n; k++) {
      expected[n.id[k]!]! += lattice.count * Math.exp(alpha[n.begin[k]!]! + n.score[k]! + beta[n.end[k]!]! - z);
    }
  }
  return expected;
}

function maximization(
  pieces: UnigramPiece[],
  seedIndexOf: number[],
  expected: Float64Array,
): { pieces: UnigramPiece[]; seedIndexOf: number[] } {
  const kept: UnigramPiece[] = [pieces[0]!];
  const keptSeeds = [-1];
  let sum = 0;
  for (let i = 1; i < pieces.length; i++) {
    const freq = expected[i]!;
    if (freq < 0.5) continue;
    kept.push([pieces[i]![0], freq]);
    keptSeeds.push(seedIndexOf[i]!);
    sum += freq;
  }
  // Bayesian (DP) EM: digamma instead of log acts as a sparse prior.
  const logSum = digamma(sum);
  for (const piece of kept) piece[1] = digamma(piece[1]) - logSum;
  return { pieces: kept, seedIndexOf: keptSeeds };
}

function prune(
  model: Model,
  lattices: readonly WordLattice[],
  pieceLattice: (seed: number) => WordLattice,
  totalCount: number,
  shrinkingFactor: number,
  desired: number,
): { pieces: UnigramPiece[]; seedIndexOf: number[] } {
  const { pieces, seedIndexOf } = model;
  const alwaysKeep = new Uint8Array(pieces.length);
  const alternatives: number[][] = pieces.map(() => []);
  const n = new Nodes();
  for (let id = 1; id < pieces.length; id++) {
    const lattice = pieceLattice(seedIndexOf[id]!);
    if (lattice.length <= 1) {
      alwaysKeep[id] = 1;
      continue;
    }
    model.fill(lattice, n);
    if (viterbi(n, lattice.length).length !== 1) continue;
    // The piece is its own best segmentation: the runner-up is the best one that does not use it whole.
    alwaysKeep[id] = 1;
    model.fill(lattice, n, true);
    for (const k of viterbi(n, lattice.length)) alternatives[id]!.push(n.id[k]!);
  }

  const freq = new Float64Array(pieces.length);
  for (const lattice of lattices) {
    model.fill(lattice, n);
    for (const k of viterbi(n, lattice.length)) freq[n.id[k]!]! += lattice.count;
  }
  const sum = freq.reduce((s, f) => s + f, 0);
  const logSum = Math.log(sum);
  const kept: number[] = [0];
  const candidates: Array<[number, number]> = [];
  for (let id = 1; id < pieces.length; id++) {
    if (freq[id] === 0 && !alwaysKeep[id]) continue;
    if (alternatives[id]!.length === 0) {
      kept.push(id);
      continue;
    }
    // Each occurrence of the piece counts its word's frequency, so this is freq[id] over all words.
    const f = freq[id]! / totalCount;
    if (f === 0 || Number.isNaN(f)) continue;
    const logProb = Math.log(freq[id]!) - logSum;
    // tokenizers uses the number of pieces here where SentencePiece uses the number of alternatives; kept as is
    // so that trained vocabularies match tokenizers'.
    const logSumAlt = Math.log(sum + freq[id]! * (pieces.length - 1));
    let logProbAlt = 0;
    for (const alt of alternatives[id]!) logProbAlt += Math.log(freq[alt]! + freq[id]!) - logSumAlt;
    candidates.push([id, f * (logProb - logProbAlt)]);
  }
  const prunedSize = Math.max(desired, Math.floor(pieces.length * shrinkingFactor));
  candidates.sort((x, y) => y[1] - x[1]);
  for (const [id] of candidates) {
    if (kept.length >= prunedSize) break;
    kept.push(id);
  }
  return { pieces: kept.map((id) => pieces[id]!), seedIndexOf: kept.map((id) => seedIndexOf[id]!) };
}

function finalize(model: Model, requiredChars: Set<string>, target: number, specialTokens: readonly string[]): UnigramPiece[] {
  const scoreOf = new Map<string, number>();
  let minScore = Infinity;
  model.pieces.forEach(([p, s], id) => {
    if (id === 0) return;
    scoreOf.set(p, s);
    if (s < minScore) minScore = s;
  });
  const out: UnigramPiece[] = [];
  const inserted = new Set<string>();
  let penalty = 0;
  for (const c of requiredChars) {
    const score = scoreOf.get(c);
    out.push([c, score ?? minScore + penalty]);
    if (score === undefined) penalty += 0.0001;
    inserted.add(c);
  }
  for (let id = 1; id < model.pieces.length && out.length < target; id++) {
    const [piece, score] = model.pieces[id]!;
    if (inserted.has(piece)) continue;
    inserted.add(piece);
    out.push([piece, Number.isNaN(score) ? 0 : score]);
  }
  out.sort((x, y) => y[1] - x[1]);
  return [...specialTokens.map((t): UnigramPiece => [t, 0]), ...out];
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (!isLowSurrogate(s.charCodeAt(i))) n++;
  return n;
}
