// Dropout's keep decisions, drawn exactly as lmforge's Generator.random() draws them (xoshiro128**: two 32-bit
// outputs to 53 bits), split across the pool. xoshiro's state update is linear over GF(2), so each thread starts
// its share from the state advanced by powers of the update matrix (a jump) instead of by drawing up to it.
#include <cmath>
#include <cstdint>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace lmf {
namespace {

struct State {
  uint32_t w[4];
};

LMF_INLINE uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

LMF_INLINE uint32_t next(State& s) {
  uint32_t &s0 = s.w[0], &s1 = s.w[1], &s2 = s.w[2], &s3 = s.w[3];
  const uint32_t result = rotl(s1 * 5, 7) * 9, t = s1 << 9;
  s2 ^= s0, s3 ^= s1, s1 ^= s2, s0 ^= s3, s2 ^= t, s3 = rotl(s3, 11);
  return result;
}

/** A linear map of the 128-bit state, by columns: col[i] is the image of the state with only bit i set. */
struct Matrix {
  State col[128];
};

State apply(const Matrix& m, const State& s) {
  State r{};
  for (int i = 0; i < 128; i++)
    if ((s.w[i >> 5] >> (i & 31)) & 1u)
      for (int j = 0; j < 4; j++) r.w[j] ^= m.col[i].w[j];
  return r;
}

/** The update matrix raised to 2^k, k < 64. */
const std::vector<Matrix>& powers() {
  static const std::vector<Matrix> table = [] {
    std::vector<Matrix> p(64);
    for (int i = 0; i < 128; i++) {
      State e{};
      e.w[i >> 5] = 1u << (i & 31);
      next(e);
      p[0].col[i] = e;
    }
    for (int k = 1; k < 64; k++)
      for (int i = 0; i < 128; i++) p[k].col[i] = apply(p[k - 1], p[k - 1].col[i]);
    return p;
  }();
  return table;
}

State jump(State s, uint64_t updates) {
  for (int k = 0; updates; k++, updates >>= 1)
    if (updates & 1u) s = apply(powers()[k], s);
  return s;
}

/** u = (a·2^26 + b) / 2^53 ≥ p exactly when the 53-bit integer a·2^26 + b ≥ ceil(p·2^53) (p·2^53 is exact). */
uint64_t threshold(double p) {
  if (!(p > 0)) return 0;
  return p >= 1 ? (1ull << 53) : (uint64_t)std::ceil(p * 9007199254740992.0);
}

LMF_INLINE bool kept(State& s, uint64_t th) {
  const uint64_t a = next(s) >> 5, b = next(s) >> 6;
  return ((a << 26) | b) >= th;
}

constexpr size_t kChunk = 1 << 15;  // draws per task (a multiple of 32, so tasks write whole words of bits)

/** Runs body(state at draw lo, lo, hi) over [0, n) in parallel and leaves `state` advanced past all n draws. */
template <class F>
void draw(uint32_t* state, size_t n, F body) {
  const State start{{state[0], state[1], state[2], state[3]}};
  State end = start;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks < 2 || pool_threads() == 1) {
    body(end, 0, n);
  } else {
    parallel_for(chunks, 1, [&](size_t lo, size_t hi) {
      State s = jump(start, 2 * (uint64_t)(lo * kChunk));
      body(s, lo * kChunk, std::min(n, hi * kChunk));
    });
    end = jump(start, 2 * (uint64_t)n);
  }
  for (int j = 0; j < 4; j++) state[j] = end.w[j];
}

}  // namespace

void dropout_mask(uint32_t* state, double p, float scale, float* out, size_t n) {
  const uint64_t th = threshold(p);
  draw(state, n, [&](State& s, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = kept(s, th) ? scale : 0.0f;
  });
}

void dropout_bits(uint32_t* state, double p, uint32_t* out, size_t n) {
  const uint64_t th = threshold(p);
  draw(state, n, [&](State& s, size_t lo, size_t hi) {
    for (size_t w = lo / 32; w * 32 < hi; w++) {
      uint32_t word = 0;
      for (size_t b = 0; b < 32 && w * 32 + b < hi; b++) word |= (uint32_t)kept(s, th) << b;
      out[w] = word;
    }
  });
}

}  // namespace lmf
