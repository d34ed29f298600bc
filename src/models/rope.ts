/**
 * Rotary position embeddings (Su et al., 2021) as transformers computes them: inverse frequencies from the
 * rope parameters (default, linear, llama3, yarn), cos/sin tables from position ids, and the rotate_half
 * convention (the head's first half pairs with its second half, not interleaved pairs).
 *
 * transformers builds inv_freq and the cos/sin tables in float32 tensors; every step below rounds to float32
 * (Math.fround) where torch would, so the angles agree to the last bit or two.
 */
import { ConfigError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import { ConfigReader, type RawConfig } from "./config.js";

const f32 = Math.fround;

export type LayerType = "full_attention" | "sliding_attention";
export const LAYER_TYPES: readonly LayerType[] = ["full_attention", "sliding_attention"];

export type RopeType = "default" | "linear" | "llama3" | "yarn";
const ROPE_TYPES: readonly RopeType[] = ["default", "linear", "llama3", "yarn"];

export interface RopeParameters {
  ropeType: RopeType;
  ropeTheta: number;
  /** Scaling factor (linear, llama3, yarn); 1 for default. */
  factor: number;
  /** Context length the model was pre-trained for (llama3, yarn). */
  originalMaxPositionEmbeddings: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  /** yarn: explicit cos/sin scaling; null derives it from factor (and mscale). */
  attentionFactor: number | null;
  betaFast: number;
  betaSlow: number;
  mscale: number | null;
  mscaleAllDim: number | null;
  truncate: boolean;
}

/**
 * Reads one rope parameter dict (transformers 5's `rope_parameters`, or the older `rope_scaling`, whose `type`
 * key is the old spelling of `rope_type`). `where` names the dict in errors.
 */
export function parseRopeDict(dict: RawConfig, where: string, fallback: { ropeTheta: number; maxPositionEmbeddings: number; partialRotaryFactor?: number | null }): RopeParameters {
  const r = new ConfigReader(dict, where);
  const ropeType = r.string("rope_type", r.string("type", "default"));
  if (!(ROPE_TYPES as readonly string[]).includes(ropeType)) {
    throw new ConfigError(`${where}: rope_type "${ropeType}" is not supported; supported: ${ROPE_TYPES.join(", ")}`);
  }
  const partial = r.optionalNumber("partial_rotary_factor") ?? fallback.partialRotaryFactor ?? 1;
  if (partial !== 1) throw new ConfigError(`${where}: partial_rotary_factor ${partial} is not supported by this family (rotary embeddings cover the whole head)`);
  const type = ropeType as RopeType;
  const needsFactor = type !== "default";
  const factor = needsFactor ? r.number("factor") : 1;
  if (needsFactor && factor <= 0) throw new ConfigError(`${where}: field "factor" must be positive, got ${factor}`);
  const p: RopeParameters = {
    ropeType: type,
    ropeTheta: r.number("rope_theta", fallback.ropeTheta),
    factor,
    originalMaxPositionEmbeddings: r.int("original_max_position_embeddings", fallback.maxPositionEmbeddings),
    lowFreqFactor: type === "llama3" ? r.number("low_freq_factor") : 1,
    highFreqFactor: type === "llama3" ? r.number("high_freq_factor") : 1,
    attentionFactor: r.optionalNumber("attention_factor"),
    betaFast: r.optionalNumber("beta_fast") || 32,
    betaSlow: r.optionalNumber("beta_slow") || 1,
    mscale: r.optionalNumber("mscale"),
    mscaleAllDim: r.optionalNumber("mscale_all_dim"),
    truncate: r.boolean("truncate", true),
  };
  if (p.ropeTheta <= 0) throw new ConfigError(`${where}: field "rope_theta" must be positive, got ${p.ropeTheta}`);
  if (type === "llama3" && p.highFreqFactor === p.lowFreqFactor) {
    throw new ConfigError(`${where}: llama3 rope needs high_freq_factor != low_freq_factor (both ${p.lowFreqFactor})`);
  }
  return p;
}

/**
 * The rope parameters of each layer type, from either config form: transformers 5's `rope_parameters` (one dict,
 * or one per layer type) or the older flat `rope_theta` + `rope_scaling` (which wins when both are present, as
 * transformers' conversion does).
 */
export function readRopeParameters(r: ConfigReader, layerTypes: readonly LayerType[], defaultTheta: number, maxPositionEmbeddings: number): Record<LayerType, RopeParameters> {
  const scaling = r.object("rope_scaling");
  const dict = scaling ?? r.object("rope_parameters") ?? {};
  const field = scaling ? "rope_scaling" : "rope_parameters";
  const fallback = {
    ropeTheta: r.number("rope_theta", defaultTheta),
    maxPositionEmbeddings: r.optionalInt("original_max_position_embeddings") ?? maxPositionEmbeddings,
    partialRotaryFactor: r.optionalNumber("partial_rotary_factor"),
  };
  const used = [...new Set(layerTypes)];
  const keys = Object.keys(dict);
  const out = {} as Record<LayerType, RopeParameters>;
  if (keys.length > 0 && keys.every((k) => (LAYER_TYPES as readonly string[]).includes(k))) {
    for (const t of used) {
      const sub = dict[t];
      if (sub === undefined || sub === null) throw new ConfigError(`${r.source}: field "${field}" has no entry for layer type "${t}"`);
      out[t] = parseRopeDict(sub as RawConfig, `${r.source}: ${field}.${t}`, fallback);
    }
  } else {
    const p = parseRopeDict(dict, `${r.source}: ${field}`, fallback);
    for (const t of LAYER_TYPES) out[t] = p;
  }
  return out;
}

/** Default RoPE: inv_freq[i] = 1 / theta^(2i/dim), in float32. */
function defaultInvFreq(theta: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  const base = f32(theta);
  for (let i = 0; i < out.length; i++) out[i] = f32(1 / f32(Math.pow(base, f32((2 * i) / dim))));
  return out;
}

/** Meta's Llama 3.1 scaling: long wavelengths divided by factor, short ones kept, a smooth blend between. */
function llama3InvFreq(p: RopeParameters, dim: number): Float32Array {
  const inv = defaultInvFreq(p.ropeTheta, dim);
  const old = p.originalMaxPositionEmbeddings;
  const lowWavelen = f32(old / p.lowFreqFactor), highWavelen = f32(old / p.highFreqFactor);
  const factor = f32(p.factor), twoPi = f32(2 * Math.PI);
  const out = new Float32Array(inv.length);
  for (let i = 0; i < inv.length; i++) {
    const wavelen = f32(f32(1 / inv[i]!) * twoPi);
    const scaled = wavelen > lowWavelen ? f32(inv[i]! / factor) : inv[i]!;
    const isMedium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (!isMedium) {
      out[i] = scaled;
      continue;
    }
    const smooth = f32(f32(f32(f32(1 / wavelen) * f32(old)) - f32(p.lowFreqFactor)) / f32(p.highFreqFactor - p.lowFreqFactor));
    out[i] = f32(f32(f32(f32(1 - smooth) * scaled) / factor) + f32(smooth * scaled));
  }
  return out;
}

/** YaRN (Peng et al., 2023): interpolated and extrapolated frequencies blended by a linear ramp over dims. */
function yarnInvFreq(p: RopeParameters, dim: number): { invFreq: Float32Array; attentionScaling: number } {
  const getMscale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  let attention = p.attentionFactor;
  if (attention === null) attention = p.mscale && p.mscaleAllDim ? getMscale(p.factor, p.mscale) / getMscale(p.factor, p.mscaleAllDim) : getMscale(p.factor);
  const base = p.ropeTheta;
  const correctionDim = (rotations: number): number => (dim * Math.log(p.originalMaxPositionEmbeddings / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correctionDim(p.betaFast), high = correctionDim(p.betaSlow);
  if (p.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const factor = f32(p.factor);
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < out.length; i++) {
    const pos = f32(Math.pow(f32(base), f32((2 * i) / dim)));
    const extrapolation = f32(1 / pos), interpolation = f32(1 / f32(factor * pos));
    const ramp = Math.min(1, Math.max(0, f32(f32(i - f32(low)) / f32(high - low))));
    const keep = f32(1 - ramp);
    out[i] = f32(f32(interpolation * f32(1 - keep)) + f32(extrapolation * keep));
  }
  return { invFreq: out, attentionScaling: attention };
}

/** inv_freq and the cos/sin scaling for a head of `dim`, as transformers' ROPE_INIT_FUNCTIONS give them. */
export function computeRopeInvFreq(p: RopeParameters, dim: number): { invFreq: Float32Array; attentionScaling: number } {
  if (dim % 2 !== 0) throw new ConfigError(`rotary embeddings need an even head dim, got ${dim}`);
  switch (p.ropeType) {
    case "default":
      return { invFreq: defaultInvFreq(p.ropeTheta, dim), attentionScaling: 1 };
    case "linear": {
      const inv = defaultInvFreq(p.ropeTheta, dim);
      const factor = f32(p.factor);
      return { invFreq: inv.map((v) => f32(v / factor)), attentionScaling: 1 };
    }
    case "llama3":
      return { invFreq: llama3InvFreq(p, dim), attentionScaling: 1 };
    case "yarn":
      return yarnInvFreq(p, dim);
  }
}

/** cos/sin tables for position ids, broadcastable over heads: [batch, 1, seq, dim]. */
export class RotaryEmbedding {
  readonly invFreq: Float32Array;
  readonly attentionScaling: number;

  constructor(params: RopeParameters, readonly dim: number) {
    ({ invFreq: this.invFreq, attentionScaling: this.attentionScaling } = computeRopeInvFreq(params, dim));
  }

  forward(positionIds: Tensor, dtype: "f32" | "f64" = "f32"): { cos: Tensor; sin: Tensor } {
    const [b, t] = positionIds.shape as [number, number];
    const pos = positionIds.data as ArrayLike<number>;
    const half = this.dim / 2, d = this.dim;
    const cos = dtype === "f64" ? new Float64Array(b * t * d) : new Float32Array(b * t * d);
    const sin = dtype === "f64" ? new Float64Array(b * t * d) : new Float32Array(b * t * d);
    const scale = f32(this.attentionScaling);
    for (let r = 0; r < b * t; r++) {
      const p = f32(pos[r]!);
      for (let j = 0; j < half; j++) {
        const angle = f32(this.invFreq[j]! * p);
        let c = f32(Math.cos(angle)), s = f32(Math.sin(angle));
        if (scale !== 1) {
          c = f32(c * scale);
          s = f32(s * scale);
        }
        cos[r * d + j] = cos[r * d + half + j] = c;
        sin[r * d + j] = sin[r * d + half + j] = s;
      }
    }
    return { cos: new Tensor(cos, [b, 1, t, d], dtype), sin: new Tensor(sin, [b, 1, t, d], dtype) };
  }
}

/** [x1, x2] -> [-x2, x1] over the last dim. */
export function rotateHalf(x: Tensor): Tensor {
  const [x1, x2] = F.split(x, x.shape[x.ndim - 1]! / 2, -1) as [Tensor, Tensor];
  return F.concat([F.neg(x2), x1], -1);
}

/** x·cos + rotate_half(x)·sin for x [batch, heads, seq, dim]. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return F.add(F.mul(x, cos), F.mul(rotateHalf(x), sin));
}
