// Shared helpers for the lmforge native kernels: run-time ISA dispatch macros and vectorizable math.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "gemm.h"

// Elementwise kernels are plain loops (or the 16-wide vector type below); on x86 with GCC/Clang (ELF) each
// is compiled for AVX-512, AVX2 and baseline and picked at load time by the CPU's features, so the library builds
// with default flags and still runs on older CPUs. Elsewhere (ARM, Apple) the portable build is all there is.
// ("arch=haswell" instead of "avx2" would add FMA, but GCC dispatches arch= clones by CPU model: Zen 3 and
// post-Haswell Intel CPUs without AVX-512 ran the baseline clone.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(LMF_NO_CLONES)
#define LMF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
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

// ---- vector versions (GCC/Clang vector extensions) ----
// The auto-vectorizer gives up on the selects in exp/tanh, so the transcendental kernels are written on explicit
// vector types, as templates on the type: each ISA runs them at its register width (LMF_VEC_KERNEL). A vector wider
// than the target's registers is no shortcut: GCC 12 lowers its comparisons and selects one lane at a time, and
// the AVX2 clone of exp on 16-float vectors ran at 4-6 ns an element, GELU at 11-15.
typedef float vf4 __attribute__((vector_size(16)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf16 __attribute__((vector_size(64)));
typedef vf16 vf;  // for plain sums, which any target splits into its own width
template <class V>
using vint = decltype(V{} < V{});  // the int32 vector of V's lanes (what its comparisons give)
template <class V>
constexpr long lanes = sizeof(V) / sizeof(float);
#define LMF_LAMBDA __attribute__((always_inline))

template <class V>
LMF_INLINE V splat(float v) { return V{} + v; }

template <class V>
LMF_INLINE V vexp(V x) {
  using VI = vint<V>;
  const float hi = 88.7228317f, lo = -87.3365447f;
  V xc = x > hi ? splat<V>(hi) : x;
  xc = xc < lo ? splat<V>(lo) : xc;
  xc = xc != xc ? splat<V>(0.0f) : xc;
  const V t = xc * 1.44269504088896341f;
  const VI ni = __builtin_convertvector(t + (t >= 0.0f ? splat<V>(0.5f) : splat<V>(-0.5f)), VI);
  const V n = __builtin_convertvector(ni, V);
  V r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = splat<V>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V y = p * r * r + r + 1.0f;
  const VI n1 = ni >> 1, n2 = ni - n1;
  V res = y * (V)((n1 + 127) << 23) * (V)((n2 + 127) << 23);
  res = x > hi ? splat<V>(INFINITY) : res;
  res = x < lo ? splat<V>(0.0f) : res;
  return x != x ? x : res;
}

template <class V>
LMF_INLINE V vabs(V x) { return x < 0.0f ? -x : x; }

template <class V>
LMF_INLINE V vtanh(V x) {
  const V ax = vabs(x), z = x * x;
  const V small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  const V e = vexp(2.0f * (ax > 20.0f ? splat<V>(20.0f) : ax));
  V big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  const V res = ax < 0.625f ? small : big;
  return x != x ? x : res;
}

template <class V>
LMF_INLINE V vsigmoid(V x) { return 1.0f / (1.0f + vexp(-x)); }

// 1 + erf(x), computed through erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7) so the
// negative tail, where GELU needs it, keeps its relative precision instead of cancelling against 1.
template <class V>
LMF_INLINE V vone_plus_erf(V x) {
  const V z = vabs(x);
  const V t = 1.0f / (1.0f + 0.5f * z);
  const V poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                 t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const V erfc = t * vexp(-z * z + poly);
  return x < 0.0f ? erfc : 2.0f - erfc;
}

template <class V = vf>
LMF_INLINE V vload(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
LMF_INLINE void vstore(float* p, V v) { std::memcpy(p, &v, sizeof(V)); }
// The first n (< lanes) floats, the rest zero.
template <class V>
LMF_INLINE V vload_part(const float* p, size_t n) {
  V v = {};
  std::memcpy(&v, p, n * sizeof(float));
  return v;
}
template <class V>
LMF_INLINE void vstore_part(float* p, V v, size_t n) { std::memcpy(p, &v, n * sizeof(float)); }

/** Lanes of bits c, c + 1, ... of a word as a vector mask (dropout's keep bits, a vector of decisions at a time). */
template <class V>
LMF_INLINE vint<V> bit_lanes(uint32_t word, long c) {
  vint<V> laneBit;
  for (long l = 0; l < lanes<V>; l++) laneBit[l] = 1 << l;
  return ((vint<V>{} + (int32_t)(word >> c)) & laneBit) != 0;
}

/** o[i] = f(x[i]) a vector at a time (the tail is padded with zeros and cut off again). */
template <class V, typename F>
LMF_INLINE void vmap1(const float* x, float* o, size_t n, F f) {
  constexpr size_t L = lanes<V>;
  size_t i = 0;
  for (; i + L <= n; i += L) vstore(o + i, f(vload<V>(x + i)));
  if (i < n) vstore_part(o + i, f(vload_part<V>(x + i, n - i)), n - i);
}

/** o[i] = f(x[i], g[i]). */
template <class V, typename F>
LMF_INLINE void vmap2(const float* x, const float* g, float* o, size_t n, F f) {
  constexpr size_t L = lanes<V>;
  size_t i = 0;
  for (; i + L <= n; i += L) vstore(o + i, f(vload<V>(x + i), vload<V>(g + i)));
  if (i < n) vstore_part(o + i, f(vload_part<V>(x + i, n - i), vload_part<V>(g + i, n - i)), n - i);
}

// LMF_VEC_KERNEL(name, (params), (args)) compiles the template name<V> for each ISA at its width, as name_avx512,
// name_avx2 and name_base (SSE2 on x86, NEON elsewhere: four lanes); LMF_VEC_PICK(name) is the one for the
// GEMM's current ISA (gemm_isa(), so tests force each width as they force each micro-kernel).
#if LMF_X86
#define LMF_VEC_KERNEL(name, params, args)                                                \
  __attribute__((target("avx512f,fma"))) void name##_avx512 params { name<vf16> args; } \
  __attribute__((target("avx2,fma"))) void name##_avx2 params { name<vf8> args; }       \
  void name##_base params { name<vf4> args; }
#define LMF_VEC_PICK(name) \
  (gemm_isa() == Isa::avx512 ? name##_avx512 : gemm_isa() == Isa::avx2 ? name##_avx2 : name##_base)
#else
#define LMF_VEC_KERNEL(name, params, args) \
  void name##_base params { name<vf4> args; }
#define LMF_VEC_PICK(name) name##_base
#endif

}  // namespace lmf
