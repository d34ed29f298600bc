import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { SafetensorsFile, typedArrayFor } from "../../src/io/index.js";
import { loadModel, type PreTrainedModel, KVCache } from "../../src/models/index.js";
import { Tensor, noGrad, tensor } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/index.js";
import { fixturesDir } from "./cli.js";

export interface RefTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Every tensor of a fixture's reference.safetensors (I64 ids narrowed to i32). */
export async function readReference(name: string): Promise<Map<string, RefTensor>> {
  const file = await SafetensorsFile.open(path.join(fixturesDir, name, "reference.safetensors"));
  const out = new Map<string, RefTensor>();
  try {
    for (const key of file.keys()) {
      const info = file.info(key);
      const bytes = await file.read(key);
      if (info.dtype === "I64") out.set(key, { shape: info.shape, data: Int32Array.from(typedArrayFor("I64", bytes), (v) => Number(v)) });
      else if (info.dtype === "F32") out.set(key, { shape: info.shape, data: Float32Array.from(typedArrayFor("F32", bytes)) });
      else throw new Error(`unexpected dtype ${info.dtype} for ${key}`);
    }
  } finally {
    await file.close();
  }
  return out;
}

export function refIds(ref: Map<string, RefTensor>, key: string): Tensor {
  const t = ref.get(key);
  if (!t) throw new Error(`reference has no ${key}`);
  return tensor(Int32Array.from(t.data), { shape: t.shape });
}

export function fixtureModel(name: string): Promise<PreTrainedModel> {
  return loadModel(path.join(fixturesDir, name));
}

/** The README's logits tolerance: max |diff| <= 1e-4 · max(1, max |ref|), over entries where keep(i) holds. */
export function expectLogitsClose(actual: Tensor, expected: RefTensor, keep: (flatIndex: number) => boolean = () => true): void {
  expect(actual.shape).toEqual(expected.shape);
  let maxRef = 0, maxDiff = 0;
  const a = actual.data as Float32Array;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    maxRef = Math.max(maxRef, Math.abs(expected.data[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - expected.data[i]!));
  }
  expect(maxDiff).toBeLessThanOrEqual(1e-4 * Math.max(1, maxRef));
}

export function expectLossClose(loss: Tensor | undefined, expected: number): void {
  expect(loss).toBeDefined();
  expect(Math.abs(loss!.item() - expected)).toBeLessThanOrEqual(1e-5 * Math.abs(expected));
}

/** Every parameter's gradient against grad.<name>: max |diff| <= 1e-4 · max(1e-3, max |ref|). */
export function expectGradsClose(model: PreTrainedModel, ref: Map<string, RefTensor>): void {
  const names = new Set<string>();
  for (const [name, p] of model.namedParameters()) {
    const g = ref.get(`grad.${name}`);
    expect(g, `reference has no grad.${name}`).toBeDefined();
    expect(p.grad, `${name} has no gradient`).not.toBeNull();
    expect([...p.grad!.shape], name).toEqual(g!.shape);
    let maxRef = 0, maxDiff = 0;
    const a = p.grad!.data as Float32Array;
    for (let i = 0; i < a.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(g!.data[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - g!.data[i]!));
    }
    expect(maxDiff, `gradient of ${name}: max diff ${maxDiff}, max ref ${maxRef}`).toBeLessThanOrEqual(1e-4 * Math.max(1e-3, maxRef));
    names.add(name);
  }
  const refNames = [...ref.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice(5));
  expect(refNames.filter((n) => !names.has(n))).toEqual([]);
}

/** Decoding one token at a time with the KV cache gives the logits of one full forward pass. */
export function expectCacheMatchesFullForward(model: PreTrainedModel, ids: Tensor, extra: Record<string, unknown> = {}): void {
  noGrad(() => {
    const full = model.forward({ inputIds: ids, ...extra }).logits;
    const cache = new KVCache();
    const steps: Tensor[] = [];
    const t = ids.shape[1]!;
    for (let i = 0; i < t; i++) {
      const out = model.forward({ inputIds: F.slice(ids, 1, i, i + 1), pastKeyValues: cache, useCache: true, ...extra });
      steps.push(out.logits);
    }
    const stepped = F.concat(steps, 1);
    expect(stepped.shape).toEqual(full.shape);
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < full.size; i++) {
      maxRef = Math.max(maxRef, Math.abs(full.data[i]!));
      maxDiff = Math.max(maxDiff, Math.abs((full.data[i] as number) - (stepped.data[i] as number)));
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, maxRef));
  });
}

/** save() then loadModel() gives bit-identical parameters and logits. */
export async function expectSaveRoundTrip(model: PreTrainedModel, inputs: Record<string, unknown>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-save-"));
  try {
    await model.save(dir);
    const again = await loadModel(dir);
    const a = new Map(model.namedParameters()), b = new Map(again.namedParameters());
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, p] of a) expect(Buffer.from((b.get(name)!.data as Float32Array).buffer).equals(Buffer.from((p.data as Float32Array).buffer)), name).toBe(true);
    const la = noGrad(() => model.forward(inputs).logits), lb = noGrad(() => again.forward(inputs).logits);
    expect(Array.from(lb.data as Float32Array)).toEqual(Array.from(la.data as Float32Array));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
