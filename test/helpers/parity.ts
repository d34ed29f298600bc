import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { getBackend } from "../../src/backends/index.js";
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

/** The backend's fused inference blocks (optional Backend methods). */
export type FusedBlock = "preNormBlock" | "llamaBlock";

/** Runs `fn` with the backend's fused block on or off, counting the fused calls. */
export function withFusedBlock<T>(method: FusedBlock, on: boolean, fn: () => T): { result: T; calls: number } {
  const be = getBackend() as unknown as Record<FusedBlock, ((...args: unknown[]) => void) | undefined>;
  const fused = be[method];
  let calls = 0;
  be[method] = on && fused ? (...args: unknown[]) => { calls++; fused.apply(be, args); } : undefined;
  try {
    return { result: fn(), calls };
  } finally {
    be[method] = fused;
  }
}

/** Prefill of a left-padded batch, then three decode steps with the KV cache: every step's logits and the final cache. */
function decodeSteps(model: PreTrainedModel): { logits: Tensor[]; cache: KVCache } {
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

/**
 * Decodes (a padded batch's prefill, then three steps) with the fused block and op by op: the fused block must
 * run once per layer and forward pass, and give the same logits and cache (relative difference <= tol).
 */
export function expectFusedMatchesComposed(method: FusedBlock, model: PreTrainedModel, layers: number, tol = 1e-5): void {
  const fused = withFusedBlock(method, true, () => decodeSteps(model));
  const composed = withFusedBlock(method, false, () => decodeSteps(model));
  expect(fused.calls).toBe(4 * layers);
  expect(composed.calls).toBe(0);
  for (const [i, l] of fused.result.logits.entries()) expectRelClose(l, composed.result.logits[i]!, tol);
  const a = fused.result.cache.layers, b = composed.result.cache.layers;
  expect(a.length).toBe(layers);
  for (const [i, kv] of a.entries()) {
    expectRelClose(kv!.key, b[i]!.key, tol);
    expectRelClose(kv!.value, b[i]!.value, tol);
  }
}

function expectRelClose(a: Tensor, b: Tensor, tol: number): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.data as Float32Array, y = b.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  expect(worst).toBeLessThanOrEqual(tol);
}
