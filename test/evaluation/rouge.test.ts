import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  EvaluationError,
  bootstrapAggregate,
  lcsLength,
  rouge,
  rougeScore,
  rougeScoreMulti,
  rougeTokenize,
} from "../../src/evaluation/index.js";
import { Generator } from "../../src/utils/rng.js";
import { fixturesDir } from "../helpers/cli.js";

interface MetricsFixture {
  hyps: string[];
  refs: string[];
  rouge_per_pair: Record<string, number>[];
}
const fixture = JSON.parse(readFileSync(path.join(fixturesDir, "metrics.json"), "utf8")) as MetricsFixture;
const f1 = (p: number, r: number): number => (p + r > 0 ? (2 * p * r) / (p + r) : 0);

describe("rouge against the torchmetrics / rouge-score fixture", () => {
  it("matches ROUGE-1/2/L precision, recall and F for every pair to 1e-6", () => {
    const result = rouge(fixture.hyps, fixture.refs, { rougeTypes: ["rouge1", "rouge2", "rougeL"] });
    fixture.rouge_per_pair.forEach((expected, i) => {
      for (const t of ["rouge1", "rouge2", "rougeL"]) {
        const s = result.scores[t]![i]!;
        expect(Math.abs(s.precision - expected[`${t}_precision`]!), `${t} precision ${i}`).toBeLessThan(1e-6);
        expect(Math.abs(s.recall - expected[`${t}_recall`]!), `${t} recall ${i}`).toBeLessThan(1e-6);
        expect(Math.abs(s.fmeasure - expected[`${t}_fmeasure`]!), `${t} fmeasure ${i}`).toBeLessThan(1e-6);
      }
    });
  });

  it("reports the mean of the per-example scores", () => {
    const result = rouge(fixture.hyps, fixture.refs, { rougeTypes: ["rouge1"] });
    const meanF = fixture.rouge_per_pair.reduce((s, e) => s + e.rouge1_fmeasure!, 0) / fixture.hyps.length;
    expect(Math.abs(result.mean.rouge1!.fmeasure - meanF)).toBeLessThan(1e-6);
  });
});

describe("rouge by hand", () => {
  it("tokenizes like rouge-score: lowercase, non-alphanumerics split, nothing else kept", () => {
    expect(rougeTokenize("#Person1# asks: don't GO-now!")).toEqual(["person1", "asks", "don", "t", "go", "now"]);
    expect(rougeTokenize("café über")).toEqual(["caf", "ber"]);
  });

  it("computes ROUGE-L from a hand-computed LCS", () => {
    // LCS of "police killed the gunman" / "police kill the gunman" is police-the-gunman (3 of 4 tokens each).
    const s = rougeScore("police kill the gunman", "police killed the gunman", { rougeTypes: ["rougeL"] }).rougeL!;
    expect(s.precision).toBeCloseTo(3 / 4, 12);
    expect(s.recall).toBeCloseTo(3 / 4, 12);
    expect(s.fmeasure).toBeCloseTo(3 / 4, 12);
    // "a b c d e f" vs "a c x e f b": LCS a-c-e-f = 4; prediction has 6 tokens, reference 6.
    expect(lcsLength(["a", "b", "c", "d", "e", "f"], ["a", "c", "x", "e", "f", "b"])).toBe(4);
    const t = rougeScore("a c x e f b g", "a b c d e f", { rougeTypes: ["rougeL"] }).rougeL!;
    expect(t.precision).toBeCloseTo(4 / 7, 12);
    expect(t.recall).toBeCloseTo(4 / 6, 12);
    expect(t.fmeasure).toBeCloseTo(f1(4 / 7, 4 / 6), 12);
  });

  it("uses the stemmer when asked (killed -> kill makes the LCS whole)", () => {
    const s = rougeScore("police kill the gunman", "police killed the gunman", { rougeTypes: ["rougeL", "rouge1"], useStemmer: true });
    expect(s.rougeL!.fmeasure).toBe(1);
    expect(s.rouge1!.fmeasure).toBe(1);
  });

  it("computes ROUGE-N with clipped n-gram counts", () => {
    // prediction "the the the cat": unigrams the x3, cat; reference "the cat sat": the, cat, sat -> overlap 2.
    const s = rougeScore("the the the cat", "the cat sat", { rougeTypes: ["rouge1", "rouge2"] });
    expect(s.rouge1!.precision).toBeCloseTo(2 / 4, 12);
    expect(s.rouge1!.recall).toBeCloseTo(2 / 3, 12);
    // bigrams: pred {the the x2, the cat}, ref {the cat, cat sat} -> overlap 1.
    expect(s.rouge2!.precision).toBeCloseTo(1 / 3, 12);
    expect(s.rouge2!.recall).toBeCloseTo(1 / 2, 12);
  });

  it("computes ROUGE-Lsum as the union LCS over sentences (ROUGE paper section 3.2 example)", () => {
    // Reference r = w1..w5; candidate sentences c1 = w1 w2 w6 w7 w8 and c2 = w1 w3 w8 w9 w5.
    // LCS(r, c1) = w1 w2, LCS(r, c2) = w1 w3 w5, union = w1 w2 w3 w5 -> 4 hits; |r| = 5, |c| = 10.
    const s = rougeScore("w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", "w1 w2 w3 w4 w5", { rougeTypes: ["rougeLsum", "rougeL"] });
    expect(s.rougeLsum!.recall).toBeCloseTo(4 / 5, 12);
    expect(s.rougeLsum!.precision).toBeCloseTo(4 / 10, 12);
    expect(s.rougeLsum!.fmeasure).toBeCloseTo(f1(0.4, 0.8), 12);
  });

  it("does not count a token twice in ROUGE-Lsum", () => {
    // Reference sentences [a a] and [a a], prediction [a a]: the first reference sentence uses up both
    // predicted a's, the second finds none left -> 2 hits of 4 reference and 2 predicted tokens.
    const s = rougeScore("a a", "a a\na a", { rougeTypes: ["rougeLsum"] }).rougeLsum!;
    expect(s.precision).toBeCloseTo(1, 12);
    expect(s.recall).toBeCloseTo(2 / 4, 12);
    // Empty lines are dropped; an all-punctuation prediction has no tokens -> 0.
    expect(rougeScore("!!!\n", "a", { rougeTypes: ["rougeLsum"] }).rougeLsum).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
  });

  it("takes the reference with the best F-measure among several", () => {
    const s = rougeScoreMulti("the cat sat", ["a dog ran", "the cat sat down"], { rougeTypes: ["rouge1"] }).rouge1!;
    expect(s.precision).toBeCloseTo(1, 12);
    expect(s.recall).toBeCloseTo(3 / 4, 12);
    const r = rouge(["the cat sat"], [["a dog ran", "the cat sat down"]], { rougeTypes: ["rouge1"] });
    expect(r.scores.rouge1![0]).toEqual(s);
  });
});

describe("bootstrapAggregate", () => {
  it("gives low = mid = high for identical scores", () => {
    const row = { precision: 0.5, recall: 0.25, fmeasure: f1(0.5, 0.25) };
    const ci = bootstrapAggregate({ rouge1: [row, row, row] }, { generator: new Generator(1) });
    expect(ci.rouge1!.low).toEqual(row);
    expect(ci.rouge1!.mid).toEqual(row);
    expect(ci.rouge1!.high).toEqual(row);
  });

  it("gives the 2.5/50/97.5 percentiles of the resampled means", () => {
    // Two examples scoring 0 and 1: a resample mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so
    // among 1000 resamples the 2.5th percentile is 0, the median 0.5 and the 97.5th percentile 1.
    const zero = { precision: 0, recall: 0, fmeasure: 0 };
    const one = { precision: 1, recall: 1, fmeasure: 1 };
    const ci = bootstrapAggregate({ rougeL: [zero, one] }, { generator: new Generator(7) }).rougeL!;
    expect(ci.low).toEqual(zero);
    expect(ci.mid).toEqual({ precision: 0.5, recall: 0.5, fmeasure: 0.5 });
    expect(ci.high).toEqual(one);
  });

  it("is deterministic for a seed and brackets the mean", () => {
    const { scores, mean } = rouge(fixture.hyps, fixture.refs, { rougeTypes: ["rouge1"] });
    const a = bootstrapAggregate(scores, { generator: new Generator(42) }).rouge1!;
    const b = bootstrapAggregate(scores, { generator: new Generator(42) }).rouge1!;
    expect(a).toEqual(b);
    expect(a.low.fmeasure).toBeLessThan(mean.rouge1!.fmeasure);
    expect(a.high.fmeasure).toBeGreaterThan(mean.rouge1!.fmeasure);
    // The median of 1000 resample means lies within a few standard errors of the mean.
    expect(Math.abs(a.mid.fmeasure - mean.rouge1!.fmeasure)).toBeLessThan(0.03);
  });

  it("rejects bad options", () => {
    expect(() => bootstrapAggregate({ rouge1: [] })).toThrow(EvaluationError);
    expect(() => bootstrapAggregate({ rouge1: [{ precision: 0, recall: 0, fmeasure: 0 }] }, { nSamples: 0 })).toThrow(/nSamples/);
  });
});

describe("rouge bad input", () => {
  it("names the argument and what was expected", () => {
    expect(() => rouge([], [])).toThrow(EvaluationError);
    expect(() => rouge([], ["a"])).toThrow(/predictions is empty/);
    expect(() => rouge(["a"], [])).toThrow(/references is empty/);
    expect(() => rouge(["a", "b"], ["a"])).toThrow(/predictions has 2 examples but references has 1/);
    expect(() => rouge(["a"], ["a"], { rougeTypes: ["rougeX"] })).toThrow(/unknown rouge type "rougeX"/);
    expect(() => rougeScoreMulti("a", [])).toThrow(/references is empty/);
  });
});
