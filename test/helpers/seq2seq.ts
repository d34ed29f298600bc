import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { SafetensorsFile, saveSafetensors, typedArrayFor, type TensorData } from "../../src/io/index.js";
import { KVCache, createModel, loadModel, type ModelInputs, type PreTrainedModel, type RawConfig } from "../../src/models/index.js";
import { Tensor, noGrad } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/index.js";
import { fixturesDir } from "./cli.js";

/** Largest |a - b| over two tensors of one shape, and the largest |b|. */
export function maxDiff(a: Tensor, b: Tensor): { diff: number; ref: number } {
  expect([...a.shape]).toEqual([...b.shape]);
  let diff = 0, ref = 0;
  for (let i = 0; i < a.size; i++) {
    diff = Math.max(diff, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    ref = Math.max(ref, Math.abs(b.data[i] as number));
  }
  return { diff, ref };
}

/** The same config and seed built in float64 gives the float32 logits to within float32 rounding. */
export function expectF64MatchesF32(config: RawConfig, inputs: ModelInputs): void {
  const a = createModel(config, { seed: 6 }).eval();
  const b = createModel(config, { seed: 6, dtype: "f64" }).eval();
  const la = noGrad(() => a.forward(inputs).logits);
  const lb = noGrad(() => b.forward(inputs).logits);
  expect(lb.dtype).toBe("f64");
  const { diff, ref } = maxDiff(la, lb);
  expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, ref));
}

/**
 * Decoding one decoder token at a time — the encoder run once and its output passed back each step, the
 * cross-attention keys/values cached — gives the logits of one full decoder pass.
 */
export function expectSeq2SeqCacheMatchesFullForward(model: PreTrainedModel, inputIds: Tensor, attentionMask: Tensor | null, decoderInputIds: Tensor): void {
  noGrad(() => {
    const encode = (model as unknown as { encode(ids: Tensor, mask: Tensor | null): Tensor }).encode.bind(model);
    const full = model.forward({ inputIds, attentionMask: attentionMask ?? undefined, decoderInputIds }).logits;
    const encoderOutputs = encode(inputIds, attentionMask);
    const cache = new KVCache();
    const steps: Tensor[] = [];
    for (let i = 0; i < decoderInputIds.shape[1]!; i++) {
      const out = model.forward({
        encoderOutputs, attentionMask: attentionMask ?? undefined, decoderInputIds: F.slice(decoderInputIds, 1, i, i + 1), pastKeyValues: cache, useCache: true,
      });
      expect(out.pastKeyValues).toBe(cache);
      steps.push(out.logits);
    }
    expect(cache.seqLength).toBe(decoderInputIds.shape[1]);
    expect(cache.cross.filter(Boolean).length).toBeGreaterThan(0);
    const { diff, ref } = maxDiff(F.concat(steps, 1), full);
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
  });
}

/** A copy of a fixture folder with its config.json rewritten and tensors added to (or replaced in) its model.safetensors. */
export async function rewrittenFixture(
  name: string,
  editConfig: (config: Record<string, unknown>) => Record<string, unknown>,
  addTensors: (get: (key: string) => Promise<TensorData>) => Promise<[string, TensorData][]> = async () => [],
): Promise<{ dir: string; model: PreTrainedModel; cleanup: () => Promise<void> }> {
  const src = path.join(fixturesDir, name);
  const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-seq2seq-"));
  const config = JSON.parse(await readFile(path.join(src, "config.json"), "utf8"));
  await writeFile(path.join(dir, "config.json"), JSON.stringify(editConfig(config)));
  const file = await SafetensorsFile.open(path.join(src, "model.safetensors"));
  const tensors: [string, TensorData][] = [];
  const get = async (key: string): Promise<TensorData> => {
    const info = file.info(key);
    return { dtype: "F32", shape: info.shape, data: Float32Array.from(typedArrayFor("F32", await file.read(key))) };
  };
  try {
    const added = new Map(await addTensors(get));
    for (const key of file.keys()) if (!added.has(key)) tensors.push([key, await get(key)]);
    tensors.push(...added);
  } finally {
    await file.close();
  }
  await saveSafetensors(path.join(dir, "model.safetensors"), tensors, { format: "pt" });
  return { dir, model: await loadModel(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
}
