// Elementwise, reduction, normalization, layout, optimizer and inference attention kernels: plain loops the compiler
// vectorizes, compiled per ISA through LMF_CLONES, or, where exp/tanh/erf come in, templates on the explicit vector
// types compiled per ISA at its width through LMF_VEC_KERNEL; split across the pool when the work is large enough.
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"
#include "pool.h"

namespace lmf {
namespace {

constexpr size_t kGrain = 1 << 15;  // elements per task for cheap elementwise work
constexpr long kBlockAttentionRows = 4;  // query rows from which attention runs attention_blocks_forward

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

template <class V>
LMF_INLINE void unary_range(int op, const float* LMF_RESTRICT x, float* LMF_RESTRICT o, size_t n) {
  switch (op) {
    case U_NEG: for (size_t i = 0; i < n; i++) o[i] = -x[i]; break;
    case U_EXP: vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return vexp(v); }); break;
    case U_LOG: for (size_t i = 0; i < n; i++) o[i] = std::log(x[i]); break;
    case U_SQRT: for (size_t i = 0; i < n; i++) o[i] = std::sqrt(x[i]); break;
    case U_RSQRT: for (size_t i = 0; i < n; i++) o[i] = 1.0f / std::sqrt(x[i]); break;
    case U_TANH: vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return vtanh(v); }); break;
    case U_ABS: for (size_t i = 0; i < n; i++) o[i] = std::fabs(x[i]); break;
    case U_RELU: for (size_t i = 0; i < n; i++) o[i] = x[i] > 0 ? x[i] : 0.0f; break;
    case U_SILU: vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return v * vsigmoid(v); }); break;
    case U_GELU: vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return 0.5f * v * vone_plus_erf(v * kInvSqrt2); }); break;
    case U_GELU_TANH:
      vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return 0.5f * v * (1.0f + vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v))); });
      break;
    case U_SIGMOID: vmap1<V>(x, o, n, [](V v) LMF_LAMBDA { return vsigmoid(v); }); break;
    case U_SIN: for (size_t i = 0; i < n; i++) o[i] = (float)std::sin((double)x[i]); break;
    case U_COS: for (size_t i = 0; i < n; i++) o[i] = (float)std::cos((double)x[i]); break;
    case U_SQUARE: for (size_t i = 0; i < n; i++) o[i] = x[i] * x[i]; break;
    case U_RECIPROCAL: for (size_t i = 0; i < n; i++) o[i] = 1.0f / x[i]; break;
  }
}

template <class V>
LMF_INLINE void unary_grad_range(int op, const float* LMF_RESTRICT x, const float* LMF_RESTRICT y, const float* LMF_RESTRICT g,
                                 float* LMF_RESTRICT o, size_t n) {
  switch (op) {
    case U_NEG: for (size_t i = 0; i < n; i++) o[i] = -g[i]; break;
    case U_EXP: for (size_t i = 0; i < n; i++) o[i] = g[i] * y[i]; break;
    case U_LOG: for (size_t i = 0; i < n; i++) o[i] = g[i] / x[i]; break;
    case U_SQRT: for (size_t i = 0; i < n; i++) o[i] = g[i] / (2.0f * y[i]); break;
    case U_RSQRT: for (size_t i = 0; i < n; i++) o[i] = (-0.5f * g[i] * y[i]) / x[i]; break;
    case U_TANH: for (size_t i = 0; i < n; i++) o[i] = g[i] * (1.0f - y[i] * y[i]); break;
    case U_ABS: for (size_t i = 0; i < n; i++) o[i] = x[i] > 0 ? g[i] : (x[i] < 0 ? -g[i] : 0.0f); break;
    case U_RELU: for (size_t i = 0; i < n; i++) o[i] = x[i] > 0 ? g[i] : 0.0f; break;
    case U_SILU:
      vmap2<V>(x, g, o, n, [](V v, V gv) LMF_LAMBDA {
        const V s = vsigmoid(v);
        return gv * s * (1.0f + v * (1.0f - s));
      });
      break;
    case U_GELU:
      vmap2<V>(x, g, o, n, [](V v, V gv) LMF_LAMBDA {
        return gv * (0.5f * vone_plus_erf(v * kInvSqrt2) + v * kInvSqrt2Pi * vexp(-0.5f * v * v));
      });
      break;
    case U_GELU_TANH:
      vmap2<V>(x, g, o, n, [](V v, V gv) LMF_LAMBDA {
        const V t = vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v));
        return gv * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * v * v));
      });
      break;
    case U_SIGMOID: for (size_t i = 0; i < n; i++) o[i] = g[i] * y[i] * (1.0f - y[i]); break;
    case U_SIN: for (size_t i = 0; i < n; i++) o[i] = g[i] * (float)std::cos((double)x[i]); break;
    case U_COS: for (size_t i = 0; i < n; i++) o[i] = -g[i] * (float)std::sin((double)x[i]); break;
    case U_SQUARE: for (size_t i = 0; i < n; i++) o[i] = 2.0f * g[i] * x[i]; break;
    case U_RECIPROCAL: for (size_t i = 0; i < n; i++) o[i] = -g[i] * y[i] * y[i]; break;
  }
}

// One contiguous run of a binary op: a and b advance by as / bs (0 = a broadcast value, 1 = contiguous).
template <int OP>
inline float bop(float a, float b) {
  if (OP == B_ADD) return a + b;
  if (OP == B_SUB) return a - b;
  if (OP == B_MUL) return a * b;
  if (OP == B_DIV) return a / b;
  if (OP == B_POW) return std::pow(a, b);
  if (OP == B_MAX) return (a >= b || a != a) ? a : b;
  if (OP == B_MIN) return (a <= b || a != a) ? a : b;
  if (OP == B_EQ) return a == b ? 1.0f : 0.0f;
  if (OP == B_GT) return a > b ? 1.0f : 0.0f;
  return a < b ? 1.0f : 0.0f;
}

template <int OP>
LMF_CLONES void brun(const float* LMF_RESTRICT a, long as, const float* LMF_RESTRICT b, long bs, float* LMF_RESTRICT o, long n) {
  if (as == 1 && bs == 1) for (long j = 0; j < n; j++) o[j] = bop<OP>(a[j], b[j]);
  else if (as == 1 && bs == 0) { const float bv = b[0]; for (long j = 0; j < n; j++) o[j] = bop<OP>(a[j], bv); }
  else if (as == 0 && bs == 1) { const float av = a[0]; for (long j = 0; j < n; j++) o[j] = bop<OP>(av, b[j]); }
  else for (long j = 0; j < n; j++) o[j] = bop<OP>(a[j * as], b[j * bs]);
}

using Run = void (*)(const float*, long, const float*, long, float*, long);
// brun<OP> is called through a table so each instantiation gets its own clones.
template <int OP>
void brun_entry(const float* a, long as, const float* b, long bs, float* o, long n) { brun<OP>(a, as, b, bs, o, n); }
const Run kRuns[B_COUNT] = {brun_entry<B_ADD>, brun_entry<B_SUB>, brun_entry<B_MUL>, brun_entry<B_DIV>, brun_entry<B_POW>,
                            brun_entry<B_MAX>, brun_entry<B_MIN>, brun_entry<B_EQ>, brun_entry<B_GT>, brun_entry<B_LT>};

LMF_CLONES void row_sums(const float* LMF_RESTRICT x, float* LMF_RESTRICT out, long o0, long o1, long inner) {
  long o = o0;
  // Eight rows side by side when they are long: eight streams in flight read memory faster than one
  // (measured on Zen 5 with both cores: about 56 GB/s against 47). One accumulator a row, so the AVX2 clone's
  // sixteen of them fit the sixteen ymm registers (two a row spilled, and read 15 GB/s where GEMVs read 17-21).
  for (; inner >= 64 && o + 8 <= o1; o += 8) {
    vf s[8] = {};
    long i = 0;
    for (; i + 32 <= inner; i += 32) {
      for (int r = 0; r < 8; r++) {
        s[r] += vload(x + (o + r) * inner + i);
        s[r] += vload(x + (o + r) * inner + i + 16);
      }
    }
    for (int r = 0; r < 8; r++) {
      const vf v = s[r];
      float t = 0;
      for (int l = 0; l < 16; l++) t += v[l];
      for (long q = i; q < inner; q++) t += x[(o + r) * inner + q];
      out[o + r] = t;
    }
  }
  for (; o < o1; o++) {
    const float* r = x + o * inner;
    // Four independent vector chains in registers, so the loop runs at memory speed, not add latency.
    vf s0 = {}, s1 = {}, s2 = {}, s3 = {};
    long i = 0;
    for (; i + 64 <= inner; i += 64) {
      s0 += vload(r + i);
      s1 += vload(r + i + 16);
      s2 += vload(r + i + 32);
      s3 += vload(r + i + 48);
    }
    const vf s = (s0 + s1) + (s2 + s3);
    float t = 0;
    for (int l = 0; l < 16; l++) t += s[l];
    for (; i < inner; i++) t += r[i];
    out[o] = t;
  }
}

LMF_CLONES void col_sums(const float* LMF_RESTRICT x, float* LMF_RESTRICT out, long inner, long rest, long r0, long r1) {
  for (long r = r0; r < r1; r++) out[r] = 0.0f;
  for (long i = 0; i < inner; i++) {
    const float* row = x + i * rest;
    for (long r = r0; r < r1; r++) out[r] += row[r];
  }
}

template <class V>
LMF_INLINE void softmax_rows(const float* LMF_RESTRICT x, float* LMF_RESTRICT out, long r0, long r1, long cols, bool log) {
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* orow = out + r * cols;
    float pm[16];
    for (int l = 0; l < 16; l++) pm[l] = -INFINITY;
    long q = 0;
    for (; q + 16 <= cols; q += 16)
      for (int l = 0; l < 16; l++) pm[l] = xr[q + l] > pm[l] ? xr[q + l] : pm[l];
    float mx = -INFINITY;
    for (int l = 0; l < 16; l++) mx = pm[l] > mx ? pm[l] : mx;
    for (; q < cols; q++) mx = xr[q] > mx ? xr[q] : mx;
    if (mx == -INFINITY) mx = 0.0f;  // fully masked row: exp(-inf) sums to 0 and the row is NaN, as in torch
    V acc = {};
    long j = 0;
    for (; j + lanes<V> <= cols; j += lanes<V>) {
      const V e = vexp(vload<V>(xr + j) - mx);
      if (!log) vstore(orow + j, e);
      acc += e;
    }
    float sum = 0;
    for (int l = 0; l < lanes<V>; l++) sum += acc[l];
    for (; j < cols; j++) {
      const float e = fast_exp(xr[j] - mx);
      if (!log) orow[j] = e;
      sum += e;
    }
    if (log) {
      // (x - max) first: adding log(sum) to a large max would round it away.
      const float lse = std::log(sum);
      for (long c = 0; c < cols; c++) orow[c] = (xr[c] - mx) - lse;
    } else {
      const float inv = 1.0f / sum;
      for (long c = 0; c < cols; c++) orow[c] *= inv;
    }
  }
}

template <class V>
LMF_INLINE void softmax_grad_rows(const float* LMF_RESTRICT y, const float* LMF_RESTRICT g, float* LMF_RESTRICT out, long r0, long r1,
                                  long cols, bool log) {
  for (long r = r0; r < r1; r++) {
    const float *yr = y + r * cols, *gr = g + r * cols;
    float* orow = out + r * cols;
    float s = 0;
    if (log) {
      for (long j = 0; j < cols; j++) s += gr[j];
      vmap2<V>(yr, gr, orow, (size_t)cols, [s](V y, V gv) LMF_LAMBDA { return gv - vexp(y) * s; });
    } else {
      for (long j = 0; j < cols; j++) s += gr[j] * yr[j];
      for (long j = 0; j < cols; j++) orow[j] = yr[j] * (gr[j] - s);
    }
  }
}

LMF_CLONES void norm_rows(const float* LMF_RESTRICT x, const float* LMF_RESTRICT w, const float* LMF_RESTRICT b, float* LMF_RESTRICT out,
                          float* mean, float* rstd, long r0, long r1, long cols, float eps, bool rms, float wOff) {
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* orow = out + r * cols;
    float mu = 0;
    if (!rms) {
      float s = 0;
      for (long j = 0; j < cols; j++) s += xr[j];
      mu = s / (float)cols;
    }
    float v = 0;
    for (long j = 0; j < cols; j++) {
      const float d = xr[j] - mu;
      v += d * d;
    }
    const float rs = 1.0f / std::sqrt(v / (float)cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    if (w && b) for (long j = 0; j < cols; j++) orow[j] = (xr[j] - mu) * rs * (w[j] + wOff) + b[j];
    else if (w) for (long j = 0; j < cols; j++) orow[j] = (xr[j] - mu) * rs * (w[j] + wOff);
    else if (b) for (long j = 0; j < cols; j++) orow[j] = (xr[j] - mu) * rs + b[j];
    else for (long j = 0; j < cols; j++) orow[j] = (xr[j] - mu) * rs;
  }
}

LMF_CLONES void norm_grad_rows(const float* LMF_RESTRICT x, const float* LMF_RESTRICT w, const float* LMF_RESTRICT g, const float* mean,
                               const float* rstd, float* LMF_RESTRICT dx, long r0, long r1, long cols, bool rms, float wOff) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * cols, *gr = g + r * cols;
    float* dr = dx + r * cols;
    const float mu = mean[r], rs = rstd[r];
    float sumD = 0, sumDX = 0;
    for (long j = 0; j < cols; j++) {
      const float xh = (xr[j] - mu) * rs;
      const float dxh = gr[j] * (w ? w[j] + wOff : 1.0f);
      sumD += dxh;
      sumDX += dxh * xh;
    }
    const float meanD = rms ? 0.0f : sumD / (float)cols, meanDX = sumDX / (float)cols;
    for (long j = 0; j < cols; j++) {
      const float xh = (xr[j] - mu) * rs;
      const float dxh = gr[j] * (w ? w[j] + wOff : 1.0f);
      dr[j] = rs * (dxh - meanD - xh * meanDX);
    }
  }
}

// dWeight/dBias over a range of columns (threads split columns, so no reduction across threads is needed).
LMF_CLONES void norm_param_grads(const float* LMF_RESTRICT x, const float* LMF_RESTRICT g, const float* mean, const float* rstd,
                                 float* LMF_RESTRICT dw, float* LMF_RESTRICT db, long rows, long cols, long c0, long c1) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * cols, *gr = g + r * cols;
    const float mu = mean[r], rs = rstd[r];
    if (dw) for (long j = c0; j < c1; j++) dw[j] += gr[j] * ((xr[j] - mu) * rs);
    if (db) for (long j = c0; j < c1; j++) db[j] += gr[j];
  }
}

LMF_CLONES void adamw_range(float* LMF_RESTRICT p, const float* LMF_RESTRICT g, float* LMF_RESTRICT m, float* LMF_RESTRICT v, size_t n,
                            float beta1, float beta2, float ob1, float ob2, float eps, float decay, float stepSize, float invBc2Sqrt) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + ob1 * gi;
    const float vi = beta2 * v[i] + ob2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (std::sqrt(vi) * invBc2Sqrt + eps);
  }
}

template <class V>
LMF_INLINE void attention_rows(const float* LMF_RESTRICT q, const float* LMF_RESTRICT k, const float* LMF_RESTRICT v,
                               const float* mask, long maskT, long maskS, float* LMF_RESTRICT out, long t0, long t1, long S, long D,
                               float scale, float softcap) {
  constexpr long KB = 64;  // keys per block of the online softmax
  float scores[KB];
  std::vector<float> acc((size_t)D);
  for (long t = t0; t < t1; t++) {
    const float* qr = q + t * D;
    const float* mrow = mask ? mask + t * maskT : nullptr;
    float m = -INFINITY, l = 0.0f;
    for (long d = 0; d < D; d++) acc[d] = 0.0f;
    for (long s0 = 0; s0 < S; s0 += KB) {
      const long nb = std::min(KB, S - s0);
      float bm = -INFINITY;
      for (long j = 0; j < nb; j++) {
        const float* kr = k + (s0 + j) * D;
        // Keys and values are read once, usually from memory (a decode step's cache is cold after the weights
        // went through): fetch the key eight rows ahead and this row's value for the second pass.
        for (long d = 0; d < D; d += 16) __builtin_prefetch(kr + 8 * D + d), __builtin_prefetch(v + (s0 + j) * D + d);
        float part[16] = {};
        long d = 0;
        for (; d + 16 <= D; d += 16)
          for (int u = 0; u < 16; u++) part[u] += qr[d + u] * kr[d + u];
        float dot = 0;
        for (int u = 0; u < 16; u++) dot += part[u];
        for (; d < D; d++) dot += qr[d] * kr[d];
        float sc = dot * scale;
        if (softcap > 0) sc = softcap * fast_tanh(sc / softcap);
        if (mrow) sc += mrow[(s0 + j) * maskS];
        scores[j] = sc;
        bm = sc > bm ? sc : bm;
      }
      const float mNew = bm > m ? bm : m;
      // exp(m - mNew) is 0 on the first block (m = -inf) and 1 when the max does not move.
      const float corr = m == -INFINITY ? 0.0f : fast_exp(m - mNew);
      float bs = 0;
      long j = 0;
      for (; j + lanes<V> <= nb; j += lanes<V>) vstore(scores + j, vexp(vload<V>(scores + j) - mNew));
      for (; j < nb; j++) scores[j] = fast_exp(scores[j] - mNew);
      for (j = 0; j < nb; j++) bs += scores[j];
      l = l * corr + bs;
      for (long d = 0; d < D; d++) acc[d] *= corr;
      for (long j = 0; j < nb; j++) {
        const float p = scores[j];
        const float* vr = v + (s0 + j) * D;
        for (long d = 0; d < D; d++) acc[d] += p * vr[d];
      }
      m = mNew;
    }
    float* orow = out + t * D;
    const float inv = 1.0f / l;
    for (long d = 0; d < D; d++) orow[d] = acc[d] * inv;
  }
}

LMF_VEC_KERNEL(unary_range, (int op, const float* x, float* o, size_t n), (op, x, o, n))
LMF_VEC_KERNEL(unary_grad_range, (int op, const float* x, const float* y, const float* g, float* o, size_t n), (op, x, y, g, o, n))
LMF_VEC_KERNEL(softmax_rows, (const float* x, float* out, long r0, long r1, long cols, bool log), (x, out, r0, r1, cols, log))
LMF_VEC_KERNEL(softmax_grad_rows, (const float* y, const float* g, float* out, long r0, long r1, long cols, bool log),
               (y, g, out, r0, r1, cols, log))
LMF_VEC_KERNEL(attention_rows,
               (const float* q, const float* k, const float* v, const float* mask, long maskT, long maskS, float* out, long t0, long t1,
                long S, long D, float scale, float softcap),
               (q, k, v, mask, maskT, maskS, out, t0, t1, S, D, scale, softcap))

}  // namespace

void unary(int op, const float* x, float* out, size_t n) {
  const auto run = LMF_VEC_PICK(unary_range);
  parallel_for(n, kGrain, [&](size_t lo, size_t hi) { run(op, x + lo, out + lo, hi - lo); });
}

void unary_backward(int op, const float* x, const float* y, const float* g, float* out, size_t n) {
  const auto run = LMF_VEC_PICK(unary_grad_range);
  parallel_for(n, kGrain, [&](size_t lo, size_t hi) { run(op, x + lo, y + lo, g + lo, out + lo, hi - lo); });
}

void pow_scalar(const float* x, float p, float* out, size_t n) {
  parallel_for(n, kGrain, [&](size_t lo, size_t hi) {
    if (p == 2.0f) for (size_t i = lo; i < hi; i++) out[i] = x[i] * x[i];
    else for (size_t i = lo; i < hi; i++) out[i] = (float)std::pow((double)x[i], (double)p);
  });
}

void affine(const float* x, float scale, float shift, float* out, size_t n) {
  parallel_for(n, kGrain, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = x[i] * scale + shift;
  });
}

void binary(int op, const float* a, const long* aStrides, const float* b, const long* bStrides, float* out, const long* shape, int nd) {
  // Merge dims both inputs walk the same way, so broadcasts like [1,1,T,S] -> [B,H,T,S] become one long run.
  long sh[16], as[16], bs[16];
  int m = 0;
  size_t total = 1;
  for (int d = 0; d < nd; d++) {
    total *= (size_t)shape[d];
    if (shape[d] == 1) continue;
    if (m > 0 && as[m - 1] == aStrides[d] * shape[d] && bs[m - 1] == bStrides[d] * shape[d]) {
      sh[m - 1] *= shape[d];
      as[m - 1] = aStrides[d];
      bs[m - 1] = bStrides[d];
    } else {
      sh[m] = shape[d];
      as[m] = aStrides[d];
      bs[m] = bStrides[d];
      m++;
    }
  }
  if (total == 0) return;
  if (m == 0) {
    sh[0] = 1;
    as[0] = bs[0] = 0;
    m = 1;
  }
  const long inner = sh[m - 1], ia = as[m - 1], ib = bs[m - 1];
  const size_t rows = total / (size_t)inner;
  const Run run = kRuns[op];
  const size_t grain = std::max<size_t>(1, kGrain / (size_t)inner);
  parallel_for(rows, grain, [&](size_t r0, size_t r1) {
    long idx[16];
    long ao = 0, bo = 0;
    size_t rem = r0;
    for (int d = m - 2; d >= 0; d--) {
      idx[d] = (long)(rem % (size_t)sh[d]);
      rem /= (size_t)sh[d];
      ao += idx[d] * as[d];
      bo += idx[d] * bs[d];
    }
    for (size_t r = r0; r < r1; r++) {
      run(a + ao, ia, b + bo, ib, out + r * inner, inner);
      for (int d = m - 2; d >= 0; d--) {
        idx[d]++;
        ao += as[d];
        bo += bs[d];
        if (idx[d] < sh[d]) break;
        ao -= as[d] * sh[d];
        bo -= bs[d] * sh[d];
        idx[d] = 0;
      }
    }
  });
}

void sum_axis(const float* x, float* out, long outer, long inner, long rest) {
  if (rest == 1) {
    parallel_for((size_t)outer, std::max<size_t>(1, kGrain / std::max(inner, 1L)),
                 [&](size_t lo, size_t hi) { row_sums(x, out, (long)lo, (long)hi, inner); });
    return;
  }
  for (long o = 0; o < outer; o++) {
    const float* xo = x + o * inner * rest;
    float* oo = out + o * rest;
    parallel_for((size_t)rest, std::max<size_t>(16, kGrain / std::max(inner, 1L)),
                 [&](size_t lo, size_t hi) { col_sums(xo, oo, inner, rest, (long)lo, (long)hi); });
  }
}

void max_axis(const float* x, float* out, int32_t* indices, long outer, long inner, long rest) {
  parallel_for((size_t)(outer * rest), std::max<size_t>(1, kGrain / std::max(inner, 1L)), [&](size_t lo, size_t hi) {
    for (size_t q = lo; q < hi; q++) {
      const long o = (long)q / rest, r = (long)q % rest;
      const float* base = x + o * inner * rest + r;
      float best = -INFINITY;
      int32_t bi = 0;
      for (long i = 0; i < inner; i++) {
        const float v = base[i * rest];
        if (v > best || v != v) {
          best = v;
          bi = (int32_t)i;
          if (v != v) break;
        }
      }
      out[q] = best;
      if (indices) indices[q] = bi;
    }
  });
}

void softmax(const float* x, float* out, long rows, long cols, bool log) {
  const auto run = LMF_VEC_PICK(softmax_rows);
  parallel_for((size_t)rows, std::max<size_t>(1, kGrain / 4 / std::max(cols, 1L)),
               [&](size_t lo, size_t hi) { run(x, out, (long)lo, (long)hi, cols, log); });
}

void softmax_backward(const float* y, const float* g, float* out, long rows, long cols, bool log) {
  const auto run = LMF_VEC_PICK(softmax_grad_rows);
  parallel_for((size_t)rows, std::max<size_t>(1, kGrain / std::max(cols, 1L)),
               [&](size_t lo, size_t hi) { run(y, g, out, (long)lo, (long)hi, cols, log); });
}

void norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, long rows, long cols, float eps, bool rms,
          float wOff) {
  parallel_for((size_t)rows, std::max<size_t>(1, kGrain / std::max(cols, 1L)),
               [&](size_t lo, size_t hi) { norm_rows(x, w, b, out, mean, rstd, (long)lo, (long)hi, cols, eps, rms, wOff); });
}

void norm_backward(const float* x, const float* w, const float* g, const float* mean, const float* rstd, float* dx, float* dw, float* db,
                   long rows, long cols, bool rms, float wOff) {
  parallel_for((size_t)rows, std::max<size_t>(1, kGrain / std::max(cols, 1L)),
               [&](size_t lo, size_t hi) { norm_grad_rows(x, w, g, mean, rstd, dx, (long)lo, (long)hi, cols, rms, wOff); });
  if (dw || db) {
    parallel_for((size_t)cols, std::max<size_t>(16, kGrain / std::max(rows, 1L)),
                 [&](size_t lo, size_t hi) { norm_param_grads(x, g, mean, rstd, dw, db, rows, cols, (long)lo, (long)hi); });
  }
}

void permute(const void* xv, void* outv, size_t es, const long* shape, const int* perm, int nd) {
  long inStrides[16], osh[16], st[16];
  long s = 1;
  size_t total = 1;
  for (int i = nd - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  for (int i = 0; i < nd; i++) {
    osh[i] = shape[perm[i]];
    st[i] = inStrides[perm[i]];
    total *= (size_t)osh[i];
  }
  if (total == 0) return;
  // Merge output dims that are also adjacent in the input, so the inner copy is as long as possible.
  long sh2[16], st2[16];
  int m = 0;
  for (int d = 0; d < nd; d++) {
    if (osh[d] == 1) continue;
    if (m > 0 && st2[m - 1] == st[d] * osh[d]) {
      sh2[m - 1] *= osh[d];
      st2[m - 1] = st[d];
    } else {
      sh2[m] = osh[d];
      st2[m] = st[d];
      m++;
    }
  }
  if (m == 0) {
    std::memcpy(outv, xv, es);
    return;
  }
  const long inner = sh2[m - 1], is = st2[m - 1];
  const size_t rows = total / (size_t)inner;
  const char* x = static_cast<const char*>(xv);
  char* out = static_cast<char*>(outv);
  parallel_for(rows, std::max<size_t>(1, kGrain / (size_t)inner), [&](size_t r0, size_t r1) {
    long idx[16], off = 0;
    size_t rem = r0;
    for (int d = m - 2; d >= 0; d--) {
      idx[d] = (long)(rem % (size_t)sh2[d]);
      rem /= (size_t)sh2[d];
      off += idx[d] * st2[d];
    }
    for (size_t r = r0; r < r1; r++) {
      char* dst = out + r * inner * es;
      if (is == 1) std::memcpy(dst, x + off * es, inner * es);
      else if (es == 4) for (long j = 0; j < inner; j++) reinterpret_cast<uint32_t*>(dst)[j] = *reinterpret_cast<const uint32_t*>(x + (off + j * is) * 4);
      else if (es == 8) for (long j = 0; j < inner; j++) reinterpret_cast<uint64_t*>(dst)[j] = *reinterpret_cast<const uint64_t*>(x + (off + j * is) * 8);
      else for (long j = 0; j < inner; j++) std::memcpy(dst + j * es, x + (off + j * is) * es, es);
      for (int d = m - 2; d >= 0; d--) {
        idx[d]++;
        off += st2[d];
        if (idx[d] < sh2[d]) break;
        off -= st2[d] * sh2[d];
        idx[d] = 0;
      }
    }
  });
}

void embedding(const float* table, const int32_t* ids, float* out, size_t count, long dim) {
  parallel_for(count, std::max<size_t>(1, kGrain / std::max(dim, 1L)), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) std::memcpy(out + i * dim, table + (size_t)ids[i] * dim, dim * sizeof(float));
  });
}

void adamw(float* p, const float* g, float* m, float* v, size_t n, double lr, double beta1, double beta2, double eps, double wd, double step) {
  // Scalars in double first: 1 - (float)0.999 is off by 1e-5 relative, which would bias the second moment.
  const double bc1 = 1.0 - std::pow(beta1, step), bc2 = 1.0 - std::pow(beta2, step);
  const float stepSize = (float)(lr / bc1), invBc2Sqrt = (float)(1.0 / std::sqrt(bc2)), decay = (float)(1.0 - lr * wd);
  parallel_for(n, kGrain, [&](size_t lo, size_t hi) {
    adamw_range(p + lo, g + lo, m + lo, v + lo, hi - lo, (float)beta1, (float)beta2, (float)(1.0 - beta1), (float)(1.0 - beta2), (float)eps, decay,
                stepSize, invBc2Sqrt);
  });
}

void attention(const float* q, const float* k, const float* v, const float* mask, const long* ms, float* out, long B, long H, long Hkv,
               long T, long S, long cap, long D, float scale, float softcap) {
  if (T >= kBlockAttentionRows) {  // a prefill: blocks of query rows by GEMM (1×12×256×64 causal, 2 threads: 6.6 -> 1.5 ms)
    std::vector<float> stats((size_t)(2 * B * H * T));
    attention_blocks_forward(AttentionOperands{q, k, v, mask, ms, nullptr, B, H, Hkv, T, S, cap, D, scale, softcap, 1.0f}, out, stats.data());
    return;
  }
  const long groups = H / Hkv;
  const long tBlock = 16;
  const long tBlocks = (T + tBlock - 1) / tBlock;
  const size_t tasks = (size_t)(B * H * tBlocks);
  const size_t grain = std::max<size_t>(1, 65536 / (size_t)std::max(S * D * tBlock, 1L));
  const auto rows = LMF_VEC_PICK(attention_rows);
  parallel_for(tasks, grain, [&](size_t lo, size_t hi) {
    for (size_t task = lo; task < hi; task++) {
      const long tb = (long)(task % tBlocks), bh = (long)(task / tBlocks);
      const long b = bh / H, h = bh % H, hk = h / groups;
      const long t0 = tb * tBlock, t1 = std::min(T, t0 + tBlock);
      const float* qb = q + (bh * T) * D;
      const float* kb = k + ((b * Hkv + hk) * cap) * D;
      const float* vb = v + ((b * Hkv + hk) * cap) * D;
      const float* mb = mask ? mask + b * ms[0] + h * ms[1] : nullptr;
      rows(qb, kb, vb, mb, ms ? ms[2] : 0, ms ? ms[3] : 0, out + (bh * T) * D, t0, t1, S, D, scale, softcap);
    }
  });
}

}  // namespace lmf
