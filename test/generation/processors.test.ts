import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir } from "../helpers/cli.js";
import { Generator } from "../../src/utils/rng.js";
import {
  ForcedBOSTokenLogitsProcessor,
  ForcedEOSTokenLogitsProcessor,
  GenerationError,
  InfNanRemoveLogitsProcessor,
  LogitNormalization,
  MinLengthLogitsProcessor,
  MinNewTokensLengthLogitsProcessor,
  MinPLogitsWarper,
  NoBadWordsLogitsProcessor,
  NoRepeatNGramLogitsProcessor,
  RepetitionPenaltyLogitsProcessor,
  SuppressTokensAtBeginLogitsProcessor,
  SuppressTokensLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  TypicalLogitsWarper,
  EpsilonLogitsWarper,
  EtaLogitsWarper,
  buildLogitsProcessors,
  softmaxRow,
  type LogitsProcessor,
} from "../../src/generation/index.js";

interface Fixture {
  input_ids: number[][];
  logits: number[][];
  cases: Record<string, number[][]>;
}

const fixture = JSON.parse(readFileSync(path.join(fixturesDir, "logits_processors.json"), "utf8")) as Fixture;
const vocab = fixture.logits[0]!.length;

function run(processor: LogitsProcessor, logits = fixture.logits, inputIds = fixture.input_ids): Float32Array {
  const scores = new Float32Array(logits.flat());
  processor.call(inputIds, scores, logits[0]!.length);
  return scores;
}

function expectProbs(scores: Float32Array, expected: number[][]): void {
  expected.forEach((want, b) => {
    const got = softmaxRow(scores.subarray(b * vocab, (b + 1) * vocab));
    for (let i = 0; i < vocab; i++) {
      if (want[i] === 0) expect(got[i], `row ${b} token ${i} must be filtered`).toBe(0);
      else expect(Math.abs(got[i]! - want[i]!), `row ${b} token ${i}`).toBeLessThanOrEqual(1e-6);
    }
  });
}

describe("logits processors reproduce transformers (fixture logits_processors.json)", () => {
  it("has the documented cases", () => {
    expect(Object.keys(fixture.cases).sort()).toEqual(
      ["min_p_0.1", "rep1.3_temp0.7_topk10_topp0.9", "repetition_penalty_1.3", "temperature_0.7", "top_k_5", "top_p_0.9"].sort(),
    );
    expect(fixture.logits).toHaveLength(2);
  });

  it("temperature 0.7", () => expectProbs(run(new TemperatureLogitsWarper(0.7)), fixture.cases["temperature_0.7"]!));
  it("top-k 5", () => expectProbs(run(new TopKLogitsWarper(5)), fixture.cases["top_k_5"]!));
  it("top-p 0.9", () => expectProbs(run(new TopPLogitsWarper(0.9)), fixture.cases["top_p_0.9"]!));
  it("min-p 0.1", () => expectProbs(run(new MinPLogitsWarper(0.1)), fixture.cases["min_p_0.1"]!));
  it("repetition penalty 1.3", () =>
    expectProbs(run(new RepetitionPenaltyLogitsProcessor(1.3)), fixture.cases["repetition_penalty_1.3"]!));

  it("chain repetition 1.3 -> temperature 0.7 -> top-k 10 -> top-p 0.9, built from options", () => {
    const list = buildLogitsProcessors(
      { doSample: true, repetitionPenalty: 1.3, temperature: 0.7, topK: 10, topP: 0.9 },
      { promptLength: 4 },
    );
    expect(list.processors.map((p) => p.constructor.name)).toEqual([
      "RepetitionPenaltyLogitsProcessor",
      "TemperatureLogitsWarper",
      "TopKLogitsWarper",
      "TopPLogitsWarper",
    ]);
    expectProbs(run(list), fixture.cases["rep1.3_temp0.7_topk10_topp0.9"]!);
  });
});

describe("processor semantics (formulas from transformers' logits_process.py)", () => {
  const ids = [[0, 1]];

  it("repetition penalty divides positive and multiplies negative scores, once per token", () => {
    const s = new Float32Array([2, -2, 3, 1]);
    new RepetitionPenaltyLogitsProcessor(2).call([[0, 1, 1, 1]], s, 4);
    expect(Array.from(s)).toEqual([1, -4, 3, 1]);
  });

  it("top-k keeps every token tied with the k-th score", () => {
    const s = new Float32Array([1, 3, 3, 2, 3]);
    new TopKLogitsWarper(2).call(ids, s, 5);
    expect(Array.from(s)).toEqual([-Infinity, 3, 3, -Infinity, 3]);
  });

  it("top-p keeps the smallest top set whose mass exceeds 1 - topP, and minTokensToKeep", () => {
    // probs 0.5, 0.3, 0.2: ascending cumulative 0.2, 0.5, 1.0; remove those <= 1 - 0.6 = 0.4.
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const s = new Float32Array(logits);
    new TopPLogitsWarper(0.6).call(ids, s, 3);
    expect(Array.from(s, (v) => v === -Infinity)).toEqual([false, false, true]);
    const tight = new Float32Array(logits);
    new TopPLogitsWarper(0.01, 2).call(ids, tight, 3);
    expect(Array.from(tight, (v) => v === -Infinity)).toEqual([false, false, true]);
  });

  it("top-p on large random rows matches a direct implementation of the formula", () => {
    // Reference: full ascending sort (ties by index), cumulative softmax, remove while <= 1 - topP.
    const referenceTopP = (row: Float32Array, topP: number, keep: number): boolean[] => {
      const order = Array.from(row.keys()).sort((a, b) => row[a]! - row[b]! || a - b);
      const max = Math.max(...row);
      const z = row.reduce((acc, v) => acc + Math.exp(v - max), 0);
      const removed = new Array<boolean>(row.length).fill(false);
      let cumulative = 0;
      order.forEach((i, j) => {
        cumulative += Math.exp(row[i]! - max) / z;
        if (cumulative <= 1 - topP && j < order.length - keep) removed[i] = true;
      });
      return removed;
    };
    const g = new Generator(5);
    for (const [scale, topP, keep] of [[1, 0.9, 1], [4, 0.5, 1], [8, 0.95, 3], [0.1, 0.3, 1], [20, 0.99, 1]] as const) {
      const row = Float32Array.from({ length: 5000 }, () => g.normal() * scale);
      const s = new Float32Array(row);
      new TopPLogitsWarper(topP, keep).call([[]], s, row.length);
      expect(Array.from(s, (v) => v === -Infinity)).toEqual(referenceTopP(row, topP, keep));
    }
  });

  it("min-p is relative to the top probability", () => {
    // probs 0.6, 0.3, 0.1: threshold 0.4 * 0.6 = 0.24 keeps 0.6 and 0.3.
    const s = new Float32Array([Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    new MinPLogitsWarper(0.4).call(ids, s, 3);
    expect(Array.from(s, (v) => v === -Infinity)).toEqual([false, false, true]);
  });

  it("typical-p keeps the tokens closest to the entropy until their mass reaches typicalP", () => {
    const p = [0.5, 0.25, 0.15, 0.1];
    const H = -p.reduce((a, x) => a + x * Math.log(x), 0);
    // Rank by |-log p - H|, then keep the prefix whose mass first reaches 0.5 (that token included).
    const order = p.map((x, i) => [Math.abs(-Math.log(x) - H), i] as const).sort((a, b) => a[0] - b[0]);
    const kept = new Set<number>();
    let mass = 0;
    for (const [, i] of order) {
      kept.add(i);
      mass += p[i]!;
      if (mass >= 0.5) break;
    }
    const s = new Float32Array(p.map(Math.log));
    new TypicalLogitsWarper(0.5).call(ids, s, 4);
    expect(Array.from(s, (v, i) => (v === -Infinity) === !kept.has(i))).toEqual([true, true, true, true]);
  });

  it("epsilon and eta cut low probabilities but keep the best token", () => {
    const s = new Float32Array([Math.log(0.9), Math.log(0.09), Math.log(0.01)]);
    new EpsilonLogitsWarper(0.05).call(ids, s, 3);
    expect(Array.from(s, (v) => v === -Infinity)).toEqual([false, false, true]);
    const all = new Float32Array([0, 0, 0]);
    new EpsilonLogitsWarper(0.5).call(ids, all, 3);
    expect(Array.from(all, (v) => v === -Infinity).filter((x) => !x)).toHaveLength(3); // ties with the best are kept
    // eta = min(0.1, sqrt(0.1) * exp(-H)); H of (0.9, 0.09, 0.01) = 0.3617 -> eta = 0.1 -> cuts 0.09 and 0.01
    const e = new Float32Array([Math.log(0.9), Math.log(0.09), Math.log(0.01)]);
    new EtaLogitsWarper(0.1).call(ids, e, 3);
    expect(Array.from(e, (v) => v === -Infinity)).toEqual([false, true, true]);
  });

  it("no-repeat-ngram bans tokens that would complete a seen n-gram", () => {
    const s = new Float32Array(6);
    // bigrams seen: (1,2) (2,3) (3,1); the row ends with 1, so 2 is banned.
    new NoRepeatNGramLogitsProcessor(2).call([[1, 2, 3, 1]], s, 6);
    expect(Array.from(s, (v) => v === -Infinity)).toEqual([false, false, true, false, false, false]);
    const short = new Float32Array(6);
    new NoRepeatNGramLogitsProcessor(3).call([[1, 1]], short, 6);
    expect(short.every((v) => v === 0)).toBe(true);
  });

  it("bad words: single tokens always, longer words when the prefix matches; EOS-only words are dropped", () => {
    const p = new NoBadWordsLogitsProcessor([[4], [1, 2, 5], [3]], 3);
    const s = new Float32Array(12);
    p.call([[0, 1, 2], [0, 2, 1]], s, 6);
    const banned = (row: number) => Array.from(s.subarray(row * 6, row * 6 + 6), (v) => v === -Infinity);
    expect(banned(0)).toEqual([false, false, false, false, true, true]);
    expect(banned(1)).toEqual([false, false, false, false, true, false]);
  });

  it("min-length and min-new-tokens suppress EOS until reached", () => {
    const s = new Float32Array(4);
    new MinLengthLogitsProcessor(3, [1, 2]).call([[0, 0]], s, 4);
    expect(Array.from(s)).toEqual([0, -Infinity, -Infinity, 0]);
    const t = new Float32Array(4);
    new MinNewTokensLengthLogitsProcessor(2, 1, 3).call([[0, 0, 0]], t, 4);
    expect(Array.from(t)).toEqual([0, 0, 0, 0]);
    new MinNewTokensLengthLogitsProcessor(2, 2, 3).call([[0, 0, 0]], t, 4);
    expect(t[3]).toBe(-Infinity);
  });

  it("forced BOS at length 1 and forced EOS at length maxLength - 1", () => {
    const s = new Float32Array([1, 2, 3]);
    new ForcedBOSTokenLogitsProcessor(0).call([[9]], s, 3);
    expect(Array.from(s)).toEqual([0, -Infinity, -Infinity]);
    const t = new Float32Array([1, 2, 3]);
    new ForcedEOSTokenLogitsProcessor(5, 2).call([[0, 0, 0]], t, 3);
    expect(Array.from(t)).toEqual([1, 2, 3]);
    new ForcedEOSTokenLogitsProcessor(4, 2).call([[0, 0, 0]], t, 3);
    expect(Array.from(t)).toEqual([-Infinity, -Infinity, 0]);
  });

  it("suppress tokens always; begin-suppress only at the begin index", () => {
    const s = new Float32Array(3);
    new SuppressTokensLogitsProcessor([1]).call([[0]], s, 3);
    expect(s[1]).toBe(-Infinity);
    const t = new Float32Array(3);
    new SuppressTokensAtBeginLogitsProcessor([2], 2).call([[0]], t, 3);
    expect(t[2]).toBe(0);
    new SuppressTokensAtBeginLogitsProcessor([2], 1).call([[0]], t, 3);
    expect(t[2]).toBe(-Infinity);
  });

  it("inf/nan removal and renormalization", () => {
    const s = new Float32Array([NaN, Infinity, -Infinity]);
    new InfNanRemoveLogitsProcessor().call([[0]], s, 3);
    expect(Array.from(s)).toEqual([0, 3.4028234663852886e38, -3.4028234663852886e38]);
    const t = new Float32Array([1, 2, 3]);
    new LogitNormalization().call([[0]], t, 3);
    expect(Array.from(t, Math.exp).reduce((a, b) => a + b)).toBeCloseTo(1, 6);
  });

  it("rejects scores whose size does not match the batch and vocabulary, and ids outside the vocabulary", () => {
    expect(() => new TemperatureLogitsWarper(0.5).call([[0], [1]], new Float32Array(3), 3)).toThrow(GenerationError);
    expect(() => new SuppressTokensLogitsProcessor([7]).call([[0]], new Float32Array(3), 3)).toThrow(/suppressTokens.*7/);
    expect(() => new TopKLogitsWarper(0)).toThrow(/topK/);
  });
});

describe("buildLogitsProcessors follows _get_logits_processor", () => {
  const names = (list: { processors: LogitsProcessor[] }) => list.processors.map((p) => p.constructor.name);

  it("adds no warpers without doSample, and top-k 50 by default with it", () => {
    expect(names(buildLogitsProcessors({ temperature: 0.5, topP: 0.5 }, { promptLength: 3 }))).toEqual([]);
    const sampled = buildLogitsProcessors({ doSample: true }, { promptLength: 3 });
    expect(names(sampled)).toEqual(["TopKLogitsWarper"]);
    expect((sampled.processors[0] as TopKLogitsWarper).topK).toBe(50);
    expect(names(buildLogitsProcessors({ doSample: true, topK: 0 }, { promptLength: 3 }))).toEqual([]);
  });

  it("orders processors before warpers, as transformers does", () => {
    const list = buildLogitsProcessors(
      {
        doSample: true,
        typicalP: 0.9,
        minP: 0.05,
        topP: 0.8,
        topK: 7,
        temperature: 0.9,
        suppressTokens: [5],
        beginSuppressTokens: [6],
        forcedEosTokenId: 2,
        forcedBosTokenId: 0,
        minNewTokens: 2,
        minLength: 3,
        eosTokenId: 2,
        badWordsIds: [[9]],
        noRepeatNgramSize: 3,
        repetitionPenalty: 1.1,
        removeInvalidValues: true,
        renormalizeLogits: true,
        epsilonCutoff: 0.001,
        etaCutoff: 0.002,
      },
      { promptLength: 1 },
    );
    expect(names(list)).toEqual([
      "RepetitionPenaltyLogitsProcessor",
      "NoRepeatNGramLogitsProcessor",
      "NoBadWordsLogitsProcessor",
      "MinLengthLogitsProcessor",
      "MinNewTokensLengthLogitsProcessor",
      "ForcedBOSTokenLogitsProcessor",
      "ForcedEOSTokenLogitsProcessor",
      "InfNanRemoveLogitsProcessor",
      "SuppressTokensLogitsProcessor",
      "SuppressTokensAtBeginLogitsProcessor",
      "TemperatureLogitsWarper",
      "TopKLogitsWarper",
      "TopPLogitsWarper",
      "MinPLogitsWarper",
      "TypicalLogitsWarper",
      "EpsilonLogitsWarper",
      "EtaLogitsWarper",
      "LogitNormalization",
    ]);
    // prompt of length 1 with a forced BOS: the first free choice is at length 2.
    expect((list.processors[9] as SuppressTokensAtBeginLogitsProcessor).beginIndex).toBe(2);
  });

  it("forced EOS uses promptLength + maxNewTokens; beam sampling keeps #eos + 1 tokens", () => {
    const list = buildLogitsProcessors({ forcedEosTokenId: 1, maxNewTokens: 4 }, { promptLength: 6 });
    expect((list.processors[0] as ForcedEOSTokenLogitsProcessor).maxLength).toBe(10);
    const beams = buildLogitsProcessors({ doSample: true, numBeams: 3, eosTokenId: [1, 2], topK: 1 }, { promptLength: 1 });
    expect((beams.processors[0] as TopKLogitsWarper).topK).toBe(3);
  });
});
