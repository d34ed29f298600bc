import type { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";

/** float32's most negative finite value, used (as transformers does) so fully masked rows stay finite. */
export const MASK_MIN = -3.4028234663852886e38;

/** Repeats each key/value head `groups` times: [B, Hkv, S, D] -> [B, Hkv·groups, S, D] (grouped-query attention). */
export function repeatKV(x: Tensor, groups: number): Tensor {
  if (groups === 1) return x;
  const [b, h, s, d] = x.shape as [number, number, number, number];
  return F.reshape(F.expand(F.reshape(x, [b, h, 1, s, d]), [b, h, groups, s, d]), [b, h * groups, s, d]);
}

export interface AttentionOptions {
  /** Additive mask broadcastable to [B, H, T, S] (0 = attend, MASK_MIN = blocked). */
  mask?: Tensor | null;
  /** Multiplies q·kᵀ; default 1/sqrt(head dim). */
  scale?: number;
  /** Gemma-style soft-capping of the scores: cap · tanh(scores / cap). */
  softcap?: number | null;
  dropout?: number;
  training?: boolean;
  /** Attend over only the first kvLength positions of k/v (a KV cache's storage, LayerKV.length). */
  kvLength?: number;
}

/**
 * softmax(q·kᵀ·scale + mask) · v for q [B, H, T, D] and k, v [B, Hkv, S, D]; key/value heads are repeated
 * for grouped-query attention. Runs the backend's fused kernel when it has one (for inference, and with a
 * gradient and dropout for training); otherwise the composed ops below, which draw dropout the same way.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const headDim = q.shape[q.ndim - 1]!;
  const dropout = options.dropout && options.training ? options.dropout : 0;
  const fused = F.fusedAttention(q, k, v, options.mask ?? null, options.scale ?? 1 / Math.sqrt(headDim), options.softcap ?? 0, options.kvLength, dropout);
  if (fused) return fused;
  if (options.kvLength !== undefined && options.kvLength !== k.shape[2]) {
    k = F.narrow(k, 2, 0, options.kvLength);
    v = F.narrow(v, 2, 0, options.kvLength);
  }
  const groups = q.shape[1]! / k.shape[1]!;
  const keys = repeatKV(k, groups), values = repeatKV(v, groups);
  let scores = F.affine(F.matmul(q, F.transpose(keys, -2, -1)), options.scale ?? 1 / Math.sqrt(headDim));
  if (options.softcap) scores = F.affine(F.tanh(F.affine(scores, 1 / options.softcap)), options.softcap);
  if (options.mask) scores = F.add(scores, options.mask);
  let probs = F.softmax(scores, -1);
  if (dropout) probs = F.dropout(probs, dropout, true);
  return F.matmul(probs, values);
}
