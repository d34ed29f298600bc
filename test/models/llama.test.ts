import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectSaveRoundTrip } from "../helpers/parity.js";
import { describeDecoderParity } from "./decoder-suite.js";
import { ConfigError } from "../../src/errors.js";
import { LlamaForCausalLM, createModel, loadModel } from "../../src/models/index.js";
import { noGrad, tensor } from "../../src/tensor/index.js";

describeDecoderParity("llama", "LlamaForCausalLM");

const base = JSON.parse(readFileSync(path.join(fixturesDir, "llama/config.json"), "utf8")) as Record<string, unknown>;
const ids = tensor([[5, 17, 230, 41, 99, 3, 250, 12], [7, 7, 300, 1, 64, 128, 9, 31]], { dtype: "i32" });

describe("LLaMA variants built from configs", () => {
  const variants: Record<string, Record<string, unknown>> = {
    "multi-query attention, tied head": { num_key_value_heads: 1, tie_word_embeddings: true },
    "biases on attention and MLP, no head_dim key": { attention_bias: true, mlp_bias: true, head_dim: undefined },
    "llama3 rope scaling (flat keys)": {
      rope_parameters: undefined, rope_theta: 500000,
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    },
    "linear rope scaling": { rope_parameters: { rope_type: "linear", factor: 2, rope_theta: 10000 } },
    "yarn rope scaling": { rope_parameters: { rope_type: "yarn", factor: 4, rope_theta: 10000, original_max_position_embeddings: 32 } },
    "three layers, eight heads of 4": { num_hidden_layers: 3, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 4 },
  };
  for (const [what, patch] of Object.entries(variants)) {
    it(`${what}: KV cache equals the full forward, save/load round-trips`, async () => {
      const model = createModel({ ...base, ...patch }, { seed: 3 }).eval();
      expectCacheMatchesFullForward(model, ids);
      await expectSaveRoundTrip(model, { inputIds: ids });
    });
  }

  it("a tied head shares the embedding parameter; an untied one is its own", () => {
    const tied = createModel({ ...base, tie_word_embeddings: true }, { seed: 1 }) as LlamaForCausalLM;
    expect(tied.lm_head.weight).toBe(tied.model.embed_tokens.weight);
    expect([...tied.namedParameters()].map(([n]) => n)).not.toContain("lm_head.weight");
    const untied = createModel(base, { seed: 1 }) as LlamaForCausalLM;
    expect(untied.lm_head.weight).not.toBe(untied.model.embed_tokens.weight);
    expect([...untied.namedParameters()].map(([n]) => n)).toContain("lm_head.weight");
  });

  it("grouped-query shapes: k/v projections have num_key_value_heads · head_dim rows", () => {
    const model = createModel({ ...base, num_key_value_heads: 1, head_dim: 16 }, { seed: 1 });
    const params = new Map(model.namedParameters());
    expect(params.get("model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([64, 32]);
    expect(params.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([16, 32]);
    expect(params.get("model.layers.0.self_attn.o_proj.weight")!.shape).toEqual([32, 64]);
  });

  it("initializes as transformers: N(0, initializer_range) weights, zero padding row, unit norms", () => {
    const model = createModel({ ...base, initializer_range: 0.02, attention_bias: true }, { seed: 5 });
    const p = new Map(model.namedParameters());
    const emb = p.get("model.embed_tokens.weight")!.data as Float32Array;
    expect(Array.from(emb.subarray(0, 32))).toEqual(new Array(32).fill(0)); // pad_token_id 0
    const w = p.get("model.layers.0.mlp.gate_proj.weight")!.data as Float32Array;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(Array.from(p.get("model.norm.weight")!.data as Float32Array)).toEqual(new Array(32).fill(1));
    expect(Array.from(p.get("model.layers.0.self_attn.q_proj.bias")!.data as Float32Array)).toEqual(new Array(32).fill(0));
  });

  it("the padding row gets no gradient", () => {
    const model = createModel(base, { seed: 2 }).eval();
    const x = tensor([[0, 0, 5, 6, 7]], { dtype: "i32" });
    model.forward({ inputIds: x, labels: x }).loss!.backward();
    const g = new Map(model.namedParameters()).get("model.embed_tokens.weight")!.grad!.data as Float32Array;
    expect(Array.from(g.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(g.subarray(5 * 32, 6 * 32).some((v) => v !== 0)).toBe(true);
  });

  it("position ids shift RoPE: explicit arange positions equal the default, shifted ones differ", () => {
    const model = createModel(base, { seed: 4 }).eval();
    noGrad(() => {
      const a = model.forward({ inputIds: ids }).logits.data as Float32Array;
      const b = model.forward({ inputIds: ids, positionIds: [[0, 1, 2, 3, 4, 5, 6, 7]] }).logits.data as Float32Array;
      const c = model.forward({ inputIds: ids, positionIds: [[3, 4, 5, 6, 7, 8, 9, 10]] }).logits.data as Float32Array;
      expect(Array.from(b)).toEqual(Array.from(a));
      // RoPE scores depend only on relative positions, so a uniform shift changes logits by rounding only.
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - c[i]!));
      expect(d).toBeLessThan(1e-4);
      expect(d).toBeGreaterThan(0);
    });
  });

  it("bad configs are errors that name config.json and the field", () => {
    expect(() => createModel({ ...base, num_key_value_heads: 3 })).toThrow(/config\.json.*num_key_value_heads/);
    expect(() => createModel({ ...base, rope_parameters: { rope_type: "dynamic", factor: 2 } })).toThrow(ConfigError);
    expect(() => createModel({ ...base, rope_parameters: { rope_type: "dynamic", factor: 2 } })).toThrow(/rope_parameters.*dynamic/);
    expect(() => createModel({ ...base, rope_parameters: undefined, rope_scaling: { type: "linear" } })).toThrow(/rope_scaling.*"factor"/);
    expect(() => createModel({ ...base, rope_parameters: { rope_type: "llama3", factor: 8 } })).toThrow(/low_freq_factor/);
    expect(() => createModel({ ...base, hidden_act: "swishy" })).toThrow(/swishy/);
    expect(() => createModel({ ...base, pad_token_id: 999 })).toThrow(/pad_token_id/);
  });

  it("rejects position ids of the wrong shape", async () => {
    const model = await loadModel(path.join(fixturesDir, "llama"));
    expect(() => model.forward({ inputIds: [[1, 2, 3]], positionIds: [[0, 1]] })).toThrow(/positionIds/);
  });
});
