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
 * Seeds are the characters (scored by frequency) and the substrings that repeat with different contexts on both
 * sides (scored by frequency x length), each distinct word counted once: the maximal repeats a suffix array of the
 * words joined with separators enumerates, found here by counting substrings up to `maxPieceLength` instead.
 */
export function seedPieces(words: ReadonlyArray<readonly [string, number]>, maxPieceLength: number, seedSize: number): UnigramPiece[] {
  const charFreq = new Map<string, number>();
  const substrings = new Map<string, number>();
  for (const [word, count] of words) {
    const chars = Array.from(word);
    for (const c of chars) charFreq.set(c, (charFreq.get(c) ?? 0) + count);
    for (let i = 0; i < chars.length; i++) {
      let s = chars[i]!;
      const end = Math.min(chars.length, i + maxPieceLength);
      for (let j = i + 1; j < end; j++) {
        s += chars[j]!;
        substrings.set(s, (substrings.get(s) ?? 0) + 1);
      }
    }
  }
  // A substring is not maximal when one extension on the right (or left) occurs exactly as often.
  const extended = new Map<string, number>();
  for (const [s, freq] of substrings) {
    const first = s.codePointAt(0)! > 0xffff ? 2 : 1;
    const last = s.length >= 2 && isLowSurrogate(s.charCodeAt(s.length - 1)) ? 2 : 1;
    if (s.length - first <= 0) continue;
    for (const parent of [s.slice(0, s.length - last), s.slice(first)]) {
      if (substrings.has(parent) && (extended.get(parent) ?? 0) < freq) extended.set(parent, freq);
    }
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

  /** Live nodes of a lattice as flat (begin, end, piece id, score) arrays; unknown characters get the unk piece. */
  nodes(lattice: WordLattice, skipWhole = false): { begin: number[]; end: number[]; id: number[]; score: number[] } {
    const out = { begin: [] as number[], end: [] as number[], id: [] as number[], score: [] as number[] };
    const { nodes, length } = lattice;
    let k = 0;
    for (let pos = 0; pos < length; pos++) {
      let single = false;
      while (k < nodes.length && nodes[k] === pos) {
        const end = nodes[k + 1]!;
        const id = this.alive[nodes[k + 2]!]!;
        k += 3;
        if (id < 0 || (skipWhole && pos === 0 && end === length)) continue;
        if (end === pos + 1) single = true;
        out.begin.push(pos);
        out.end.push(end);
        out.id.push(id);
        out.score.push(this.scores[id]!);
      }
      if (!single) {
        // Keep begin order: the unknown-character node goes before longer nodes at this position.
        let at = out.begin.length;
        while (at > 0 && out.begin[at - 1] === pos) at--;
        out.begin.splice(at, 0, pos);
        out.end.splice(at, 0, pos + 1);
        out.id.splice(at, 0, 0);
        out.score.splice(at, 0, this.unkScore);
      }
    }
    return out;
  }
}

function logSumExp(x: number, y: number, init: boolean): number {
  if (init) return y;
  const hi = Math.max(x, y);
  const lo = Math.min(x, y);
  return hi > lo + 50 ? hi : hi + Math.log(Math.exp(lo - hi) + 1);
}

/** Best segmentation (ties go to the longer piece ending a position, as tokenizers' lattice does). */
function viterbi(nodes: ReturnType<Model["nodes"]>, length: number): number[] {
  const best = new Float64Array(length + 1).fill(-Infinity);
  const from = new Int32Array(length + 1).fill(-1);
  best[0] = 0;
  for (let k = 0; k < nodes.begin.length; k++) {
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
    ({ pieces, seedIndexOf } = prune(model, lattices, seedIndex, maxPieceLength, totalCount, shrinkingFactor, desired));
    model = new Model(pieces, seedIndexOf, seeds.length);
  }
  return finalize(model, requiredChars, target, options.specialTokens);
}

function buildLattice(word: string, count: number, seedIndex: Map<string, number>, maxPieceLength: number): WordLattice {
  const chars = Array.from(word);
  const nodes: number[] = [];
  for (let b = 0; b < chars.length; b++) {
    let s = "";
    for (let e = b; e < Math.min(chars.length, b + maxPieceLength); e++) {
      s += chars[e]!;
      const index = seedIndex.get(s);
      if (index !== undefined) nodes.push(b, e + 1, index);
    }
  }
  return { length: chars.length, count, nodes: Int32Array.from(nodes) };
}

function expectation(model: Model, lattices: readonly WordLattice[]): Float64Array {
  const expected = new Float64Array(model.pieces.length);
  for (const lattice of lattices) {
    const n = model.nodes(lattice);
    const L = lattice.length;
    const alpha = new Float64Array(L + 1);
    const alphaSet = new Uint8Array(L + 1);
    alphaSet[0] = 1;
    for (let k = 0; k < n.begin.length; k++) {
      const b = n.begin[k]!;
      const e = n.end[k]!;
      alpha[e] = logSumExp(alpha[e]!, alpha[b]! + n.score[k]!, alphaSet[e] === 0);
      alphaSet[e] = 1;
    }
    const beta = new Float64Array(L + 1);
    const betaSet = new Uint8Array(L + 1);
    betaSet[L] = 1;
    for (let k = n.begin.length - 1; k >= 0; k--) {
      const b = n.begin[k]!;
      const e = n.end[k]!;
      beta[b] = logSumExp(beta[b]!, n.score[k]! + beta[e]!, betaSet[b] === 0);
      betaSet[b] = 1;
    }
    const z = alpha[L]!;
    for (let k = 0; k < n.begin.length; k++) {
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
  seedIndex: Map<string, number>,
  maxPieceLength: number,
  totalCount: number,
  shrinkingFactor: number,
  desired: number,
): { pieces: UnigramPiece[]; seedIndexOf: number[] } {
  const { pieces, seedIndexOf } = model;
  const alwaysKeep = new Uint8Array(pieces.length);
  const alternatives: number[][] = pieces.map(() => []);
  for (let id = 1; id < pieces.length; id++) {
    const piece = pieces[id]![0];
    const lattice = buildLattice(piece, 1, seedIndex, maxPieceLength);
    if (lattice.length <= 1) {
      alwaysKeep[id] = 1;
      continue;
    }
    const best = viterbi(model.nodes(lattice), lattice.length);
    if (best.length !== 1) continue;
    // The piece is its own best segmentation: the runner-up is the best one that does not use it whole.
    alwaysKeep[id] = 1;
    const second = model.nodes(lattice, true);
    for (const k of viterbi(second, lattice.length)) alternatives[id]!.push(second.id[k]!);
  }

  const freq = new Float64Array(pieces.length);
  for (const lattice of lattices) {
    const n = model.nodes(lattice);
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
