// GEMM timing and correctness harness (plain g++, see build.sh): times the working tree's lmf::gemm against a
// baseline build (namespace lmf_base) in the same process, alternating runs, and checks results against a
// double-precision triple loop.
//   gemm_harness check                         odd shapes × transposes × accumulate, 1 and 2 threads
//   gemm_harness time [threads] [reps] [shape...]   shape: MxKxN, optional suffix :ta :tb (e.g. 256x768x3072:tb)
//   gemm_harness sweep threads reps shape kc,kcCols,mc,nsl ...   the working tree's gemm with each blocking in
//                                              turn, rep by rep (so the machine's slow spells fall on all alike)
//   gemm_harness peer threads reps shape...    the working tree's gemm against OpenBLAS's cblas_sgemm (Debian's
//                                              libopenblas0-pthread, PyTorch's BLAS here), rep by rep, best and median
//   gemm_harness xtime threads reps shape...   as time, each rep after a cross-core latency probe, reported apart
//                                              for reps with the two vCPUs near (a shared L3) and far
//   ONLY_NEW=1 / ONLY_BASE=1 in the environment time one side alone: alternating runs of two builds in one
//   process slow both (each evicts the other's packed panels, and the idle pool's workers spin), so compare
//   one-sided processes run back to back as well. NEW_ISA=0|1|2 (generic, avx2, avx512) with NEW_TUNING=0|1|2|3
//   (this CPU's, intel, amd, zen4): the working tree's kernel set-up for another ISA or machine; BASE_ISA the
//   baseline's ISA (this CPU's tuning), so both sides' kernels for an older ISA compare on a newer CPU.
#include <algorithm>
#include <atomic>
#include <pthread.h>
#include <thread>
#include <chrono>
#include <dlfcn.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "pool.h"

namespace lmf_base {
enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };  // as lmf's (gemm.h)
enum class Tuning { cpu = 0, intel = 1, amd = 2, zen4 = 3 };
void gemm_set_isa(Isa isa, Tuning tuning);
void pool_set_threads(int n);
void gemm(const float* a, const float* b, float* c, long m, long n, long k, bool transA, bool transB, bool accumulate,
          const double* aOff, const double* bOff, const double* cOff, long batches);
}  // namespace lmf_base

namespace {

struct Shape {
  long m, k, n;
  bool ta = false, tb = false;
};

Shape parse(const std::string& s) {
  Shape sh{};
  std::sscanf(s.c_str(), "%ldx%ldx%ld", &sh.m, &sh.k, &sh.n);
  sh.ta = s.find(":ta") != std::string::npos;
  sh.tb = s.find(":tb") != std::string::npos;
  return sh;
}

uint64_t rng_state = 88172645463325252ull;
float urand() {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
}

using GemmFn = void (*)(const float*, const float*, float*, long, long, long, bool, bool, bool, const double*,
                        const double*, const double*, long);

void run(GemmFn f, const Shape& s, const float* a, const float* b, float* c, bool acc) {
  const double zero = 0;
  f(a, b, c, s.m, s.n, s.k, s.ta, s.tb, acc, &zero, &zero, &zero, 1);
}

int check() {
  const long sizes[] = {1, 2, 7, 12, 13, 31, 32, 33, 64, 65, 100, 144, 256, 257, 300};
  int bad = 0, total = 0;
  for (int threads : {1, 2}) {
    lmf::pool_set_threads(threads);
    for (long m : sizes)
      for (long n : sizes)
        for (long k : {1L, 5L, 33L, 257L, 600L, 1000L}) {
          if (m * n * k > 30000000) continue;
          for (int t = 0; t < 8; t++) {
            Shape s{m, k, n, (t & 1) != 0, (t & 2) != 0};
            const bool acc = (t & 4) != 0;
            std::vector<float> a(m * k), b(k * n), c(m * n), c0(m * n);
            for (auto& x : a) x = urand();
            for (auto& x : b) x = urand();
            for (auto& x : c0) x = urand();
            c = c0;
            run(lmf::gemm, s, a.data(), b.data(), c.data(), acc);
            double worst = 0;
            for (long i = 0; i < m; i++)
              for (long j = 0; j < n; j++) {
                double r = acc ? c0[i * n + j] : 0.0;
                for (long p = 0; p < k; p++)
                  r += (double)(s.ta ? a[p * m + i] : a[i * k + p]) * (s.tb ? b[j * k + p] : b[p * n + j]);
                worst = std::max(worst, std::fabs(r - c[i * n + j]));
              }
            total++;
            if (!(worst <= 1e-5 * std::sqrt((double)k) * 4 + 1e-6)) {
              bad++;
              std::printf("MISMATCH threads=%d %ldx%ldx%ld ta=%d tb=%d acc=%d max err %g\n", threads, m, k, n, s.ta, s.tb, acc, worst);
            }
          }
        }
  }
  std::printf("check: %d/%d cases ok\n", total - bad, total);
  return bad ? 1 : 0;
}

// side(0) and side(1), in the order that alternates with the rep r: in a fixed order the side run second gains
// from the first (see sweep).
template <class F>
void both_sides(int r, F&& side) {
  side(r % 2);
  side(1 - r % 2);
}

// FRESH_C=1: every run writes a newly allocated C (calloc, as a JS Float32Array is), page faults included.
double seconds(GemmFn f, const Shape& s, const float* a, const float* b, float* c) {
  static const bool fresh = std::getenv("FRESH_C") != nullptr;
  auto t0 = std::chrono::steady_clock::now();
  float* out = fresh ? static_cast<float*>(std::calloc(s.m * s.n, sizeof(float))) : c;
  run(f, s, a, b, out, false);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (fresh) std::memcpy(c, out, sizeof(float) * s.m * s.n), std::free(out);
  return dt;
}

int time(int threads, int reps, std::vector<Shape> shapes) {
  lmf::pool_set_threads(threads);
  lmf_base::pool_set_threads(threads);
  const double peak = lmf::measure_peak_gflops(0.3);
  std::printf("threads %d, peak %.0f GFLOP/s (best FMA run × threads)\n", threads, peak);
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c1(s.m * s.n), c2(s.m * s.n);
    for (auto& x : a) x = urand();
    for (auto& x : b) x = urand();
    static const bool onlyNew = std::getenv("ONLY_NEW") != nullptr, onlyBase = std::getenv("ONLY_BASE") != nullptr;
    double bestBase = 1e9, bestNew = 1e9;
    for (int r = 0; r < reps; r++) {
      both_sides(r, [&](int side) {
        if (side == 0 && !onlyNew) bestBase = std::min(bestBase, seconds(lmf_base::gemm, s, a.data(), b.data(), c1.data()));
        if (side == 1 && !onlyBase) bestNew = std::min(bestNew, seconds(lmf::gemm, s, a.data(), b.data(), c2.data()));
      });
    }
    const double fl = 2.0 * s.m * s.n * s.k / 1e9;
    std::printf("%5ldx%5ldx%5ld%s%s  ", s.m, s.k, s.n, s.ta ? " ta" : "   ", s.tb ? " tb" : "   ");
    if (onlyNew || onlyBase) {
      const double best = onlyNew ? bestNew : bestBase;
      std::printf("%s %6.1f GFLOP/s (%4.1f%% of peak)\n", onlyNew ? "new" : "base", fl / best, 100 * fl / best / peak);
    } else {
      double diff = 0;
      for (long i = 0; i < s.m * s.n; i++) diff = std::max(diff, (double)std::fabs(c1[i] - c2[i]));
      std::printf("base %6.1f  new %6.1f GFLOP/s (%4.1f%% -> %4.1f%% of peak)  new/base %.3f  maxdiff %.1e\n", fl / bestBase,
                  fl / bestNew, 100 * fl / bestBase / peak, 100 * fl / bestNew / peak, bestBase / bestNew, diff);
    }
    std::fflush(stdout);
  }
  return 0;
}

int sweep(int threads, int reps, const Shape& s, const std::vector<std::string>& configs) {
  lmf::pool_set_threads(threads);
  const double peak = lmf::measure_peak_gflops(0.3);
  std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  for (auto& x : a) x = urand();
  for (auto& x : b) x = urand();
  std::vector<std::vector<double>> times(configs.size());
  // Each rep starts at another config. In a fixed order the one run second gains from the first (Zen 3: K blocks
  // of 512 against 256, run second, read faster in 23 of 24 shape-runs, by medians, and level in the order
  // 512, 256, 512); so time, xtime and peer alternate their sides too.
  for (int r = 0; r < reps; r++)
    for (size_t j = 0; j < configs.size(); j++) {
      const size_t i = (j + r) % configs.size();
      long kc = 0, kcCols = 0, mc = 0, nsl = 0;
      std::sscanf(configs[i].c_str(), "%ld,%ld,%ld,%ld", &kc, &kcCols, &mc, &nsl);
      lmf::gemm_set_blocking(kc, kcCols, mc, nsl);
      times[i].push_back(seconds(lmf::gemm, s, a.data(), b.data(), c.data()));
    }
  const double fl = 2.0 * s.m * s.n * s.k / 1e9;
  std::printf("threads %d, peak %.0f GFLOP/s; %ldx%ldx%ld%s%s, best / median of %d\n", threads, peak, s.m, s.k, s.n, s.ta ? " ta" : "",
              s.tb ? " tb" : "", reps);
  for (size_t i = 0; i < configs.size(); i++) {
    std::sort(times[i].begin(), times[i].end());
    std::printf("  %-18s %6.1f / %6.1f GFLOP/s (%4.1f%% of peak)\n", configs[i].c_str(), fl / times[i][0], fl / times[i][reps / 2],
                100 * fl / times[i][0] / peak);
  }
  return 0;
}

// One-way latency (ns) of a cache line handed between CPUs 0 and 1 (4000 round trips): about 30 ns when the two
// vCPUs share an L3, 130-180 when the host has put them on different CCDs (Zen 4 machine; the host moves them).
double xcore_ns() {
  alignas(64) static std::atomic<int> flag{0};
  const auto pin = [](int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  };
  constexpr int N = 4000;
  flag = 0;
  std::thread t([&] {
    pin(1);
    for (int i = 0; i < N; i++) {
      while (flag.load(std::memory_order_acquire) != 2 * i + 1) {}
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  cpu_set_t old;
  pthread_getaffinity_np(pthread_self(), sizeof old, &old);
  pin(0);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < N; i++) {
    flag.store(2 * i + 1, std::memory_order_release);
    while (flag.load(std::memory_order_acquire) != 2 * i + 2) {}
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.join();
  pthread_setaffinity_np(pthread_self(), sizeof old, &old);
  return dt / N / 2 * 1e9;
}

// base and new alternating, each rep preceded by the cross-core latency probe; best / median per state
// (near: latency < 80 ns, far: the rest).
int xtime(int threads, int reps, const std::vector<Shape>& shapes) {
  lmf::pool_set_threads(threads);
  lmf_base::pool_set_threads(threads);
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
    for (auto& x : a) x = urand();
    for (auto& x : b) x = urand();
    std::vector<double> tb[2], tn[2];
    for (int r = 0; r < reps; r++) {
      const int far = xcore_ns() >= 80;
      both_sides(r, [&](int side) {
        (side ? tn : tb)[far].push_back(seconds(side ? lmf::gemm : lmf_base::gemm, s, a.data(), b.data(), c.data()));
      });
    }
    const double fl = 2.0 * s.m * s.n * s.k / 1e9;
    std::printf("%5ldx%5ldx%5ld%s%s", s.m, s.k, s.n, s.ta ? " ta" : "   ", s.tb ? " tb" : "   ");
    for (int f = 0; f < 2; f++) {
      if (tb[f].empty()) continue;
      std::sort(tb[f].begin(), tb[f].end());
      std::sort(tn[f].begin(), tn[f].end());
      const size_t n = tb[f].size();
      std::printf("  %s (%zu): base %5.1f / %5.1f  new %5.1f / %5.1f", f ? "far" : "near", n, fl / tb[f][0], fl / tb[f][n / 2],
                  fl / tn[f][0], fl / tn[f][n / 2]);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}

int peer(int threads, int reps, const std::vector<Shape>& shapes) {
  const char* lib = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0";
  void* h = dlopen(lib, RTLD_NOW);
  if (!h) {
    std::printf("peer: %s not found (apt-get install libopenblas0-pthread)\n", lib);
    return 1;
  }
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  const auto sgemm = reinterpret_cast<Sgemm>(dlsym(h, "cblas_sgemm"));
  reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"))(threads);
  lmf::pool_set_threads(threads);
  std::printf("threads %d, peak %.0f GFLOP/s; best / median of %d, lmforge and OpenBLAS alternating\n", threads,
              lmf::measure_peak_gflops(0.3), reps);
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n), d(s.m * s.n);
    for (auto& x : a) x = urand();
    for (auto& x : b) x = urand();
    std::vector<double> ours, theirs;
    for (int r = 0; r < reps; r++) {
      both_sides(r, [&](int side) {
        if (side == 0) {
          ours.push_back(seconds(lmf::gemm, s, a.data(), b.data(), c.data()));
          return;
        }
        const auto t0 = std::chrono::steady_clock::now();
        // row-major, op(A) M×K, op(B) K×N: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112
        sgemm(101, s.ta ? 112 : 111, s.tb ? 112 : 111, (int)s.m, (int)s.n, (int)s.k, 1.0f, a.data(), (int)(s.ta ? s.m : s.k), b.data(),
              (int)(s.tb ? s.k : s.n), 0.0f, d.data(), (int)s.n);
        theirs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      });
    }
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    double diff = 0;
    for (long i = 0; i < s.m * s.n; i++) diff = std::max(diff, (double)std::fabs(c[i] - d[i]));
    const double fl = 2.0 * s.m * s.n * s.k / 1e9;
    std::printf("%5ldx%5ldx%5ld%s%s  lmforge %6.1f / %6.1f  OpenBLAS %6.1f / %6.1f GFLOP/s  lmforge/OpenBLAS %.2f / %.2f  maxdiff %.1e\n",
                s.m, s.k, s.n, s.ta ? " ta" : "   ", s.tb ? " tb" : "   ", fl / ours[0], fl / ours[reps / 2], fl / theirs[0],
                fl / theirs[reps / 2], theirs[0] / ours[0], theirs[reps / 2] / ours[reps / 2], diff);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "time";
  if (const char* isa = std::getenv("NEW_ISA"))
    lmf::gemm_set_isa((lmf::Isa)std::atoi(isa), (lmf::Tuning)std::atoi(std::getenv("NEW_TUNING") ? std::getenv("NEW_TUNING") : "0"));
  if (const char* isa = std::getenv("BASE_ISA")) lmf_base::gemm_set_isa((lmf_base::Isa)std::atoi(isa), lmf_base::Tuning::cpu);
  if (mode == "check") return check();
  if (mode == "sweep" && argc > 5) return sweep(std::atoi(argv[2]), std::atoi(argv[3]), parse(argv[4]), std::vector<std::string>(argv + 5, argv + argc));
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 30;
  std::vector<Shape> shapes;
  for (int i = 4; i < argc; i++) shapes.push_back(parse(argv[i]));
  if (shapes.empty())
    for (const char* s : {"256x256x256", "512x512x512", "1024x1024x1024", "256x768x3072", "256x3072x768",
                          "256x768x3072:tb", "256x3072x768:tb", "768x256x3072:ta"})
      shapes.push_back(parse(s));
  return mode == "peer" ? peer(threads, reps, shapes) : mode == "xtime" ? xtime(threads, reps, shapes) : time(threads, reps, shapes);
}
