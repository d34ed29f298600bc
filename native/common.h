// Shared helpers for the lmforge native kernels: run-time ISA dispatch macros and vectorizable math.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Elementwise kernels are plain loops (or the 16-wide vector type below); on x86 with GCC/Clang (ELF) each
// is compiled for AVX-512, AVX2+FMA and baseline and picked at load time, so the library builds with default
// flags and still runs on older CPUs. Elsewhere (ARM, Apple) the portable build is all there is.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(LMF_NO_CLONES)
#define LMF_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#define LMF_X86 1
#else
#define LMF_CLONES
#define LMF_X86 0
#endif

#define LMF_RESTRICT __restrict__
// Forced: GCC will not inline a plain helper into target_clones variants on its own, and a call per
// element would stop the loop from vectorizing.
#define LMF_INLINE static inline __attribute__((always_inline))

namespace lmf {

// exp for f32 (Cephes expf: range reduction by ln2 and a degree-6 polynomial, ~1 ulp); NaN passes through,
// large inputs give inf, very negative ones 0. Scalar form of vexp below, for loop tails and per-row values.
LMF_INLINE float fast_exp(float x) {
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
LMF_INLINE float fast_tanh(float x) {
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

// ---- 16-wide vector versions (GCC/Clang vector extensions) ----
// The auto-vectorizer gives up on the selects in exp/tanh inside per-ISA clones, so the transcendental
// kernels are written on an explicit 16-float vector type; each target clone lowers it to one zmm, two ymm
// or four xmm registers (NEON on ARM).
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
#define LMF_LAMBDA __attribute__((always_inline))

LMF_INLINE vf splat(float v) { return vf{} + v; }

LMF_INLINE vf vexp(vf x) {
  const float hi = 88.7228317f, lo = -87.3365447f;
  vf xc = x > hi ? splat(hi) : x;
  xc = xc < lo ? splat(lo) : xc;
  xc = xc != xc ? splat(0.0f) : xc;
  const vf t = xc * 1.44269504088896341f;
  const vi ni = __builtin_convertvector(t + (t >= 0.0f ? splat(0.5f) : splat(-0.5f)), vi);
  const vf n = __builtin_convertvector(ni, vf);
  vf r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf y = p * r * r + r + 1.0f;
  const vi n1 = ni >> 1, n2 = ni - n1;
  vf res = y * (vf)((n1 + 127) << 23) * (vf)((n2 + 127) << 23);
  res = x > hi ? splat(INFINITY) : res;
  res = x < lo ? splat(0.0f) : res;
  return x != x ? x : res;
}

LMF_INLINE vf vabs(vf x) { return x < 0.0f ? -x : x; }

LMF_INLINE vf vtanh(vf x) {
  const vf ax = vabs(x), z = x * x;
  const vf small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  const vf e = vexp(2.0f * (ax > 20.0f ? splat(20.0f) : ax));
  vf big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  const vf res = ax < 0.625f ? small : big;
  return x != x ? x : res;
}

LMF_INLINE vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

// 1 + erf(x), computed through erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7) so the
// negative tail, where GELU needs it, keeps its relative precision instead of cancelling against 1.
LMF_INLINE vf vone_plus_erf(vf x) {
  const vf z = vabs(x);
  const vf t = 1.0f / (1.0f + 0.5f * z);
  const vf poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                  t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const vf erfc = t * vexp(-z * z + poly);
  return x < 0.0f ? erfc : 2.0f - erfc;
}

LMF_INLINE vf vload(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof(vf));
  return v;
}
LMF_INLINE void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof(vf)); }
// The first n (< 16) floats, the rest zero.
LMF_INLINE vf vload_part(const float* p, size_t n) {
  vf v = {};
  std::memcpy(&v, p, n * sizeof(float));
  return v;
}
LMF_INLINE void vstore_part(float* p, vf v, size_t n) { std::memcpy(p, &v, n * sizeof(float)); }

/** o[i] = f(x[i]) sixteen at a time (the tail is padded with zeros and cut off again). */
template <typename F>
LMF_INLINE void vmap1(const float* x, float* o, size_t n, F f) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) vstore(o + i, f(vload(x + i)));
  if (i < n) vstore_part(o + i, f(vload_part(x + i, n - i)), n - i);
}

/** o[i] = f(x[i], g[i]). */
template <typename F>
LMF_INLINE void vmap2(const float* x, const float* g, float* o, size_t n, F f) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) vstore(o + i, f(vload(x + i), vload(g + i)));
  if (i < n) vstore_part(o + i, f(vload_part(x + i, n - i), vload_part(g + i, n - i)), n - i);
}

}  // namespace lmf
