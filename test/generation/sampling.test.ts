import { describe, expect, it } from "vitest";
import { Generator } from "../../src/utils/rng.js";
import {
  GenerationError,
  TopKLogitsWarper,
  TopPLogitsWarper,
  argmaxRow,
  logSoftmaxRow,
  sampleFromLogits,
  scoreRow,
  softmaxRow,
  tokenLogprob,
} from "../../src/generation/index.js";

/** Regularized lower incomplete gamma P(a, x): series for x < a + 1, continued fraction otherwise. */
function gammaP(a: number, x: number): number {
  const lnGammaA = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - lnGammaA);
  }
  // Lentz's continued fraction for Q(a, x).
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return 1 - Math.exp(-x + a * Math.log(x) - lnGammaA) * h;
}

/** Lanczos approximation of ln Γ(z). */
function lnGamma(z: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/** x with P(chi2_df > x) = alpha, by bisection on the chi-square CDF P(df/2, x/2). */
function chiSquareCritical(df: number, alpha: number): number {
  let lo = 0;
  let hi = 1000;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (1 - gammaP(df / 2, mid / 2) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

describe("chi-square critical values used below", () => {
  it("match published tables at p = 0.001", () => {
    // NIST/SEMATECH e-Handbook, table 1.3.6.7.4 (upper critical values of the chi-square distribution).
    expect(chiSquareCritical(1, 0.001)).toBeCloseTo(10.828, 2);
    expect(chiSquareCritical(4, 0.001)).toBeCloseTo(18.467, 2);
    expect(chiSquareCritical(10, 0.001)).toBeCloseTo(29.588, 2);
  });
});

describe("sampleFromLogits", () => {
  const logits = [2.0, 1.5, 1.2, 0.3, -0.5, 1.9, 0.8, -2.0, 0.1, 1.0, -1.0, 0.5];

  function filtered(): Float32Array {
    const scores = new Float32Array(logits);
    new TopKLogitsWarper(8).call([[]], scores, logits.length);
    new TopPLogitsWarper(0.9).call([[]], scores, logits.length);
    return scores;
  }

  it("is reproducible for a seed and differs across seeds", () => {
    const draw = (seed: number) => {
      const g = new Generator(seed);
      return Array.from({ length: 200 }, () => sampleFromLogits(logits, g));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it("follows the filtered distribution (chi-square, p = 0.001) and never draws a filtered token", () => {
    const scores = filtered();
    // The expected distribution, derived here: softmax over the tokens that survive, 0 elsewhere.
    const kept = logits.map((_, i) => scores[i]! > -Infinity);
    const z = logits.reduce((acc, l, i) => (kept[i] ? acc + Math.exp(l) : acc), 0);
    const expected = logits.map((l, i) => (kept[i] ? Math.exp(l) / z : 0));
    const keptCount = kept.filter(Boolean).length;
    expect(keptCount).toBeGreaterThan(2);
    expect(keptCount).toBeLessThan(8);

    const n = 20_000;
    const counts = new Array<number>(logits.length).fill(0);
    const g = new Generator(1234);
    for (let i = 0; i < n; i++) counts[sampleFromLogits(scores, g)]!++;

    let chi2 = 0;
    for (let i = 0; i < logits.length; i++) {
      if (!kept[i]) {
        expect(counts[i], `filtered token ${i} drawn`).toBe(0);
        continue;
      }
      const e = n * expected[i]!;
      chi2 += (counts[i]! - e) ** 2 / e;
    }
    const critical = chiSquareCritical(keptCount - 1, 0.001);
    expect(chi2).toBeLessThan(critical);
  });

  it("rejects NaN and fully filtered rows instead of drawing something", () => {
    const g = new Generator(0);
    expect(() => sampleFromLogits([0, NaN], g)).toThrow(GenerationError);
    expect(() => sampleFromLogits([-Infinity, -Infinity], g)).toThrow(/-Infinity/);
  });
});

describe("greedy and log-probabilities", () => {
  it("argmax picks the lowest index among ties, like torch.argmax", () => {
    expect(argmaxRow([1, 3, 2, 3])).toBe(1);
    expect(argmaxRow(new Float32Array([-Infinity, -5, -Infinity]))).toBe(1);
    expect(() => argmaxRow([1, NaN])).toThrow(GenerationError);
  });

  it("softmax, logSoftmax and tokenLogprob agree with the definitions", () => {
    const row = [1, 2, 3, -Infinity];
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    const p = softmaxRow(row);
    expect(p[2]).toBeCloseTo(Math.exp(3) / z, 12);
    expect(p[3]).toBe(0);
    const lp = logSoftmaxRow(row);
    expect(lp[0]).toBeCloseTo(1 - Math.log(z), 12);
    expect(lp[3]).toBe(-Infinity);
    expect(tokenLogprob(row, 1)).toBeCloseTo(2 - Math.log(z), 12);
    expect(() => tokenLogprob(row, 4)).toThrow(/outside the vocabulary/);
  });

  it("scoreRow is a view of one row of the flat [batch, vocab] scores", () => {
    const scores = new Float32Array([0, 1, 2, 3, 4, 5]);
    const row = scoreRow(scores, 3, 1);
    expect(Array.from(row)).toEqual([3, 4, 5]);
    row[0] = 9;
    expect(scores[3]).toBe(9);
  });
});
