import { EvaluationError, checkPairs } from "./errors.js";
import { pySplit } from "./text.js";

/** Classification metrics (scikit-learn meanings) and the SQuAD answer metrics. */

export type ClassLabel = string | number | boolean;

export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationReport {
  accuracy: number;
  macro: PrecisionRecallF1;
  micro: PrecisionRecallF1;
  /** Per-label scores and support (number of true occurrences), in the order of `labels`. */
  perLabel: { label: ClassLabel; precision: number; recall: number; f1: number; support: number }[];
  labels: ClassLabel[];
}

/** Fraction of predictions equal to their reference. */
export function accuracy(predictions: readonly ClassLabel[], references: readonly ClassLabel[]): number {
  checkPairs("accuracy", predictions, references);
  let hits = 0;
  predictions.forEach((p, i) => {
    if (p === references[i]) hits++;
  });
  return hits / predictions.length;
}

const safeDiv = (a: number, b: number): number => (b === 0 ? 0 : a / b);
const f1Of = (p: number, r: number): number => safeDiv(2 * p * r, p + r);

/**
 * Precision, recall and F1 per label, macro-averaged (unweighted mean of the per-label scores, as
 * sklearn's average="macro") and micro-averaged (from the summed true/false positives). A zero denominator
 * gives 0, like sklearn's zero_division default. `labels` defaults to every label seen, sorted.
 */
export function classificationReport(
  predictions: readonly ClassLabel[],
  references: readonly ClassLabel[],
  options: { labels?: readonly ClassLabel[] } = {},
): ClassificationReport {
  checkPairs("classificationReport", predictions, references);
  const labels = options.labels ? [...options.labels] : sortedLabels([...predictions, ...references]);
  if (labels.length === 0) throw new EvaluationError("classificationReport: option labels is empty; expected at least one label");
  const index = new Map<ClassLabel, number>(labels.map((l, i) => [l, i]));
  const tp = new Array<number>(labels.length).fill(0);
  const predCount = new Array<number>(labels.length).fill(0);
  const trueCount = new Array<number>(labels.length).fill(0);
  predictions.forEach((p, i) => {
    const r = references[i]!;
    const pi = index.get(p);
    const ri = index.get(r);
    if (pi !== undefined) predCount[pi]!++;
    if (ri !== undefined) trueCount[ri]!++;
    if (p === r && pi !== undefined) tp[pi]!++;
  });
  const perLabel = labels.map((label, k) => {
    const precision = safeDiv(tp[k]!, predCount[k]!);
    const recall = safeDiv(tp[k]!, trueCount[k]!);
    return { label, precision, recall, f1: f1Of(precision, recall), support: trueCount[k]! };
  });
  const avg = (f: "precision" | "recall" | "f1"): number => perLabel.reduce((s, x) => s + x[f], 0) / perLabel.length;
  const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
  const microP = safeDiv(sum(tp), sum(predCount));
  const microR = safeDiv(sum(tp), sum(trueCount));
  return {
    accuracy: accuracy(predictions, references),
    macro: { precision: avg("precision"), recall: avg("recall"), f1: avg("f1") },
    micro: { precision: microP, recall: microR, f1: f1Of(microP, microR) },
    perLabel,
    labels,
  };
}

function sortedLabels(values: ClassLabel[]): ClassLabel[] {
  const unique = [...new Set(values)];
  return unique.sort((a, b) => {
    if (typeof a === "number" && typeof b === "number") return a - b;
    const sa = String(a);
    const sb = String(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  });
}

// string.punctuation, the set SQuAD's evaluation script removes.
const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
// Python's \b is Unicode-aware; JS's is ASCII-only, so spell the boundaries out.
const ARTICLES = /(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu;

/** SQuAD's normalize_answer: lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace. */
export function normalizeAnswer(text: string): string {
  const lower = text.toLowerCase();
  const noPunct = Array.from(lower)
    .filter((ch) => !PUNCTUATION.has(ch))
    .join("");
  return pySplit(noPunct.replace(ARTICLES, " ")).join(" ");
}

/** 1 if the normalized answers are equal, else 0 (SQuAD's exact_match_score). */
export function exactMatchScore(prediction: string, reference: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(reference) ? 1 : 0;
}

/** SQuAD's token-level F1 between a predicted and a reference answer. */
export function tokenF1Score(prediction: string, reference: string): number {
  const predTokens = pySplit(normalizeAnswer(prediction));
  const refTokens = pySplit(normalizeAnswer(reference));
  const refCounts = new Map<string, number>();
  for (const t of refTokens) refCounts.set(t, (refCounts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of predTokens) {
    const c = refCounts.get(t) ?? 0;
    if (c > 0) {
      same++;
      refCounts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predTokens.length;
  const recall = same / refTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

function overReferences(
  fn: string,
  metric: (p: string, r: string) => number,
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
): number {
  checkPairs(fn, predictions, references);
  let total = 0;
  predictions.forEach((p, i) => {
    const refs = references[i]!;
    const list = typeof refs === "string" ? [refs] : refs;
    if (!Array.isArray(list) || list.length === 0) {
      throw new EvaluationError(`${fn}: references[${i}] is empty; expected a string or a non-empty list of answers`);
    }
    // SQuAD scores against the best-matching ground truth.
    total += Math.max(...list.map((r) => metric(p, r)));
  });
  return total / predictions.length;
}

/** Mean SQuAD exact match (0–1); `references[i]` may list several acceptable answers. */
export function exactMatch(predictions: readonly string[], references: readonly (string | readonly string[])[]): number {
  return overReferences("exactMatch", exactMatchScore, predictions, references);
}

/** Mean SQuAD token F1 (0–1); `references[i]` may list several acceptable answers. */
export function squadF1(predictions: readonly string[], references: readonly (string | readonly string[])[]): number {
  return overReferences("squadF1", tokenF1Score, predictions, references);
}
