import { Generator, getDefaultGenerator } from "../utils/rng.js";
import { EvaluationError } from "./errors.js";
import type { RougeScore } from "./rouge.js";

/** Confidence interval of a mean score: low and high percentiles and the median of the bootstrap means. */
export interface AggregateScore {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

export interface BootstrapOptions {
  /** Resamples; default 1000. */
  nSamples?: number;
  /** Width of the interval; default 0.95 (2.5th and 97.5th percentiles). */
  confidenceInterval?: number;
  /** Source of randomness; default the generator seeded by `manualSeed`. */
  generator?: Generator;
}

const FIELDS = ["precision", "recall", "fmeasure"] as const;

/**
 * rouge-score's BootstrapAggregator: resample the examples with replacement `nSamples` times, take the mean
 * of each resample, and report the percentiles of those means (numpy's default linear interpolation).
 */
export function bootstrapAggregate(
  scores: Record<string, readonly RougeScore[]>,
  options: BootstrapOptions = {},
): Record<string, AggregateScore> {
  const nSamples = options.nSamples ?? 1000;
  const ci = options.confidenceInterval ?? 0.95;
  if (!Number.isInteger(nSamples) || nSamples <= 0) {
    throw new EvaluationError(`bootstrapAggregate: option nSamples must be a positive integer, got ${nSamples}`);
  }
  if (!(ci >= 0 && ci <= 1)) {
    throw new EvaluationError(`bootstrapAggregate: option confidenceInterval must be in [0, 1], got ${ci}`);
  }
  const generator = options.generator ?? getDefaultGenerator();
  const delta = (1 - ci) / 2;
  const qs = [100 * delta, 50, 100 * (1 - delta)] as const;
  const result: Record<string, AggregateScore> = {};
  for (const [type, rows] of Object.entries(scores)) {
    const n = rows.length;
    if (n === 0) throw new EvaluationError(`bootstrapAggregate: no scores for ${JSON.stringify(type)}; expected at least one`);
    const means = FIELDS.map(() => new Float64Array(nSamples));
    for (let s = 0; s < nSamples; s++) {
      const sums = [0, 0, 0];
      for (let k = 0; k < n; k++) {
        const row = rows[generator.randint(0, n)]!;
        FIELDS.forEach((f, i) => (sums[i]! += row[f]));
      }
      FIELDS.forEach((_, i) => (means[i]![s] = sums[i]! / n));
    }
    means.forEach((m) => m.sort());
    const at = (q: number): RougeScore => ({
      precision: percentile(means[0]!, q),
      recall: percentile(means[1]!, q),
      fmeasure: percentile(means[2]!, q),
    });
    result[type] = { low: at(qs[0]), mid: at(qs[1]), high: at(qs[2]) };
  }
  return result;
}

/** q-th percentile (0–100) of ascending `sorted`, interpolated linearly as numpy.percentile's default method. */
function percentile(sorted: ArrayLike<number>, q: number): number {
  const h = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const t = h - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // numpy's _lerp form, which is exact at both ends.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}
