#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#define LMF_PAUSE() _mm_pause()
#else
#define LMF_PAUSE() std::this_thread::yield()
#endif

namespace lmf {
namespace {

// Workers spin briefly after a job (kernels arrive back to back during a forward pass), then sleep on a
// condition variable so an idle process does not burn a core.
constexpr int kSpinIterations = 20000;

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  const std::function<void(int, int)>* job = nullptr;
  int active = 1;  // threads taking part in the current job
  bool stop = false;
  std::mutex run_mu;  // one job at a time (Node calls in from one thread, but worker_threads may too)

  void worker(int tid) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      int spins = 0;
      while ((g = generation.load(std::memory_order_acquire)) == seen) {
        if (++spins < kSpinIterations) {
          LMF_PAUSE();
          continue;
        }
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        if (stop) return;
      }
      seen = g;
      if (tid < active) {
        (*job)(tid, active);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  void resize(int n) {
    shutdown();
    stop = false;
    for (int t = 1; t < n; t++) workers.emplace_back([this, t] { worker(t); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }

  ~Pool() { shutdown(); }
};

Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();  // leaked on purpose: no joins during static destruction at process exit
    int n = (int)std::thread::hardware_concurrency();
    if (const char* env = std::getenv("LMFORGE_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) n = v;
    }
    q->resize(n < 1 ? 1 : n);
    return q;
  }();
  return *p;
}

}  // namespace

void pool_set_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.run_mu);
  p.resize(n < 1 ? 1 : n);
}

int pool_threads() { return (int)pool().workers.size() + 1; }

void pool_run(int n, const std::function<void(int, int)>& fn) {
  Pool& p = pool();
  int total = (int)p.workers.size() + 1;
  if (n > total) n = total;
  if (n <= 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> lock(p.run_mu);
  p.job = &fn;
  p.active = n;
  p.pending.store(n - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> l(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  fn(0, n);
  while (p.pending.load(std::memory_order_acquire) != 0) LMF_PAUSE();
}

void parallel_for(size_t total, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (total == 0) return;
  int n = pool_threads();
  if (grain < 1) grain = 1;
  size_t maxByGrain = total / grain;
  if ((size_t)n > maxByGrain) n = (int)maxByGrain;
  if (n <= 1) {
    fn(0, total);
    return;
  }
  pool_run(n, [&](int tid, int nt) {
    size_t lo = total * (size_t)tid / (size_t)nt, hi = total * (size_t)(tid + 1) / (size_t)nt;
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace lmf
