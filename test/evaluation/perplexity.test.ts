import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { perplexity, type CausalLM } from "../../src/evaluation/index.js";
import { crossEntropy, Tensor, tensor } from "../../src/tensor/index.js";
import { toIds, type ModelInputs } from "../../src/models/index.js";
import { fixturesDir } from "../helpers/cli.js";
import { fixtureModel } from "../helpers/parity.js";

describe("perplexity", () => {
  it("equals exp(mean token loss) of the GPT-2 fixture", async () => {
    const ref = JSON.parse(readFileSync(path.join(fixturesDir, "gpt2/reference.json"), "utf8"));
    const model = await fixtureModel("gpt2");
    const ids = ref.cases.loss.input_ids as number[][];
    const r = perplexity(model, ids);
    // two rows of 7 tokens: 6 scored tokens each; the fixture's loss is their mean
    expect(r.tokens).toBe(12);
    expect(Math.abs(r.perplexity - Math.exp(ref.cases.loss.loss)) / Math.exp(ref.cases.loss.loss)).toBeLessThan(1e-5);
  });

  it("sliding window scores each token once with the context worked out by hand", () => {
    // A toy LM over 3 tokens whose probability of the true next token depends only on how many tokens of
    // context it saw (its position j in the window): logits are j for every class except class 0, which
    // gets 2j. For sequence all zeros, -log p(0 | j) = -log(e^{2j} / (e^{2j} + 2e^j)).
    const toy: CausalLM = {
      forward(inputs: ModelInputs) {
        const ids = toIds(inputs.inputIds!, "inputIds");
        const t = ids.shape[1]!;
        const logits: number[][] = [];
        for (let j = 0; j < t; j++) logits.push([2 * j, j, j]);
        const flat = tensor(logits.slice(0, t - 1));
        const labels = toIds(inputs.labels!, "labels");
        const targets = tensor(Array.from(labels.data as Int32Array).slice(1), { dtype: "i32" });
        return { logits: tensor([logits]), loss: crossEntropy(flat, targets) as Tensor };
      },
    };
    const nllAt = (j: number): number => -Math.log(Math.exp(2 * j) / (Math.exp(2 * j) + 2 * Math.exp(j)));
    const seq = new Array(10).fill(0);
    // maxLength 4, stride 2 over 10 tokens:
    //   window [0,4): scores tokens 1,2,3 (window positions 1,2,3, predicted from j = 0,1,2)
    //   window [2,6): scores tokens 4,5 (window positions 2,3, predicted from j = 1,2)
    //   window [4,8): scores 6,7 from j = 1,2;  window [6,10): scores 8,9 from j = 1,2
    const expected = [0, 1, 2, 1, 2, 1, 2, 1, 2].map(nllAt);
    const r = perplexity(toy, seq, { maxLength: 4, stride: 2 });
    expect(r.tokens).toBe(9);
    expect(r.nll).toBeCloseTo(expected.reduce((a, b) => a + b, 0), 5);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.nll / 9), 8);
    // disjoint windows of 5: tokens 1..4 from j = 0..3, then token 6..9 from j = 0..3 (token 5 starts window 2 unscored)
    const disjoint = perplexity(toy, seq, { maxLength: 5 });
    expect(disjoint.tokens).toBe(8);
    expect(disjoint.nll).toBeCloseTo(2 * [0, 1, 2, 3].map(nllAt).reduce((a, b) => a + b, 0), 5);
  });

  it("rejects bad options by name", () => {
    const toy: CausalLM = { forward: () => ({ logits: tensor([0]) }) };
    expect(() => perplexity(toy, [1], {})).toThrow(/2 or more tokens/);
    expect(() => perplexity(toy, [1, 2, 3], { maxLength: 2, stride: 3 })).toThrow(/stride/);
    expect(() => perplexity(toy, [1, 2, 3], { maxLength: 2 })).toThrow(/no loss/);
  });
});
