import { describe, expect, it } from "vitest";
import { EvaluationError, corpusChrf, sentenceChrf } from "../../src/evaluation/index.js";

describe("chrF by hand", () => {
  it("averages precision and recall over the orders both sides have (sacrebleu 2 default)", () => {
    // "aa" vs "ab": 1-grams {a:2} vs {a,b} -> P = R = 1/2; 2-grams {aa} vs {ab} -> 0; orders 3..6 absent.
    // Mean P = mean R = 1/4 over the 2 effective orders -> F = 1/4 whatever beta.
    expect(corpusChrf(["aa"], [["ab"]]).score).toBeCloseTo(25, 10);
    expect(corpusChrf(["a b c"], [["abc"]]).score).toBeCloseTo(100, 10); // whitespace removed
    expect(corpusChrf(["abcdefg"], [["hijklmnop"]]).score).toBe(0);
  });

  it("weights recall by beta", () => {
    // "ab" vs "abc" with charOrder 1: P = 2/2, R = 2/3 -> F_beta = (1 + b^2) P R / (b^2 P + R).
    const p = 1;
    const r = 2 / 3;
    for (const beta of [1, 2, 3]) {
      const b2 = beta * beta;
      expect(corpusChrf(["ab"], [["abc"]], { charOrder: 1, beta }).score).toBeCloseTo((100 * (1 + b2) * p * r) / (b2 * p + r), 10);
    }
  });

  it("adds word n-grams for chrF++ with punctuation split off words", () => {
    // charOrder 1 + wordOrder 2, beta 1: chars "ab"/"ac" -> 1/2; words {a,b}/{a,c} -> 1/2; bigrams 0 -> F = 1/3.
    expect(corpusChrf(["a b"], [["a c"]], { charOrder: 1, wordOrder: 2, beta: 1 }).score).toBeCloseTo(100 / 3, 10);
    // "hi!" -> words "hi", "!" match "hi !" exactly at the word level.
    expect(corpusChrf(["hi!"], [["hi !"]], { charOrder: 0, wordOrder: 2 }).score).toBeCloseTo(100, 10);
  });

  it("picks the best reference per sentence", () => {
    expect(sentenceChrf("abc", ["xyz", "abc"]).score).toBeCloseTo(100, 10);
  });
});

describe("chrF against sacrebleu's own test suite", () => {
  it("sentence chrF with epsilon smoothing (test_chrf_sentence_level, 1e-4)", () => {
    const cases: [string, string, number][] = [
      [
        "Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
        "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.",
        39.14078509,
      ],
      [
        "Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
        "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.",
        31.22557079,
      ],
      [
        "Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
        "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.",
        57.15704367,
      ],
    ];
    for (const [hyp, ref, expected] of cases) {
      expect(Math.abs(sentenceChrf(hyp, [ref], { epsSmoothing: true }).score - expected)).toBeLessThan(1e-4);
    }
  });

  it("corpus chrF with beta 3 in both smoothing modes and with whitespace kept (1e-4)", () => {
    const eps: [string[], string[], number][] = [
      [["aa"], ["ab"], 8.3333],
      [["a", "b"], ["a", "c"], 8.3333],
      [["a"], ["a"], 16.6667],
      [["a b c"], ["a b c"], 50.0],
      [[""], ["reference"], 0.0],
      [
        [" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
        ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."],
        63.36173,
      ],
      [
        [" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "],
        ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."],
        64.1302698,
      ],
    ];
    for (const [hyps, refs, expected] of eps) {
      const s = corpusChrf(hyps, [refs], { beta: 3, epsSmoothing: true }).score;
      expect(Math.abs(s - expected), hyps[0]).toBeLessThan(1e-4);
    }
    const effective: [string[], string[], number][] = [
      [["a"], ["a"], 100],
      [["a", "b"], ["a", "c"], 50],
      [["aa"], ["ab"], 25],
      [[""], ["c"], 0],
    ];
    for (const [hyps, refs, expected] of effective) {
      expect(Math.abs(corpusChrf(hyps, [refs], { beta: 3 }).score - expected)).toBeLessThan(1e-4);
    }
    const kept = corpusChrf(
      ["Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."],
      [["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."]],
      { beta: 3, whitespace: true },
    ).score;
    expect(Math.abs(kept - 67.3481606)).toBeLessThan(1e-4);
  });

  it("README multi-reference example: chrF2 = 59.73", () => {
    const refs = [
      ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
      ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ];
    const hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
    expect(corpusChrf(hyps, refs).score.toFixed(2)).toBe("59.73");
  });
});

describe("chrF bad input", () => {
  it("names the argument and what was expected", () => {
    expect(() => corpusChrf([], [[]])).toThrow(EvaluationError);
    expect(() => corpusChrf(["a"], [["a", "b"]])).toThrow(/references\[0\] has 2 entries but hypotheses has 1/);
    expect(() => corpusChrf(["a"], [["a"]], { charOrder: -1 })).toThrow(/charOrder/);
    expect(() => sentenceChrf("a", [])).toThrow(/references is empty/);
  });
});
