import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectSaveRoundTrip, fixtureModel } from "../helpers/parity.js";
import { describeDecoderParity } from "./decoder-suite.js";
import { ConfigError } from "../../src/errors.js";
import { createModel, type LlamaForCausalLM, type PreTrainedModel } from "../../src/models/index.js";
import { noGrad, tensor } from "../../src/tensor/index.js";

describeDecoderParity("gemma3", "Gemma3ForCausalLM");

const base = JSON.parse(readFileSync(path.join(fixturesDir, "gemma3/config.json"), "utf8")) as Record<string, unknown>;
const ids = tensor([[5, 17, 230, 41, 99, 3, 250, 12, 77], [7, 7, 300, 1, 64, 128, 9, 31, 2]], { dtype: "i32" });

function lastLogits(model: PreTrainedModel, x: number[]): number[] {
  return noGrad(() => Array.from((model.forward({ inputIds: [x] }).logits.data as Float32Array).subarray((x.length - 1) * 320)));
}

describe("Gemma 3 specifics", () => {
  it("sliding layers: the last position cannot see past two windows of 4", async () => {
    // Both fixture layers slide (window 4): position 8 sees 5..8, which saw 2..8; token 1 is out of reach.
    const model = await fixtureModel("gemma3");
    const x = [8, 146, 260, 295, 127, 238, 149, 73, 251];
    const ref = lastLogits(model, x);
    expect(lastLogits(model, x.map((t, i) => (i === 1 ? 99 : t)))).toEqual(ref);
    expect(lastLogits(model, x.map((t, i) => (i === 2 ? 99 : t)))).not.toEqual(ref);
  });

  it("layer types follow sliding_window_pattern when layer_types is absent, each with its own RoPE base", () => {
    const { layer_types: _a, _sliding_window_pattern: _b, rope_parameters: _c, ...flat } = base;
    const model = createModel({ ...flat, num_hidden_layers: 6, sliding_window_pattern: 3, rope_theta: 500000, rope_local_base_freq: 20000 }) as LlamaForCausalLM;
    expect(model.config.layerTypes).toEqual(["sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "full_attention"]);
    expect(model.config.rope.full_attention.ropeTheta).toBe(500000);
    expect(model.config.rope.sliding_attention.ropeTheta).toBe(20000);
    const defaults = createModel({ ...flat, num_hidden_layers: 6 }) as LlamaForCausalLM;
    expect(defaults.config.layerTypes.filter((t) => t === "full_attention")).toHaveLength(1);
    expect(defaults.config.rope.full_attention.ropeTheta).toBe(1_000_000);
    expect(defaults.config.rope.sliding_attention.ropeTheta).toBe(10_000);
  });

  it("final_logit_softcapping gives cap · tanh(logits / cap)", () => {
    const plain = createModel(base, { seed: 11 }).eval();
    const capped = createModel({ ...base, final_logit_softcapping: 0.5 }, { seed: 11 }).eval();
    const a = noGrad(() => plain.forward({ inputIds: ids }).logits.data as Float32Array);
    const b = noGrad(() => capped.forward({ inputIds: ids }).logits.data as Float32Array);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(b[i]! - 0.5 * Math.tanh(a[i]! / 0.5)));
    expect(d).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(b, Math.abs))).toBeLessThanOrEqual(0.5);
  });

  it("mixed local/global layers with attention soft-capping and llama3 scaling on global RoPE: cache and save/load agree", async () => {
    const config = {
      ...base, num_hidden_layers: 3, layer_types: ["sliding_attention", "full_attention", "sliding_attention"], sliding_window: 3,
      num_key_value_heads: 2, attn_logit_softcapping: 2.0, tie_word_embeddings: false,
      rope_parameters: {
        full_attention: { rope_type: "llama3", rope_theta: 100000, factor: 4, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
        sliding_attention: { rope_type: "default", rope_theta: 10000 },
      },
    };
    const model = createModel(config, { seed: 12 }).eval();
    expectCacheMatchesFullForward(model, ids);
    await expectSaveRoundTrip(model, { inputIds: ids });
  });

  it("initializes its (1 + weight) norms at zero", () => {
    const p = new Map(createModel(base, { seed: 1 }).namedParameters());
    for (const name of ["model.norm.weight", "model.layers.0.pre_feedforward_layernorm.weight", "model.layers.1.self_attn.q_norm.weight"]) {
      expect(Array.from(p.get(name)!.data as Float32Array).every((v) => v === 0), name).toBe(true);
    }
  });

  it("rejects bidirectional attention (an embedding-model setting) and bad layer types", () => {
    expect(() => createModel({ ...base, use_bidirectional_attention: true })).toThrow(ConfigError);
    expect(() => createModel({ ...base, layer_types: ["sliding_attention", "chunked_attention"] })).toThrow(/layer_types.*chunked_attention/);
  });
});
