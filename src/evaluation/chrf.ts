import { EvaluationError, collectSegments } from "./errors.js";
import { pySplit } from "./text.js";

/** chrF and chrF++ (Popović 2015, 2017) as sacrebleu 2.x's CHRF computes them. */

export interface ChrfOptions {
  /** Character n-gram order; default 6. */
  charOrder?: number;
  /** Word n-gram order; default 0 (chrF). 2 gives chrF++. */
  wordOrder?: number;
  /** Recall weight; default 2. */
  beta?: number;
  /** Lowercase hypotheses and references; default false. */
  lowercase?: boolean;
  /** Keep whitespace in character n-grams; default false (removed). */
  whitespace?: boolean;
  /** chrF++.py-style epsilon smoothing instead of sacrebleu's default effective-order averaging; default false. */
  epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** chrF on a 0–100 scale. */
  score: number;
  charOrder: number;
  wordOrder: number;
  beta: number;
}

const PUNCTS = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

function resolve(fn: string, options: ChrfOptions) {
  const o = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  for (const key of ["charOrder", "wordOrder"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) {
      throw new EvaluationError(`${fn}: option ${key} must be a non-negative integer, got ${o[key]}`);
    }
  }
  if (o.charOrder + o.wordOrder === 0) throw new EvaluationError(`${fn}: charOrder + wordOrder must be at least 1`);
  if (!Number.isFinite(o.beta) || o.beta < 0) throw new EvaluationError(`${fn}: option beta must be a non-negative number`);
  return o;
}

type Resolved = ReturnType<typeof resolve>;

function count(items: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Character n-grams of orders 1..maxOrder over code points (Python string semantics). */
function charNgrams(line: string, maxOrder: number, whitespace: boolean): Map<string, number>[] {
  const chars = Array.from(whitespace ? line : pySplit(line).join(""));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const grams: string[] = [];
    for (let i = 0; i + n <= chars.length; i++) grams.push(chars.slice(i, i + n).join(""));
    out.push(count(grams));
  }
  return out;
}

/** chrF++'s word splitting: one punctuation mark is split off the end (or else the start) of each word. */
function splitPunctuation(sentence: string): string[] {
  const words: string[] = [];
  for (const w of pySplit(sentence)) {
    const cps = Array.from(w);
    if (cps.length === 1) {
      words.push(w);
    } else if (PUNCTS.has(cps[cps.length - 1]!)) {
      words.push(cps.slice(0, -1).join(""), cps[cps.length - 1]!);
    } else if (PUNCTS.has(cps[0]!)) {
      words.push(cps[0]!, cps.slice(1).join(""));
    } else {
      words.push(w);
    }
  }
  return words;
}

function allNgrams(sentence: string, o: Resolved): Map<string, number>[] {
  const grams = charNgrams(sentence, o.charOrder, o.whitespace);
  if (o.wordOrder > 0) {
    const words = splitPunctuation(sentence);
    for (let n = 1; n <= o.wordOrder; n++) {
      const g: string[] = [];
      for (let i = 0; i + n <= words.length; i++) g.push(words.slice(i, i + n).join(" "));
      grams.push(count(g));
    }
  }
  return grams;
}

/** [hyp, ref, match] counts per order, flattened. */
function matchStats(hyp: Map<string, number>[], ref: Map<string, number>[]): number[] {
  const stats: number[] = [];
  hyp.forEach((h, k) => {
    const r = ref[k]!;
    let match = 0;
    let hypCount = 0;
    for (const [g, c] of h) {
      hypCount += c;
      const rc = r.get(g);
      if (rc !== undefined) match += Math.min(c, rc);
    }
    let refCount = 0;
    for (const c of r.values()) refCount += c;
    // No hypothesis n-grams count when the reference has none of that order.
    stats.push(r.size > 0 ? hypCount : 0, refCount, match);
  });
  return stats;
}

function fScore(stats: readonly number[], o: Resolved): number {
  const eps = 1e-16;
  const order = o.charOrder + o.wordOrder;
  const factor = o.beta ** 2;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i]!;
    const nRef = stats[3 * i + 1]!;
    const nMatch = stats[3 * i + 2]!;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder++;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) {
    avgPrec = 0;
    avgRec = 0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec !== 0) return (100 * ((1 + factor) * avgPrec * avgRec)) / (factor * avgPrec + avgRec);
  return 0;
}

/** Statistics of one segment against the reference with the best chrF. */
function segmentStats(hypothesis: string, references: readonly string[], o: Resolved): number[] {
  const prep = (s: string): string => (o.lowercase ? s.toLowerCase() : s);
  const hyp = allNgrams(prep(hypothesis), o);
  let best: number[] = [];
  let bestF = -1;
  for (const ref of references) {
    const stats = matchStats(hyp, allNgrams(prep(ref), o));
    const f = fScore(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

/** Corpus chrF; `references` are sacrebleu-style streams, as for `corpusBleu`. */
export function corpusChrf(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  options: ChrfOptions = {},
): ChrfScore {
  const o = resolve("corpusChrf", options);
  const segments = collectSegments("corpusChrf", hypotheses, references);
  const sums = new Array<number>(3 * (o.charOrder + o.wordOrder)).fill(0);
  for (const [hyp, refs] of segments) segmentStats(hyp, refs, o).forEach((v, i) => (sums[i]! += v));
  return { score: fScore(sums, o), charOrder: o.charOrder, wordOrder: o.wordOrder, beta: o.beta };
}

/** chrF of one hypothesis against its references. */
export function sentenceChrf(hypothesis: string, references: readonly string[], options: ChrfOptions = {}): ChrfScore {
  if (!Array.isArray(references) || references.length === 0) {
    throw new EvaluationError("sentenceChrf: references is empty; expected at least one reference string");
  }
  return corpusChrf([hypothesis], references.map((r) => [r]), options);
}
