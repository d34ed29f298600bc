#pragma once
#include <cstddef>

namespace lmf {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };
/**
 * Whose blocking an AVX-512 GEMM uses: the running CPU's, or the one named (tests run each anywhere). amd: Zen 5
 * and other AMD CPUs; zen4: AMD family 19h with AVX-512.
 */
enum class Tuning { cpu = 0, intel = 1, amd = 2, zen4 = 3 };

Isa gemm_best_isa();
Isa gemm_isa();
/**
 * Forces a micro-kernel (tests exercise every path on one machine); clamped to what the CPU supports. The kernels of
 * LMF_VEC_KERNEL (common.h) follow gemm_isa() too.
 */
void gemm_set_isa(Isa isa, Tuning tuning = Tuning::cpu);

/** Overrides the current micro-kernel's blocking (values <= 0 keep it): bench/native's tuning sweeps. */
void gemm_set_blocking(long kc, long kcCols, long mc, long nsl);

/**
 * GFLOP/s of independent FMA chains (best ISA). window <= 0: one core's best short burst (0.3 ms) times the pool's
 * threads, over about `seconds`. window > 0: every pool thread at once in calls about `window` seconds long, each
 * timed from dispatch to join (as a product is): the best call.
 */
double measure_peak_gflops(double seconds, double window = 0);

/**
 * Batched C = op(A)·op(B) (+ C when accumulate), op(A) M×K, op(B) K×N, row-major, offsets per batch.
 * Batches that write the same C run one after another; each is parallelized inside.
 */
void gemm(const float* a, const float* b, float* c, long m, long n, long k, bool transA, bool transB, bool accumulate,
          const double* aOff, const double* bOff, const double* cOff, long batches);

/**
 * One product C = op(A)·op(B) (+ C) on the calling thread only, for kernels that already run inside a pool
 * task (the blocks of fused training attention).
 */
void gemm_serial(const float* a, const float* b, float* c, long m, long n, long k, bool transA, bool transB, bool accumulate);

/** One product of gemv_rows_many: y (+)= x · Wᵀ for W [rows, k] (nn.Linear's layout); accumulate adds to y. */
struct GemvRows {
  const float* w;
  float* y;
  long rows;
  bool accumulate;
};
/**
 * Several one-row products of the same x [k] in one parallel pass (a decode step's q/k/v or gate/up
 * projections): one dispatch and one join for all, and small products share the threads' streams.
 */
void gemv_rows_many(const float* x, long k, const GemvRows* products, int count);

}  // namespace lmf
