import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { gradcheck, randLeaf } from "../helpers/gradcheck.js";
import { expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds } from "../helpers/parity.js";
import { SafetensorsFile, openCheckpoint, saveSafetensors, type TensorData } from "../../src/io/index.js";
import { BertForMaskedLM, BertForSequenceClassification, createModel, loadModel, loadWeights, parseBertConfig } from "../../src/models/index.js";
import { ConfigError } from "../../src/errors.js";
import { binaryCrossEntropyWithLogits, noGrad, tensor, type Tensor } from "../../src/tensor/index.js";
import { Generator } from "../../src/utils/rng.js";

const bertDir = path.join(fixturesDir, "bert");
const clsDir = path.join(fixturesDir, "bert-cls");
const reference = JSON.parse(readFileSync(path.join(bertDir, "reference.json"), "utf8"));
const clsReference = JSON.parse(readFileSync(path.join(clsDir, "reference.json"), "utf8"));
const fixtureConfig = JSON.parse(readFileSync(path.join(bertDir, "config.json"), "utf8")) as Record<string, unknown>;

/** Flat indices of [B, T, V] logits whose position has attention mask 1. */
function unpadded(mask: Tensor, vocab: number): (i: number) => boolean {
  return (i) => mask.data[Math.floor(i / vocab)] === 1;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return m;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-bert-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("BertForMaskedLM parity with transformers", () => {
  it("logits at unpadded positions, MLM loss and every parameter's gradient", async () => {
    const model = await fixtureModel("bert");
    expect(model).toBeInstanceOf(BertForMaskedLM);
    const ref = await readReference("bert");
    const ids = refIds(ref, "input_ids"), mask = refIds(ref, "attention_mask");
    const out = model.forward({ inputIds: ids, attentionMask: mask, labels: refIds(ref, "mlm_labels") });
    expectLogitsClose(out.logits, ref.get("logits")!, unpadded(mask, 320));
    expectLossClose(out.loss, reference.cases.mlm_loss.loss);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });

  it("names the tied decoder as transformers 5 does: cls.predictions.bias, no separate decoder parameters", async () => {
    const model = await fixtureModel("bert");
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names).toContain("cls.predictions.bias");
    expect(names.filter((n) => n.includes("decoder"))).toEqual([]);
    const m = model as BertForMaskedLM;
    expect(m.cls.predictions.decoder.weight).toBe(m.bert.embeddings.word_embeddings.weight);
    expect(m.cls.predictions.decoder.bias).toBe(m.cls.predictions.bias);
  });

  it("token type ids default to zeros; type 1 equals putting row 1 of the table in row 0", async () => {
    const model = await fixtureModel("bert");
    const ids = [[5, 6, 7, 8]];
    const implicit = noGrad(() => model.forward({ inputIds: ids }).logits);
    const zerosGiven = noGrad(() => model.forward({ inputIds: ids, tokenTypeIds: [[0, 0, 0, 0]] }).logits);
    expect(Array.from(zerosGiven.data)).toEqual(Array.from(implicit.data));
    const ones = noGrad(() => model.forward({ inputIds: ids, tokenTypeIds: [[1, 1, 1, 1]] }).logits);
    const table = (model as BertForMaskedLM).bert.embeddings.token_type_embeddings.weight;
    const row1 = (table.data as Float32Array).slice(32, 64);
    (table.data as Float32Array).set(row1, 0);
    const swapped = noGrad(() => model.forward({ inputIds: ids }).logits);
    expect(Array.from(swapped.data)).toEqual(Array.from(ones.data));
    expect(maxAbsDiff(ones, implicit)).toBeGreaterThan(1e-3);
  });

  it("padding keys are invisible: a padded row's real positions equal the same tokens alone", async () => {
    const model = await fixtureModel("bert");
    const ref = await readReference("bert");
    const ids = refIds(ref, "input_ids"), mask = refIds(ref, "attention_mask");
    const batch = noGrad(() => model.forward({ inputIds: ids, attentionMask: mask }).logits);
    const alone = noGrad(() => model.forward({ inputIds: [reference.cases.forward.input_ids[1].slice(0, 5)] }).logits);
    const row = Float32Array.from((batch.data as Float32Array).subarray(7 * 320, 7 * 320 + 5 * 320));
    expect(maxAbsDiff(tensor(row, { shape: [1, 5, 320] }), alone)).toBeLessThan(1e-5);
  });

  it("save then load round-trips exactly", async () => {
    await expectSaveRoundTrip(await fixtureModel("bert"), { inputIds: [[1, 2, 3]] });
  });

  it("loads an old-style checkpoint: LayerNorm gamma/beta, stored decoder copies, position_ids buffer", async () => {
    const original = await fixtureModel("bert");
    await withTempDir(async (dir) => {
      const file = await SafetensorsFile.open(path.join(bertDir, "model.safetensors"));
      const tensors: [string, TensorData][] = [];
      try {
        for (const key of file.keys()) {
          const info = file.info(key);
          const name = key.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta");
          tensors.push([name, { dtype: "F32", shape: info.shape, data: await file.read(key) }]);
          if (key === "bert.embeddings.word_embeddings.weight") tensors.push(["cls.predictions.decoder.weight", { dtype: "F32", shape: info.shape, data: await file.read(key) }]);
          if (key === "cls.predictions.bias") tensors.push(["cls.predictions.decoder.bias", { dtype: "F32", shape: info.shape, data: await file.read(key) }]);
        }
      } finally {
        await file.close();
      }
      expect(tensors.some(([n]) => n.endsWith("LayerNorm.gamma"))).toBe(true);
      tensors.push(["bert.embeddings.position_ids", { dtype: "I64", shape: [1, 64], data: BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i)) }]);
      await saveSafetensors(path.join(dir, "model.safetensors"), tensors, { format: "pt" });
      await writeFile(path.join(dir, "config.json"), await readFile(path.join(bertDir, "config.json")));
      const old = await loadModel(dir);
      const reader = await openCheckpoint(dir);
      try {
        expect((await loadWeights(createModel(fixtureConfig), reader, dir)).unexpectedKeys).toEqual([]);
      } finally {
        await reader.close();
      }
      const inputs = { inputIds: [[3, 4, 5, 6]] };
      const a = noGrad(() => original.forward(inputs).logits), b = noGrad(() => old.forward(inputs).logits);
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    });
  });
});

describe("BertForSequenceClassification parity with transformers", () => {
  it("logits, cross-entropy loss for labels [0, 2] and every parameter's gradient", async () => {
    const model = await fixtureModel("bert-cls");
    expect(model).toBeInstanceOf(BertForSequenceClassification);
    const ref = await readReference("bert-cls");
    const out = model.forward({ inputIds: refIds(ref, "input_ids"), attentionMask: refIds(ref, "attention_mask"), labels: clsReference.cases.classify.labels });
    expectLogitsClose(out.logits, ref.get("logits")!);
    expectLossClose(out.loss, clsReference.cases.classify.loss);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });

  it("num_labels comes from id2label, else num_labels", () => {
    expect(parseBertConfig(JSON.parse(readFileSync(path.join(clsDir, "config.json"), "utf8"))).numLabels).toBe(3);
    expect(parseBertConfig({ ...fixtureConfig, num_labels: 5 }).numLabels).toBe(5);
    expect(parseBertConfig(fixtureConfig).numLabels).toBe(2);
  });

  it("save then load round-trips exactly", async () => {
    await expectSaveRoundTrip(await fixtureModel("bert-cls"), { inputIds: [[1, 2, 3]] });
  });
});

describe("BERT classification losses by problem_type", () => {
  const config = (extra: Record<string, unknown>): Record<string, unknown> => ({ ...fixtureConfig, architectures: ["BertForSequenceClassification"], ...extra });
  const inputs = { inputIds: [[2, 3, 4], [5, 6, 7]] };

  it("one label is regression: mean squared error", () => {
    const model = createModel(config({ num_labels: 1 }), { seed: 1 }).eval();
    const y = [0.5, -1.25];
    const out = model.forward({ ...inputs, labels: y });
    expect(out.logits.shape).toEqual([2, 1]);
    const x = Array.from(out.logits.data as Float32Array);
    const expected = ((x[0]! - y[0]!) ** 2 + (x[1]! - y[1]!) ** 2) / 2;
    expect(out.loss!.item()).toBeCloseTo(expected, 5);
  });

  it("float targets [batch, labels] are multi-label: binary cross-entropy with logits", () => {
    const model = createModel(config({ num_labels: 3 }), { seed: 2 }).eval();
    const y = [[1, 0, 1], [0, 0.5, 1]];
    const out = model.forward({ ...inputs, labels: tensor(y, { dtype: "f32" }) });
    const x = Array.from(out.logits.data as Float32Array);
    const flat = y.flat();
    let s = 0;
    for (let i = 0; i < 6; i++) {
      const p = 1 / (1 + Math.exp(-x[i]!));
      s += -(flat[i]! * Math.log(p) + (1 - flat[i]!) * Math.log(1 - p));
    }
    expect(out.loss!.item()).toBeCloseTo(s / 6, 5);
    // Integer 0/1 rows given as arrays are multi-label too (2-D), as transformers does for float label tensors.
    const again = model.forward({ ...inputs, labels: [[1, 0, 1], [0, 1, 1]] });
    expect(Number.isFinite(again.loss!.item())).toBe(true);
  });

  it("problem_type from config.json overrides the inference", () => {
    const model = createModel(config({ num_labels: 2, problem_type: "regression" }), { seed: 3 }).eval();
    const out = model.forward({ ...inputs, labels: [[1, 0], [0, 1]] });
    const x = Array.from(out.logits.data as Float32Array);
    const y = [1, 0, 0, 1];
    expect(out.loss!.item()).toBeCloseTo(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / 4, 5);
    const single = createModel(config({ num_labels: 2 }), { seed: 3 }).eval();
    expect(() => single.forward({ ...inputs, labels: [0, 1, 1] })).toThrow(/2 class ids/);
  });

  it("binaryCrossEntropyWithLogits: stable for large logits, gradient sigmoid(x) - y", () => {
    const big = binaryCrossEntropyWithLogits(tensor([200, -200], { dtype: "f64" }), tensor([0, 1], { dtype: "f64" }), { reduction: "none" });
    expect(Array.from(big.data)).toEqual([200, 200]);
    const g = new Generator(5);
    const y = randLeaf([3, 4], g, { low: 0, high: 1 });
    y.requiresGrad = false;
    gradcheck((x) => binaryCrossEntropyWithLogits(x, y, { reduction: "none" }), [randLeaf([3, 4], g, { low: -4, high: 4 })]);
    gradcheck((x) => binaryCrossEntropyWithLogits(x, y), [randLeaf([3, 4], g, { low: -4, high: 4 })]);
  });
});

describe("BERT from configs", () => {
  it("an untied MLM head has its own cls.predictions.decoder.weight and round-trips", async () => {
    const model = createModel({ ...fixtureConfig, tie_word_embeddings: false }, { seed: 4 }).eval() as BertForMaskedLM;
    const names = [...model.namedParameters()].map(([n]) => n);
    expect(names).toContain("cls.predictions.decoder.weight");
    expect(model.cls.predictions.decoder.weight).not.toBe(model.bert.embeddings.word_embeddings.weight);
    await expectSaveRoundTrip(model, { inputIds: [[1, 2, 3]] });
  });

  it("initializes as _init_weights: N(0, initializer_range), zero biases and padding row, unit norms", () => {
    const model = createModel({ ...fixtureConfig, hidden_size: 64, intermediate_size: 128, initializer_range: 0.05 }, { seed: 7 });
    const params = new Map(model.namedParameters());
    const word = params.get("bert.embeddings.word_embeddings.weight")!.data as Float32Array;
    expect(Array.from(word.subarray(0, 64)).every((v) => v === 0)).toBe(true);
    const rest = word.subarray(64);
    const mean = rest.reduce((s, v) => s + v, 0) / rest.length;
    const std = Math.sqrt(rest.reduce((s, v) => s + (v - mean) ** 2, 0) / rest.length);
    expect(Math.abs(std - 0.05)).toBeLessThan(0.002);
    for (const [name, p] of params) {
      const d = Array.from(p.data as Float32Array);
      if (name.endsWith("LayerNorm.weight")) expect(d.every((v) => v === 1), name).toBe(true);
      else if (name.endsWith("bias")) expect(d.every((v) => v === 0), name).toBe(true);
    }
    expect(model.training).toBe(true);
  });

  it("pad_token_id defaults to 0 (BertConfig) and null means no padding row", () => {
    const { pad_token_id: _, ...noPad } = fixtureConfig;
    expect(parseBertConfig(noPad).padTokenId).toBe(0);
    expect(parseBertConfig({ ...fixtureConfig, pad_token_id: null }).padTokenId).toBeNull();
  });

  it("other activations and layer counts build and run; seeds are deterministic", () => {
    const cfg = { ...fixtureConfig, hidden_act: "relu", num_hidden_layers: 3, num_attention_heads: 8 };
    const a = createModel(cfg, { seed: 9 }).eval(), b = createModel(cfg, { seed: 9 }).eval();
    const la = noGrad(() => a.forward({ inputIds: [[1, 2]] }).logits), lb = noGrad(() => b.forward({ inputIds: [[1, 2]] }).logits);
    expect(Array.from(la.data)).toEqual(Array.from(lb.data));
    expect([...a.namedParameters()].filter(([n]) => n.endsWith("attention.self.query.weight"))).toHaveLength(3);
  });

  it("bad configs and inputs are errors that say what is wrong", () => {
    expect(() => parseBertConfig({ ...fixtureConfig, num_attention_heads: 5 })).toThrow(ConfigError);
    expect(() => parseBertConfig({ ...fixtureConfig, position_embedding_type: "relative_key" })).toThrow(/position_embedding_type/);
    expect(() => parseBertConfig({ ...fixtureConfig, problem_type: "ranking" })).toThrow(/problem_type/);
    expect(() => parseBertConfig({ ...fixtureConfig, hidden_act: "nope" })).not.toThrow();
    expect(() => createModel({ ...fixtureConfig, hidden_act: "nope" })).toThrow(/unknown activation "nope"/);
    const model = createModel(fixtureConfig, { seed: 1 }).eval();
    expect(() => model.forward({ inputIds: [Array.from({ length: 65 }, () => 1)] })).toThrow(/max_position_embeddings 64/);
    expect(() => model.forward({ inputIds: [[1, 2, 3]], attentionMask: [[1, 1]] })).toThrow(/attentionMask has shape \[1, 2\]/);
    expect(() => model.forward({ inputIds: [[1, 2, 3]], labels: [[1, 2]] })).toThrow(/labels/);
  });
});
