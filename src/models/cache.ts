import { TensorError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";

interface LayerKV {
  key: Tensor;
  value: Tensor;
}

/**
 * Keys and values of past positions, per layer, shaped [batch, kvHeads, seq, headDim] (transformers'
 * DynamicCache). Encoder-decoder models also keep the cross-attention keys/values, computed once from the
 * encoder output.
 */
export class KVCache {
  readonly layers: (LayerKV | undefined)[] = [];
  readonly cross: (LayerKV | undefined)[] = [];

  /** Number of cached positions (of layer 0). */
  get seqLength(): number {
    return this.layers[0]?.key.shape[2] ?? 0;
  }

  /** Appends new keys/values for a layer and returns the full keys/values to attend over. */
  update(layer: number, key: Tensor, value: Tensor): LayerKV {
    const past = this.layers[layer];
    const next = past ? { key: F.concat([past.key, key], 2), value: F.concat([past.value, value], 2) } : { key, value };
    this.layers[layer] = next;
    return next;
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
    const pick = (kv: LayerKV | undefined): LayerKV | undefined => kv && { key: F.indexSelect(kv.key, 0, indices), value: F.indexSelect(kv.value, 0, indices) };
    for (let i = 0; i < this.layers.length; i++) this.layers[i] = pick(this.layers[i]);
    for (let i = 0; i < this.cross.length; i++) this.cross[i] = pick(this.cross[i]);
  }
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

