import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { getBackend } from "../../src/backends/index.js";
import { KVCache } from "../../src/models/index.js";
import { noGrad } from "../../src/tensor/index.js";
import { expectCacheMatchesFullForward, expectFusedMatchesComposed, expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds, withFusedBlock } from "../helpers/parity.js";

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
  it("gives the op-by-op block's logits and cache, for a padded batch, a prefill and decode steps", async () => {
    expectFusedMatchesComposed("preNormBlock", await fixtureModel("gpt2"), 2);
  });

  it("is not used while gradients are recorded or in training mode", async () => {
    const model = await fixtureModel("gpt2");
    const ids = [[1, 2, 3]];
    const calls = (): number => withFusedBlock("preNormBlock", true, () => noGrad(() => model.forward({ inputIds: ids, pastKeyValues: new KVCache(), useCache: true }))).calls;
    expect(withFusedBlock("preNormBlock", true, () => model.forward({ inputIds: ids, pastKeyValues: new KVCache(), useCache: true })).calls).toBe(0);
    model.train();
    expect(calls()).toBe(0);
    model.eval();
    expect(calls()).toBe(2);
  });
});
