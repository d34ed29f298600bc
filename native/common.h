// Shared helpers for the lmforge native kernels: run-time ISA dispatch macros and vectorizable math.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Elementwise kernels are written as plain loops the compiler vectorizes; on x86 with GCC/Clang (ELF)
// each is compiled for AVX-512, AVX2+FMA and baseline and picked at load time, so the library builds with
// default flags and still runs on older CPUs. Elsewhere (ARM, Apple) the portable loop is all there is.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(LMF_NO_CLONES)
#define LMF_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#define LMF_X86 1
#else
#define LMF_CLONES
#define LMF_X86 0
#endif

#define LMF_RESTRICT __restrict__

namespace lmf {

// exp for f32 (Cephes expf: range reduction by ln2 and a degree-6 polynomial, ~1 ulp). Branch-free so
// loops calling it vectorize; NaN passes through, large inputs give inf, very negative ones 0.
static inline float fast_exp(float x) {
  const float hi = 88.7228317f, lo = -87.3365447f;
  float xc = x != x ? 0.0f : (x > hi ? hi : (x < lo ? lo : x));
  float t = xc * 1.44269504088896341f;
  int32_t ni = (int32_t)(t + (t >= 0.0f ? 0.5f : -0.5f));
  float n = (float)ni;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  // 2^n as two factors so n = 128 (exp just below FLT_MAX) and n = -126 stay representable.
  const int32_t n1 = ni / 2, n2 = ni - n1;
  const int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  float res = y * s1 * s2;
  if (x > hi) res = INFINITY;
  if (x < lo) res = 0.0f;
  if (x != x) res = x;
  return res;
}

// tanh: Cephes' odd polynomial near 0 (keeps relative precision), 1 - 2/(e^{2|x|}+1) elsewhere.
static inline float fast_tanh(float x) {
  float ax = x < 0 ? -x : x;
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  float e = fast_exp(2.0f * (ax > 20.0f ? 20.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0 ? -big : big;
  float res = ax < 0.625f ? small : big;
  if (x != x) res = x;
  return res;
}

static inline float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

// 1 + erf(x), computed through erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7) so the
// negative tail, where GELU needs it, keeps its relative precision instead of cancelling against 1.
static inline float one_plus_erf(float x) {
  const float z = x < 0 ? -x : x;
  const float t = 1.0f / (1.0f + 0.5f * z);
  const float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                     t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const float erfc = t * fast_exp(-z * z + poly);
  return x < 0 ? erfc : 2.0f - erfc;
}

}  // namespace lmf
