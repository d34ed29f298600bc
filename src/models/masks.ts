import { MASK_MIN } from "../nn/attention.js";
import { Tensor } from "../tensor/tensor.js";

export interface MaskOptions {
  batch: number;
  queryLength: number;
  /** Total keys: past (cached) + current. */
  keyLength: number;
  /** [batch, keyLength] of 1 (attend) / 0 (padding); absent = attend to all. */
  attentionMask?: Tensor | null;
  causal: boolean;
  /** Keys older than this many positions are hidden (Gemma's sliding-window layers): visible when q - k < window. */
  slidingWindow?: number | null;
  dtype?: "f32" | "f64";
}

/**
 * The additive attention mask [batch, 1, query, key]: 0 where attention is allowed and float32's minimum
 * elsewhere (never summed, so a fully masked row stays finite as in transformers). Query i sits at absolute
 * position keyLength - queryLength + i.
 */
export function buildAttentionMask(o: MaskOptions): Tensor {
  const { batch, queryLength: T, keyLength: S } = o;
  const offset = S - T;
  const pad = o.attentionMask ? (o.attentionMask.data as ArrayLike<number>) : null;
  if (o.attentionMask && o.attentionMask.size !== batch * S) {
    throw new RangeError(`attention mask has ${o.attentionMask.size} entries, expected batch ${batch} × keys ${S}`);
  }
  const dtype = o.dtype ?? "f32";
  const data = dtype === "f64" ? new Float64Array(batch * T * S) : new Float32Array(batch * T * S);
  const w = o.slidingWindow ?? null;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < T; i++) {
      const q = offset + i;
      const row = (b * T + i) * S;
      for (let j = 0; j < S; j++) {
        let ok = pad === null || pad[b * S + j] !== 0;
        if (ok && o.causal) ok = j <= q && (w === null || q - j < w);
        data[row + j] = ok ? 0 : MASK_MIN;
      }
    }
  }
  return new Tensor(data, [batch, 1, T, S], dtype);
}

/** Position ids from a left-padded attention mask, as generate() makes them: cumsum(mask) - 1, pads set to 1. */
export function positionIdsFromMask(attentionMask: Tensor, queryLength?: number): Tensor {
  const [batch, S] = attentionMask.shape as [number, number];
  const T = queryLength ?? S;
  const m = attentionMask.data as ArrayLike<number>;
  const out = new Int32Array(batch * T);
  for (let b = 0; b < batch; b++) {
    let c = 0;
    for (let j = 0; j < S; j++) {
      c += m[b * S + j] ? 1 : 0;
      const t = j - (S - T);
      if (t >= 0) out[b * T + t] = m[b * S + j] ? c - 1 : 1;
    }
  }
  return new Tensor(out, [batch, T], "i32");
}
