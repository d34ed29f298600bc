// Scaled-dot-product attention a block of query rows at a time: with a gradient for training, and the forward
// alone for prefills (its GEMMs beat kernels.cc's one-row kernel there). The forward keeps only the output and each
// query row's softmax statistics (max and 1 / sum); the backward recomputes a block's probabilities from them
// (FlashAttention-2's scheme), so no [B, H, T, S] tensor outlives a block. Dropout on the probabilities reads keep
// bits drawn beforehand, in the order the composed ops (softmax, then dropout) draw their mask.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace lmf {
namespace {

constexpr long kRows = 64;  // query rows per block: its scores stay in L2 up to a couple of thousand keys

/** One block of query rows of one (batch, head). */
struct Block {
  const float* mask;  // this head's mask (row t at mask + t·mT, key s at + s·mS), or nullptr
  long mT, mS;
  const uint32_t* keep;  // dropout keep bits over [B, H, T, S], or nullptr
  size_t bit0;           // the bit of (t0, key 0)
  long t0, rows, S;
  long n;  // keys computed: [0, n) (visible_keys); scores rows are n apart
  float scale, softcap, dropScale;
};

// A mask entry at or below this hides its key: it is far enough under any visible entry that exp() of the
// difference is exactly 0 (MASK_MIN and -inf are).
constexpr float kHidden = -1e30f;

LMF_INLINE bool kept(const uint32_t* keep, size_t bit) { return (keep[bit >> 5] >> (bit & 31)) & 1u; }

/** The last key in [lo, hi) that mask row m does not hide, or lo - 1; sixteen keys at a time where it can. */
long last_visible(const float* m, long mS, long lo, long hi) {
  long j = hi;
  if (mS == 1) {
    while (j - 16 >= lo) {
      vint<vf4> any = {};
      for (int u = 16; u > 0; u -= 4) any |= vload<vf4>(m + j - u) > kHidden;
      if (any[0] | any[1] | any[2] | any[3]) break;
      j -= 16;
    }
  }
  while (j > lo && m[(j - 1) * mS] <= kHidden) j--;
  return j - 1;
}

/**
 * How many leading keys a block must compute: keys past the last one any of its rows sees add exactly 0 to every
 * sum and gradient, provided each row sees at least one key (a row that sees none is uniform over all S).
 * A causal mask's first blocks thus skip most keys.
 */
long visible_keys(const Block& r) {
  if (!r.mask) return r.S;
  long n = 0;
  for (long i = r.rows - 1; i >= 0; i--) {  // the last rows first: a causal mask's widest
    const float* m = r.mask + (r.t0 + i) * r.mT;
    const long j = last_visible(m, r.mS, n, r.S);
    if (j >= n) n = j + 1;
    else if (last_visible(m, r.mS, 0, n) < 0) return r.S;
    if (r.mT == 0) break;  // every row reads the same mask row
  }
  return n;
}

/**
 * Row i of raw q·kᵀ (raw) to the final scores (s; may be raw itself) as the composed ops compute them: scaled,
 * soft-capped (tanh(x / cap) kept in capTanh for the backward when given), then masked.
 */
template <class V>
LMF_INLINE void final_scores(const float* raw, float* s, float* capTanh, const Block& r, long i) {
  const long n = r.n;
  const float scale = r.scale;
  if (r.softcap > 0) {
    const float inv = 1.0f / r.softcap, cap = r.softcap;
    float* t = capTanh ? capTanh : s;
    vmap1<V>(raw, t, n, [&](V x) LMF_LAMBDA { return vtanh((x * scale) * inv); });
    for (long j = 0; j < n; j++) s[j] = t[j] * cap;
    if (!r.mask) return;
  } else if (!r.mask) {
    for (long j = 0; j < n; j++) s[j] = raw[j] * scale;
    return;
  }
  const float* m = r.mask + (r.t0 + i) * r.mT;
  if (r.softcap > 0 && r.mS == 1) for (long j = 0; j < n; j++) s[j] += m[j];
  else if (r.softcap > 0) for (long j = 0; j < n; j++) s[j] += m[j * r.mS];
  else if (r.mS == 1) for (long j = 0; j < n; j++) s[j] = raw[j] * scale + m[j];
  else for (long j = 0; j < n; j++) s[j] = raw[j] * scale + m[j * r.mS];
}

/** Dropout on a row of probabilities: p · dropScale where the keep bit is set, else 0 (into out, may be p). */
template <class V>
LMF_INLINE void drop_row(const float* p, float* out, const Block& r, long i) {
  const size_t bit = r.bit0 + (size_t)i * r.S;
  const float ds = r.dropScale;
  long j = 0;
  for (; j + 32 <= r.n; j += 32) {  // 32 keys from one (unaligned) word of bits
    const size_t b = bit + j;
    const uint32_t sh = b & 31, *w = r.keep + (b >> 5);
    const uint32_t word = sh ? (w[0] >> sh) | (w[1] << (32 - sh)) : w[0];
    for (long c = 0; c < 32; c += lanes<V>) vstore(out + j + c, bit_lanes<V>(word, c) ? vload<V>(p + j + c) * ds : V{});
  }
  for (; j < r.n; j++) out[j] = kept(r.keep, bit + j) ? p[j] * ds : 0.0f;
}

template <class V>
LMF_INLINE float row_max(const float* s, long n) {
  V vm = splat<V>(-INFINITY);
  long j = 0;
  for (; j + lanes<V> <= n; j += lanes<V>) {
    const V x = vload<V>(s + j);
    vm = x > vm ? x : vm;
  }
  float mx = -INFINITY;
  for (long l = 0; l < lanes<V>; l++) mx = vm[l] > mx ? vm[l] : mx;
  for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;
  return mx;
}

/**
 * Forward of a block in place: raw scores to (dropped-out) probabilities, and each row's max and 1 / sum into
 * stats. Not a log-sum-exp: a fully masked row's max (MASK_MIN) would absorb log(sum), and its backward would
 * recompute probabilities of 1 instead of 1 / S.
 */
template <class V>
LMF_INLINE void forward_rows(float* sc, const Block& r, float* stats) {
  const long n = r.n;
  for (long i = 0; i < r.rows; i++) {
    float* s = sc + i * n;
    final_scores<V>(s, s, nullptr, r, i);
    float mx = row_max<V>(s, n);
    if (mx == -INFINITY) mx = 0.0f;  // every key at -inf: the row is NaN, as softmax's is
    // exp a vector at a time, the tail too, as backward_probs's vmap1 computes it
    V acc = {};
    long j = 0;
    for (; j + lanes<V> <= n; j += lanes<V>) {
      const V e = vexp(vload<V>(s + j) - mx);
      vstore(s + j, e);
      acc += e;
    }
    float sum = 0;
    for (int l = 0; l < lanes<V>; l++) sum += acc[l];
    if (j < n) {
      const V e = vexp(vload_part<V>(s + j, n - j) - mx);
      vstore_part(s + j, e, n - j);
      for (long l = 0; l < n - j; l++) sum += e[l];
    }
    const float inv = 1.0f / sum;
    stats[2 * i] = mx, stats[2 * i + 1] = inv;
    for (j = 0; j < n; j++) s[j] *= inv;
    if (r.keep) drop_row<V>(s, s, r, i);
  }
}

/**
 * First half of a block's backward: raw scores (in p) to the probabilities exp(s - max) / sum (the forward's, bit
 * for bit), their dropped-out form into pd when dropout is on, and tanh(x / cap) into capTanh when soft-capping.
 */
template <class V>
LMF_INLINE void backward_probs(float* p, float* pd, float* capTanh, const Block& r, const float* stats) {
  const long n = r.n;
  for (long i = 0; i < r.rows; i++) {
    float* s = p + i * n;
    final_scores<V>(s, s, capTanh ? capTanh + i * n : nullptr, r, i);
    const float mx = stats[2 * i], inv = stats[2 * i + 1];
    vmap1<V>(s, s, n, [&](V x) LMF_LAMBDA { return vexp(x - mx) * inv; });  // the forward's two roundings
    if (pd) drop_row<V>(s, pd + i * n, r, i);
  }
}

/**
 * Second half: the gradient of the dropped-out probabilities (in g) to the gradient of the raw scores,
 * p · (dp - Σ p·dp) through softmax (Σ p·dp = dO·O per row, in rowDot), then the soft-cap and the scale. The
 * gradient of the final scores, which is the mask's, also goes to dMask's rows (S apart) when given.
 */
template <class V>
LMF_INLINE void backward_scores(float* g, const float* p, const float* capTanh, const Block& r, const float* rowDot, float* dMask) {
  const long n = r.n;
  for (long i = 0; i < r.rows; i++) {
    float* gr = g + i * n;
    const float* pr = p + i * n;
    if (r.keep) drop_row<V>(gr, gr, r, i);
    const float d = rowDot[i];
    if (dMask) {
      float* dm = dMask + i * r.S;
      for (long j = 0; j < n; j++) dm[j] = pr[j] * (gr[j] - d);
      std::fill(dm + n, dm + r.S, 0.0f);  // keys the block skipped: their probabilities are exactly 0
    }
    if (capTanh) {
      const float* t = capTanh + i * n;
      for (long j = 0; j < n; j++) gr[j] = pr[j] * (gr[j] - d) * (1.0f - t[j] * t[j]) * r.scale;
    } else {
      for (long j = 0; j < n; j++) gr[j] = pr[j] * (gr[j] - d) * r.scale;
    }
  }
}

LMF_VEC_KERNEL(forward_rows, (float* sc, const Block& r, float* stats), (sc, r, stats))
LMF_VEC_KERNEL(backward_probs, (float* p, float* pd, float* capTanh, const Block& r, const float* stats), (p, pd, capTanh, r, stats))
LMF_VEC_KERNEL(backward_scores, (float* g, const float* p, const float* capTanh, const Block& r, const float* rowDot, float* dMask),
               (g, p, capTanh, r, rowDot, dMask))

/** The blocks of query rows of every (batch, head), with the keys each must compute worked out once per mask slice. */
struct Heads {
  const AttentionOperands& a;
  long groups, blocks;
  long maskB, maskH;        // mask slices: 1 where the mask broadcasts over batch / heads
  std::vector<long> keys;   // visible_keys per [maskB, maskH, block]

  explicit Heads(const AttentionOperands& ops) : a(ops), groups(ops.H / ops.Hkv), blocks((ops.T + kRows - 1) / kRows) {
    const long* ms = a.maskStrides;
    maskB = ms && ms[0] != 0 ? a.B : 1;
    maskH = ms && ms[1] != 0 ? a.H : 1;
    keys.assign((size_t)(maskB * maskH * blocks), a.S);
    if (a.mask) {
      parallel_for(keys.size(), 8, [&](size_t lo, size_t hi) {
        for (size_t e = lo; e < hi; e++) {
          const long tb = (long)e % blocks, bh = (long)e / blocks;
          keys[e] = visible_keys(raw_block(bh / maskH, bh % maskH, tb * kRows));
        }
      });
    }
  }
  // The block of rows [t0, t0 + rows) of head (b, h), computing every key.
  Block raw_block(long b, long h, long t0) const {
    const long* ms = a.maskStrides;
    return Block{a.mask ? a.mask + b * ms[0] + h * ms[1] : nullptr, ms ? ms[2] : 0, ms ? ms[3] : 0, a.keep,
                 (size_t)((b * a.H + h) * a.T + t0) * (size_t)a.S, t0, std::min(kRows, a.T - t0), a.S, a.S, a.scale, a.softcap, a.dropScale};
  }
  Block block(long b, long h, long t0) const {
    Block r = raw_block(b, h, t0);
    r.n = keys[(size_t)(((maskB > 1 ? b : 0) * maskH + (maskH > 1 ? h : 0)) * blocks + t0 / kRows)];
    return r;
  }
  long kvOffset(long b, long h) const { return (b * a.Hkv + h / groups) * a.cap * a.D; }
};

}  // namespace

void attention_blocks_forward(const AttentionOperands& a, float* out, float* stats) {
  const Heads hs(a);
  const auto rows = LMF_VEC_PICK(forward_rows);
  const long T = a.T, S = a.S, D = a.D;
  parallel_for((size_t)(a.B * a.H * hs.blocks), 1, [&](size_t lo, size_t hi) {
    std::vector<float> sc((size_t)(kRows * S));
    for (size_t task = lo; task < hi; task++) {
      const long tb = (long)task % hs.blocks, bh = (long)task / hs.blocks, b = bh / a.H, h = bh % a.H;
      const Block r = hs.block(b, h, tb * kRows);
      const long row0 = bh * T + r.t0;
      gemm_serial(a.q + row0 * D, a.k + hs.kvOffset(b, h), sc.data(), r.rows, r.n, D, false, true, false);
      rows(sc.data(), r, stats + 2 * row0);
      gemm_serial(sc.data(), a.v + hs.kvOffset(b, h), out + row0 * D, r.rows, D, r.n, false, false, false);
    }
  });
}

void attention_blocks_backward(const AttentionOperands& a, const float* out, const float* stats, const float* gOut, float* dq, float* dk, float* dv,
                              float* dMask) {
  const Heads hs(a);
  const auto probs = LMF_VEC_PICK(backward_probs);
  const auto scores = LMF_VEC_PICK(backward_scores);
  const long T = a.T, S = a.S, D = a.D, groups = hs.groups;
  // With shared key/value heads each query head's dK, dV go to its own slot first and are summed per group after.
  std::vector<float> perHead(groups > 1 ? (size_t)(2 * a.B * a.H * S * D) : 0);
  parallel_for((size_t)(a.B * a.H), 1, [&](size_t lo, size_t hi) {
    const size_t blockSize = (size_t)(kRows * S);
    std::vector<float> p(blockSize), g(blockSize), pd(a.keep ? blockSize : 0), capTanh(a.softcap > 0 ? blockSize : 0);
    float rowDot[kRows];
    for (size_t task = lo; task < hi; task++) {
      const long bh = (long)task, b = bh / a.H, h = bh % a.H;
      const float* kb = a.k + hs.kvOffset(b, h);
      const float* vb = a.v + hs.kvOffset(b, h);
      float* dkh = groups > 1 ? perHead.data() + (size_t)bh * S * D : dk + hs.kvOffset(b, h);
      float* dvh = groups > 1 ? perHead.data() + (size_t)(a.B * a.H + bh) * S * D : dv + hs.kvOffset(b, h);
      // Blocks may stop short of the last keys (visible_keys), so dK and dV start from zero and accumulate.
      std::fill(dkh, dkh + S * D, 0.0f);
      std::fill(dvh, dvh + S * D, 0.0f);
      for (long t0 = 0; t0 < T; t0 += kRows) {
        const Block r = hs.block(b, h, t0);
        const long row0 = bh * T + t0, rows = r.rows, n = r.n;
        const float* qr = a.q + row0 * D;
        const float* gr = gOut + row0 * D;
        gemm_serial(qr, kb, p.data(), rows, n, D, false, true, false);
        probs(p.data(), a.keep ? pd.data() : nullptr, a.softcap > 0 ? capTanh.data() : nullptr, r, stats + 2 * row0);
        gemm_serial(a.keep ? pd.data() : p.data(), gr, dvh, n, D, rows, true, false, true);  // dV += Pdᵀ·dO
        gemm_serial(gr, vb, g.data(), rows, n, D, false, true, false);                       // dPd = dO·Vᵀ
        for (long i = 0; i < rows; i++) {
          const float* o = out + (row0 + i) * D;
          const float* go = gr + i * D;
          float d = 0;
          for (long c = 0; c < D; c++) d += go[c] * o[c];
          rowDot[i] = d;
        }
        scores(g.data(), p.data(), a.softcap > 0 ? capTanh.data() : nullptr, r, rowDot, dMask ? dMask + row0 * S : nullptr);
        gemm_serial(g.data(), kb, dq + row0 * D, rows, D, n, false, false, false);  // dQ = dS·K
        gemm_serial(g.data(), qr, dkh, n, D, rows, true, false, true);              // dK += dSᵀ·Q
      }
    }
  });
  if (groups == 1) return;
  parallel_for((size_t)(a.B * a.Hkv), 1, [&](size_t lo, size_t hi) {
    for (size_t kvh = lo; kvh < hi; kvh++) {
      float* dkh = dk + kvh * S * D;
      float* dvh = dv + kvh * S * D;
      for (long gi = 0; gi < groups; gi++) {
        const float* sk = perHead.data() + (kvh * groups + gi) * S * D;
        const float* sv = perHead.data() + (a.B * a.H + kvh * groups + gi) * S * D;
        for (long c = 0; c < S * D; c++) dkh[c] = gi ? dkh[c] + sk[c] : sk[c], dvh[c] = gi ? dvh[c] + sv[c] : sv[c];
      }
    }
  });
}

}  // namespace lmf
