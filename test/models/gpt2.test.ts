import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { getBackend } from "../../src/backends/index.js";
import { KVCache, type PreTrainedModel } from "../../src/models/index.js";
import { noGrad, type Tensor } from "../../src/tensor/index.js";
import { expectCacheMatchesFullForward, expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds } from "../helpers/parity.js";

const reference = JSON.parse(readFileSync(path.join(fixturesDir, "gpt2/reference.json"), "utf8"));

describe("GPT-2 parity with transformers", () => {
  it("logits, loss and every parameter's gradient", async () => {
    const model = await fixtureModel("gpt2");
    const ref = await readReference("gpt2");
    const ids = refIds(ref, "input_ids");
    const out = model.forward({ inputIds: ids, labels: ids });
    expectLogitsClose(out.logits, ref.get("logits")!);
    expectLossClose(out.loss, reference.cases.loss.loss);
    out.loss!.backward();
    expectGradsClose(model, ref);
  });
  it("KV-cache decoding equals the full forward pass", async () => {
    const model = await fixtureModel("gpt2");
    expectCacheMatchesFullForward(model, refIds(await readReference("gpt2"), "input_ids"));
  });
  it("save then load round-trips exactly", async () => {
    const model = await fixtureModel("gpt2");
    await expectSaveRoundTrip(model, { inputIds: [[1, 2, 3]] });
    expect(model.numParameters()).toBeGreaterThan(0);
  });
});

describe("tied weights in a checkpoint", () => {
  it("a stored copy of a tied head does not overwrite the embeddings (the first name wins)", async () => {
    const { mkdtemp, rm, copyFile } = await import("node:fs/promises");
    const os = await import("node:os");
    const { SafetensorsFile, saveSafetensors } = await import("../../src/io/index.js");
    const { loadModel } = await import("../../src/models/index.js");
    const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-tied-"));
    try {
      const src = await SafetensorsFile.open(path.join(fixturesDir, "gpt2/model.safetensors"));
      const tensors: [string, { dtype: "F32"; shape: number[]; data: Uint8Array }][] = [];
      for (const k of src.keys()) tensors.push([k, { dtype: "F32", shape: src.info(k).shape, data: await src.read(k) }]);
      const wte = tensors.find(([k]) => k === "transformer.wte.weight")![1];
      tensors.push(["lm_head.weight", { dtype: "F32", shape: wte.shape, data: new Uint8Array(wte.data.length) }]);
      await src.close();
      await saveSafetensors(path.join(dir, "model.safetensors"), tensors);
      await copyFile(path.join(fixturesDir, "gpt2/config.json"), path.join(dir, "config.json"));
      const model = await loadModel(dir);
      const original = await fixtureModel("gpt2");
      const a = new Map(model.namedParameters()).get("transformer.wte.weight")!;
      const b = new Map(original.namedParameters()).get("transformer.wte.weight")!;
      expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("GPT-2 with tie_word_embeddings false", () => {
  it("has its own lm_head.weight, used for the logits, and round-trips through save/load", async () => {
    const { createModel } = await import("../../src/models/index.js");
    const { linear } = await import("../../src/tensor/index.js");
    const config = { model_type: "gpt2", n_embd: 16, n_layer: 1, n_head: 2, vocab_size: 40, n_positions: 16, tie_word_embeddings: false };
    const model = createModel(config, { seed: 3 }).eval();
    const params = new Map(model.namedParameters());
    expect(params.has("lm_head.weight")).toBe(true);
    expect(params.get("lm_head.weight")).not.toBe(params.get("transformer.wte.weight"));
    const ids = [[1, 5, 9]];
    const logits = model.forward({ inputIds: ids }).logits;
    const hidden = (model as unknown as { transformer: { forward: (...a: unknown[]) => import("../../src/tensor/index.js").Tensor } }).transformer.forward(
      (await import("../../src/models/index.js")).toIds(ids, "ids"), null, null, null,
    );
    expect(Array.from(logits.data as Float32Array)).toEqual(Array.from(linear(hidden, params.get("lm_head.weight")!).data as Float32Array));
    await expectSaveRoundTrip(model, { inputIds: ids });
  });
});

describe.skipIf(getBackend().name !== "native")("GPT-2 blocks as one native call (inference with a cache)", () => {
  /** Runs `fn` with the backend's fused block on or off, counting the fused calls. */
  function withFusedBlock<T>(on: boolean, fn: () => T): { result: T; calls: number } {
    const be = getBackend();
    const fused = be.preNormBlock;
    let calls = 0;
    be.preNormBlock = on && fused ? (...args) => { calls++; fused.apply(be, args); } : undefined;
    try {
      return { result: fn(), calls };
    } finally {
      be.preNormBlock = fused;
    }
  }

  /** Prefill of a left-padded batch, then three decode steps; logits of every step and the final cache. */
  function decode(model: PreTrainedModel): { logits: Tensor[]; cache: KVCache } {
    return noGrad(() => {
      const cache = new KVCache();
      const mask = [[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]];
      const ids = [[0, 7, 3, 11, 5], [4, 9, 2, 8, 6]];
      const logits: Tensor[] = [];
      let out = model.forward({ inputIds: ids, attentionMask: mask, positionIds: [[0, 0, 1, 2, 3], [0, 1, 2, 3, 4]], pastKeyValues: cache, useCache: true });
      logits.push(out.logits);
      for (let step = 0; step < 3; step++) {
        for (const row of mask) row.push(1);
        out = model.forward({ inputIds: [[3 + step], [10 - step]], attentionMask: mask, positionIds: [[4 + step], [5 + step]], pastKeyValues: cache, useCache: true });
        logits.push(out.logits);
      }
      return { logits, cache };
    });
  }

  it("gives the op-by-op block's logits and cache, for a padded batch, a prefill and decode steps", async () => {
    const model = await fixtureModel("gpt2");
    const fused = withFusedBlock(true, () => decode(model));
    const composed = withFusedBlock(false, () => decode(model));
    expect(fused.calls).toBe(4 * 2); // four forward passes × two layers
    expect(composed.calls).toBe(0);
    for (const [i, l] of fused.result.logits.entries()) expectClose(l, composed.result.logits[i]!, 1e-5);
    const a = fused.result.cache.layers, b = composed.result.cache.layers;
    expect(a.length).toBe(2);
    for (const [i, kv] of a.entries()) {
      expectClose(kv!.key, b[i]!.key, 1e-5);
      expectClose(kv!.value, b[i]!.value, 1e-5);
    }
  });

  it("is not used while gradients are recorded or in training mode", async () => {
    const model = await fixtureModel("gpt2");
    const ids = [[1, 2, 3]];
    expect(withFusedBlock(true, () => model.forward({ inputIds: ids, pastKeyValues: new KVCache(), useCache: true })).calls).toBe(0);
    model.train();
    expect(withFusedBlock(true, () => noGrad(() => model.forward({ inputIds: ids, pastKeyValues: new KVCache(), useCache: true }))).calls).toBe(0);
    model.eval();
    expect(withFusedBlock(true, () => noGrad(() => model.forward({ inputIds: ids, pastKeyValues: new KVCache(), useCache: true }))).calls).toBe(2);
  });
});

function expectClose(a: Tensor, b: Tensor, tol: number): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.data as Float32Array, y = b.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  expect(worst).toBeLessThanOrEqual(tol);
}
