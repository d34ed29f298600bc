import { TensorError } from "../errors.js";
import { allocate, type FloatArray, type StorageArray } from "../tensor/dtype.js";
import { Tensor, isGradEnabled } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";

/**
 * Keys and values one attention layer attends over, [batch, kvHeads, seq, headDim]. When `length` is set, the
 * tensors are the cache's storage, [batch, kvHeads, capacity, headDim], of which the first `length` positions
 * are filled (pass it on as scaledDotProductAttention's `kvLength`).
 */
export interface LayerKV {
  key: Tensor;
  value: Tensor;
  length?: number;
}

/** One layer's storage: grows by doubling so appending a token copies only that token. */
type Stored = Required<LayerKV>;

/**
 * Keys and values of past positions, per layer (transformers' DynamicCache). Encoder-decoder models also keep
 * the cross-attention keys/values, computed once from the encoder output.
 *
 * Storage has room to spare along the sequence so that a decode step writes its new positions in place
 * instead of copying the whole cache. While gradients are being recorded for the keys/values, layers are
 * concatenated instead, so backward reaches every position.
 */
export class KVCache {
  private readonly stored: (Stored | undefined)[] = [];
  readonly cross: (LayerKV | undefined)[] = [];
  private readonly owned = new WeakSet<Tensor>();

  /** Number of cached positions (of layer 0). */
  get seqLength(): number {
    return this.stored[0]?.length ?? 0;
  }

  /** Cached keys/values per layer, [batch, kvHeads, seqLength, headDim] (copies of the filled positions). */
  get layers(): (LayerKV | undefined)[] {
    return this.stored.map((s) => s && filled(s));
  }

  /** Appends new keys/values for a layer and returns what to attend over (see LayerKV's `length`). */
  update(layer: number, key: Tensor, value: Tensor): LayerKV {
    const past = this.stored[layer];
    const recording = isGradEnabled() && (key.requiresGrad || value.requiresGrad || (past !== undefined && (past.key.requiresGrad || past.value.requiresGrad)));
    if (recording || (key.dtype !== "f32" && key.dtype !== "f64") || key.dtype !== value.dtype) {
      const kept = past && filled(past);
      const next = kept ? { key: F.concat([kept.key, key], 2), value: F.concat([kept.value, value], 2) } : { key, value };
      this.stored[layer] = { ...next, length: next.key.shape[2]! };
      return next;
    }
    const [b, h, t, d] = key.shape as [number, number, number, number];
    const slot = this.reserve(layer, [b, h, t, d], key.dtype);
    write(slot.key, slot.start, key);
    write(slot.value, slot.start, value);
    return { key: slot.key, value: slot.value, length: slot.start + t };
  }

  /**
   * Makes room for `t` new positions of a layer ([b, h, t, d] = `shape`) and counts them as filled; the caller
   * writes them into the returned storage, [b, h, capacity, d], at positions start..start + t - 1.
   */
  reserve(layer: number, shape: readonly [number, number, number, number], dtype: Tensor["dtype"]): { key: Tensor; value: Tensor; start: number } {
    const [b, h, t, d] = shape;
    const past = this.stored[layer];
    if (past && (past.key.shape[0] !== b || past.key.shape[1] !== h || past.key.shape[3] !== d || past.key.dtype !== dtype)) {
      throw new TensorError(`KVCache: layer ${layer} holds [${past.key.shape.join(", ")}] ${past.key.dtype}, got new keys [${shape.join(", ")}] ${dtype}`);
    }
    const before = past?.length ?? 0, length = before + t;
    let store = past;
    if (!store || store.key.shape[2]! < length) {
      const capacity = Math.max(length + 256, 2 * (past?.key.shape[2] ?? 0));
      store = { key: grow(past?.key, before, capacity, shape, dtype), value: grow(past?.value, before, capacity, shape, dtype), length: before };
      this.owned.add(store.key).add(store.value);
    }
    store.length = length;
    this.stored[layer] = store;
    return { key: store.key, value: store.value, start: before };
  }

  getCross(layer: number): LayerKV | undefined {
    return this.cross[layer];
  }

  setCross(layer: number, key: Tensor, value: Tensor): void {
    this.cross[layer] = { key, value };
  }

  /** Reorders the batch (beam search): row i of the result is row indices[i] of the cache. */
  reorder(indices: Tensor): void {
    if (indices.dtype !== "i32") throw new TensorError("KVCache.reorder: indices must be an i32 tensor");
    const idx = indices.data as Int32Array;
    // Tensors the cache allocated or copied itself have their filled positions permuted in place; others (the
    // model's cross-attention projections, a recorded graph's concatenations) are copied, and the copies are its
    // own from then on. Every beam step used to copy every layer's whole storage into new arrays.
    const reordered = <T extends LayerKV>(kv: T | undefined, length: number): T | undefined => {
      if (!kv) return kv;
      if (this.owned.has(kv.key) && this.owned.has(kv.value) && kv.key.shape[0] === idx.length) {
        permuteBatch(kv.key, idx, length);
        permuteBatch(kv.value, idx, length);
        return kv;
      }
      const copy = { ...kv, key: F.indexSelect(kv.key, 0, indices), value: F.indexSelect(kv.value, 0, indices) };
      if (!copy.key.requiresGrad && !copy.value.requiresGrad) this.owned.add(copy.key).add(copy.value);
      return copy;
    };
    for (let i = 0; i < this.stored.length; i++) this.stored[i] = reordered(this.stored[i], this.stored[i]?.length ?? 0);
    for (let i = 0; i < this.cross.length; i++) this.cross[i] = reordered(this.cross[i], this.cross[i]?.key.shape[2] ?? 0);
  }
}

/** Batch row i of `t` [b, h, capacity, d] becomes its row idx[i], for the first `length` positions (in place). */
function permuteBatch(t: Tensor, idx: Int32Array, length: number): void {
  const [b, h, cap, d] = t.shape as [number, number, number, number];
  const data = t.data, span = length * d;
  const moved: number[] = [];
  for (let i = 0; i < b; i++) {
    const from = idx[i]!;
    if (!Number.isInteger(from) || from < 0 || from >= b) throw new TensorError(`KVCache.reorder: index ${from} out of range for batch ${b}`);
    if (from !== i) moved.push(i);
  }
  if (moved.length === 0) return;
  // The sources are read before any row is overwritten (a row may be both, as in a swap).
  const sources = [...new Set(moved.map((i) => idx[i]!))];
  const saved = new Map<number, StorageArray>();
  for (const from of sources) {
    const copy = allocate(t.dtype, h * span);
    for (let j = 0; j < h; j++) copy.set(data.subarray((from * h + j) * cap * d, (from * h + j) * cap * d + span), j * span);
    saved.set(from, copy);
  }
  for (const i of moved) {
    const copy = saved.get(idx[i]!)!;
    for (let j = 0; j < h; j++) data.set(copy.subarray(j * span, (j + 1) * span), (i * h + j) * cap * d);
  }
}

/** The filled positions of a layer's storage, [b, h, length, d] (copies). */
function filled(s: Stored): LayerKV {
  return { key: F.narrow(s.key, 2, 0, s.length), value: F.narrow(s.value, 2, 0, s.length) };
}

/** New storage [b, h, capacity, d] (b, h, d from `shape`) holding the first `length` positions of `old`. */
function grow(old: Tensor | undefined, length: number, capacity: number, shape: readonly number[], dtype: Tensor["dtype"]): Tensor {
  const [b, h, , d] = shape as [number, number, number, number];
  const data = allocate(dtype, b * h * capacity * d) as FloatArray;
  if (old) {
    const src = old.data as FloatArray, oldCap = old.shape[2]!;
    for (let r = 0; r < b * h; r++) data.set(src.subarray(r * oldCap * d, (r * oldCap + length) * d), r * capacity * d);
  }
  return new Tensor(data, [b, h, capacity, d], dtype);
}

/** Writes `x` [b, h, t, d] into storage positions [at, at + t). */
function write(store: Tensor, at: number, x: Tensor): void {
  const [, , cap, d] = store.shape as [number, number, number, number];
  const [b, h, t] = x.shape as [number, number, number];
  const dst = store.data as FloatArray, src = x.data as FloatArray;
  for (let r = 0; r < b * h; r++) dst.set(src.subarray(r * t * d, (r + 1) * t * d), (r * cap + at) * d);
}

/**
 * Keys and values for one attention layer with an optional cache. Self-attention (cross = false) projects the
 * new positions and appends them; cross-attention projects the encoder states once and reuses them after.
 */
export function cachedKeyValues(cache: KVCache | null, layer: number, cross: boolean, project: () => LayerKV): LayerKV {
  if (!cross) {
    const kv = project();
    return cache ? cache.update(layer, kv.key, kv.value) : kv;
  }
  const cached = cache?.getCross(layer);
  if (cached) return cached;
  const kv = project();
  cache?.setCross(layer, kv.key, kv.value);
  return kv;
}
