import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds } from "../helpers/parity.js";
import { expectF64MatchesF32, expectSeq2SeqCacheMatchesFullForward, maxDiff, rewrittenFixture } from "../helpers/seq2seq.js";
import { ConfigError } from "../../src/errors.js";
import { SafetensorsFile } from "../../src/io/index.js";
import { KVCache, T5ForConditionalGeneration, createModel, loadModel, relativePositionBucket, Seq2SeqInputError, shiftTokensRight } from "../../src/models/index.js";
import { noGrad, tensor } from "../../src/tensor/index.js";
import { init } from "../../src/nn/index.js";
import { Generator } from "../../src/utils/rng.js";
import * as F from "../../src/tensor/index.js";

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(fixturesDir, name, "config.json"), "utf8"));
const referenceJson = (name: string) => JSON.parse(readFileSync(path.join(fixturesDir, name, "reference.json"), "utf8"));

async function forwardLossCase(name: string) {
  const ref = await readReference(name);
  return { ref, inputIds: refIds(ref, "input_ids"), attentionMask: refIds(ref, "attention_mask"), labels: refIds(ref, "labels") };
}

describe.each(["t5", "flan-t5"])("%s parity with transformers", (name) => {
  it("forward_loss: logits, loss and every parameter's gradient", async () => {
    const model = await fixtureModel(name);
    expect(model).toBeInstanceOf(T5ForConditionalGeneration);
    expect(model.isEncoderDecoder).toBe(true);
    const { ref, inputIds, attentionMask, labels } = await forwardLossCase(name);
    const out = model.forward({ inputIds, attentionMask, labels });
    expectLogitsClose(out.logits, ref.get("logits")!);
    expectLossClose(out.loss, referenceJson(name).cases.forward_loss.loss);
    expect(out.encoderLastHiddenState!.shape).toEqual([2, 7, 32]);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });

  it("shares one embedding table between encoder, decoder and (tied) head", async () => {
    const model = (await fixtureModel(name)) as T5ForConditionalGeneration;
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names).toContain("shared.weight");
    expect(names.filter((n) => n.includes("embed_tokens") || n === "lm_head.weight")).toEqual([]);
    expect(model.encoder.embed_tokens.weight).toBe(model.shared.weight);
    expect(model.decoder.embed_tokens.weight).toBe(model.shared.weight);
    expect(model.lm_head.weight).toBe(model.shared.weight);
    // Relative position tables only in each stack's first self-attention.
    expect(names.filter((n) => n.includes("relative_attention_bias"))).toEqual([
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
      "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    ]);
  });

  it("KV-cache decoding (encoder output reused, cross-attention cached) equals the full decoder pass", async () => {
    const model = await fixtureModel(name);
    const { inputIds, attentionMask, labels } = await forwardLossCase(name);
    expectSeq2SeqCacheMatchesFullForward(model, inputIds, attentionMask, shiftTokensRight(labels, 0, 0));
  });

  it("labels shifted right are the decoder inputs, and encoderOutputs stand in for inputIds", async () => {
    const model = await fixtureModel(name);
    const { inputIds, attentionMask, labels } = await forwardLossCase(name);
    noGrad(() => {
      const fromLabels = model.forward({ inputIds, attentionMask, labels });
      const decoderInputIds = tensor([[0, 312, 288, 223, 75], [0, 290, 225, 221, 144]], { dtype: "i32" });
      const explicit = model.forward({ inputIds, attentionMask, decoderInputIds });
      expect(maxDiff(explicit.logits, fromLabels.logits).diff).toBe(0);
      const encoderOutputs = (model as T5ForConditionalGeneration).encode(inputIds, attentionMask);
      const reused = model.forward({ encoderOutputs, attentionMask, decoderInputIds });
      expect(maxDiff(reused.logits, fromLabels.logits).diff).toBe(0);
    });
  });

  it("save then load round-trips exactly", async () => {
    const model = await fixtureModel(name);
    await expectSaveRoundTrip(model, { inputIds: [[5, 6, 7, 1]], decoderInputIds: [[0, 9, 4]] });
  });
});

describe("T5 configs: transformers 5 and hub forms", () => {
  it("t5 without scale_decoder_outputs (older config) scales because tie_word_embeddings is true", async () => {
    const { model, cleanup } = await rewrittenFixture("t5", ({ scale_decoder_outputs: _s, ...c }) => c);
    try {
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase("t5");
      expectLogitsClose(noGrad(() => model.forward({ inputIds, attentionMask, labels }).logits), ref.get("logits")!);
    } finally {
      await cleanup();
    }
  });

  it("flan-t5 in the hub form (tie_word_embeddings false, its own lm_head.weight) gives the same logits, head untied", async () => {
    const { model, cleanup } = await rewrittenFixture(
      "flan-t5",
      ({ scale_decoder_outputs: _s, ...c }) => ({ ...c, tie_word_embeddings: false }),
      async (get) => [["lm_head.weight", await get("shared.weight")]],
    );
    try {
      const t5 = model as T5ForConditionalGeneration;
      expect(t5.config.scaleDecoderOutputs).toBe(false);
      expect(t5.lm_head.weight).not.toBe(t5.shared.weight);
      expect([...t5.namedParameters()].map(([n]) => n)).toContain("lm_head.weight");
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase("flan-t5");
      const out = model.forward({ inputIds, attentionMask, labels });
      expectLogitsClose(out.logits, ref.get("logits")!);
      out.loss!.backward();
      // The untied head takes the part of shared.weight's gradient that came through the output projection.
      const shared = ref.get("grad.shared.weight")!;
      const sum = F.add(t5.lm_head.weight.grad!, t5.shared.weight.grad!);
      const { diff } = maxDiff(sum, tensor(shared.data as Float32Array, { shape: shared.shape }));
      expect(diff).toBeLessThanOrEqual(1e-4 * 1e-3 + 1e-4 * Math.max(...Array.from(shared.data as Float32Array, Math.abs)));
    } finally {
      await cleanup();
    }
  });

  it("hub form without a stored head (tie_word_embeddings false only meaning 'do not scale') stays tied, as transformers 5 ties it", async () => {
    const { model, cleanup } = await rewrittenFixture("flan-t5", ({ scale_decoder_outputs: _s, ...c }) => ({ ...c, tie_word_embeddings: false }));
    try {
      const t5 = model as T5ForConditionalGeneration;
      expect(t5.lm_head.weight).toBe(t5.shared.weight);
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase("flan-t5");
      expectLogitsClose(noGrad(() => model.forward({ inputIds, attentionMask, labels }).logits), ref.get("logits")!);
    } finally {
      await cleanup();
    }
  });

  it("a transformers 5 config (tied) whose checkpoint also stores lm_head.weight leaves the head untied, as transformers does", async () => {
    const { model, cleanup } = await rewrittenFixture("flan-t5", (c) => c, async (get) => {
      const w = await get("shared.weight");
      const data = Float32Array.from(w.data as Float32Array, (v) => 2 * v);
      return [["lm_head.weight", { ...w, data }]];
    });
    try {
      const t5 = model as T5ForConditionalGeneration;
      expect(t5.lm_head.weight).not.toBe(t5.shared.weight);
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase("flan-t5");
      // With the head doubled and no scaling, every logit is twice the reference.
      const logits = noGrad(() => model.forward({ inputIds, attentionMask, labels }).logits);
      const expected = ref.get("logits")!;
      expectLogitsClose(F.affine(logits, 0.5), expected);
    } finally {
      await cleanup();
    }
  });

  it("rejects a malformed feed_forward_proj naming the field", () => {
    const config = { ...fixtureConfig("t5"), feed_forward_proj: "gelu-gated" };
    expect(() => createModel(config)).toThrow(ConfigError);
    expect(() => createModel(config)).toThrow(/feed_forward_proj/);
    expect(() => createModel({ ...fixtureConfig("t5"), feed_forward_proj: "gated-nope" })).toThrow(/unknown activation "nope"/);
  });

  it("asks for decoder inputs when neither decoderInputIds nor labels are given", async () => {
    const model = await fixtureModel("t5");
    expect(() => model.forward({ inputIds: [[1, 2, 3]] })).toThrow(Seq2SeqInputError);
    expect(() => model.forward({ decoderInputIds: [[0]] })).toThrow(/inputIds or encoderOutputs/);
    expect(() => model.forward({ inputIds: [[1, 2, 3]], attentionMask: [[1, 1]], decoderInputIds: [[0]] })).toThrow(/attentionMask has shape \[1, 2\]/);
  });

  it("the lora-flan-t5 base checkpoint loads as a plain FLAN-T5", async () => {
    const model = await loadModel(path.join(fixturesDir, "lora-flan-t5/base"));
    expect(model).toBeInstanceOf(T5ForConditionalGeneration);
    const ref = await readReference("lora-flan-t5");
    const logits = noGrad(() => model.forward({ inputIds: refIds(ref, "input_ids"), decoderInputIds: refIds(ref, "decoder_input_ids") }).logits);
    expect(logits.shape).toEqual([2, 4, 320]);
    expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    // Without its adapter the model gives other logits than the adapted ones.
    expect(maxDiff(logits, tensor(ref.get("logits_with_adapter")!.data as Float32Array, { shape: [2, 4, 320] })).diff).toBeGreaterThan(1e-3);
    const file = await SafetensorsFile.open(path.join(fixturesDir, "lora-flan-t5/base/model.safetensors"));
    try {
      expect([...model.namedParameters()].map(([n]) => n).sort()).toEqual([...file.keys()].sort());
    } finally {
      await file.close();
    }
  });
});

describe("T5 relative position buckets", () => {
  // Mesh TensorFlow's rule written out for the test: exact below max_exact, then
  // max_exact + floor(log(d / max_exact) / log(max_distance / max_exact) · (n - max_exact)), capped at n - 1.
  const reference = (rp: number, bidirectional: boolean, buckets: number, maxDistance: number): number => {
    const n = bidirectional ? buckets / 2 : buckets;
    const offset = bidirectional && rp > 0 ? n : 0;
    const d = bidirectional ? Math.abs(rp) : Math.max(-rp, 0);
    const exact = n / 2;
    if (d < exact) return offset + d;
    return offset + Math.min(n - 1, exact + Math.floor((Math.log(d / exact) / Math.log(maxDistance / exact)) * (n - exact)));
  };

  it("matches the formula for T5's defaults (32 buckets, max distance 128) and the fixtures' (8, 20)", () => {
    for (const [nb, md] of [[32, 128], [8, 20], [16, 64]] as const) {
      for (let rp = -300; rp <= 300; rp++) {
        for (const bi of [true, false]) expect(relativePositionBucket(rp, bi, nb, md), `rp ${rp} bi ${bi} nb ${nb}`).toBe(reference(rp, bi, nb, md));
      }
    }
  });

  it("hand values: the query itself, neighbours, exact edges and saturation", () => {
    expect(relativePositionBucket(0, true, 32, 128)).toBe(0);
    expect(relativePositionBucket(-1, true, 32, 128)).toBe(1);
    expect(relativePositionBucket(1, true, 32, 128)).toBe(17);
    expect(relativePositionBucket(-7, true, 32, 128)).toBe(7);
    expect(relativePositionBucket(-16, true, 32, 128)).toBe(10); // 8 + log(2)/log(16)·8 = 10
    expect(relativePositionBucket(-1000, true, 32, 128)).toBe(15);
    expect(relativePositionBucket(1000, true, 32, 128)).toBe(31);
    // The decoder sees only the past: a later key is bucket 0.
    expect(relativePositionBucket(5, false, 32, 128)).toBe(0);
    expect(relativePositionBucket(-15, false, 32, 128)).toBe(15);
    expect(relativePositionBucket(-32, false, 32, 128)).toBe(21); // 16 + log(2)/log(8)·16 = 16 + 5.33
    expect(relativePositionBucket(-5000, false, 32, 128)).toBe(31);
  });
});

describe("T5 variants built from configs", () => {
  const base = {
    model_type: "t5", architectures: ["T5ForConditionalGeneration"], vocab_size: 50, d_model: 16, d_kv: 6, d_ff: 24, num_heads: 3,
    num_layers: 2, num_decoder_layers: 3, relative_attention_num_buckets: 6, relative_attention_max_distance: 10,
    pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0, dropout_rate: 0.1,
  };
  const inputIds = tensor([[4, 9, 13, 21, 7, 3, 1], [5, 8, 2, 1, 0, 0, 0]], { dtype: "i32" });
  const attentionMask = tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], { dtype: "i32" });
  const decoderInputIds = tensor([[0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [0, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41]], { dtype: "i32" });

  it.each([
    ["ReLU, tied and scaled", { feed_forward_proj: "relu" }, false],
    ["gated-gelu, hub-style, head untied by its checkpoint", { feed_forward_proj: "gated-gelu", tie_word_embeddings: false }, true],
    ["gated-silu, v5 scaling flag off", { feed_forward_proj: "gated-silu", scale_decoder_outputs: false }, false],
  ])("%s: cache equals full pass (beyond max distance), save round-trips", async (_label, extra, untie) => {
    const model = createModel({ ...base, ...extra }, { seed: 3 }).eval() as T5ForConditionalGeneration;
    if (untie) {
      model.adaptToCheckpoint(new Set(["shared.weight", "lm_head.weight"]));
      init.normal_(model.lm_head.weight, 0, 1, new Generator(9));
    }
    expect(model.lm_head.weight === model.shared.weight).toBe(!untie);
    expect(model.decoder.block.length).toBe(3);
    expect(model.encoder.block.length).toBe(2);
    expect(model.shared.weight.shape).toEqual([50, 16]);
    expect(model.decoder.block.get(0).selfAttention.q.weight.shape).toEqual([18, 16]);
    expectSeq2SeqCacheMatchesFullForward(model, inputIds, attentionMask, decoderInputIds);
    await expectSaveRoundTrip(model, { inputIds, attentionMask, decoderInputIds });
  });

  it("the head is tied whatever tie_word_embeddings says (transformers 5); scaling follows scale_decoder_outputs, else that flag", () => {
    const logits = (extra: Record<string, unknown>): F.Tensor => {
      const model = createModel({ ...base, ...extra }, { seed: 1 }).eval() as T5ForConditionalGeneration;
      expect(model.lm_head.weight).toBe(model.shared.weight);
      return noGrad(() => model.forward({ inputIds, decoderInputIds }).logits);
    };
    const scaled = logits({ scale_decoder_outputs: true, tie_word_embeddings: false });
    const unscaled = logits({ scale_decoder_outputs: false });
    const legacyUnscaled = logits({ tie_word_embeddings: false });
    const legacyScaled = logits({});
    expect(maxDiff(legacyUnscaled, unscaled).diff).toBe(0);
    expect(maxDiff(legacyScaled, scaled).diff).toBe(0);
    const { diff, ref } = maxDiff(F.affine(unscaled, 16 ** -0.5), scaled);
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
  });

  it("labels of -100 are ignored by the loss and become pad in the decoder inputs", () => {
    const model = createModel(base, { seed: 2 }).eval();
    const labels = tensor([[7, 8, 9, -100], [10, -100, -100, -100]], { dtype: "i32" });
    const out = noGrad(() => model.forward({ inputIds, attentionMask, labels }));
    const explicit = noGrad(() => model.forward({ inputIds, attentionMask, decoderInputIds: [[0, 7, 8, 9], [0, 10, 0, 0]] }));
    expect(maxDiff(out.logits, explicit.logits).diff).toBe(0);
    const rows = out.logits.toArray() as number[][][];
    const nll = (row: number[], target: number): number => {
      const m = Math.max(...row);
      return Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m - row[target]!;
    };
    const expected = (nll(rows[0]![0]!, 7) + nll(rows[0]![1]!, 8) + nll(rows[0]![2]!, 9) + nll(rows[1]![0]!, 10)) / 4;
    expect(out.loss!.item()).toBeCloseTo(expected, 5);
  });

  it("a decoder attention mask of ones changes nothing, with or without a cache", () => {
    const model = createModel(base, { seed: 2 }).eval() as T5ForConditionalGeneration;
    const ids = F.slice(decoderInputIds, 1, 0, 4);
    const plain = noGrad(() => model.forward({ inputIds, attentionMask, decoderInputIds: ids }).logits);
    const masked = noGrad(() => model.forward({ inputIds, attentionMask, decoderInputIds: ids, decoderAttentionMask: [[1, 1, 1, 1], [1, 1, 1, 1]] }).logits);
    expect(maxDiff(masked, plain).diff).toBe(0);
    const cache = new KVCache();
    noGrad(() => model.forward({ inputIds, attentionMask, decoderInputIds: F.slice(ids, 1, 0, 3), pastKeyValues: cache, useCache: true }));
    const last = noGrad(() => model.forward({ inputIds, attentionMask, decoderInputIds: F.slice(ids, 1, 3, 4), decoderAttentionMask: [[1, 1, 1, 1], [1, 1, 1, 1]], pastKeyValues: cache }).logits);
    const { diff, ref } = maxDiff(last, F.slice(plain, 1, 3, 4));
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
  });

  it("runs in float64: same seed, same weights, logits within float32 rounding", () => {
    expectF64MatchesF32(base, { inputIds, attentionMask, decoderInputIds });
  });

  it("initializes as transformers' _init_weights (std by fan-in, norms at initializer_factor)", () => {
    const model = createModel({ ...base, initializer_factor: 2, d_model: 64, d_ff: 128, vocab_size: 400 }, { seed: 0 });
    const params = new Map(model.namedParameters());
    const std = (name: string): number => {
      const d = params.get(name)!.data as Float32Array;
      let s = 0;
      for (const v of d) s += v * v;
      return Math.sqrt(s / d.length);
    };
    expect(std("shared.weight")).toBeCloseTo(2, 1);
    expect(std("encoder.block.0.layer.0.SelfAttention.q.weight") / (2 * (64 * 6) ** -0.5)).toBeCloseTo(1, 1);
    expect(std("encoder.block.0.layer.0.SelfAttention.k.weight") / (2 * 64 ** -0.5)).toBeCloseTo(1, 1);
    expect(std("encoder.block.0.layer.0.SelfAttention.o.weight") / (2 * 18 ** -0.5)).toBeCloseTo(1, 1);
    expect(std("encoder.block.0.layer.1.DenseReluDense.wo.weight") / (2 * 128 ** -0.5)).toBeCloseTo(1, 1);
    expect(Array.from(params.get("decoder.final_layer_norm.weight")!.data as Float32Array).every((v) => v === 2)).toBe(true);
  });
});
