// A persistent pool of worker threads; the calling thread takes part too.
#pragma once
#include <cstddef>
#include <functional>

namespace lmf {

void pool_set_threads(int n);
int pool_threads();
/**
 * Runs `fn` on the calling thread and on up to n-1 workers that wake in time. fn must claim its work
 * dynamically (e.g. from an atomic counter) until none is left: the caller never waits for a worker that has
 * not started (on a busy machine it may be descheduled), only for those still running.
 */
void pool_run(int n, const std::function<void()>& fn);
/** Splits [0, total) into chunks of at least `grain` claimed by the pool's threads; inline when small. */
void parallel_for(size_t total, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace lmf
