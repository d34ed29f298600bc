import type { FloatArray, StorageArray } from "../tensor/dtype.js";

export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "tanh" | "abs" | "relu" | "silu" | "gelu" | "gelu_tanh"
  | "sigmoid" | "sin" | "cos" | "square" | "reciprocal";
export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "eq" | "gt" | "lt";

/**
 * The kernels under the tensor ops. Every array is contiguous row-major; shapes and strides arrive as plain
 * numbers so a native or GPU backend can implement the same contract. Model code never calls these directly.
 */
export interface Backend {
  readonly name: string;
  /**
   * Batched C = op(A) · op(B) (+ C when accumulate). For batch b, A starts at aOffsets[b] (and so on);
   * op(A) is M×K (stored K×M when transA), op(B) is K×N (stored N×K when transB).
   */
  gemm(
    a: FloatArray, b: FloatArray, c: FloatArray, m: number, n: number, k: number,
    transA: boolean, transB: boolean, accumulate: boolean,
    aOffsets: ArrayLike<number>, bOffsets: ArrayLike<number>, cOffsets: ArrayLike<number>,
  ): void;
  unary(op: UnaryOp, x: FloatArray, out: FloatArray): void;
  /** out = x ** p elementwise, with p a scalar. */
  powScalar(x: FloatArray, p: number, out: FloatArray): void;
  /** out = x * scale + shift elementwise (fused affine for scalar arithmetic). */
  affine(x: FloatArray, scale: number, shift: number, out: FloatArray): void;
  /** Broadcast binary op: a and b are read through strides over the output shape (0 = broadcast). */
  binary(op: BinaryOp, a: StorageArray, aStrides: readonly number[], b: StorageArray, bStrides: readonly number[], out: StorageArray, outShape: readonly number[]): void;
  /** Sum over the `inner` axis of a [outer, inner, rest] view into out[outer, rest]. */
  sumAxis(x: FloatArray, out: FloatArray, outer: number, inner: number, rest: number): void;
  /** Max over the `inner` axis of [outer, inner, rest]; argmax written to `indices` when given. */
  maxAxis(x: FloatArray, out: FloatArray, indices: Int32Array | null, outer: number, inner: number, rest: number): void;
  /** Softmax (or log-softmax) over the last axis of a [rows, cols] view. */
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void;
  /** Backward of softmax / log-softmax given the forward output y and upstream gradient g. */
  softmaxBackward(y: FloatArray, g: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void;
  /** Layer norm over the last axis; writes mean and rstd per row for the backward pass. rms=true: RMS norm (no mean). */
  norm(x: FloatArray, weight: FloatArray | null, bias: FloatArray | null, out: FloatArray, mean: FloatArray, rstd: FloatArray,
    rows: number, cols: number, eps: number, rms: boolean, weightOffset: number): void;
  normBackward(x: FloatArray, weight: FloatArray | null, g: FloatArray, mean: FloatArray, rstd: FloatArray,
    dx: FloatArray, dWeight: FloatArray | null, dBias: FloatArray | null, rows: number, cols: number, rms: boolean, weightOffset: number): void;
  /** Gradient of a unary op: out = g * f'(x) (y = f(x) is passed for ops whose derivative uses it). */
  unaryBackward(op: UnaryOp, x: FloatArray, y: FloatArray, g: FloatArray, out: FloatArray): void;
  /** Copies x (shape) into out with axes permuted: out shape = shape[perm[i]]. */
  permute(x: StorageArray, out: StorageArray, shape: readonly number[], perm: readonly number[]): void;
  /** out[i, :] = table[ids[i], :] for a [rows, dim] table. */
  embedding(table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void;
  /** In-place AdamW step on one parameter (PyTorch's formula, decoupled weight decay). */
  adamw(param: FloatArray, grad: FloatArray, expAvg: FloatArray, expAvgSq: FloatArray,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  /**
   * Optional dropout keep mask: out[i] = scale when the i-th uniform draw u ≥ p, else 0, with u drawn exactly as
   * Generator.random() draws from the xoshiro128** state [s0, s1, s2, s3] (advanced in place); without it the
   * mask is drawn in TypeScript, with the same bits.
   */
  dropoutMask?(state: Uint32Array, p: number, scale: number, out: FloatArray): void;
  /** Optional: the draws of dropoutMask as bits (bit i, LSB first in each word, set when draw i is kept), n draws. */
  dropoutBits?(state: Uint32Array, p: number, out: Uint32Array, n: number): void;
  /**
   * Optional fused attention with a gradient (training), q [B, H, T, D] and k/v [B, Hkv, S, D] (see AttentionInputs):
   * writes out [B, H, T, D] and each query row's softmax max and 1 / sum, stats [B, H, T, 2], for the backward.
   */
  attentionForward?(inputs: AttentionInputs, shape: AttentionShape, out: Float32Array, stats: Float32Array): void;
  /**
   * Backward of attentionForward: dq [B, H, T, D], dk/dv [B, Hkv, S, D] (overwritten) from gOut and the forward's out
   * and stats; with dMask [B, H, T, S], the gradient of the final scores too (the additive mask's, before broadcasting).
   */
  attentionBackward?(inputs: AttentionInputs, shape: AttentionShape, out: Float32Array, stats: Float32Array, gOut: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dMask: Float32Array | null): void;
  /**
   * Optional fused attention for inference (no gradient): out = softmax(q·kᵀ·scale + mask)·v per head, with
   * q/out [B, H, T, D] and k/v [B, Hkv, S, D] (query head h reads kv head floor(h / (H / Hkv))). The additive mask is
   * read through strides over [B, H, T, S] (0 = broadcast); softcap > 0 applies cap · tanh(scores / cap) first.
   * k/v may be a cache's storage [B, Hkv, kvCapacity, D] of which the first S positions are read.
   */
  attention?(q: FloatArray, k: FloatArray, v: FloatArray, mask: FloatArray | null, maskStrides: readonly number[] | null, out: FloatArray,
    batch: number, heads: number, kvHeads: number, queryLength: number, keyLength: number, headDim: number, scale: number, softcap: number,
    kvCapacity?: number): void;
  /**
   * Optional whole pre-norm transformer block in GPT-2's shape, for inference (no gradient), in place on x
   * [batch · queryLength, embed]: x += proj(attention(ln_1(x))), then x += fc2(act(fc(ln_2(x)))). The block's
   * new keys/values go to the caches [batch, heads, capacity, headDim] at positions past.., and attention reads
   * positions 0..past + queryLength - 1 through the additive mask (strides over [B, H, T, S] as in `attention`).
   */
  preNormBlock?(weights: PreNormBlockWeights, x: FloatArray, keyCache: FloatArray, valueCache: FloatArray, mask: FloatArray | null,
    maskStrides: readonly number[] | null, shape: PreNormBlockShape): void;
  /**
   * Optional whole LLaMA-family decoder layer (LLaMA, Qwen2, Qwen3, Gemma 3), for inference, in place on x
   * [batch · queryLength, hidden]: RMSNorm, q/k/v projections (optional biases, optional per-head q/k RMSNorm),
   * rotary embedding by cos/sin [cosBatch, queryLength, headDim] (cosBatch 1 or batch), grouped-query attention
   * over the caches [batch, kvHeads, capacity, headDim] (new keys/values written at positions past..), o_proj and
   * the residual; then RMSNorm and the gated MLP down(act(gate(h)) · up(h)) and the residual. With Gemma 3's
   * pre/post feed-forward norms, post_attention_layernorm norms the attention output instead (sandwich norms).
   */
  llamaBlock?(weights: LlamaBlockWeights, x: FloatArray, keyCache: FloatArray, valueCache: FloatArray, cos: FloatArray, sin: FloatArray,
    mask: FloatArray | null, maskStrides: readonly number[] | null, shape: LlamaBlockShape): void;
}

/**
 * Training attention's operands: scores q·kᵀ·scale (soft-capped when softcap > 0) plus the additive mask read through
 * strides over [B, H, T, S] (0 = broadcast); query head h reads kv head floor(h / (H / Hkv)). Dropout on the
 * probabilities keeps element i of [B, H, T, S] (row-major) when bit i of `keep` is set, scaled by dropScale.
 */
export interface AttentionInputs {
  q: Float32Array; k: Float32Array; v: Float32Array; mask: Float32Array | null; maskStrides: readonly number[] | null; keep: Uint32Array | null;
}

export interface AttentionShape {
  batch: number; heads: number; kvHeads: number; queryLength: number; keyLength: number; headDim: number;
  scale: number; softcap: number; dropScale: number;
}

/** A GPT-2-shaped block's parameters; linear weights are stored [in, out] (GPT-2's Conv1D). */
export interface PreNormBlockWeights {
  ln1Weight: FloatArray; ln1Bias: FloatArray; qkvWeight: FloatArray; qkvBias: FloatArray; projWeight: FloatArray; projBias: FloatArray;
  ln2Weight: FloatArray; ln2Bias: FloatArray; fcWeight: FloatArray; fcBias: FloatArray; fc2Weight: FloatArray; fc2Bias: FloatArray;
}

/** A LLaMA-family layer's parameters, named as in transformers; linear weights are stored [out, in] (nn.Linear). */
export interface LlamaBlockWeights {
  inputLayernorm: FloatArray; qProj: FloatArray; qProjBias: FloatArray | null; kProj: FloatArray; kProjBias: FloatArray | null;
  vProj: FloatArray; vProjBias: FloatArray | null; oProj: FloatArray; oProjBias: FloatArray | null; qNorm: FloatArray | null;
  kNorm: FloatArray | null; postAttentionLayernorm: FloatArray; preFeedforwardLayernorm: FloatArray | null;
  postFeedforwardLayernorm: FloatArray | null; gateProj: FloatArray; gateProjBias: FloatArray | null; upProj: FloatArray;
  upProjBias: FloatArray | null; downProj: FloatArray; downProjBias: FloatArray | null;
}

export interface LlamaBlockShape {
  batch: number; queryLength: number; past: number; capacity: number; cosBatch: number;
  hidden: number; heads: number; kvHeads: number; headDim: number; inner: number;
  /** RMSNorm epsilon and weight offset (1 for Gemma's (1 + weight) norms). */
  eps: number; normOffset: number;
  /** Multiplies q·kᵀ; softcap > 0 applies cap · tanh(scores / cap) (Gemma). */
  scale: number; softcap: number;
  activation: UnaryOp;
}

export interface PreNormBlockShape {
  batch: number; queryLength: number; past: number; capacity: number;
  embed: number; heads: number; inner: number; eps: number; scale: number; activation: UnaryOp;
}
