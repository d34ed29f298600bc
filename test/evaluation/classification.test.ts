import { describe, expect, it } from "vitest";
import {
  EvaluationError,
  accuracy,
  classificationReport,
  exactMatch,
  exactMatchScore,
  normalizeAnswer,
  squadF1,
  tokenF1Score,
} from "../../src/evaluation/index.js";

describe("classification metrics", () => {
  // scikit-learn's documentation example for precision_score / recall_score / f1_score.
  const yTrue = [0, 1, 2, 0, 1, 2];
  const yPred = [0, 2, 1, 0, 0, 1];

  it("accuracy", () => {
    expect(accuracy(yPred, yTrue)).toBeCloseTo(2 / 6, 15);
  });

  it("macro and micro precision, recall and F1 (sklearn docs: macro P 0.22, R 0.33, F1 0.26; micro 0.33)", () => {
    // Label 0: tp 2 of 3 predicted and 2 true -> P 2/3, R 1, F1 0.8; labels 1 and 2: no true positives.
    const r = classificationReport(yPred, yTrue);
    expect(r.labels).toEqual([0, 1, 2]);
    expect(r.macro.precision).toBeCloseTo(2 / 9, 12);
    expect(r.macro.recall).toBeCloseTo(1 / 3, 12);
    expect(r.macro.f1).toBeCloseTo(0.8 / 3, 12);
    expect(r.micro.precision).toBeCloseTo(1 / 3, 12);
    expect(r.micro.recall).toBeCloseTo(1 / 3, 12);
    expect(r.micro.f1).toBeCloseTo(1 / 3, 12);
    expect(r.perLabel[0]).toEqual({ label: 0, precision: 2 / 3, recall: 1, f1: 0.8, support: 2 });
  });

  it("restricts micro averages to the given labels", () => {
    // Only label "pos": tp 1, predicted 2, true 1 -> P 1/2, R 1.
    const r = classificationReport(["pos", "pos", "neg"], ["pos", "neg", "neg"], { labels: ["pos"] });
    expect(r.micro.precision).toBeCloseTo(0.5, 12);
    expect(r.micro.recall).toBeCloseTo(1, 12);
    expect(r.micro.f1).toBeCloseTo(2 / 3, 12);
  });

  it("rejects empty and mismatched inputs", () => {
    expect(() => accuracy([], [])).toThrow(EvaluationError);
    expect(() => accuracy([1], [1, 2])).toThrow(/predictions has 1 examples but references has 2/);
    expect(() => classificationReport([1], [1], { labels: [] })).toThrow(/labels is empty/);
  });
});

describe("SQuAD answer metrics", () => {
  it("normalizes like SQuAD's normalize_answer", () => {
    expect(normalizeAnswer("The  Cat, sat!")).toBe("cat sat");
    expect(normalizeAnswer("an apple a day")).toBe("apple day");
    // articles only as whole words (Unicode-aware boundary, as Python's \b)
    expect(normalizeAnswer("theatre Ana théa")).toBe("theatre ana théa");
  });

  it("exact match", () => {
    expect(exactMatchScore("The Eiffel Tower.", "eiffel tower")).toBe(1);
    expect(exactMatchScore("Eiffel", "eiffel tower")).toBe(0);
    expect(exactMatch(["Paris", "in 1889"], [["Paris, France", "paris"], "1889"])).toBeCloseTo(0.5, 15);
  });

  it("token F1", () => {
    // "the cat sat" vs "a cat sat down": tokens [cat, sat] vs [cat, sat, down] -> P 1, R 2/3, F1 0.8.
    expect(tokenF1Score("the cat sat", "a cat sat down")).toBeCloseTo(0.8, 15);
    expect(tokenF1Score("dog", "cat")).toBe(0);
    // repeated tokens count once per occurrence: [a1, a1] vs [a1] -> P 1/2, R 1.
    expect(tokenF1Score("x x", "x")).toBeCloseTo(2 / 3, 15);
    // the best of several ground truths counts
    expect(squadF1(["cat sat"], [["dog", "cat sat"]])).toBeCloseTo(1, 15);
    expect(() => squadF1(["a"], [[]])).toThrow(/references\[0\] is empty/);
  });
});
