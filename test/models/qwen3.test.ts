import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectSaveRoundTrip } from "../helpers/parity.js";
import { describeDecoderParity } from "./decoder-suite.js";
import { createModel, type LlamaForCausalLM } from "../../src/models/index.js";
import { tensor } from "../../src/tensor/index.js";

describeDecoderParity("qwen3", "Qwen3ForCausalLM");

const base = JSON.parse(readFileSync(path.join(fixturesDir, "qwen3/config.json"), "utf8")) as Record<string, unknown>;

describe("Qwen3 variants", () => {
  it("head_dim defaults to 128 (not hidden_size / heads) and sizes q/k norms", () => {
    const { head_dim: _ignored, ...noHeadDim } = base;
    const model = createModel(noHeadDim) as LlamaForCausalLM;
    expect(model.config.headDim).toBe(128);
    const p = new Map(model.namedParameters());
    expect(p.get("model.layers.0.self_attn.q_norm.weight")!.shape).toEqual([128]);
    expect(p.get("model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([4 * 128, 32]);
  });

  it("MQA with attention_bias and an untied head: cache and save/load agree", async () => {
    const model = createModel({ ...base, num_key_value_heads: 1, attention_bias: true, tie_word_embeddings: false }, { seed: 9 }).eval();
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names).toContain("model.layers.0.self_attn.o_proj.bias");
    expect(names).toContain("lm_head.weight");
    const ids = tensor([[3, 1, 4, 1, 5, 9, 2, 6]], { dtype: "i32" });
    expectCacheMatchesFullForward(model, ids);
    await expectSaveRoundTrip(model, { inputIds: ids });
  });
});
