import path from "node:path";
import { describe, expect, it } from "vitest";
import { generate } from "../../src/generation/index.js";
import { topK } from "../../src/generation/beam-search.js";
import { loadModel } from "../../src/models/index.js";
import { fixturesDir } from "../helpers/cli.js";
import { FunctionModel } from "./generate-helpers.js";

// Token 0 is EOS; the prompt is [2]. Each model below has fixed next-token probabilities, so every beam score is
// a sum of their logs and the outcomes are derived by hand in the comments.
const EOS = 0;
const constant = (probs: number[]): FunctionModel => new FunctionModel(probs.length, () => probs.map(Math.log), EOS);

describe("beam search (transformers 5 semantics)", () => {
  // p(EOS) = 0.5, p(a=1) = 0.4, p(b=2) = 0.1 after the prompt; after any first token p = [0.5, 0.25, 0.25].
  // Two beams, two new tokens. Step 1: "EOS" finishes with log 0.5 = -0.693 (length 1); a, b run on.
  // Step 2 (the last): the two best continuations finish: "a EOS" (log 0.2 = -1.609) and "a a" (log 0.1 = -2.303,
  // tied with "a b": the lower index goes first). Scores are divided by length ** lengthPenalty:
  // with 1, "EOS" (-0.693) > "a EOS" (-0.805) > "a a" (-1.151); with 2, "a EOS" (-0.402) > "a a" (-0.576) >
  // "EOS" (-0.693); with 0, "EOS" > "a EOS" > "a a".
  const model = new FunctionModel(3, (ids) => (ids.length === 1 ? [0.5, 0.4, 0.1] : [0.5, 0.25, 0.25]).map(Math.log), EOS);
  const run = (lengthPenalty: number) =>
    generate(model, null, [2], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 2, lengthPenalty, returnLogprobs: true });

  it("length penalty divides finished scores by length ** penalty (shorter sequences filled with EOS)", async () => {
    const one = await run(1);
    expect(one.ids).toEqual([[2, 0, 0], [2, 1, 0]]);
    expect(one.finishReason).toEqual(["eos", "eos"]);
    expect(one.logprobs![1]!.map((x) => Math.exp(x))).toEqual([expect.closeTo(0.4, 6), expect.closeTo(0.5, 6)]);
    const two = await run(2);
    expect(two.ids).toEqual([[2, 1, 0], [2, 1, 1]]);
    expect(two.finishReason).toEqual(["eos", "length"]);
    expect((await run(0)).ids).toEqual([[2, 0, 0], [2, 1, 0]]);
  });

  // p = [EOS 0.3, a 0.6, b 0.1] everywhere; two beams, up to 5 new tokens, lengthPenalty 1.
  // Step 1: "EOS" finishes (-1.204). Step 2: "a EOS" finishes (-1.715 / 2 = -0.857): both slots are full.
  // earlyStopping true stops there and returns "a EOS". With false, the running "a a" (-1.022 / 2 = -0.511)
  // could still beat the worst finished (-1.204), and "a^n" keeps averaging -0.511 per token, above every
  // "a^n EOS", so the search runs to the length limit and "a a a a a" (-2.555 / 5) wins.
  const steady = constant([0.3, 0.6, 0.1]);
  it("earlyStopping true stops once numBeams hypotheses finished; false follows the heuristic", async () => {
    steady.calls = [];
    const early = await generate(steady, null, [2], { numBeams: 2, maxNewTokens: 5, earlyStopping: true });
    expect(early.ids).toEqual([[2, 1, 0]]);
    expect(early.finishReason).toEqual(["eos"]);
    expect(steady.calls).toHaveLength(2);

    steady.calls = [];
    const heuristic = await generate(steady, null, [2], { numBeams: 2, maxNewTokens: 5, earlyStopping: false });
    expect(heuristic.ids).toEqual([[2, 1, 1, 1, 1, 1]]);
    expect(heuristic.finishReason).toEqual(["length"]);
    expect(steady.calls).toHaveLength(5);
  });

  // p = [EOS 0.6, a 0.3, b 0.1]: "EOS" (-0.511) and "a EOS" (-1.715 / 2 = -0.857) finish in the first two steps.
  // false: the best running "a a" (-2.408 / 2 = -1.204) cannot beat -0.857, so it stops after 2 steps.
  // "never" (lengthPenalty > 0) divides the best running score by the full length instead: after n steps the best
  // running beam is "a^n" (-1.204 n), and -1.204 n / 5 beats -0.857 for n <= 3, so it stops after step 4; nothing
  // found on the way beats the two finished hypotheses.
  it('earlyStopping "never" keeps going while a full-length beam could still win', async () => {
    const model = constant([0.6, 0.3, 0.1]);
    const never = await generate(model, null, [2], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 5, earlyStopping: "never" });
    expect(model.calls).toHaveLength(4);
    model.calls = [];
    const heuristic = await generate(model, null, [2], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 5 });
    expect(model.calls).toHaveLength(2);
    expect(never.ids).toEqual([[2, 0, 0], [2, 1, 0]]);
    expect(heuristic.ids).toEqual(never.ids);
  });

  it("returns numReturnSequences per input, best first, the first equal to the single best", async () => {
    const t5 = await loadModel(path.join(fixturesDir, "t5"));
    const input = { ids: [[272, 260, 96, 116, 170, 12, 290], [87, 315, 136, 182, 40, 0, 0]], mask: [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]] };
    const three = await generate(t5, null, input.ids, { attentionMask: input.mask, numBeams: 3, numReturnSequences: 3, maxNewTokens: 8 });
    // The fixture's beam3 output (numReturnSequences 1) for both rows.
    expect(three.ids).toHaveLength(6);
    expect(three.ids[0]).toEqual([0, 290, 290, 290, 290, 290, 290, 290, 290]);
    expect(three.ids[3]).toEqual([0, 290, 290, 290, 290, 290, 290, 290, 290]);
    expect(new Set(three.ids.slice(0, 3).map((r) => r.join())).size).toBe(3);
  });

  it("topK keeps the largest values in order, ties in index order", () => {
    expect(topK(Float32Array.from([1, 5, 3, 5, -Infinity, 4]), 3)).toEqual([1, 3, 5]);
    expect(topK(Float32Array.from([2, 2, 2]), 2)).toEqual([0, 1]);
  });
});
