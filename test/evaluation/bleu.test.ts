import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  EvaluationError,
  computeBleu,
  corpusBleu,
  referencesFromLists,
  sentenceBleu,
  tokenize13a,
  tokenizeIntl,
} from "../../src/evaluation/index.js";
import { fixturesDir } from "../helpers/cli.js";

interface MetricsFixture {
  hyps: string[];
  refs: string[];
  corpus_bleu: number;
  sentence_bleu: number[];
}
const fixture = JSON.parse(readFileSync(path.join(fixturesDir, "metrics.json"), "utf8")) as MetricsFixture;

/** Geometric mean of percentages, the BLEU formula written out for the hand-computed cases. */
const geo = (ps: number[]): number => Math.exp(ps.reduce((s, p) => s + Math.log(p), 0) / ps.length);

describe("BLEU against the sacrebleu fixture", () => {
  it("matches corpus BLEU to 1e-6", () => {
    expect(Math.abs(corpusBleu(fixture.hyps, [fixture.refs]).score - fixture.corpus_bleu)).toBeLessThan(1e-6);
  });

  it("matches every sentence BLEU to 1e-6", () => {
    fixture.hyps.forEach((hyp, i) => {
      const s = sentenceBleu(hyp, [fixture.refs[i]!]).score;
      expect(Math.abs(s - fixture.sentence_bleu[i]!), `pair ${i}`).toBeLessThan(1e-6);
    });
  });
});

describe("BLEU by hand", () => {
  it("computes n-gram precisions and brevity penalty of one pair", () => {
    // hyp "the cat on the mat" (5 tokens), ref "the cat is on the mat" (6 tokens).
    // 1-grams: the x2, cat, on, mat all match -> 5/5.  2-grams: the cat, cat on, on the, the mat -> 3/4.
    // 3-grams: the cat on, cat on the, on the mat -> 1/3.  4-grams: the cat on the, cat on the mat -> 0/2.
    // BP = exp(1 - 6/5).
    const s = corpusBleu(["the cat on the mat"], [["the cat is on the mat"]], { smoothMethod: "none" });
    expect(s.counts).toEqual([5, 3, 1, 0]);
    expect(s.totals).toEqual([5, 4, 3, 2]);
    expect(s.sysLen).toBe(5);
    expect(s.refLen).toBe(6);
    expect(s.bp).toBeCloseTo(Math.exp(1 - 6 / 5), 14);
    expect(s.score).toBe(0); // a zero 4-gram precision without smoothing
  });

  it("computes a full score with every order matched", () => {
    // hyp "the cat sat on the mat", ref "the cat is on the mat": precisions 5/6, 3/5, 1/4, 0/3;
    // with exp smoothing the zero 4-gram count becomes 1 / (2 * 3). Same lengths -> BP = 1.
    const s = sentenceBleu("the cat sat on the mat", ["the cat is on the mat"]);
    const expected = geo([(100 * 5) / 6, (100 * 3) / 5, (100 * 1) / 4, 100 / (2 * 3)]);
    expect(s.bp).toBe(1);
    expect(s.score).toBeCloseTo(expected, 10);
  });

  describe("smoothing on a case with a zero 4-gram count", () => {
    const hyp = ["the cat on the mat"];
    const refs = [["the cat is on the mat"]];
    const bp = Math.exp(1 - 6 / 5);

    it("none gives 0", () => {
      expect(corpusBleu(hyp, refs, { smoothMethod: "none" }).score).toBe(0);
    });
    it("exp replaces the k-th zero precision by 1 / (2^k * total)", () => {
      const s = corpusBleu(hyp, refs, { smoothMethod: "exp" });
      expect(s.precisions[3]).toBeCloseTo(100 / (2 * 2), 12);
      expect(s.score).toBeCloseTo(bp * geo([100, 75, 100 / 3, 25]), 10);
    });
    it("floor replaces a zero count by 0.1", () => {
      const s = corpusBleu(hyp, refs, { smoothMethod: "floor" });
      expect(s.precisions[3]).toBeCloseTo((100 * 0.1) / 2, 12);
      expect(s.score).toBeCloseTo(bp * geo([100, 75, 100 / 3, 5]), 10);
      expect(corpusBleu(hyp, refs, { smoothMethod: "floor", smoothValue: 0.5 }).precisions[3]).toBeCloseTo(25, 12);
    });
    it("add-k adds 1 to matches and totals of orders above 1", () => {
      const s = corpusBleu(hyp, refs, { smoothMethod: "add-k" });
      expect(s.counts).toEqual([5, 4, 2, 1]);
      expect(s.totals).toEqual([5, 5, 4, 3]);
      expect(s.score).toBeCloseTo(bp * geo([100, 80, 50, 100 / 3]), 10);
    });
  });

  it("uses the closest reference length, the shorter on ties, and the max count over references", () => {
    // hyp has 5 tokens; references of 4 and 6 tokens are equally close -> 4, so no brevity penalty.
    const s = sentenceBleu("a b c d e", ["a b c d", "a b c d e f"]);
    expect(s.refLen).toBe(4);
    expect(s.bp).toBe(1);
    // every n-gram of the hypothesis occurs in the second reference
    expect(s.counts).toEqual([5, 4, 3, 2]);
    expect(s.score).toBeCloseTo(100, 10);
  });

  it("averages only over orders present when effectiveOrder is on", () => {
    // sacrebleu test_effective_order: "test" vs "a test" -> precision 1 over one order, BP = exp(1 - 2/1).
    const s = corpusBleu(["test"], [["a test"]], { smoothMethod: "floor", smoothValue: 0.01, tokenize: "none", effectiveOrder: true });
    expect(s.score / 100).toBeCloseTo(Math.exp(-1), 12);
  });
});

describe("BLEU against sacrebleu's own test suite", () => {
  const refs = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
  ];
  const hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];

  it("corpus BLEU with two reference streams and each tokenizer (test_bleu.py, 1e-8)", () => {
    expect(Math.abs(corpusBleu(hyps, refs).score - 48.530827)).toBeLessThan(1e-6);
    expect(Math.abs(corpusBleu(hyps, refs, { tokenize: "none" }).score - 49.1919566)).toBeLessThan(1e-6);
    expect(Math.abs(corpusBleu(hyps, refs, { tokenize: "intl" }).score - 43.91623493)).toBeLessThan(1e-6);
    expect(Math.abs(corpusBleu(hyps, refs, { smoothMethod: "none" }).score - 48.530827)).toBeLessThan(1e-6);
    expect(corpusBleu(["", "", ""], refs).score).toBe(0);
  });

  it("max n-gram order (test_max_ngram_order)", () => {
    const expected = ["77.65", "60.50", "53.93", "48.53", "46.14", "43.28"];
    expected.forEach((e, i) => expect(corpusBleu(hyps, refs, { maxNgramOrder: i + 1 }).score.toFixed(2)).toBe(e));
  });

  it("statistics of test_statistics", () => {
    const s = corpusBleu(["am I am a character sequence"], [["I am a symbol string sequence a a"]], {
      tokenize: "none",
      smoothMethod: "floor",
      smoothValue: 0.01,
      effectiveOrder: true,
    });
    expect(s.counts).toEqual([4, 2, 1, 0]);
    expect(s.totals).toEqual([6, 5, 4, 3]);
  });

  it("computeBleu from statistics (test_scoring)", () => {
    expect(computeBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11, { smoothMethod: "none" }).score / 100).toBeCloseTo(0.8375922397, 9);
  });

  it("sentence BLEU with each smoothing and tokenizer (test_sentence_bleu.py, 1e-3)", () => {
    const REF = "producţia de zahăr brut se exprimă în zahăr alb;";
    const SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
    const cases: [Parameters<typeof sentenceBleu>[2], number][] = [
      [{ smoothMethod: "exp" }, 8.493],
      [{ smoothMethod: "none" }, 0.0],
      [{ smoothMethod: "floor" }, 4.51688],
      [{ smoothMethod: "floor", smoothValue: 0.5 }, 10.1],
      [{ smoothMethod: "add-k" }, 14.882],
      [{ smoothMethod: "add-k", smoothValue: 2 }, 21.389],
      [{ tokenize: "none" }, 7.347],
      [{ tokenize: "intl" }, 8.493],
    ];
    for (const [options, expected] of cases) {
      expect(Math.abs(sentenceBleu(SYS, [REF], options).score - expected), JSON.stringify(options)).toBeLessThan(1e-3);
    }
    for (const smoothMethod of ["exp", "none", "floor", "add-k"] as const) {
      expect(sentenceBleu("this is a cat", ["okay thanks"], { smoothMethod }).score).toBe(0);
    }
  });

  it("variable numbers of references via null or referencesFromLists (README: 29.44)", () => {
    const varRefs = [[null, refs[0]![1]!, refs[0]![2]!], refs[1]!];
    expect(corpusBleu(hyps, varRefs).score.toFixed(2)).toBe("29.44");
    const lists = [[refs[1]![0]!], [refs[0]![1]!, refs[1]![1]!], [refs[0]![2]!, refs[1]![2]!]];
    expect(corpusBleu(hyps, referencesFromLists(lists)).score.toFixed(2)).toBe("29.44");
  });
});

describe("BLEU tokenizers", () => {
  it("13a splits punctuation but keeps decimal points, commas in numbers and unescapes entities", () => {
    expect(tokenize13a("Hello, world! It costs 3.50 (approx.) &amp; 1,000-2,000.")).toBe(
      "Hello , world ! It costs 3.50 ( approx . ) & 1,000 - 2,000 .",
    );
  });
  it("splits on Python's whitespace (U+0085 and U+001C separate tokens, U+FEFF does not)", () => {
    expect(sentenceBleu("a\u0085b\u001cc", ["a b c"], { tokenize: "none" }).score).toBeCloseTo(100, 10);
    expect(sentenceBleu("a\ufeffb", ["a\ufeffb"], { tokenize: "none" }).sysLen).toBe(1);
  });
  it("intl splits Unicode punctuation and symbols", () => {
    expect(tokenizeIntl("«Bonjour», dit-il. 5€")).toBe("« Bonjour » , dit - il . 5 €");
  });
});

describe("BLEU bad input", () => {
  it("names the argument and what was expected", () => {
    expect(() => corpusBleu([], [[]])).toThrow(EvaluationError);
    expect(() => corpusBleu([], [[]])).toThrow(/hypotheses is empty/);
    expect(() => corpusBleu(["a"], [])).toThrow(/references is empty/);
    expect(() => corpusBleu(["a", "b"], [["a"]])).toThrow(/references\[0\] has 1 entries but hypotheses has 2/);
    expect(() => corpusBleu(["a"], [["a"]], { smoothMethod: "bogus" as never })).toThrow(/unknown smoothMethod "bogus"/);
    expect(() => corpusBleu(["a"], [["a"]], { tokenize: "zh" as never })).toThrow(/unknown tokenize "zh"/);
    expect(() => corpusBleu(["a"], [[null]])).toThrow(/hypothesis 0 has no reference/);
    expect(() => sentenceBleu("a", [])).toThrow(/references is empty/);
  });
});
