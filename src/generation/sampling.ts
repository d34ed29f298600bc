import type { Generator } from "../utils/rng.js";
import { GenerationError } from "./errors.js";

/**
 * Scores are one flat Float32Array of shape [batch, vocab] (row-major), so a step's logits need no copying;
 * these helpers work on one row, e.g. `scoreRow(scores, vocabSize, i)` (a view, not a copy).
 */
export function scoreRow(scores: Float32Array, vocabSize: number, row: number): Float32Array {
  return scores.subarray(row * vocabSize, (row + 1) * vocabSize);
}

/** Largest finite-or-infinite value of a row; -Infinity for an empty or fully filtered row. */
function rowMax(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  return max;
}

function assertUsable(row: ArrayLike<number>, what: string): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (Number.isNaN(v) || v === Infinity) {
      throw new GenerationError(`${what}: the scores contain ${v} at token ${i} (set removeInvalidValues to clean them)`);
    }
    if (v > max) max = v;
  }
  if (max === -Infinity) throw new GenerationError(`${what}: every token has score -Infinity; nothing can be chosen`);
  return max;
}

/** softmax in float64; filtered (-Infinity) tokens get probability 0. */
export function softmaxRow(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  const max = rowMax(row);
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i]! - max);
  for (let i = 0; i < row.length; i++) out[i]! /= sum;
  return out;
}

/** log(sum(exp(row))), computed stably. */
export function logSumExpRow(row: ArrayLike<number>): number {
  const max = rowMax(row);
  if (max === -Infinity || max === Infinity || Number.isNaN(max)) return max;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** log_softmax in float64 (per-token log-probabilities). */
export function logSoftmaxRow(row: ArrayLike<number>): Float64Array {
  const lse = logSumExpRow(row);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** Log-probability of one token under softmaxRow(row), without building the whole distribution. */
export function tokenLogprob(row: ArrayLike<number>, tokenId: number): number {
  if (!(Number.isInteger(tokenId) && tokenId >= 0 && tokenId < row.length)) {
    throw new GenerationError(`tokenLogprob: token id ${tokenId} is outside the vocabulary [0, ${row.length})`);
  }
  return row[tokenId]! - logSumExpRow(row);
}

/** Greedy choice: the index of the largest score, the lowest index among ties (as torch.argmax). */
export function argmaxRow(row: ArrayLike<number>): number {
  const max = assertUsable(row, "argmaxRow");
  for (let i = 0; i < row.length; i++) if (row[i] === max) return i;
  /* c8 ignore next */
  throw new GenerationError("argmaxRow: no maximum found");
}

/**
 * Draws one token from softmaxRow(row) by inverse CDF with one `generator.random()` per draw, so a seed fixes the
 * draw. Tokens with score -Infinity (filtered) are never drawn; NaN, +Infinity or an all-filtered row is an error.
 */
export function sampleFromLogits(row: ArrayLike<number>, generator: Generator): number {
  const max = assertUsable(row, "sampleFromLogits");
  const weights = new Float64Array(row.length);
  let total = 0;
  for (let i = 0; i < row.length; i++) total += weights[i] = Math.exp(row[i]! - max);
  const target = generator.random() * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    cumulative += w;
    last = i;
    if (cumulative > target) return i;
  }
  // Rounding can leave `cumulative` a hair below `target`; the last token with weight is then the right draw.
  return last;
}
