// Whole transformer blocks for inference, composed from the kernels in kernels.cc and gemm.cc. A decode step
// of GPT-2 is ~25 small ops per layer; run one by one from JavaScript, each leaves the memory system idle
// for the few microseconds between its weight streams, and the weights then stream measurably slower. Here
// the products follow one another with no gap.
#include <cstring>
#include <initializer_list>
#include <vector>

#include "gemm.h"
#include "kernels.h"

namespace lmf {
namespace {

// y[m, out] = b + x[m, in] · W (no b: zeros), W stored [out, in] (nn.Linear) or, with `wInOut`, [in, out] (GPT-2's Conv1D)
void linear(const float* x, const float* w, const float* b, float* y, long m, long in, long out, bool wInOut = false) {
  if (b)
    for (long i = 0; i < m; i++) std::memcpy(y + i * out, b, sizeof(float) * out);
  const double zero = 0;
  gemm(x, w, y, m, out, in, false, !wInOut, b != nullptr, &zero, &zero, &zero, 1);
}

// x[n] += y[n], with the binary kernel
void residual_add(float* x, const float* y, long n) {
  const long unit = 1;
  binary(B_ADD, x, &unit, y, &unit, x, &n, 1);
}

// The same as linear for several weights [out, in] applied to one x; one row (decoding) runs them as one parallel pass.
struct LinearOut {
  const float *w, *b;
  float* y;
  long out;
};
void linear_many(const float* x, long m, long in, std::initializer_list<LinearOut> outs) {
  if (m != 1) {
    for (const LinearOut& o : outs) linear(x, o.w, o.b, o.y, m, in, o.out);
    return;
  }
  std::vector<GemvRows> products;
  for (const LinearOut& o : outs) {
    if (o.b) std::memcpy(o.y, o.b, sizeof(float) * o.out);
    products.push_back({o.w, o.y, o.out, o.b != nullptr});
  }
  gemv_rows_many(x, in, products.data(), (int)products.size());
}

// x·cos + rotate_half(x)·sin in place for x [B, T, n heads, D]; token (b, t) reads cos/sin row (cosBatch > 1 ? b : 0, t).
// Rounded as the composed ops round (each product, then the sum).
void rotary(float* x, long B, long T, long n, long D, const float* cos, const float* sin, long cosBatch) {
  const long half = D / 2;
  for (long b = 0; b < B; b++)
    for (long t = 0; t < T; t++) {
      const float* c = cos + ((cosBatch > 1 ? b : 0) * T + t) * D;
      const float* s = sin + ((cosBatch > 1 ? b : 0) * T + t) * D;
      for (long h = 0; h < n; h++) {
        float* v = x + ((b * T + t) * n + h) * D;
        for (long j = 0; j < half; j++) {
          const float x1 = v[j], x2 = v[j + half];
          const float p1 = x1 * c[j], p2 = x2 * s[j], p3 = x2 * c[j + half], p4 = x1 * s[j + half];
          v[j] = p1 - p2;
          v[j + half] = p3 + p4;
        }
      }
    }
}

// x[rows, n] -> out[B, n / D heads, cap, D] at positions at.. of each sequence (rows = B·T tokens)
void to_heads(const float* x, float* out, long B, long T, long heads, long D, long cap, long at) {
  for (long b = 0; b < B; b++)
    for (long t = 0; t < T; t++)
      for (long h = 0; h < heads; h++)
        std::memcpy(out + ((b * heads + h) * cap + at + t) * D, x + ((b * T + t) * heads + h) * D, sizeof(float) * D);
}

// [B, heads, T, D] -> [B·T, heads·D]
void from_heads(const float* x, float* out, long B, long T, long heads, long D) {
  for (long b = 0; b < B; b++)
    for (long t = 0; t < T; t++)
      for (long h = 0; h < heads; h++)
        std::memcpy(out + ((b * T + t) * heads + h) * D, x + ((b * heads + h) * T + t) * D, sizeof(float) * D);
}

}  // namespace

void llama_block(const LlamaBlock& p, float* x, float* kCache, float* vCache, const float* cos, const float* sin, long cosBatch,
                 long B, long T, long cap, long past, const float* mask, const long* maskStrides) {
  const long M = B * T, E = p.hidden, H = p.heads, KV = p.kvHeads, D = p.headDim, F = p.inner;
  std::vector<float> h((size_t)M * E), q((size_t)M * H * D), k((size_t)M * KV * D), v((size_t)M * KV * D), normed((size_t)M * H * D),
      qh((size_t)M * H * D), att((size_t)M * H * D), o((size_t)M * E), gate((size_t)M * F), up((size_t)M * F), stats(2 * (size_t)M * H);
  const auto rms = [&](const float* in, const float* w, float* out, long rows, long cols) {
    norm(in, w, nullptr, out, stats.data(), stats.data() + rows, rows, cols, p.eps, true, p.normOffset);
  };
  // x += y, or (Gemma 3's sandwich norms) x += RMSNorm(y) with weight `sandwichNorm`
  const bool sandwich = p.preFeedforwardNorm && p.postFeedforwardNorm;
  const auto residual = [&](const float* y, const float* sandwichNorm) {
    if (sandwich) {
      rms(y, sandwichNorm, h.data(), M, E);
      y = h.data();
    }
    residual_add(x, y, M * E);
  };
  // attention
  rms(x, p.inputNorm, h.data(), M, E);
  linear_many(h.data(), M, E, {{p.qWeight, p.qBias, q.data(), H * D}, {p.kWeight, p.kBias, k.data(), KV * D}, {p.vWeight, p.vBias, v.data(), KV * D}});
  if (p.qNorm && p.kNorm) {  // per head, over D
    rms(q.data(), p.qNorm, normed.data(), M * H, D);
    std::memcpy(q.data(), normed.data(), sizeof(float) * M * H * D);
    rms(k.data(), p.kNorm, normed.data(), M * KV, D);
    std::memcpy(k.data(), normed.data(), sizeof(float) * M * KV * D);
  }
  rotary(q.data(), B, T, H, D, cos, sin, cosBatch);
  rotary(k.data(), B, T, KV, D, cos, sin, cosBatch);
  to_heads(q.data(), qh.data(), B, T, H, D, T, 0);
  to_heads(k.data(), kCache, B, T, KV, D, cap, past);
  to_heads(v.data(), vCache, B, T, KV, D, cap, past);
  attention(qh.data(), kCache, vCache, mask, maskStrides, att.data(), B, H, KV, T, past + T, cap, D, p.scale, p.softcap);
  from_heads(att.data(), q.data(), B, T, H, D);
  linear(q.data(), p.oWeight, p.oBias, o.data(), M, H * D, E);
  residual(o.data(), p.postAttentionNorm);
  // MLP (LLaMA: post_attention_layernorm is the norm before it)
  rms(x, sandwich ? p.preFeedforwardNorm : p.postAttentionNorm, h.data(), M, E);
  const long unit = 1, gsize = M * F;
  linear_many(h.data(), M, E, {{p.gateWeight, p.gateBias, gate.data(), F}, {p.upWeight, p.upBias, up.data(), F}});
  unary(p.activation, gate.data(), gate.data(), (size_t)gsize);
  binary(B_MUL, gate.data(), &unit, up.data(), &unit, gate.data(), &gsize, 1);
  linear(gate.data(), p.downWeight, p.downBias, o.data(), M, F, E);
  residual(o.data(), p.postFeedforwardNorm);
}

void prenorm_block(const PreNormBlock& p, float* x, float* kCache, float* vCache, long B, long T, long cap, long past,
                   const float* mask, const long* maskStrides) {
  const long M = B * T, E = p.embed, H = p.heads, D = E / H;
  std::vector<float> h((size_t)M * E), qkv((size_t)M * 3 * E), q((size_t)M * E), att((size_t)M * E), ff((size_t)M * p.inner), stats(2 * (size_t)M);
  // x + proj(attention(ln_1(x)))
  norm(x, p.ln1Weight, p.ln1Bias, h.data(), stats.data(), stats.data() + M, M, E, p.eps, false, 0.0f);
  linear(h.data(), p.qkvWeight, p.qkvBias, qkv.data(), M, E, 3 * E, true);
  for (long b = 0; b < B; b++)
    for (long t = 0; t < T; t++)
      for (long hh = 0; hh < H; hh++) {
        const float* row = qkv.data() + (b * T + t) * 3 * E + hh * D;
        const long at = ((b * H + hh) * cap + past + t) * D;
        std::memcpy(q.data() + ((b * H + hh) * T + t) * D, row, sizeof(float) * D);
        std::memcpy(kCache + at, row + E, sizeof(float) * D);
        std::memcpy(vCache + at, row + 2 * E, sizeof(float) * D);
      }
  attention(q.data(), kCache, vCache, mask, maskStrides, att.data(), B, H, H, T, past + T, cap, D, p.scale, 0.0f);
  from_heads(att.data(), h.data(), B, T, H, D);
  linear(h.data(), p.projWeight, p.projBias, q.data(), M, E, E, true);
  residual_add(x, q.data(), M * E);
  // x + mlp(ln_2(x))
  norm(x, p.ln2Weight, p.ln2Bias, h.data(), stats.data(), stats.data() + M, M, E, p.eps, false, 0.0f);
  linear(h.data(), p.fcWeight, p.fcBias, ff.data(), M, E, p.inner, true);
  unary(p.activation, ff.data(), ff.data(), (size_t)M * p.inner);
  linear(ff.data(), p.fc2Weight, p.fc2Bias, q.data(), M, p.inner, E, true);
  residual_add(x, q.data(), M * E);
}

}  // namespace lmf
