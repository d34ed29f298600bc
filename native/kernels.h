#pragma once
#include <cstddef>
#include <cstdint>

namespace lmf {

// Order matches the UnaryOp / BinaryOp names the addon maps from strings.
enum Unary { U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_ABS, U_RELU, U_SILU, U_GELU, U_GELU_TANH, U_SIGMOID, U_SIN, U_COS, U_SQUARE, U_RECIPROCAL, U_COUNT };
enum Binary { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_GT, B_LT, B_COUNT };

void unary(int op, const float* x, float* out, size_t n);
void unary_backward(int op, const float* x, const float* y, const float* g, float* out, size_t n);
void pow_scalar(const float* x, float p, float* out, size_t n);
void affine(const float* x, float scale, float shift, float* out, size_t n);
/** out[outShape] = a op b with per-dim strides (0 = broadcast); nd <= 16. */
void binary(int op, const float* a, const long* aStrides, const float* b, const long* bStrides, float* out, const long* shape, int nd);
void sum_axis(const float* x, float* out, long outer, long inner, long rest);
void max_axis(const float* x, float* out, int32_t* indices, long outer, long inner, long rest);
void softmax(const float* x, float* out, long rows, long cols, bool log);
void softmax_backward(const float* y, const float* g, float* out, long rows, long cols, bool log);
void norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, long rows, long cols, float eps, bool rms, float wOff);
void norm_backward(const float* x, const float* w, const float* g, const float* mean, const float* rstd, float* dx, float* dw, float* db,
                   long rows, long cols, bool rms, float wOff);
void permute(const void* x, void* out, size_t elemSize, const long* shape, const int* perm, int nd);
void embedding(const float* table, const int32_t* ids, float* out, size_t count, long dim);
/**
 * Dropout's keep mask: out[i] = scale when the generator's next uniform u ≥ p, else 0, drawing u exactly as
 * lmforge's Generator.random() does (xoshiro128**, two 32-bit draws to 53 bits) from state[4], advanced in place.
 */
void dropout_mask(uint32_t* state, double p, float scale, float* out, size_t n);
/** The same draws as dropout_mask, as bits: bit i (LSB first in each word) is set when the i-th u ≥ p. */
void dropout_bits(uint32_t* state, double p, uint32_t* out, size_t n);
void adamw(float* p, const float* g, float* m, float* v, size_t n, double lr, double beta1, double beta2, double eps, double wd, double step);
/**
 * Fused scaled-dot-product attention with online softmax: q/out [B,H,T,D], k/v [B,Hkv,cap,D] of which the first
 * S positions are read (cap >= S: a KV cache's storage), additive mask read through strides (b, h, t, s)
 * (nullptr = none), optional soft-capping (softcap <= 0: off).
 */
void attention(const float* q, const float* k, const float* v, const float* mask, const long* maskStrides, float* out,
               long B, long H, long Hkv, long T, long S, long cap, long D, float scale, float softcap);

/**
 * Scaled-dot-product attention a block of query rows at a time, for training (with a gradient) and for prefills:
 * q [B,H,T,D], k/v [B,Hkv,cap,D] of which the first S positions are read (query head h reads kv head h / (H / Hkv)),
 * scores q·kᵀ·scale, soft-capped when softcap > 0, plus the additive mask read through strides (b, h, t, s)
 * (nullptr = none); dropout on the probabilities keeps element i of [B,H,T,S] when bit i of keep is set (scaled by
 * dropScale), keep nullptr = no dropout. The backward needs cap = S.
 */
struct AttentionOperands {
  const float *q, *k, *v, *mask;
  const long* maskStrides;
  const uint32_t* keep;
  long B, H, Hkv, T, S, cap, D;
  float scale, softcap, dropScale;
};
/** out [B,H,T,D] and each query row's softmax max and 1 / sum, stats [B,H,T,2], which the backward reads. */
void attention_blocks_forward(const AttentionOperands& a, float* out, float* stats);
/**
 * dq [B,H,T,D], dk/dv [B,Hkv,S,D] (overwritten) from the upstream gradient gOut and the forward's out and stats; and
 * the gradient of the final scores, which is the additive mask's, into dMask [B,H,T,S] when it is not nullptr.
 */
void attention_blocks_backward(const AttentionOperands& a, const float* out, const float* stats, const float* gOut, float* dq, float* dk, float* dv,
                              float* dMask);

/**
 * A pre-norm transformer block in GPT-2's shape, for inference: x += proj(attention(ln_1(x))) with one fused
 * q/k/v projection, then x += fc2(act(fc(ln_2(x)))). Linear weights are stored [in, out] with biases; `heads`
 * heads of embed / heads, no key/value head sharing.
 */
struct PreNormBlock {
  const float *ln1Weight, *ln1Bias, *qkvWeight, *qkvBias, *projWeight, *projBias;
  const float *ln2Weight, *ln2Bias, *fcWeight, *fcBias, *fc2Weight, *fc2Bias;
  long embed, heads, inner;
  float eps, scale;
  int activation;  // a Unary op
};
/**
 * Runs the block over x [B·T, embed] in place; the new keys/values are written at positions past..past+T-1 of
 * the caches [B, heads, cap, embed / heads], and attention reads positions 0..past+T-1 (mask as in attention).
 */
void prenorm_block(const PreNormBlock& p, float* x, float* kCache, float* vCache, long B, long T, long cap, long past,
                   const float* mask, const long* maskStrides);

/**
 * A LLaMA-family decoder layer (LLaMA, Qwen2, Qwen3, Gemma 3), for inference: h = RMSNorm(x); q, k, v = h·Wᵀ
 * (+ bias), optional per-head RMSNorm of q and k, rotary embedding, grouped-query attention, o_proj; then
 * x += attn (Gemma 3: x += RMSNorm(attn)), h = RMSNorm(x), x += down(act(gate(h)) · up(h)) (Gemma 3: the MLP
 * output normed too). Linear weights are stored [out, in] (nn.Linear); absent biases and norms are null.
 */
struct LlamaBlock {
  const float *inputNorm, *qWeight, *qBias, *kWeight, *kBias, *vWeight, *vBias, *oWeight, *oBias, *qNorm, *kNorm;
  const float *postAttentionNorm, *preFeedforwardNorm, *postFeedforwardNorm;
  const float *gateWeight, *gateBias, *upWeight, *upBias, *downWeight, *downBias;
  long hidden, heads, kvHeads, headDim, inner;
  float eps, normOffset, scale, softcap;
  int activation;  // a Unary op
};
/**
 * Runs the layer over x [B·T, hidden] in place. cos/sin [cosBatch, T, headDim] (cosBatch 1 or B) rotate q and k;
 * the new keys/values go to positions past..past+T-1 of the caches [B, kvHeads, cap, headDim], and attention
 * reads positions 0..past+T-1 (mask as in attention).
 */
void llama_block(const LlamaBlock& p, float* x, float* kCache, float* vCache, const float* cos, const float* sin, long cosBatch,
                 long B, long T, long cap, long past, const float* mask, const long* maskStrides);

}  // namespace lmf
