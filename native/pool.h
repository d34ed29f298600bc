// A persistent pool of worker threads; the calling thread takes part as thread 0.
#pragma once
#include <cstddef>
#include <functional>

namespace lmf {

void pool_set_threads(int n);
int pool_threads();
/** Runs fn(tid, nthreads) on `n` threads (n clamped to the pool size) and waits for all of them. */
void pool_run(int n, const std::function<void(int, int)>& fn);
/** Splits [0, total) into contiguous ranges; runs inline when the work is smaller than 2 grains. */
void parallel_for(size_t total, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace lmf
