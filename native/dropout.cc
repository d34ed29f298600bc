// Dropout's keep decisions, drawn exactly as lmforge's Generator.random() draws them (xoshiro128**: two 32-bit
// outputs to 53 bits), split across the pool. xoshiro's state update is linear over GF(2), so each task starts
// from the state advanced by powers of the update matrix (a jump) instead of by drawing up to it, and runs as
// eight lanes a fixed jump apart in vector registers.
#include <algorithm>
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
constexpr int kLanes = 8, kLaneLog = 12;  // a full task as 8 lanes of 4096 draws, each its own update chain
static_assert((size_t)kLanes << kLaneLog == kChunk, "the lanes cover a task");

typedef uint32_t vu8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

LMF_INLINE vu8 vrotl(vu8 x, int k) { return (x << k) | (x >> (32 - k)); }

/**
 * The keep bits of a full task's kChunk draws, lane l's 4096 into words [128·l, 128·l + 128): one draw's update chain
 * is latency-bound (about 2.5 ns a draw), eight side by side in vector registers are not.
 */
template <class V>  // V unused: LMF_VEC_KERNEL compiles this once per ISA, picked by gemm_isa() as tests force it
LMF_INLINE void task_bits(const State* lanes, uint64_t th, uint32_t* words) {
  vu8 s0, s1, s2, s3;
  for (int l = 0; l < kLanes; l++) s0[l] = lanes[l].w[0], s1[l] = lanes[l].w[1], s2[l] = lanes[l].w[2], s3[l] = lanes[l].w[3];
  const auto next = [&]() LMF_LAMBDA {
    const vu8 result = vrotl(s1 * 5u, 7) * 9u, t = s1 << 9;
    s2 ^= s0, s3 ^= s1, s1 ^= s2, s0 ^= s3, s2 ^= t, s3 = vrotl(s3, 11);
    return result;
  };
  // a·2^26 + b ≥ th, in 32-bit lanes: a > th's high part, or equal to it with b ≥ its low 26 bits
  const vi8 thA = vi8{} + (int32_t)(th >> 26), thB = vi8{} + (int32_t)(th & ((1u << 26) - 1));
  constexpr int kWords = 1 << (kLaneLog - 5);
  for (int w = 0; w < kWords; w++) {
    vu8 word = {};
    for (int b = 0; b < 32; b++) {
      const vi8 a = (vi8)(next() >> 5), lo = (vi8)(next() >> 6);
      word |= (vu8)((a > thA) | ((a == thA) & (lo >= thB))) & (1u << b);
    }
    for (int l = 0; l < kLanes; l++) words[l * kWords + w] = word[l];
  }
}

/** out[i] = scale where bit i of words is set, else 0, for n a multiple of 32. */
template <class V>
LMF_INLINE void expand_mask(const uint32_t* words, float scale, float* out, size_t n) {
  for (size_t w = 0; w < n / 32; w++)
    for (long c = 0; c < 32; c += lanes<V>) vstore(out + w * 32 + c, bit_lanes<V>(words[w], c) ? splat<V>(scale) : V{});
}

LMF_VEC_KERNEL(task_bits, (const State* lanes, uint64_t th, uint32_t* words), (lanes, th, words))
LMF_VEC_KERNEL(expand_mask, (const uint32_t* words, float scale, float* out, size_t n), (words, scale, out, n))

/**
 * Runs over [0, n) in parallel and leaves `state` advanced past all n draws: full(words of the task's keep bits,
 * lo) for each full task, from task_bits, and part(state at draw lo, lo, hi) for a short last one (or all of a
 * short n).
 */
template <class Full, class Part>
void draw(uint32_t* state, size_t n, uint64_t th, Full full, Part part) {
  const State start{{state[0], state[1], state[2], state[3]}};
  State end = start;
  const size_t tasks = (n + kChunk - 1) / kChunk;
  if (tasks < 2) {
    part(end, 0, n);
  } else {
    const auto bits = LMF_VEC_PICK(task_bits);
    parallel_for(tasks, 1, [&](size_t lo, size_t hi) {
      std::vector<uint32_t> words(kChunk / 32);
      State lanes[kLanes];
      lanes[0] = jump(start, 2 * (uint64_t)(lo * kChunk));
      for (size_t t = lo; t < hi; t++) {
        const size_t first = t * kChunk;
        if (first + kChunk > n) {
          part(lanes[0], first, n);
          break;
        }
        for (int l = 1; l < kLanes; l++) lanes[l] = apply(powers()[kLaneLog + 1], lanes[l - 1]);
        bits(lanes, th, words.data());
        full(words.data(), first);
        lanes[0] = apply(powers()[kLaneLog + 1], lanes[kLanes - 1]);  // the next task's first lane
      }
    });
    end = jump(start, 2 * (uint64_t)n);
  }
  for (int j = 0; j < 4; j++) state[j] = end.w[j];
}

}  // namespace

void dropout_mask(uint32_t* state, double p, float scale, float* out, size_t n) {
  const uint64_t th = threshold(p);
  const auto expand = LMF_VEC_PICK(expand_mask);
  draw(state, n, th, [&](const uint32_t* words, size_t lo) { expand(words, scale, out + lo, kChunk); },
       [&](State& s, size_t lo, size_t hi) {
         for (size_t i = lo; i < hi; i++) out[i] = kept(s, th) ? scale : 0.0f;
       });
}

void dropout_bits(uint32_t* state, double p, uint32_t* out, size_t n) {
  const uint64_t th = threshold(p);
  draw(state, n, th, [&](const uint32_t* words, size_t lo) { std::copy(words, words + kChunk / 32, out + lo / 32); },
       [&](State& s, size_t lo, size_t hi) {
         for (size_t w = lo / 32; w * 32 < hi; w++) {
           uint32_t word = 0;
           for (size_t b = 0; b < 32 && w * 32 + b < hi; b++) word |= (uint32_t)kept(s, th) << b;
           out[w] = word;
         }
       });
}

}  // namespace lmf
