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

// Workers spin for about 0.3 ms after a job (kernels arrive back to back during a forward pass, and a decode
// step runs tens of microseconds of small ops between its matrix-vector products), then sleep on a
// condition variable so an idle process does not burn a core.
constexpr int kSpinIterations = 16000;

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> open{false};      // the current job still accepts helpers
  std::atomic<int> running{0};        // helpers inside the current job
  std::atomic<int> seats{0};          // helpers the current job may still take
  const std::function<void()>* job = nullptr;
  bool stop = false;
  std::mutex run_mu;  // one job at a time

  void worker() {
    uint64_t seen = generation.load();
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
      // Register first, then check the job is still open: the caller closes it before waiting for
      // `running` to drain, so a late helper either is counted or leaves without touching the job.
      running.fetch_add(1);
      if (open.load() && seats.fetch_sub(1) > 0) (*job)();
      running.fetch_sub(1);
    }
  }

  void resize(int n) {
    shutdown();
    stop = false;
    for (int t = 1; t < n; t++) workers.emplace_back([this] { worker(); });
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

void pool_run(int n, const std::function<void()>& fn) {
  Pool& p = pool();
  if (n > (int)p.workers.size() + 1) n = (int)p.workers.size() + 1;
  if (n <= 1) {
    fn();
    return;
  }
  std::unique_lock<std::mutex> guard(p.run_mu, std::try_to_lock);
  if (!guard.owns_lock()) {  // a job is already running (nested or from another thread): do it here
    fn();
    return;
  }
  p.job = &fn;
  p.seats.store(n - 1);
  p.open.store(true);
  {
    std::lock_guard<std::mutex> l(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  fn();
  p.open.store(false);
  while (p.running.load() != 0) LMF_PAUSE();
}

void parallel_for(size_t total, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (total == 0) return;
  const int n = pool_threads();
  if (grain < 1) grain = 1;
  if (n <= 1 || total < 2 * grain) {
    fn(0, total);
    return;
  }
  // A few chunks per thread so a thread that starts late (or is preempted) leaves work to the others.
  size_t chunks = std::min(total / grain, (size_t)n * 4);
  std::atomic<size_t> next{0};
  pool_run(n, [&] {
    for (size_t c; (c = next.fetch_add(1)) < chunks;) fn(total * c / chunks, total * (c + 1) / chunks);
  });
}

}  // namespace lmf
