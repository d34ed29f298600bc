// Whole transformer blocks for inference, composed from the kernels in kernels.cc and gemm.cc. A decode step
// of GPT-2 is ~25 small ops per layer; run one by one from JavaScript, each leaves the memory system idle
// for the few microseconds between its weight streams, and the weights then stream measurably slower. Here
// the products follow one another with no gap.
#include <cstring>
#include <vector>

#include "gemm.h"
#include "kernels.h"

namespace lmf {
namespace {

// y[m, out] = b + x[m, in] · W[in, out]
void dense(const float* x, const float* w, const float* b, float* y, long m, long in, long out) {
  for (long i = 0; i < m; i++) std::memcpy(y + i * out, b, sizeof(float) * out);
  const double zero = 0;
  gemm(x, w, y, m, out, in, false, false, true, &zero, &zero, &zero, 1);
}

}  // namespace

void prenorm_block(const PreNormBlock& p, float* x, float* kCache, float* vCache, long B, long T, long cap, long past,
                   const float* mask, const long* maskStrides) {
  const long M = B * T, E = p.embed, H = p.heads, D = E / H;
  const long unit = 1, size = M * E;  // the residual adds: x[size] += out[size], both contiguous
  std::vector<float> h((size_t)M * E), qkv((size_t)M * 3 * E), q((size_t)M * E), att((size_t)M * E), ff((size_t)M * p.inner), stats(2 * (size_t)M);
  // x + proj(attention(ln_1(x)))
  norm(x, p.ln1Weight, p.ln1Bias, h.data(), stats.data(), stats.data() + M, M, E, p.eps, false, 0.0f);
  dense(h.data(), p.qkvWeight, p.qkvBias, qkv.data(), M, E, 3 * E);
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
  for (long b = 0; b < B; b++)
    for (long t = 0; t < T; t++)
      for (long hh = 0; hh < H; hh++)
        std::memcpy(h.data() + (b * T + t) * E + hh * D, att.data() + ((b * H + hh) * T + t) * D, sizeof(float) * D);
  dense(h.data(), p.projWeight, p.projBias, q.data(), M, E, E);
  binary(B_ADD, x, &unit, q.data(), &unit, x, &size, 1);
  // x + mlp(ln_2(x))
  norm(x, p.ln2Weight, p.ln2Bias, h.data(), stats.data(), stats.data() + M, M, E, p.eps, false, 0.0f);
  dense(h.data(), p.fcWeight, p.fcBias, ff.data(), M, E, p.inner);
  unary(p.activation, ff.data(), ff.data(), (size_t)M * p.inner);
  dense(ff.data(), p.fc2Weight, p.fc2Bias, q.data(), M, p.inner, E);
  binary(B_ADD, x, &unit, q.data(), &unit, x, &size, 1);
}

}  // namespace lmf
