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
  int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  float res = y * scale;
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

// erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, below f32 resolution near 1).
static inline float fast_erf(float x) {
  float ax = x < 0 ? -x : x;
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  float y = 1.0f - poly * fast_exp(-ax * ax);
  return x < 0 ? -y : y;
}

}  // namespace lmf
