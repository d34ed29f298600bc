import { EvaluationError, checkPairs } from "./errors.js";
import { PorterStemmer } from "./porter.js";

/**
 * ROUGE-N, ROUGE-L and ROUGE-Lsum as Google's rouge-score package computes them (the implementation behind
 * Hugging Face `evaluate` and torchmetrics), including its tokenizer and optional Porter stemming.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** "rouge1" … "rouge9" (n-gram overlap), "rougeL" (LCS) or "rougeLsum" (summary-level LCS over newline-split sentences). */
export type RougeType = `rouge${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}` | "rougeL" | "rougeLsum";

export const DEFAULT_ROUGE_TYPES: readonly RougeType[] = ["rouge1", "rouge2", "rougeL", "rougeLsum"];

export interface RougeOptions {
  /** Which scores to compute; default rouge1, rouge2, rougeL, rougeLsum. */
  rougeTypes?: readonly string[];
  /** Porter-stem tokens longer than 3 characters (rouge-score's `use_stemmer`); default false. */
  useStemmer?: boolean;
}

export interface RougeResult {
  /** One score per example for each requested type. */
  scores: Record<string, RougeScore[]>;
  /** Mean precision, recall and F-measure over the examples for each type. */
  mean: Record<string, RougeScore>;
}

const stemmer = new PorterStemmer("NLTK_EXTENSIONS");

/** rouge-score's tokenizer: lowercase, every run of characters outside [a-z0-9] becomes a space, split. */
export function rougeTokenize(text: string, useStemmer = false): string[] {
  const tokens = text.toLowerCase().replace(/[^a-z0-9]+/g, " ").split(" ");
  const out: string[] = [];
  for (const token of tokens) {
    if (token.length === 0) continue;
    out.push(useStemmer && token.length > 3 ? stemmer.stem(token) : token);
  }
  return out;
}

/** F1 of precision and recall, 0 when both are 0. */
export function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    // \u0001 cannot appear in a token (tokens are [a-z0-9]+), so joined keys are unambiguous.
    const key = tokens.slice(i, i + n).join("\u0001");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function scoreNgrams(reference: readonly string[], prediction: readonly string[], n: number): RougeScore {
  const refCounts = ngramCounts(reference, n);
  const predCounts = ngramCounts(prediction, n);
  let overlap = 0;
  let refTotal = 0;
  let predTotal = 0;
  for (const [ngram, count] of refCounts) {
    overlap += Math.min(count, predCounts.get(ngram) ?? 0);
    refTotal += count;
  }
  for (const count of predCounts.values()) predTotal += count;
  const precision = overlap / Math.max(predTotal, 1);
  const recall = overlap / Math.max(refTotal, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** (rows+1) x (cols+1) LCS length table, row-major. */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array {
  const cols = can.length + 1;
  const table = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      table[i * cols + j] =
        ref[i - 1] === can[j - 1]
          ? table[(i - 1) * cols + j - 1]! + 1
          : Math.max(table[(i - 1) * cols + j]!, table[i * cols + j - 1]!);
    }
  }
  return table;
}

/** Length of the longest common subsequence of two token lists. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  return lcsTable(a, b)[a.length * (b.length + 1) + b.length]!;
}

/** Indices into `ref` of one LCS, read back the way rouge-score does (so ties pick the same tokens). */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const table = lcsTable(ref, can);
  const cols = can.length + 1;
  const indices: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      indices.push(i - 1);
      i--;
      j--;
    } else if (table[i * cols + j - 1]! > table[(i - 1) * cols + j]!) {
      j--;
    } else {
      i--;
    }
  }
  return indices.reverse();
}

function scoreLcs(reference: readonly string[], prediction: readonly string[]): RougeScore {
  if (reference.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(reference, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / reference.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Summary-level LCS (ROUGE paper section 3.2) with ROUGE-1.5.5's guard against counting a token twice. */
function scoreSummaryLcs(refSents: readonly string[][], canSents: readonly string[][]): RougeScore {
  const zero = { precision: 0, recall: 0, fmeasure: 0 };
  if (refSents.length === 0 || canSents.length === 0) return zero;
  const m = refSents.reduce((s, x) => s + x.length, 0);
  const n = canSents.reduce((s, x) => s + x.length, 0);
  if (m === 0 || n === 0) return zero;
  const refLeft = new Map<string, number>();
  const canLeft = new Map<string, number>();
  for (const s of refSents) for (const t of s) refLeft.set(t, (refLeft.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) canLeft.set(t, (canLeft.get(t) ?? 0) + 1);
  let hits = 0;
  for (const ref of refSents) {
    const union = new Set<number>();
    for (const can of canSents) for (const i of lcsIndices(ref, can)) union.add(i);
    for (const i of [...union].sort((a, b) => a - b)) {
      const token = ref[i]!;
      const c = canLeft.get(token) ?? 0;
      const r = refLeft.get(token) ?? 0;
      if (c > 0 && r > 0) {
        hits++;
        canLeft.set(token, c - 1);
        refLeft.set(token, r - 1);
      }
    }
  }
  const precision = hits / n;
  const recall = hits / m;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function checkRougeTypes(rougeTypes: readonly string[]): void {
  if (!Array.isArray(rougeTypes) || rougeTypes.length === 0) {
    throw new EvaluationError("rouge: option rougeTypes is empty; expected e.g. ['rouge1', 'rouge2', 'rougeL']");
  }
  for (const t of rougeTypes) {
    if (t !== "rougeL" && t !== "rougeLsum" && !/^rouge[1-9]$/.test(t)) {
      throw new EvaluationError(
        `rouge: unknown rouge type ${JSON.stringify(t)} in option rougeTypes; expected rouge1..rouge9, rougeL or rougeLsum`,
      );
    }
  }
}

/** Sentences for ROUGE-Lsum: the text split on newlines, empty lines dropped. */
function sentences(text: string, useStemmer: boolean): string[][] {
  return text
    .split("\n")
    .filter((s) => s.length > 0)
    .map((s) => rougeTokenize(s, useStemmer));
}

/** ROUGE scores of one prediction against one reference (rouge-score's `RougeScorer.score(target, prediction)`). */
export function rougeScore(prediction: string, reference: string, options: RougeOptions = {}): Record<string, RougeScore> {
  const rougeTypes = options.rougeTypes ?? DEFAULT_ROUGE_TYPES;
  checkRougeTypes(rougeTypes);
  if (typeof prediction !== "string") throw new EvaluationError("rougeScore: prediction must be a string");
  if (typeof reference !== "string") throw new EvaluationError("rougeScore: reference must be a string");
  const useStemmer = options.useStemmer ?? false;
  const refTokens = rougeTokenize(reference, useStemmer);
  const predTokens = rougeTokenize(prediction, useStemmer);
  const result: Record<string, RougeScore> = {};
  for (const t of rougeTypes) {
    if (t === "rougeL") result[t] = scoreLcs(refTokens, predTokens);
    else if (t === "rougeLsum") result[t] = scoreSummaryLcs(sentences(reference, useStemmer), sentences(prediction, useStemmer));
    else result[t] = scoreNgrams(refTokens, predTokens, Number(t.slice(5)));
  }
  return result;
}

/**
 * ROUGE of a prediction against several references: for each type, the score of the reference with the
 * highest F-measure (the first on ties), as rouge-score's `score_multi`.
 */
export function rougeScoreMulti(
  prediction: string,
  references: readonly string[],
  options: RougeOptions = {},
): Record<string, RougeScore> {
  if (!Array.isArray(references) || references.length === 0) {
    throw new EvaluationError("rougeScoreMulti: references is empty; expected at least one reference string");
  }
  const all = references.map((r) => rougeScore(prediction, r, options));
  const best: Record<string, RougeScore> = {};
  for (const t of Object.keys(all[0]!)) {
    let pick = all[0]![t]!;
    for (const s of all) if (s[t]!.fmeasure > pick.fmeasure) pick = s[t]!;
    best[t] = pick;
  }
  return best;
}

/**
 * ROUGE over a dataset: `references[i]` is the reference of `predictions[i]`, or a list of references
 * (the best one per type counts). Returns every example's scores and their mean.
 */
export function rouge(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: RougeOptions = {},
): RougeResult {
  checkPairs("rouge", predictions, references);
  const rougeTypes = options.rougeTypes ?? DEFAULT_ROUGE_TYPES;
  checkRougeTypes(rougeTypes);
  const scores: Record<string, RougeScore[]> = {};
  for (const t of rougeTypes) scores[t] = [];
  predictions.forEach((prediction, i) => {
    const ref = references[i]!;
    const s = typeof ref === "string" ? rougeScore(prediction, ref, options) : rougeScoreMulti(prediction, ref, options);
    for (const t of rougeTypes) scores[t]!.push(s[t]!);
  });
  const mean: Record<string, RougeScore> = {};
  for (const t of rougeTypes) mean[t] = meanScore(scores[t]!);
  return { scores, mean };
}

function meanScore(scores: readonly RougeScore[]): RougeScore {
  let p = 0;
  let r = 0;
  let f = 0;
  for (const s of scores) {
    p += s.precision;
    r += s.recall;
    f += s.fmeasure;
  }
  return { precision: p / scores.length, recall: r / scores.length, fmeasure: f / scores.length };
}
