import { describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds } from "../helpers/parity.js";
import { expectF64MatchesF32, expectSeq2SeqCacheMatchesFullForward, maxDiff, rewrittenFixture } from "../helpers/seq2seq.js";
import { ConfigError } from "../../src/errors.js";
import { BartForConditionalGeneration, Seq2SeqInputError, createModel, loadModel, shiftTokensRight } from "../../src/models/index.js";
import { noGrad, tensor } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/index.js";

const fixtureConfig = (): Record<string, unknown> => JSON.parse(readFileSync(path.join(fixturesDir, "bart/config.json"), "utf8"));
const referenceJson = JSON.parse(readFileSync(path.join(fixturesDir, "bart/reference.json"), "utf8"));

async function forwardLossCase() {
  const ref = await readReference("bart");
  return { ref, inputIds: refIds(ref, "input_ids"), attentionMask: refIds(ref, "attention_mask"), labels: refIds(ref, "labels") };
}

describe("BART parity with transformers", () => {
  it("forward_loss: logits, loss and every parameter's gradient", async () => {
    const model = await fixtureModel("bart");
    expect(model).toBeInstanceOf(BartForConditionalGeneration);
    expect(model.isEncoderDecoder).toBe(true);
    expect(model.maxPositionEmbeddings).toBe(64);
    const { ref, inputIds, attentionMask, labels } = await forwardLossCase();
    const out = model.forward({ inputIds, attentionMask, labels });
    expectLogitsClose(out.logits, ref.get("logits")!);
    expectLossClose(out.loss, referenceJson.cases.forward_loss.loss);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });

  it("one token table for encoder, decoder and head; final_logits_bias is a buffer, not a parameter", async () => {
    const model = (await fixtureModel("bart")) as BartForConditionalGeneration;
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names[0]).toBe("model.shared.weight");
    expect(names.filter((n) => n.includes("embed_tokens") || n.startsWith("lm_head") || n.includes("final_logits_bias"))).toEqual([]);
    expect(model.model.encoder.embed_tokens.weight).toBe(model.model.shared.weight);
    expect(model.model.decoder.embed_tokens.weight).toBe(model.model.shared.weight);
    expect(model.lm_head.weight).toBe(model.model.shared.weight);
    expect(model.namedBuffers().map(([n, t]) => [n, [...t.shape]])).toEqual([["final_logits_bias", [1, 320]]]);
    // Positions table: max_position_embeddings + the offset of 2.
    expect(model.model.encoder.embed_positions.weight.shape).toEqual([66, 32]);
  });

  it("KV-cache decoding (positions offset by the past, cross-attention cached) equals the full decoder pass", async () => {
    const model = await fixtureModel("bart");
    const { inputIds, attentionMask, labels } = await forwardLossCase();
    expectSeq2SeqCacheMatchesFullForward(model, inputIds, attentionMask, shiftTokensRight(labels, 1, 2));
  });

  it("decoder inputs: labels shifted right; without labels, the encoder inputs shifted right (BartModel)", async () => {
    const model = (await fixtureModel("bart")) as BartForConditionalGeneration;
    const { inputIds, attentionMask, labels } = await forwardLossCase();
    noGrad(() => {
      const fromLabels = model.forward({ inputIds, attentionMask, labels }).logits;
      const decoderInputIds = tensor([[2, 312, 288, 223, 75], [2, 290, 225, 221, 144]], { dtype: "i32" });
      expect(maxDiff(model.forward({ inputIds, attentionMask, decoderInputIds }).logits, fromLabels).diff).toBe(0);
      const encoderOutputs = model.encode(inputIds, attentionMask);
      expect(maxDiff(model.forward({ encoderOutputs, attentionMask, decoderInputIds }).logits, fromLabels).diff).toBe(0);
      const denoise = model.forward({ inputIds, attentionMask }).logits;
      const shifted = tensor([[2, 272, 260, 96, 116, 170, 12], [2, 87, 315, 136, 182, 40, 1]], { dtype: "i32" });
      expect(maxDiff(denoise, model.forward({ inputIds, attentionMask, decoderInputIds: shifted }).logits).diff).toBe(0);
    });
  });

  it("save then load round-trips exactly", async () => {
    const model = await fixtureModel("bart");
    await expectSaveRoundTrip(model, { inputIds: [[0, 5, 6, 7, 2]], decoderInputIds: [[2, 0, 9]] });
  });

  it("final_logits_bias is read from the checkpoint, added to every position's logits, and saved", async () => {
    const bias = Float32Array.from({ length: 320 }, (_, i) => Math.sin(i) * 3);
    const { model, cleanup } = await rewrittenFixture("bart", (c) => c, async () => [["final_logits_bias", { dtype: "F32", shape: [1, 320], data: bias }]]);
    const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-bart-"));
    try {
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase();
      const logits = noGrad(() => model.forward({ inputIds, attentionMask, labels }).logits);
      const expected = Float32Array.from(ref.get("logits")!.data as Float32Array, (v, i) => v + bias[i % 320]!);
      expectLogitsClose(logits, { shape: [2, 5, 320], data: expected });
      await model.save(dir);
      const again = (await loadModel(dir)) as BartForConditionalGeneration;
      expect(Array.from(again.namedBuffers()[0]![1].data as Float32Array)).toEqual(Array.from(bias));
    } finally {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a checkpoint that stores lm_head.weight and embed_tokens beside model.shared loads them untied, as transformers 5 does", async () => {
    const { model, cleanup } = await rewrittenFixture("bart", (c) => c, async (get) => {
      const w = await get("model.shared.weight");
      return [["lm_head.weight", w], ["model.encoder.embed_tokens.weight", w], ["model.decoder.embed_tokens.weight", w]];
    });
    try {
      const bart = model as BartForConditionalGeneration;
      expect(bart.lm_head.weight).not.toBe(bart.model.shared.weight);
      expect(bart.model.encoder.embed_tokens.weight).not.toBe(bart.model.shared.weight);
      const names = [...model.namedParameters()].map(([n]) => n);
      expect(names).toContain("lm_head.weight");
      expect(names).toContain("model.decoder.embed_tokens.weight");
      const { ref, inputIds, attentionMask, labels } = await forwardLossCase();
      expectLogitsClose(noGrad(() => model.forward({ inputIds, attentionMask, labels }).logits), ref.get("logits")!);
    } finally {
      await cleanup();
    }
  });

  it("rejects bad configs and inputs with errors that name them", async () => {
    expect(() => createModel({ ...fixtureConfig(), encoder_attention_heads: 5 })).toThrow(ConfigError);
    expect(() => createModel({ ...fixtureConfig(), encoder_attention_heads: 5 })).toThrow(/encoder_attention_heads/);
    expect(() => createModel({ ...fixtureConfig(), activation_function: "gelu_fancy" })).toThrow(/activation_function/);
    const model = await fixtureModel("bart");
    const long = [Array.from({ length: 65 }, (_, i) => 3 + i)];
    expect(() => model.forward({ inputIds: long, decoderInputIds: [[2]] })).toThrow(Seq2SeqInputError);
    expect(() => model.forward({ inputIds: long, decoderInputIds: [[2]] })).toThrow(/max_position_embeddings \(64\)/);
    expect(() => model.forward({ decoderInputIds: [[2]] })).toThrow(/inputIds or encoderOutputs/);
  });
});

describe("BART variants built from configs", () => {
  const base = {
    model_type: "bart", architectures: ["BartForConditionalGeneration"], vocab_size: 60, d_model: 24, encoder_layers: 2, decoder_layers: 3,
    encoder_attention_heads: 4, decoder_attention_heads: 2, encoder_ffn_dim: 40, decoder_ffn_dim: 36, max_position_embeddings: 20,
    pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, decoder_start_token_id: 2, init_std: 0.1,
  };
  const inputIds = tensor([[0, 9, 13, 21, 7, 3, 2], [0, 8, 5, 2, 1, 1, 1]], { dtype: "i32" });
  const attentionMask = tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], { dtype: "i32" });
  const decoderInputIds = tensor([[2, 0, 11, 12, 13, 14], [2, 0, 31, 32, 33, 34]], { dtype: "i32" });

  it.each([
    ["gelu, tied", {}],
    ["relu, scaled embeddings, untied head", { activation_function: "relu", scale_embedding: true, tie_word_embeddings: false }],
    ["gelu_new, one head", { activation_function: "gelu_new", decoder_attention_heads: 1 }],
  ])("%s: cache equals full pass, save round-trips", async (_label, extra) => {
    const model = createModel({ ...base, ...extra }, { seed: 5 }).eval() as BartForConditionalGeneration;
    expect(model.model.decoder.layers.length).toBe(3);
    expectSeq2SeqCacheMatchesFullForward(model, inputIds, attentionMask, decoderInputIds);
    await expectSaveRoundTrip(model, { inputIds, attentionMask, decoderInputIds });
  });

  it("scale_embedding multiplies token embeddings by sqrt(d_model)", () => {
    const scaled = createModel({ ...base, scale_embedding: true, tie_word_embeddings: false }, { seed: 2 }).eval() as BartForConditionalGeneration;
    const plain = createModel({ ...base, scale_embedding: false, tie_word_embeddings: false }, { seed: 2 }).eval() as BartForConditionalGeneration;
    expect(scaled.lm_head.weight).not.toBe(scaled.model.shared.weight);
    const w = plain.model.shared.weight.data as Float32Array;
    w.set(Array.from(scaled.model.shared.weight.data as Float32Array, (v) => v * Math.sqrt(24)));
    const a = noGrad(() => scaled.forward({ inputIds, attentionMask, decoderInputIds }).logits);
    const b = noGrad(() => plain.forward({ inputIds, attentionMask, decoderInputIds }).logits);
    const { diff, ref } = maxDiff(a, b);
    expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, ref));
  });

  it("runs in float64: same seed, same weights, logits within float32 rounding", () => {
    expectF64MatchesF32(base, { inputIds, attentionMask, decoderInputIds });
  });

  it("initializes as transformers' _init_weights: normal(0, init_std), zero pad row and biases, unit norms", () => {
    const model = createModel({ ...base, d_model: 64, vocab_size: 500 }, { seed: 0 });
    const params = new Map(model.namedParameters());
    const shared = params.get("model.shared.weight")!.data as Float32Array;
    expect(Array.from(shared.subarray(64, 128)).every((v) => v === 0)).toBe(true);
    let s = 0;
    for (const v of shared) s += v * v;
    expect(Math.sqrt(s / (shared.length - 64))).toBeCloseTo(0.1, 2);
    expect(Array.from(params.get("model.encoder.layers.0.fc1.bias")!.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(params.get("model.decoder.layernorm_embedding.weight")!.data as Float32Array).every((v) => v === 1)).toBe(true);
    expect(Array.from(params.get("model.decoder.layers.2.encoder_attn_layer_norm.weight")!.data as Float32Array).every((v) => v === 1)).toBe(true);
  });

  it("layerdrop skips layers only while training", () => {
    const model = createModel({ ...base, encoder_layerdrop: 1, decoder_layerdrop: 1, dropout: 0 }, { seed: 4 }) as BartForConditionalGeneration;
    // Every layer dropped: the encoder output is its embedding layer norm of tokens + positions.
    const h = noGrad(() => model.encode(inputIds, attentionMask));
    const enc = model.model.encoder;
    const emb = noGrad(() => enc.layernorm_embedding.forward(F.add(enc.embed_tokens.forward(inputIds), enc.embed_positions.positions(7, 0))));
    expect(maxDiff(h, emb).diff).toBe(0);
    model.eval();
    expect(maxDiff(noGrad(() => model.encode(inputIds, attentionMask)), emb).diff).toBeGreaterThan(1e-3);
  });
});
