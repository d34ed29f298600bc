// Packed, cache-blocked f32 GEMM (the BLIS scheme): op(B) is packed into NR-wide column slivers, op(A) into
// MR-tall row slivers per thread, and a register-blocked micro-kernel computes each MR×NR tile of C.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common.h"
#include "pool.h"
#if LMF_X86
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace lmf {
namespace {

constexpr long kBPanelFloats = 4L << 20;  // packed B panel (16 MiB, in L3): one panel, two barriers, for most shapes
constexpr long kAPanelFloats = 8L << 20;  // packed A (32 MiB) up to which the column split takes products that are not wide
// Packed B block (1 MiB) up to which a wide column-split item takes its columns (Zen 3, 2 threads: against 4 MiB,
// 256×768×3072 +1-7%, the others within noise).
constexpr long kWideItemFloats = 1L << 18;
constexpr long kPackSlivers = 4;  // B slivers packed per claim: 4×32 floats = 512 contiguous bytes read per row
constexpr long MAX_MR = 14, MAX_NR = 32;

using Ukr = void (*)(long kc, const float* a, const float* b, float* c, long ldc, bool add);
// Full tile that reads op(B) rows unpacked (stride ldb) and packs them into bdst as it goes.
using UkrPackB = void (*)(long kc, const float* a, const float* b, long ldb, float* bdst, float* c, long ldc, bool add);
// Full tile that also prefetches rows pf + i·ldpf (both halves of 32 floats) for i < kc/2 into L2.
using UkrPf = void (*)(long kc, const float* a, const float* b, const float* pf, long ldpf, float* c, long ldc, bool add);
// Full tile that reads op(A) rows unpacked (row i at a + i·lda) and, when adst is given, packs them into it.
using UkrRowsA = void (*)(long kc, const float* a, long lda, float* adst, const float* b, float* c, long ldc, bool add);

// Portable micro-kernel (4×16): plain loops the compiler vectorizes for the baseline ISA.
void ukr_generic(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b, float* LMF_RESTRICT c, long ldc, bool add) {
  float acc[4][16] = {};
  for (long p = 0; p < kc; p++) {
    for (int i = 0; i < 4; i++) {
      const float ai = a[p * 4 + i];
      for (int j = 0; j < 16; j++) acc[i][j] += ai * b[p * 16 + j];
    }
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 16; j++) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if LMF_X86
// AVX2 + FMA: R×16 tile, 2R ymm accumulators; R = 6 is the main kernel (12 chains cover two FMA pipes × latency
// 4, and 12 accumulators + 2 B vectors + 1 broadcast fit the 16 registers), smaller R serve the last rows of C.
// AROWS as in the AVX-512 body below. There is no form that packs B as it goes (PACK below): on Zen 3 such a tile
// reads B's rows a page walk apart and ran 4-8× as slow as a plain tile; a packing pass per block costs less.
// Not one template with the AVX-512 body: each is tuned on its own machine, and only one of them is measured here.
template <int R, bool AROWS = false>
__attribute__((target("avx2,fma"), always_inline)) inline void ukr_avx2_body(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b,
                                                                             float* LMF_RESTRICT c, long ldc, bool add, long lda = 0,
                                                                             float* LMF_RESTRICT adst = nullptr) {
  static_assert(!AROWS || R == 6, "rows of A are read in two groups of three");
  const long l1 = lda, l2 = 2 * lda;
  const float *a0 = a, *a3 = a + 3 * lda;
  __m256 acc[R][2];
  // The C tile is read only at the end: fetch it now while the loop runs.
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) {
    _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + i * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  // Unrolled: fewer loop µops per FMA (Zen 3, kernel alone on L2-resident panels: 8-12% faster on average,
  // best runs 2-5%; this machine's cores are shared, and the fewer µops the less the sharing costs).
#pragma GCC unroll 4
  for (long p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    if (!AROWS) _mm_prefetch((const char*)(a + R * 8), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
      const float* row = i < 3 ? a0 : a3;
      const long off = i % 3 == 0 ? 0 : i % 3 == 1 ? l1 : l2;
      const __m256 ai = _mm256_broadcast_ss(AROWS ? row + off : a + i);
      if (AROWS && adst) adst[i] = _mm256_cvtss_f32(ai);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    if (AROWS) {
      a0++, a3++;
      if (adst) adst += R;
    } else {
      a += R;
    }
    b += 16;
  }
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) {
    float* row = c + i * ldc;
    if (add) {
      acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
      acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[i][0]);
    _mm256_storeu_ps(row + 8, acc[i][1]);
  }
}

template <int R>
__attribute__((target("avx2,fma"))) void ukr_avx2(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b,
                                                   float* LMF_RESTRICT c, long ldc, bool add) {
  ukr_avx2_body<R>(kc, a, b, c, ldc, add);
}
__attribute__((target("avx2,fma"))) void ukr_avx2_rowsa(long kc, const float* LMF_RESTRICT a, long lda, float* LMF_RESTRICT adst,
                                                         const float* LMF_RESTRICT b, float* LMF_RESTRICT c, long ldc, bool add) {
  // two inlined copies, so the one that only reads has no store test in its loop
  if (adst) ukr_avx2_body<6, true>(kc, a, b, c, ldc, add, lda, adst);
  else ukr_avx2_body<6, true>(kc, a, b, c, ldc, add, lda, nullptr);
}

// AVX-512: R×32 tile, 2R zmm accumulators; R = 12 or 14 is the main kernel (two FMA pipes × latency 4 need at
// least 8 chains in flight, and up to 28 accumulators + 2 B vectors + 1 broadcast fit the 32 registers). Smaller
// R serve the last rows of C so edge tiles do no wasted arithmetic. The k loop is unrolled by two (fewer loop µops
// per FMA; on the Intel machine of kernel_for, 14 rows alone on cached panels: 0-6% faster).
// PACK: B is read unpacked, row p at b + p·ldb (row-major op(B)), and each row's 32 floats are also stored to
// bdst, packing the sliver for the tiles that follow while this one computes (the loads overlap the FMAs
// instead of a separate packing pass that waits on memory). PF: each step also prefetches into L2 one half-row
// of row-major B at pf (row p/2, stride ldb), the rows the next packing tile will read.
// AROWS: A is read unpacked, row i at a + i·lda (row-major op(A)), and stored packed to adst when it is given:
// the A sliver is packed by the first tile that needs it, its loads hidden under that tile's FMAs.
template <int R, bool PACK, bool PF = false, bool AROWS = false>
__attribute__((target("avx512f,fma"), always_inline)) inline void ukr_avx512_body(
    long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b, long ldb, float* LMF_RESTRICT bdst,
    float* LMF_RESTRICT c, long ldc, bool add, const float* pf = nullptr, long lda = 0, float* LMF_RESTRICT adst = nullptr) {
  static_assert(!AROWS || R == 12 || R == 14, "rows of A are read in groups of four");
  const long l1 = lda, l2 = 2 * lda, l3 = 3 * lda;
  const float *a0 = a, *a4 = a + 4 * lda, *a8 = a + 8 * lda, *a12 = a + 12 * lda;
  __m512 acc[R][2];
  // The C tile is read only at the end: fetch it now (it is usually far away in L3) while the loop runs.
#pragma GCC unroll 14
  for (int i = 0; i < R; i++) {
    _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + i * ldc + 31), _MM_HINT_T0);
  }
#pragma GCC unroll 14
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (long p = 0; p < kc; p++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    if (!AROWS) _mm_prefetch((const char*)(a + R * 8), _MM_HINT_T0);
    if (PF) _mm_prefetch((const char*)(pf + (p >> 1) * ldb + (p & 1) * 16), _MM_HINT_T1);
    if (PACK) {
      _mm512_store_ps(bdst, b0);
      _mm512_store_ps(bdst + 16, b1);
      bdst += 32;
    }
#pragma GCC unroll 14
    for (int i = 0; i < R; i++) {
      const float* row = i < 4 ? a0 : i < 8 ? a4 : i < 12 ? a8 : a12;
      const long off = i % 4 == 0 ? 0 : i % 4 == 1 ? l1 : i % 4 == 2 ? l2 : l3;
      const __m512 ai = _mm512_set1_ps(AROWS ? row[off] : a[i]);
      if (AROWS && adst) adst[i] = _mm512_cvtss_f32(ai);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    if (AROWS) {
      a0++, a4++, a8++, a12++;
      if (adst) adst += R;
    } else {
      a += R;
    }
    b += PACK ? ldb : 32;
  }
#pragma GCC unroll 14
  for (int i = 0; i < R; i++) {
    float* row = c + i * ldc;
    if (add) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(row));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}

template <int R>
__attribute__((target("avx512f,fma"))) void ukr_avx512(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b,
                                                        float* LMF_RESTRICT c, long ldc, bool add) {
  ukr_avx512_body<R, false>(kc, a, b, 32, nullptr, c, ldc, add);
}
__attribute__((target("avx512f,fma"))) void ukr_avx512_pf(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b,
                                                           const float* pf, long ldpf, float* LMF_RESTRICT c, long ldc, bool add) {
  ukr_avx512_body<12, false, true>(kc, a, b, ldpf, nullptr, c, ldc, add, pf);
}
template <int R>
__attribute__((target("avx512f,fma"))) void ukr_avx512_rowsa(long kc, const float* LMF_RESTRICT a, long lda, float* LMF_RESTRICT adst,
                                                              const float* LMF_RESTRICT b, float* LMF_RESTRICT c, long ldc, bool add) {
  // two inlined copies, so the one that only reads has no store test in its loop
  if (adst) ukr_avx512_body<R, false, false, true>(kc, a, b, 32, nullptr, c, ldc, add, nullptr, lda, adst);
  else ukr_avx512_body<R, false, false, true>(kc, a, b, 32, nullptr, c, ldc, add, nullptr, lda, nullptr);
}
__attribute__((target("avx512f,fma"))) void ukr_avx512_packb(long kc, const float* LMF_RESTRICT a, const float* LMF_RESTRICT b,
                                                              long ldb, float* LMF_RESTRICT bdst, float* LMF_RESTRICT c, long ldc, bool add) {
  ukr_avx512_body<12, true>(kc, a, b, ldb, bdst, c, ldc, add);
}
#endif

struct Kernel {
  Isa isa;
  long mr, nr;
  // Blocking, per machine: K depth of a packed block on the shared-panel path and on the column split, rows of
  // A per block (a multiple of mr), B slivers per column-split work item.
  long kc, kcCols, mc, nsl;
  // Column split: false, items of about nsl slivers (B block in L2); true, two items per thread where they fit
  // kWideItemFloats, B packed a block of whole item-wide rows at a time and then used nsl slivers at a time
  // (Zen 3: reading B's rows 512 bytes at a time, as narrow items do, streamed at half the rate of whole rows
  // once other traffic had come between two blocks), and products deeper than wide packing B a k block at a time
  // with all threads (gemm_cols_shared_b). Two items per thread, not one, so a thread slowed by another tenant's
  // work hands some of its share over.
  bool wideItems;
  // Products deeper than wide with at most this many row blocks, and a B of at most one panel, take the column
  // split instead (0: never).
  long deepColsBlocks;
  Ukr ukr;
  const Ukr* edge;  // edge[h]: kernel for h < mr rows (A slivers packed h tall), or null: full kernel into a tile
  UkrPackB packB;   // or null
  UkrPf prefetching;  // or null
  UkrRowsA rowsA;     // or null
};

#if LMF_X86
const Ukr kEdge256[6] = {nullptr, ukr_avx2<1>, ukr_avx2<2>, ukr_avx2<3>, ukr_avx2<4>, ukr_avx2<5>};
const Ukr kEdge512[14] = {nullptr, ukr_avx512<1>, ukr_avx512<2>, ukr_avx512<3>, ukr_avx512<4>, ukr_avx512<5>, ukr_avx512<6>,
                          ukr_avx512<7>, ukr_avx512<8>, ukr_avx512<9>, ukr_avx512<10>, ukr_avx512<11>, ukr_avx512<12>, ukr_avx512<13>};
#endif

#if LMF_X86
// AMD family 19h (Zen 3 and Zen 4; of these only Zen 4 has AVX-512).
bool is_zen4() {
  unsigned eax, ebx, ecx, edx;
  if (!__builtin_cpu_is("amd") || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const unsigned family = ((eax >> 8) & 0xf) + (((eax >> 8) & 0xf) == 0xf ? (eax >> 20) & 0xff : 0);
  return family == 0x19 && __builtin_cpu_supports("avx512f");
}
#endif

Kernel kernel_for(Isa isa, Tuning tuning) {
#if LMF_X86
  if (isa == Isa::avx512) {
    // Intel (a Sapphire Rapids-class Xeon, 48 KiB L1d, 2 MiB L2; one-sided runs, best of 4×15, against the Zen 5
    // set-up below): 14 rows (28 accumulators; 12 rows reached 0.92-0.96× of it over the same products); B packed
    // per block before its tiles, not by the first row block's tiles as it goes (those tiles ran at a sixth of
    // the speed of the others here: 256×768×3072 +3-13%, 768×768×3072 +6-9%); one K block up to 1024 deep
    // (1024³ +3-5%: the second block's pass over C was the cost); the wide items and the deeper-than-wide path
    // of the Zen 3 set-up, but the column split for deep products of up to three row blocks (gemm_one).
    if (tuning == Tuning::intel || (tuning == Tuning::cpu && __builtin_cpu_is("intel")))
      return {Isa::avx512, 14, 32, 512, 1024, 140, 8, true, 3, ukr_avx512<14>, kEdge512, nullptr, nullptr, ukr_avx512_rowsa<14>};
    // Zen 4 (32 KiB L1d, 1 MiB L2, AVX-512 on 256-bit pipes; against the Zen 5 set-up, one process, alternating,
    // 2 threads): the tiles that pack B as they go ran about five times slower than the others (a fifth of the
    // samples of 256×3072×768 in a twentieth of its tiles), so B is packed before its tiles: 256×768×3072
    // 1.05-1.16×, 256×3072×768 1.05-1.14×, 1024³ 1.01-1.05× (as in BENCHMARKS.md). Wide items, and the deeper-than-wide path (B packed
    // by all threads together) only where A has more than three row blocks: the host moves the two vCPUs between
    // a shared L3 and two (a cache line handed across: 30 or 170 ns), and in some minutes 256×3072×768 on that
    // path fell to 120-130 GFLOP/s while the column split, where each thread packs its own B, held 150-175.
    // Blocking as on Zen 5 (K 256-1024, 96-192 rows, 4-16 slivers an item: all within 2%).
    if (tuning == Tuning::zen4 || (tuning == Tuning::cpu && is_zen4()))
      return {Isa::avx512, 12, 32, 512, 768, 144, 8, true, 3, ukr_avx512<12>, kEdge512, nullptr, nullptr, ukr_avx512_rowsa<12>};
    // Zen 5 (48 KiB L1d, 1 MiB L2): deeper blocks than "B micro-panel in L1" win, since the kernel hides L2
    // latency and every extra K block costs one more read and write of the C tile; K = 768 covers GPT-2's in one.
    return {Isa::avx512, 12, 32, 512, 768, 144, 8, false, 0, ukr_avx512<12>, kEdge512, ukr_avx512_packb, ukr_avx512_pf, ukr_avx512_rowsa<12>};
  }
  if (isa == Isa::avx2) return {Isa::avx2, 6, 16, 256, 256, 144, 8, true, 0, ukr_avx2<6>, kEdge256, nullptr, nullptr, ukr_avx2_rowsa};
#endif
  return {Isa::generic, 4, 16, 512, 768, 144, 8, false, 0, ukr_generic, nullptr, nullptr, nullptr, nullptr};
}

Isa detect() {
#if LMF_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::generic;
}

Kernel& current() {
  static Kernel k = kernel_for(detect(), Tuning::cpu);
  return k;
}

// Plain 64-byte-aligned buffers. Not madvise(MADV_HUGEPAGE): with glibc serving large blocks from the heap
// (addon.cc turns mmap off), the advice stays on heap ranges that later hold Node's array buffers, and a
// GPT-2-124M training step ran at half speed (faulting and zeroing 2 MiB pages).
float* aligned_floats(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  return static_cast<float*>(std::aligned_alloc(64, bytes < 64 ? 64 : bytes));
}

// Reusable per-thread scratch: the calling thread's B panel is shared by the threads of one product; each
// thread packs its A blocks into its own buffer.
struct Scratch {
  float* bpanel = nullptr;
  size_t bcap = 0;
  float* ablock = nullptr;
  size_t acap = 0;
  ~Scratch() {
    std::free(bpanel);
    std::free(ablock);
  }
  float* b(size_t n) {
    if (n > bcap) {
      std::free(bpanel);
      bpanel = aligned_floats(n);
      bcap = n;
    }
    return bpanel;
  }
  float* a(size_t n) {
    if (n > acap) {
      std::free(ablock);
      ablock = aligned_floats(n);
      acap = n;
    }
    return ablock;
  }
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

struct Op {
  const float* a;
  const float* b;
  float* c;
  long m, n, k;
  bool ta, tb, acc;
  float opA(long i, long p) const { return ta ? a[p * m + i] : a[i * k + p]; }
  float opB(long p, long j) const { return tb ? b[j * k + p] : b[p * n + j]; }
};

#if LMF_X86
// dst[q·ld + i] = src[i·lds + q] for i < rows (≤ 16), q < cols: 16×16 register transposes, so packing a
// row-major operand into k-major slivers reads whole vectors and writes each k step at once (the scalar
// form stored one float per cache line touched and cost 8% of a 1024³ product).
__attribute__((target("avx512f"))) void transpose_rows(const float* LMF_RESTRICT src, long lds, long rows, long cols,
                                                       float* LMF_RESTRICT dst, long ld) {
  const __mmask16 rowMask = (__mmask16)((1u << rows) - 1);
  for (long q = 0; q < cols; q += 16) {
    const long n = std::min(16L, cols - q);
    const __mmask16 colMask = (__mmask16)((1u << n) - 1);
    __m512 r[16], t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(colMask, src + i * lds + q) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 16; h += 8) {
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) {
        t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
        t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xDD);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
      r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
    }
#pragma GCC unroll 16
    for (int c = 0; c < 16; c++)
      if (c < n) _mm512_mask_storeu_ps(dst + (q + c) * ld, rowMask, r[c]);
  }
}

// The same with 8×8 AVX2 transposes, rows ≤ 8 (Zen 3, 2 threads: products with B transposed 1.08-1.16× faster
// than through the scalar loop).
__attribute__((target("avx2"))) void transpose_rows_avx2(const float* LMF_RESTRICT src, long lds, long rows, long cols,
                                                        float* LMF_RESTRICT dst, long ld) {
  const __m256i rowMask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  long q = 0;
  for (; q + 8 <= cols; q += 8) {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) r[i] = i < rows ? _mm256_loadu_ps(src + i * lds + q) : _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    // Whole-vector stores where all eight lanes land inside the block (lanes past ld are overwritten by the
    // columns after): Zen 3's masked stores are slow (256×768×3072 with B transposed 1.07-1.11×, 1 and 2 threads).
    // The block's last columns are masked.
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      if ((q + c) * ld + 8 <= cols * ld) _mm256_storeu_ps(dst + (q + c) * ld, t[c]);
      else _mm256_maskstore_ps(dst + (q + c) * ld, rowMask, t[c]);
    }
  }
  for (; q < cols; q++)
    for (long i = 0; i < rows; i++) dst[q * ld + i] = src[i * lds + q];
}
#endif

bool has_avx512() {
  static const bool yes = detect() == Isa::avx512;
  return yes;
}
bool has_avx2() {
  static const bool yes = detect() >= Isa::avx2;
  return yes;
}

// Packs op(B)[p0:p0+kc, j0 + s·nr ...] for slivers s in [s0, s1) of nr columns each (zero-padded past column
// jEnd), sliver s at dst + (s - s0)·kc·nr laid out kc×nr. Untransposed B is walked row by row (one contiguous
// read per row of the range) so the reads stream even when rows are a power-of-two apart; its rows are often a
// page or more apart, and the hardware prefetchers do not run ahead of such a sweep, so each row is fetched
// eight rows before it is copied (256×3072×768 on Zen 3, 2 threads: 1.04-1.13× faster). Rows are copied eight at
// a time into each sliver, so the slivers' pages (each sliver its own) change every eight lines written, not every
// line (Zen 3, against row by row: 256×768×3072 1.03-1.08×, 1 and 2 threads; on 1 thread pack_b_rows' share of
// the product's samples 12.7% -> 6.8%; four or sixteen rows a time: level, or 2-5% slower than eight).
// pack_b_rows packs rows [pA, pB) of the kc.
void pack_b_rows(const Op& o, long p0, long kc, long j0, long jEnd, long nr, float* dst, long s0, long s1, long pA, long pB) {
  constexpr long kAhead = 8;
  const long full = std::max(s0, std::min(s1, (jEnd - j0) / nr));  // slivers with all nr columns present
  const long width = std::min(jEnd - j0, s1 * nr) - s0 * nr;
  const auto fetch = [&](long p) {
    const float* row = o.b + (p0 + p) * o.n + j0 + s0 * nr;
    for (long q = 0; q < width; q += 16) __builtin_prefetch(row + q);
    __builtin_prefetch(row + width - 1);
  };
  for (long p = pA; p < std::min(pB, pA + kAhead) && width > 0; p++) fetch(p);
  for (long pb = pA; pb < pB; pb += kAhead) {
    const long pe = std::min(pB, pb + kAhead);
    for (long p = pe; p < std::min(pB, pe + kAhead) && width > 0; p++) fetch(p);
    const float* src = o.b + (p0 + pb) * o.n + j0;
    if (nr == 16)  // a copy of known size compiles to a few vector moves instead of a call per 64 bytes
      for (long s = s0; s < full; s++)
        for (long p = pb; p < pe; p++) std::memcpy(dst + ((s - s0) * kc + p) * 16, src + (p - pb) * o.n + s * 16, 16 * sizeof(float));
    else
      for (long s = s0; s < full; s++)
        for (long p = pb; p < pe; p++) std::memcpy(dst + ((s - s0) * kc + p) * nr, src + (p - pb) * o.n + s * nr, nr * sizeof(float));
  }
  for (long p = pA; p < pB && full < s1; p++) {
    const float* src = o.b + (p0 + p) * o.n + j0;
    for (long s = full; s < s1; s++) {
      float* d = dst + ((s - s0) * kc + p) * nr;
      const long w = std::max(0L, std::min(nr, jEnd - j0 - s * nr));
      std::memcpy(d, src + s * nr, w * sizeof(float));
      for (long j = w; j < nr; j++) d[j] = 0.0f;
    }
  }
}

void pack_b_slivers(const Op& o, long p0, long kc, long j0, long jEnd, long nr, float* dst, long s0, long s1) {
  if (!o.tb) {
    pack_b_rows(o, p0, kc, j0, jEnd, nr, dst, s0, s1, 0, kc);
    return;
  }
  for (long s = s0; s < s1; s++) {
    float* out = dst + (s - s0) * kc * nr;
    const long jb = j0 + s * nr, w = std::max(0L, std::min(nr, jEnd - jb));
#if LMF_X86
    if (has_avx512()) {
      for (long j = 0; j < w; j += 16) transpose_rows(o.b + (jb + j) * o.k + p0, o.k, std::min(16L, w - j), kc, out + j, nr);
      for (long p = 0; p < kc && w < nr; p++) std::memset(out + p * nr + w, 0, (nr - w) * sizeof(float));
      continue;
    }
    if (has_avx2()) {
      for (long j = 0; j < w; j += 8) transpose_rows_avx2(o.b + (jb + j) * o.k + p0, o.k, std::min(8L, w - j), kc, out + j, nr);
      for (long p = 0; p < kc && w < nr; p++) std::memset(out + p * nr + w, 0, (nr - w) * sizeof(float));
      continue;
    }
#endif
    for (long j = 0; j < w; j++) {
      const float* src = o.b + (jb + j) * o.k + p0;
      for (long p = 0; p < kc; p++) out[p * nr + j] = src[p];
    }
    for (long j = w; j < nr; j++)
      for (long p = 0; p < kc; p++) out[p * nr + j] = 0.0f;
  }
}

// kc rows of H floats, row p from src + p·lds, laid end to end: a copy of known size per row compiles to a few
// vector moves (in a ~30M training step's weight gradients the element loop it replaces took 4.3% of the samples,
// the copies 2.9%; 384×1024×1152 and 1536×1024×384 with A transposed 1.06× on the Intel machine, 2 threads).
template <long H>
void copy_rows(const float* LMF_RESTRICT src, long lds, long kc, float* LMF_RESTRICT out) {
  for (long p = 0; p < kc; p++) std::memcpy(out + p * H, src + p * lds, H * sizeof(float));
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into slivers of mr rows, each kc×mr; a last sliver of h < mr rows is packed
// kc×h when the kernel has edge variants (`tight`), else zero-padded to mr.
void pack_a(const Op& o, long i0, long mc, long p0, long kc, long mr, bool tight, float* dst) {
  for (long r = 0; r < mc; r += mr) {
    float* out = dst + r * kc;
    const long h = std::min(mr, mc - r), ld = tight ? h : mr;
    if (o.ta) {
      const float* src = o.a + p0 * o.m + i0 + r;
      if (h == ld && (h == 14 || h == 12 || h == 6 || h == 4)) {
        (h == 14 ? copy_rows<14> : h == 12 ? copy_rows<12> : h == 6 ? copy_rows<6> : copy_rows<4>)(src, o.m, kc, out);
        continue;
      }
      for (long p = 0; p < kc; p++) {
        const float* row = src + p * o.m;
        float* d = out + p * ld;
        for (long i = 0; i < h; i++) d[i] = row[i];
        for (long i = h; i < ld; i++) d[i] = 0.0f;
      }
    } else {
#if LMF_X86
      if (has_avx512() && ld <= 16) {
        transpose_rows(o.a + (i0 + r) * o.k + p0, o.k, h, kc, out, ld);
        for (long p = 0; p < kc && h < ld; p++) std::memset(out + p * ld + h, 0, (ld - h) * sizeof(float));
        continue;
      }
      if (has_avx2() && ld <= 8) {
        transpose_rows_avx2(o.a + (i0 + r) * o.k + p0, o.k, h, kc, out, ld);
        for (long p = 0; p < kc && h < ld; p++) std::memset(out + p * ld + h, 0, (ld - h) * sizeof(float));
        continue;
      }
#endif
      for (long i = 0; i < h; i++) {
        const float* src = o.a + (i0 + r + i) * o.k + p0;
        for (long p = 0; p < kc; p++) out[p * ld + i] = src[p];
      }
      for (long i = h; i < ld; i++)
        for (long p = 0; p < kc; p++) out[p * ld + i] = 0.0f;
    }
  }
}


// Packing of op(A) on first use (the column split with row-major A): state[s] of the k block starting at p0 is
// 0 while A sliver s is unpacked, 1 while a thread packs it, 2 once packed.
struct LazyA {
  std::atomic<uint8_t>* state;
  long p0;
};

void spin_pause() {
#if LMF_X86
  _mm_pause();
#endif
}

// C[i0:i0+mc, slivers sA..sB of nr columns from j0] (+)= packed A block (mc×kc) · packed B slivers (kc×nr each,
// sliver s at b + s·bstride). aOuter: each A sliver stays in L1 while the B slivers stream past (best when B is
// streamed from L3 anyway, the shared-panel path: 1024³ 5-8% faster); else each B sliver meets every A sliver
// (the column split, whose B block sits in L2).
void macro_tile(const Op& o, const Kernel& kern, long i0, long mc, long kc, bool add, float* ap, float* b,
                long bstride, long j0, long sA, long sB, bool aOuter, const float* bsrc = nullptr, const LazyA* lazy = nullptr) {
  const long mr = kern.mr, nr = kern.nr;
  alignas(64) float tile[MAX_MR * MAX_NR];
  auto one = [&](long r, long s) {
    const long h = std::min(mr, mc - r);
    const long jb = j0 + s * nr, w = std::min(nr, o.n - jb);
    float* bs = b + s * bstride;
    float* cp = o.c + (i0 + r) * o.n + jb;
    if (lazy && lazy->state[(i0 + r) / mr].load(std::memory_order_acquire) != 2) {
      std::atomic<uint8_t>& state = lazy->state[(i0 + r) / mr];
      uint8_t unpacked = 0;
      const bool mine = state.compare_exchange_strong(unpacked, 1, std::memory_order_acq_rel);
      if (w == nr && h == mr && !(bsrc && r <= 2 * mr)) {  // not one of the B-packing or prefetching tiles below
        // this tile packs the sliver as it computes, or, while another thread is packing it, reads the rows too
        kern.rowsA(kc, o.a + (i0 + r) * o.k + lazy->p0, o.k, mine ? ap + r * kc : nullptr, bs, cp, o.n, add);
        if (mine) state.store(2, std::memory_order_release);
        return;
      }
      if (mine) {
        pack_a(o, i0 + r, h, lazy->p0, kc, mr, kern.edge != nullptr, ap + r * kc);
        state.store(2, std::memory_order_release);
      } else {
        while (state.load(std::memory_order_acquire) != 2) spin_pause();
      }
    }
    if (bsrc && r == 0) {  // full tile; packs B sliver s from the row-major source as it goes
      kern.packB(kc, ap, bsrc + jb, o.n, bs, cp, o.n, add);
    } else if (bsrc && w == nr && h == mr && (r == mr || r == 2 * mr) && jb + nr < j0 + sB * nr) {
      // the next sliver's packing tile reads its rows from memory: fetch half of them into L2 here
      kern.prefetching(kc, ap + r * kc, bs, bsrc + jb + nr + (r == mr ? 0 : kc / 2 * o.n), o.n, cp, o.n, add);
    } else if (w == nr && h == mr) {
      kern.ukr(kc, ap + r * kc, bs, cp, o.n, add);
    } else if (w == nr && kern.edge) {
      kern.edge[h](kc, ap + r * kc, bs, cp, o.n, add);
    } else {
      const long hp = kern.edge ? h : mr;  // rows the sliver was packed with
      (hp == mr ? kern.ukr : kern.edge[hp])(kc, ap + r * kc, bs, tile, nr, false);
      for (long i = 0; i < h; i++)
        for (long j = 0; j < w; j++) cp[i * o.n + j] = add ? cp[i * o.n + j] + tile[i * nr + j] : tile[i * nr + j];
    }
  };
  if (aOuter) {
    for (long r = 0; r < mc; r += mr)
      for (long s = sA; s < sB; s++) one(r, s);
  } else {
    for (long s = sA; s < sB; s++)
      for (long r = 0; r < mc; r += mr) one(r, s);
  }
}

// Row block ib of mBlocks over rowSlivers slivers of mr rows: [first row, end row), whole slivers, as equal as
// possible (an uneven last block would leave one thread idle).
std::pair<long, long> row_block(long ib, long mBlocks, long rowSlivers, long mr, long m) {
  return {rowSlivers * ib / mBlocks * mr, std::min(m, rowSlivers * (ib + 1) / mBlocks * mr)};
}

// The column split with row-major B packed one k block at a time by all threads together, each a range of whole
// rows (wideItems kernels, products deeper than wide), and op(A) one k block at a time too, so A may be of any
// size (the LM head's input gradient, 1024×50257×384); then the block's items are shared out as in the column
// split. One dispatch for all blocks, the packed blocks in two buffers: a thread done with its items of block t
// packs block t + 1 while the others still compute, instead of every thread waiting for the last item and then
// all reading B from memory at once (two dispatches a block before; Zen 3, 2 threads, the waits 6.8% -> 1.3% of
// 256×3072×768's samples, and in one process, order alternating, geometric means over eight runs 1.01-1.09 on
// 256×3072×768, 1.03 on 1024×3072×768, 1.00-1.06 on 1024×1536×384, 1.01 on 256×50257×768; with a fresh C each
// call, as from JavaScript, 256×3072×768 1.03-1.15).
void gemm_cols_shared_b(const Op& o, int nthreads) {
  const Kernel kern = current();
  const long mr = kern.mr, nr = kern.nr, KCt = kern.kcCols, NSL = kern.nsl;
  const long slivers = (o.n + nr - 1) / nr;
  // a multiple of the thread count, so no thread idles through the last item
  const long itemsMin = std::max<long>(nthreads, (slivers + NSL - 1) / NSL);
  const long items = std::min(slivers, (itemsMin + nthreads - 1) / nthreads * nthreads);
  const long rowSlivers = (o.m + mr - 1) / mr, mPad = rowSlivers * mr, mBlocks = (mPad + kern.mc - 1) / kern.mc;
  const long kBlocks = (o.k + KCt - 1) / KCt;
  // two buffers when threads may be a block apart (one thread: one, warm from the block before)
  const long nbuf = nthreads > 1 ? 2 : 1;
  const size_t aFloats = (size_t)mPad * KCt, bFloats = (size_t)slivers * KCt * nr;
  float* ablocks = scratch().b(nbuf * aFloats);  // block t at ablocks + (t % nbuf)·aFloats, its row block i0 at + i0·kc
  float* bblocks = scratch().a(nbuf * bFloats);
  const bool lazy = kern.rowsA && !o.ta;
  constexpr long kRows = 16;  // rows of B per claim
  struct Block {
    std::atomic<long> nextPack{0}, packed{0}, nextItem{0}, itemsDone{0};
  };
  std::unique_ptr<Block[]> blocks(new Block[kBlocks]);
  std::unique_ptr<std::atomic<uint8_t>[]> itemDone(new std::atomic<uint8_t>[kBlocks * items]());  // [block][item]
  std::unique_ptr<std::atomic<uint8_t>[]> aState(lazy ? new std::atomic<uint8_t>[kBlocks * rowSlivers]() : nullptr);
  const auto spin_until = [](const auto& v, long at_least) {
    while (v.load(std::memory_order_acquire) < at_least) spin_pause();
  };
  // Every wait below is for work that a running thread has already claimed, so any number of threads finishes.
  pool_run(nthreads, [&] {
    for (long t = 0; t < kBlocks; t++) {
      Block& bk = blocks[t];
      const long p0 = t * KCt, kc = std::min(KCt, o.k - p0);
      const long bClaims = (kc + kRows - 1) / kRows, claims = bClaims + (lazy ? 0 : mBlocks);
      float* ab = ablocks + (t % nbuf) * aFloats;
      float* bb = bblocks + (t % nbuf) * bFloats;
      if (t >= nbuf) spin_until(blocks[t - nbuf].itemsDone, items);  // the buffers still hold block t - nbuf
      for (long c; (c = bk.nextPack.fetch_add(1)) < claims; bk.packed.fetch_add(1, std::memory_order_release)) {
        if (c < bClaims) {
          pack_b_rows(o, p0, kc, 0, o.n, nr, bb, 0, slivers, c * kRows, std::min(kc, (c + 1) * kRows));
        } else {
          const auto [i0, i1] = row_block(c - bClaims, mBlocks, rowSlivers, mr, o.m);
          pack_a(o, i0, i1 - i0, p0, kc, mr, kern.edge != nullptr, ab + i0 * kc);
        }
      }
      spin_until(bk.packed, claims);
      const LazyA lazyA{aState.get() + t * rowSlivers, p0};
      for (long it; (it = bk.nextItem.fetch_add(1)) < items;) {
        if (t > 0) spin_until(itemDone[(t - 1) * items + it], 1);  // the item's C tiles: block t - 1 first
        const long sA = slivers * it / items, sB = slivers * (it + 1) / items;
        for (long ib = 0; ib < mBlocks; ib++) {
          const auto [i0, i1] = row_block(ib, mBlocks, rowSlivers, mr, o.m);
          macro_tile(o, kern, i0, i1 - i0, kc, o.acc || p0 > 0, ab + i0 * kc, bb, kc * nr, 0, sA, sB, false, nullptr,
                     lazy ? &lazyA : nullptr);
        }
        itemDone[t * items + it].store(1, std::memory_order_release);
        bk.itemsDone.fetch_add(1, std::memory_order_release);
      }
    }
  });
}

// Column split (most products): all of op(A) is packed once, then each work item is a range of B slivers that
// its thread packs block by block into its own L2-sized buffer and multiplies by every row block; B is packed
// exactly once and never leaves L2. Row-major A is packed by the first tile that needs each sliver, its reads
// overlapping that tile's FMAs (a packing pass beforehand waits on memory; against it, measured on Zen 5 with 2
// threads: 1024×1536×384 +7%, 1024×768×768 +3-5%, other shapes within ±2%); transposed A up front.
void gemm_packed_cols(const Op& o, int nthreads) {
  const Kernel kern = current();
  const long mr = kern.mr, nr = kern.nr;
  const long KCt = kern.kcCols, NSL = kern.nsl, IPT = 2;
  const long slivers = (o.n + nr - 1) / nr;
  // a multiple of the thread count where there are slivers enough, so no thread idles through the last item
  const long itemsMin = kern.wideItems ? std::max<long>(2 * nthreads, (slivers * KCt * nr + kWideItemFloats - 1) / kWideItemFloats)
                                       : std::max((slivers + NSL - 1) / NSL, std::min(slivers, IPT * nthreads));
  const long items = std::min(slivers, (itemsMin + nthreads - 1) / nthreads * nthreads);
  const long rowSlivers = (o.m + mr - 1) / mr, mPad = rowSlivers * mr;
  const long mBlocks = (mPad + kern.mc - 1) / kern.mc;
  const long kBlocks = (o.k + KCt - 1) / KCt;
  float* apanel = scratch().b((size_t)mPad * o.k);  // block p0 at apanel + p0·mPad, row block i0 at + i0·kc
  const bool lazy = kern.rowsA && !o.ta;
  std::unique_ptr<std::atomic<uint8_t>[]> aState(lazy ? new std::atomic<uint8_t>[kBlocks * rowSlivers]() : nullptr);
  if (!lazy) {
    std::atomic<long> nextA{0};
    pool_run(nthreads, [&] {
      for (long t; (t = nextA.fetch_add(1)) < kBlocks * mBlocks;) {
        const long p0 = t / mBlocks * KCt, kc = std::min(KCt, o.k - p0);
        const auto [i0, i1] = row_block(t % mBlocks, mBlocks, rowSlivers, mr, o.m);
        pack_a(o, i0, i1 - i0, p0, kc, mr, kern.edge != nullptr, apanel + p0 * mPad + i0 * kc);
      }
    });
  }
  std::atomic<long> next{0};
  pool_run(nthreads, [&] {
    const long nslMax = (slivers + items - 1) / items;
    float* bb = scratch().a(nslMax * KCt * nr);
    for (long it; (it = next.fetch_add(1)) < items;) {
      const long sA = slivers * it / items, sB = slivers * (it + 1) / items;
      for (long p0 = 0; p0 < o.k; p0 += KCt) {
        const long kc = std::min(KCt, o.k - p0);
        const bool add = o.acc || p0 > 0;
        const LazyA lazyA{aState.get() + p0 / KCt * rowSlivers, p0};
        // Full slivers of row-major B are packed by the first row block's first tile (when it is a full one);
        // the rest, and transposed B, beforehand.
        const long i1First = std::min(o.m, rowSlivers / mBlocks * mr);
        const bool fused = kern.packB && !o.tb && i1First >= mr;
        const long sFull = fused ? std::max(sA, std::min(sB, o.n / nr)) : sA;
        if (sFull < sB) pack_b_slivers(o, p0, kc, 0, o.n, nr, bb + (sFull - sA) * kc * nr, sFull, sB);
        for (long g0 = 0; g0 < sB - sA; g0 += NSL) {  // nsl slivers at a time: their B stays in L2 across the row blocks
          const long g1 = std::min(sB - sA, g0 + NSL), gFull = std::clamp(sFull - sA, g0, g1);
          for (long ib = 0; ib < mBlocks; ib++) {
            const auto [i0, i1] = row_block(ib, mBlocks, rowSlivers, mr, o.m);
            const float* bsrc = ib == 0 && fused ? o.b + p0 * o.n : nullptr;
            float* ap = apanel + p0 * mPad + i0 * kc;
            if (g0 < gFull)
              macro_tile(o, kern, i0, i1 - i0, kc, add, ap, bb, kc * nr, sA * nr, g0, gFull, false, bsrc, lazy ? &lazyA : nullptr);
            if (gFull < g1)
              macro_tile(o, kern, i0, i1 - i0, kc, add, ap, bb, kc * nr, sA * nr, gFull, g1, false, nullptr, lazy ? &lazyA : nullptr);
          }
        }
      }
    }
  });
}

void gemm_packed(const Op& o, int nthreads) {
  const Kernel kern = current();
  const long mr = kern.mr, nr = kern.nr;
  const long KCt = kern.kc, MCt = kern.mc, IPT = 2;
  Scratch& sc = scratch();
  long ncMax = std::max(nr, (kBPanelFloats / std::max(o.k, 1L)) / nr * nr);
  // Row blocks of whole slivers, as equal as possible (an uneven last block would leave one thread idle).
  const long rowSlivers = (o.m + mr - 1) / mr;
  const long mBlocks = (rowSlivers * mr + MCt - 1) / MCt;
  for (long j0 = 0; j0 < o.n; j0 += ncMax) {
    const long nc = std::min(ncMax, o.n - j0);
    const long slivers = (nc + nr - 1) / nr;
    float* bp = sc.b((size_t)slivers * o.k * nr);
    // Work items: (row block, range of B slivers); enough that a thread finishing early finds more.
    long jsplit = std::min(slivers, std::max(1L, (IPT * nthreads + mBlocks - 1) / mBlocks));
    if (nthreads == 1) jsplit = 1;
    const long items = mBlocks * jsplit;
    std::atomic<long> next{0};
    std::atomic<long> nextSliver{0};
    pool_run(nthreads, [&] {
      for (long s; (s = nextSliver.fetch_add(kPackSlivers)) < slivers;)
        pack_b_slivers(o, 0, o.k, j0, j0 + nc, nr, bp + s * o.k * nr, s, std::min(slivers, s + kPackSlivers));
    });
    pool_run(nthreads, [&] {
      float* ap = scratch().a(MCt * KCt + MAX_MR * KCt);
      for (long it; (it = next.fetch_add(1)) < items;) {
        const long ib = it / jsplit, js = it % jsplit;
        const auto [i0, i1] = row_block(ib, mBlocks, rowSlivers, mr, o.m);
        const long mc = i1 - i0;
        const long sA = slivers * js / jsplit, sB = slivers * (js + 1) / jsplit;
        for (long p0 = 0; p0 < o.k; p0 += KCt) {
          const long kc = std::min(KCt, o.k - p0);
          const bool add = o.acc || p0 > 0;
          pack_a(o, i0, mc, p0, kc, mr, kern.edge != nullptr, ap);
          macro_tile(o, kern, i0, mc, kc, add, ap, bp + p0 * nr, o.k * nr, j0, sA, sB, true);
        }
      }
    });
  }
}

// y[j] (+)= sum_p x[p] * W[j, p]: rows of W are dotted with x (memory bound; four rows share each x load).
LMF_CLONES void gemv_rows(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, float* LMF_RESTRICT y, long rows, long k, bool acc) {
  long j = 0;
  for (; j + 4 <= rows; j += 4) {
    const float *w0 = w + j * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
    float s0[16] = {}, s1[16] = {}, s2[16] = {}, s3[16] = {};
    long p = 0;
    for (; p + 16 <= k; p += 16) {
      for (int l = 0; l < 16; l++) {
        const float xv = x[p + l];
        s0[l] += w0[p + l] * xv;
        s1[l] += w1[p + l] * xv;
        s2[l] += w2[p + l] * xv;
        s3[l] += w3[p + l] * xv;
      }
    }
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (int l = 0; l < 16; l++) t0 += s0[l], t1 += s1[l], t2 += s2[l], t3 += s3[l];
    for (; p < k; p++) t0 += w0[p] * x[p], t1 += w1[p] * x[p], t2 += w2[p] * x[p], t3 += w3[p] * x[p];
    if (acc) y[j] += t0, y[j + 1] += t1, y[j + 2] += t2, y[j + 3] += t3;
    else y[j] = t0, y[j + 1] = t1, y[j + 2] = t2, y[j + 3] = t3;
  }
  for (; j < rows; j++) {
    const float* wr = w + j * k;
    float s[16] = {};
    long p = 0;
    for (; p + 16 <= k; p += 16)
      for (int l = 0; l < 16; l++) s[l] += wr[p + l] * x[p + l];
    float t = 0;
    for (int l = 0; l < 16; l++) t += s[l];
    for (; p < k; p++) t += wr[p] * x[p];
    y[j] = acc ? y[j] + t : t;
  }
}

#if LMF_X86
// The lane sums of eight vectors as one 256-bit vector: a transpose-and-add tree instead of eight separate
// horizontal sums (which cost a tenth of a short-row GEMV's streaming time).
#define LMF_AVX512_INLINE __attribute__((target("avx512f,fma"), always_inline)) inline
LMF_AVX512_INLINE __m512 sum_pairs(__m512 a, __m512 b) { return _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b)); }
LMF_AVX512_INLINE __m512 sum_quads(__m512 a, __m512 b) {
  const __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
  return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
}
LMF_AVX512_INLINE __m256 lane_sums8(const __m512* v) {
  // per 128-bit lane: the lane's partial sums of rows 0-3 (b0) and 4-7 (b1)
  const __m512 b0 = sum_quads(sum_pairs(v[0], v[1]), sum_pairs(v[2], v[3]));
  const __m512 b1 = sum_quads(sum_pairs(v[4], v[5]), sum_pairs(v[6], v[7]));
  const __m512 c = _mm512_add_ps(_mm512_shuffle_f32x4(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 d = _mm512_add_ps(_mm512_shuffle_f32x4(c, c, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(c, c, _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_castps512_ps256(d);
}

// AVX-512 form of gemv_rows: eight rows at a time, two accumulators per row. The eight rows are eight memory
// streams in flight, and each stream is long: row r of a pass is row g + r·G (G = rows / 8), so stream r walks
// one contiguous eighth of W. Measured on Zen 5 with both cores over a 50257×768 W: adjacent rows (streams of
// 3 KiB) 48-52 GB/s, long streams 55-62 (a row-sum over 2 MiB rows, the bandwidth probe: 57-65); one row at a
// time 36, four 46.
__attribute__((target("avx512f,fma"))) void gemv_rows_avx512(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x,
                                                              float* LMF_RESTRICT y, long rows, long k, bool acc) {
  constexpr int R = 8;
  const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
  const long k32 = k / 32 * 32;
  const long G = rows / R;
  // G passes of eight long streams, then one pass over the last rows % 8 rows (h < 8; rows repeat to fill it)
  for (long g = 0; g <= G; g++) {
    const long h = g < G ? R : rows - G * R;
    if (h == 0) break;
    long idx[R];
    for (int r = 0; r < R; r++) idx[r] = g < G ? g + r * G : G * R + std::min<long>(r, h - 1);
    __m512 s[R][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) s[r][0] = s[r][1] = _mm512_setzero_ps();
    const float* wr[R];
    for (int r = 0; r < R; r++) wr[r] = w + idx[r] * k;
    long p = 0;
    for (; p < k32; p += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + 16);
      // Every stream's first line, then every stream's second, not stream by stream (Zen 4, both cores, a 512 MiB
      // W [174762, 768], the two orders in one process alternating: 1.11-1.23× the rate; not measured elsewhere).
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) s[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(wr[r] + p), x0, s[r][0]);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) s[r][1] = _mm512_fmadd_ps(_mm512_loadu_ps(wr[r] + p + 16), x1, s[r][1]);
    }
    if (p + 16 <= k) {
      const __m512 x0 = _mm512_loadu_ps(x + p);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) s[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(wr[r] + p), x0, s[r][0]);
      p += 16;
    }
    if (p < k) {
      const __m512 x0 = _mm512_maskz_loadu_ps(tail, x + p);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) s[r][1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, wr[r] + p), x0, s[r][1]);
    }
    __m512 v[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) v[r] = _mm512_add_ps(s[r][0], s[r][1]);
    alignas(32) float t[R];
    _mm256_store_ps(t, lane_sums8(v));
    for (int r = 0; r < h; r++) y[idx[r]] = acc ? y[idx[r]] + t[r] : t[r];
  }
}

// One step of gemv_cols_streams, AVX-512: y += Σ_r xr[r] · rows[r][0:n], 64 columns at a time (four vectors of y
// in registers, read and written once per R rows of W), each vector of y from all R rows before the next, so the
// R streams advance a line at a time together rather than one 256-byte run each in turn (Zen 4, both cores, a
// 512 MiB W [k, 3072], the two orders in one process alternating: 0.94-1.28×, mostly about 1.1×; not measured
// elsewhere).
template <int R>
__attribute__((target("avx512f,fma"))) void gemv_cols_rows(const float* const* rows, const float* xr, float* LMF_RESTRICT y, long n) {
  __m512 xs[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) xs[r] = _mm512_set1_ps(xr[r]);
  long j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 a[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) a[v] = _mm512_loadu_ps(y + j + 16 * v);
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) a[v] = _mm512_fmadd_ps(xs[r], _mm512_loadu_ps(rows[r] + j + 16 * v), a[v]);
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) _mm512_storeu_ps(y + j + 16 * v, a[v]);
  }
  for (; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
    __m512 a = _mm512_maskz_loadu_ps(m, y + j);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) a = _mm512_fmadd_ps(xs[r], _mm512_maskz_loadu_ps(m, rows[r] + j), a);
    _mm512_mask_storeu_ps(y + j, m, a);
  }
}

// One 16-wide step of gemv_rows_multi_avx512 at column p (wr: the pass's rows of W; x: rows k apart). With eight
// rows of x, each stream's next row is fetched a row ahead: the eight FMAs a load take so long that the streams
// fall behind memory without it (Zen 4, 2 threads, 8×768×50257 from memory: 1.44-1.47× the one-row-at-a-time
// build before, 0.99-1.10× without the fetch), while with fewer rows the fetch only costs (level from memory at 4
// and 2 rows, 2×3072×768 from L3 1.09× against 1.37-1.61× without).
template <int M, int R>
LMF_AVX512_INLINE void rows_multi_step(const float* const* wr, const float* x, long k, long p, __m512* s, __mmask16 mask) {
  if constexpr (M >= 8)
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) _mm_prefetch(reinterpret_cast<const char*>(wr[r] + p + k), _MM_HINT_T0);
  __m512 xs[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; i++) xs[i] = _mm512_maskz_loadu_ps(mask, x + i * k + p);
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    const __m512 wv = _mm512_maskz_loadu_ps(mask, wr[r] + p);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) s[r * M + i] = _mm512_fmadd_ps(wv, xs[i], s[r * M + i]);
  }
}

// gemv_rows_avx512 for M rows of x at once (x_i = x + i·k, y_i = y + i·ldy): R rows of W a pass, each W load
// feeding M FMAs, so W is read once for all M rows of x (in L1 up to M·k of 8192 floats; past that from L2, so
// 8×3072×768 from L3 is level with one row at a time, 0.97×). As in gemv_rows_avx512, the R rows of a pass are R
// long streams (row g + r·G), the last rows % R one at a time after them.
template <int M, int R>
__attribute__((target("avx512f,fma"))) void gemv_rows_multi_avx512(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, float* LMF_RESTRICT y,
                                                                   long ldy, long rows, long k, bool acc) {
  constexpr int S = (M * R + 7) / 8 * 8;  // accumulators, padded to whole groups of eight for lane_sums8
  static_assert(S <= 24, "accumulators and x in 32 registers");
  const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
  const long k16 = k / 16 * 16;
  const long G = rows / R;
  for (long g = 0; g < G; g++) {
    long idx[R];
    const float* wr[R];
    for (int r = 0; r < R; r++) wr[r] = w + (idx[r] = g + r * G) * k;
    __m512 s[S];
#pragma GCC unroll 24
    for (int q = 0; q < S; q++) s[q] = _mm512_setzero_ps();
    for (long p = 0; p < k16; p += 16) rows_multi_step<M, R>(wr, x, k, p, s, (__mmask16)0xffff);
    if (k16 < k) rows_multi_step<M, R>(wr, x, k, k16, s, tail);
    alignas(32) float t[S];
#pragma GCC unroll 3
    for (int q = 0; q < S; q += 8) _mm256_store_ps(t + q, lane_sums8(s + q));
    for (int r = 0; r < R; r++)
      for (int i = 0; i < M; i++) {
        float& out = y[i * ldy + idx[r]];
        out = acc ? out + t[r * M + i] : t[r * M + i];
      }
  }
  if constexpr (R > 1)
    if (G * R < rows) gemv_rows_multi_avx512<M, 1>(w + G * R * k, x, y + G * R, ldy, rows - G * R, k, acc);
}

// One step of gemv_cols_few_streams with M rows of x at once (xr[r·M + i]: x_i's value for W row r; y_i = y +
// i·ldy): 16·V columns a step, each W vector loaded once for the M rows.
template <int M, int V>
__attribute__((target("avx512f,fma"))) void gemv_cols_rows_multi_avx512(const float* const* rows, const float* xr, float* LMF_RESTRICT y, long ldy, long n) {
  static_assert(M * V <= 16, "accumulators");
  long j = 0;
  for (; j + 16 * V <= n; j += 16 * V) {
    __m512 a[M][V];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) a[i][v] = _mm512_loadu_ps(y + i * ldy + j + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
      __m512 wv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(rows[r] + j + 16 * v);
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        const __m512 xs = _mm512_set1_ps(xr[r * M + i]);
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) a[i][v] = _mm512_fmadd_ps(xs, wv[v], a[i][v]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) _mm512_storeu_ps(y + i * ldy + j + 16 * v, a[i][v]);
  }
  for (; j < n; j += 16) {
    const __mmask16 mask = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
    __m512 a[M];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) a[i] = _mm512_maskz_loadu_ps(mask, y + i * ldy + j);
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
      const __m512 wv = _mm512_maskz_loadu_ps(mask, rows[r] + j);
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) a[i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[r * M + i]), wv, a[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) _mm512_mask_storeu_ps(y + i * ldy + j, mask, a[i]);
  }
}

// AVX2 forms of the two GEMVs, on the AVX-512 kernels' pattern: eight long streams through W, a row each.
__attribute__((target("avx2,fma"), always_inline)) inline __m256 lane_sums8_avx2(const __m256* v) {
  const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));  // per half: rows 0-3
  const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));  // rows 4-7
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

__attribute__((target("avx2,fma"))) void gemv_rows_avx2(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x,
                                                         float* LMF_RESTRICT y, long rows, long k, bool acc) {
  constexpr int R = 8;
  const long k16 = k / 16 * 16, G = rows / R;
  for (long g = 0; g <= G; g++) {
    const long h = g < G ? R : rows - G * R;
    if (h == 0) break;
    long idx[R];
    for (int r = 0; r < R; r++) idx[r] = g < G ? g + r * G : G * R + std::min<long>(r, h - 1);
    const float* wr[R];
    for (int r = 0; r < R; r++) wr[r] = w + idx[r] * k;
    __m256 s[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) s[r] = _mm256_setzero_ps();
    long p = 0;
    for (; p < k16; p += 16) {  // one accumulator a row (16 registers hold no more), two loads a step
      const __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        s[r] = _mm256_fmadd_ps(_mm256_loadu_ps(wr[r] + p), x0, s[r]);
        s[r] = _mm256_fmadd_ps(_mm256_loadu_ps(wr[r] + p + 8), x1, s[r]);
      }
    }
    alignas(32) float t[R];
    _mm256_store_ps(t, lane_sums8_avx2(s));
    for (; p < k; p++)
      for (int r = 0; r < R; r++) t[r] += wr[r][p] * x[p];
    for (int r = 0; r < h; r++) y[idx[r]] = acc ? y[idx[r]] + t[r] : t[r];
  }
}

// gemv_rows_avx2 for M rows of x at once (x_i = x + i·k, y_i = y + i·ldy): R = 8 / M rows of W in flight, each W
// load feeding M FMAs, so W is read once for all M rows of x (which stay in L1). As in gemv_rows_multi_avx512, the
// R rows of a pass are R long streams (row g + r·G), the last rows % R one at a time after them (AVX2 forced on
// Zen 4, 2 threads, both sides AVX2, one process alternating, against consecutive rows: 4×768×50257 from memory
// 1.63×, 2 rows 1.16-1.23×, 3 rows 1.16-1.19×, 4×3072×768 and 2×3072×768 from L3 0.98-1.22×; GPT-2 124M decode
// steps of 4 / 2 rows 1.12 / 1.05×. Not measured on an AVX2-only CPU). No fetch ahead, as with fewer than eight
// rows on AVX-512: a row ahead it gained 2-4% from memory and cost 17-29% on those two from L3.
template <int M, int R = 8 / M>
__attribute__((target("avx2,fma"))) void gemv_rows_multi_avx2(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, float* LMF_RESTRICT y,
                                                               long ldy, long rows, long k, bool acc) {
  static_assert(M * R <= 8, "eight accumulators");
  const long k8 = k / 8 * 8;
  const long G = rows / R;
  for (long g = 0; g < G; g++) {
    long idx[R];
    const float* wr[R];
    for (int r = 0; r < R; r++) wr[r] = w + (idx[r] = g + r * G) * k;
    __m256 s[8];
#pragma GCC unroll 8
    for (int q = 0; q < 8; q++) s[q] = _mm256_setzero_ps();
    for (long p = 0; p < k8; p += 8) {
      __m256 xs[M];
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) xs[i] = _mm256_loadu_ps(x + i * k + p);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        const __m256 wv = _mm256_loadu_ps(wr[r] + p);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) s[r * M + i] = _mm256_fmadd_ps(wv, xs[i], s[r * M + i]);
      }
    }
    alignas(32) float t[8];
    _mm256_store_ps(t, lane_sums8_avx2(s));
    for (long p = k8; p < k; p++)
      for (int r = 0; r < R; r++)
        for (int i = 0; i < M; i++) t[r * M + i] += wr[r][p] * x[i * k + p];
    for (int r = 0; r < R; r++)
      for (int i = 0; i < M; i++) {
        float& out = y[i * ldy + idx[r]];
        out = acc ? out + t[r * M + i] : t[r * M + i];
      }
  }
  if constexpr (R > 1)
    if (G * R < rows) gemv_rows_multi_avx2<M, 1>(w + G * R * k, x, y + G * R, ldy, rows - G * R, k, acc);
}

// One step of gemv_cols_few_streams with M rows of x at once (xr[r·M + i]: x_i's value for W row r; y_i = y +
// i·ldy): 64 / M columns a time, each W vector loaded once for the M rows (eight accumulators).
template <int M>
__attribute__((target("avx2,fma"))) void gemv_cols_rows_multi_avx2(const float* const* rows, const float* xr, float* LMF_RESTRICT y, long ldy, long n) {
  constexpr int V = 8 / M;  // vectors of columns per step
  long j = 0;
  for (; j + 8 * V <= n; j += 8 * V) {
    __m256 a[M][V];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) a[i][v] = _mm256_loadu_ps(y + i * ldy + j + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
      __m256 wv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_ps(rows[r] + j + 8 * v);
#pragma GCC unroll 4
      for (int i = 0; i < M; i++) {
        const __m256 xs = _mm256_broadcast_ss(xr + r * M + i);
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) a[i][v] = _mm256_fmadd_ps(xs, wv[v], a[i][v]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) _mm256_storeu_ps(y + i * ldy + j + 8 * v, a[i][v]);
  }
  for (; j < n; j++)
    for (int i = 0; i < M; i++) {
      float t = y[i * ldy + j];
      for (int r = 0; r < 8; r++) t += xr[r * M + i] * rows[r][j];
      y[i * ldy + j] = t;
    }
}

// gemv_cols_rows with 256-bit vectors, 64 columns a step too (eight vectors of y and eight of x: all sixteen registers,
// the W loads folded into the FMAs; 32 columns a step ran 2-13% slower in the fast minutes), in the same order: each
// vector of y from all R rows before the next (Zen 3, both cores, 12 layers' weights of GPT-2's shapes, the orders
// in one process in turns: 3-13% faster than one 256-byte run a row in turn, 0.94-1.00 of gemv_rows on the same bytes)
template <int R>
__attribute__((target("avx2,fma"))) void gemv_cols_rows_avx2(const float* const* rows, const float* xr, float* LMF_RESTRICT y, long n) {
  __m256 xs[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) xs[r] = _mm256_set1_ps(xr[r]);
  long j = 0;
  for (; j + 64 <= n; j += 64) {
    __m256 a[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) a[v] = _mm256_loadu_ps(y + j + 8 * v);
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++)
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) a[v] = _mm256_fmadd_ps(xs[r], _mm256_loadu_ps(rows[r] + j + 8 * v), a[v]);
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) _mm256_storeu_ps(y + j + 8 * v, a[v]);
  }
  for (; j + 8 <= n; j += 8) {
    __m256 a = _mm256_loadu_ps(y + j);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) a = _mm256_fmadd_ps(xs[r], _mm256_loadu_ps(rows[r] + j), a);
    _mm256_storeu_ps(y + j, a);
  }
  for (; j < n; j++) {
    float a = y[j];
    for (int r = 0; r < R; r++) a += xr[r] * rows[r][j];
    y[j] = a;
  }
}

// The x86 forms of gemv_cols, on gemv_rows_avx512's pattern: eight streams, stream r walking rows p0 + r·G + i
// (G = (p1 - p0) / 8), so each reads one long contiguous stretch of W; `rows` (gemv_cols_rows*) does a step.
// Measured on Zen 5 with both cores over a GPT-2-124M layer's four products (4 chunks, y in gemm_one's placed
// buffers), one process alternating: 61-67 GB/s where the passes of sixteen adjacent rows it replaces (3-12 KiB
// streams) ran at 49-61 in the machine's fast minutes, 1-5% faster in its slow ones (42-50 GB/s); a whole decode
// step, where other work comes between the products, within ±2% of the old passes.
using ColsRows = void (*)(const float* const* rows, const float* xr, float* y, long n);
template <ColsRows rows8, ColsRows rows1>
void gemv_cols_streams(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, float* LMF_RESTRICT y, long p0, long p1, long n, bool acc) {
  if (!acc) std::memset(y, 0, sizeof(float) * n);
  constexpr int R = 8;
  const long G = (p1 - p0) / R;
  for (long i = 0; i < G; i++) {
    const float* rows[R];
    float xr[R];
    for (int r = 0; r < R; r++) {
      rows[r] = w + (p0 + r * G + i) * n;
      xr[r] = x[p0 + r * G + i];
    }
    rows8(rows, xr, y, n);
  }
  for (long p = p0 + R * G; p < p1; p++) {
    const float* row = w + p * n;
    rows1(&row, x + p, y, n);
  }
}
constexpr auto gemv_cols_avx512 = gemv_cols_streams<gemv_cols_rows<8>, gemv_cols_rows<1>>;
constexpr auto gemv_cols_avx2 = gemv_cols_streams<gemv_cols_rows_avx2<8>, gemv_cols_rows_avx2<1>>;

// gemv_cols_streams for m rows of x at once (x_i = x + i·k, y_i = y + i·ldy, each set, not accumulated): each
// step's eight rows of W come from memory once for all m rows, kFewCols columns at a time (so that, where the
// rows of x take more than one pass, the later passes find W in L1). multi8/4/2 (or null): kernels for that many
// rows of x a pass, each W vector loaded once for all of them.
constexpr long kFewCols = 2048;
using ColsRowsMulti = void (*)(const float* const* rows, const float* xr, float* y, long ldy, long n);
template <ColsRows rows8, ColsRows rows1, ColsRowsMulti multi8, ColsRowsMulti multi4, ColsRowsMulti multi2>
void gemv_cols_few_streams(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, long k, float* LMF_RESTRICT y, long ldy, long m,
                           long p0, long p1, long n) {
  for (long i = 0; i < m; i++) std::memset(y + i * ldy, 0, sizeof(float) * n);
  constexpr int R = 8;
  const long G = (p1 - p0) / R;
  for (long s = 0; s < G; s++)
    for (long j0 = 0; j0 < n; j0 += kFewCols) {
      const long nb = std::min(kFewCols, n - j0);
      const float* rows[R];
      for (int r = 0; r < R; r++) rows[r] = w + (p0 + r * G + s) * n + j0;
      float xr[8 * R];
      long i = 0;
      const auto pass = [&](ColsRowsMulti kernel, int q) {
        for (int r = 0; r < R; r++)
          for (int t = 0; t < q; t++) xr[r * q + t] = x[(i + t) * k + p0 + r * G + s];
        kernel(rows, xr, y + i * ldy + j0, ldy, nb);
        i += q;
      };
      if (multi8) while (i + 8 <= m) pass(multi8, 8);
      if (multi4) while (i + 4 <= m) pass(multi4, 4);
      if (multi2) while (i + 2 <= m) pass(multi2, 2);
      for (; i < m; i++) {
        for (int r = 0; r < R; r++) xr[r] = x[i * k + p0 + r * G + s];
        rows8(rows, xr, y + i * ldy + j0, nb);
      }
    }
  for (long p = p0 + R * G; p < p1; p++) {
    const float* row = w + p * n;
    for (long i = 0; i < m; i++) rows1(&row, x + i * k + p, y + i * ldy, n);
  }
}
constexpr auto gemv_cols_few_avx512 = gemv_cols_few_streams<gemv_cols_rows<8>, gemv_cols_rows<1>, gemv_cols_rows_multi_avx512<8, 2>,
                                                            gemv_cols_rows_multi_avx512<4, 4>, gemv_cols_rows_multi_avx512<2, 4>>;
constexpr auto gemv_cols_few_avx2 = gemv_cols_few_streams<gemv_cols_rows_avx2<8>, gemv_cols_rows_avx2<1>, nullptr,
                                                          gemv_cols_rows_multi_avx2<4>, gemv_cols_rows_multi_avx2<2>>;
#endif

// y[0:n] (+)= sum_{p in [p0, p1)} x[p] * W[p, :] for W stored [k, n]: rows p0..p1 are one contiguous stretch
// of memory, streamed four rows at a time into y (which stays in L1/L2).
LMF_CLONES void gemv_cols(const float* LMF_RESTRICT w, const float* LMF_RESTRICT x, float* LMF_RESTRICT y, long p0, long p1, long n, bool acc) {
  if (!acc) for (long j = 0; j < n; j++) y[j] = 0.0f;
  long p = p0;
  for (; p + 4 <= p1; p += 4) {
    const float *r0 = w + p * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
    const float x0 = x[p], x1 = x[p + 1], x2 = x[p + 2], x3 = x[p + 3];
    for (long j = 0; j < n; j++) y[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j];
  }
  for (; p < p1; p++) {
    const float* r0 = w + p * n;
    const float x0 = x[p];
    for (long j = 0; j < n; j++) y[j] += x0 * r0[j];
  }
}

LMF_CLONES void add_into(float* LMF_RESTRICT y, const float* LMF_RESTRICT part, long n) {
  for (long j = 0; j < n; j++) y[j] += part[j];
}

using RowsKernel = void (*)(const float* w, const float* x, float* y, long rows, long k, bool acc);
RowsKernel rows_kernel() {
#if LMF_X86
  if (current().isa == Isa::avx512) return gemv_rows_avx512;
  if (current().isa == Isa::avx2) return gemv_rows_avx2;
#endif
  return gemv_rows;
}

// Rows per parallel chunk of a one-row product with rows of length k: about 64 KiB of W.
long gemv_rows_grain(long k) { return std::max(16L, 16384L / std::max(k, 1L)); }

// Chunks of W's k rows for the column-stream products (each thread's partial sums its own): two a thread, of at
// least 64 rows.
long cols_chunks(long k, int nt) { return nt == 1 ? 1 : std::min<long>(2L * nt, std::max(1L, k / 64)); }

// c (+)= the sum of the chunks' partial results, n floats each (part(i): chunk i's).
template <class Part>
void sum_parts(float* c, long n, long chunks, bool acc, const Part& part) {
  for (long i = 0; i < chunks; i++) {
    if (i == 0 && !acc) std::memcpy(c, part(0), sizeof(float) * n);
    else add_into(c, part(i), n);
  }
}

// Products of a few rows (beam search, batched decoding): W = op(B) is streamed once, as by the one-row
// product, instead of being packed (which reads it, writes it and reads it again) for a micro-kernel that would
// work on a 2-8 row sliver (Zen 3, 2 threads, GPT-2 124M decode steps of 2 / 4 / 8 rows: 1.91 / 1.58 / 1.37×).
// Where W stays in cache across calls the packed path is faster from about 5 rows (8×768×3072 in L3: 0.49×), but
// a decode step reads every weight from memory. Rows of op(A) are copied together first when A is transposed.
// AVX-512 takes rows of x eight, four and two at a time too (one row at a time, each pass after the first from
// L2, before; Zen 4, 2 threads, GPT-2 124M decode steps of 8 / 4 / 2 rows, the two builds in one process in
// turns: 1.31 / 1.19 / 1.01×).
constexpr long kFewRows = 8;
void gemm_few(const Op& o, int nthreads) {
  const long m = o.m, n = o.n, k = o.k;
  std::vector<float> xt;
  const float* x = o.a;
  if (o.ta) {
    xt.resize((size_t)m * k);
    for (long p = 0; p < k; p++)
      for (long i = 0; i < m; i++) xt[i * k + p] = o.a[p * m + i];
    x = xt.data();
  }
  const int nt = (double)m * n * k < 32768 ? 1 : nthreads;
  if (o.tb) {  // W stored [n, k]: chunks of its rows (about 64 KiB, in L2 for the passes after the first)
    const auto rowsKernel = rows_kernel();
    const long grain = gemv_rows_grain(k);
    const auto chunk = [&](size_t lo, size_t hi) {
      for (long j0 = (long)lo; j0 < (long)hi; j0 += grain) {
        const float* wc = o.b + j0 * k;
        const long h = std::min(grain, (long)hi - j0);
        long i = 0;
#if LMF_X86
        if (current().isa == Isa::avx512) {  // the rows of x eight, four, two and one at a time
          for (; i + 8 <= m; i += 8) gemv_rows_multi_avx512<8, 2>(wc, x + i * k, o.c + i * n + j0, n, h, k, o.acc);
          for (; i + 4 <= m; i += 4) gemv_rows_multi_avx512<4, 4>(wc, x + i * k, o.c + i * n + j0, n, h, k, o.acc);
          for (; i + 2 <= m; i += 2) gemv_rows_multi_avx512<2, 8>(wc, x + i * k, o.c + i * n + j0, n, h, k, o.acc);
        }
        if (current().isa == Isa::avx2) {  // the rows of x four, two and one at a time
          for (; i + 4 <= m; i += 4) gemv_rows_multi_avx2<4>(wc, x + i * k, o.c + i * n + j0, n, h, k, o.acc);
          for (; i + 2 <= m; i += 2) gemv_rows_multi_avx2<2>(wc, x + i * k, o.c + i * n + j0, n, h, k, o.acc);
        }
#endif
        for (; i < m; i++) rowsKernel(wc, x + i * k, o.c + i * n + j0, h, k, o.acc);
      }
    };
    if (nt == 1) chunk(0, (size_t)n);
    else parallel_for((size_t)n, (size_t)grain, chunk);
    return;
  }
  // W stored [k, n]: threads take contiguous blocks of its rows into private partial sums, as gemm_one does.
  const auto cols = [&](long p0, long p1, float* y, long ldy) {
#if LMF_X86
    if (current().isa == Isa::avx512) return gemv_cols_few_avx512(o.b, x, k, y, ldy, m, p0, p1, n);
    if (current().isa == Isa::avx2) return gemv_cols_few_avx2(o.b, x, k, y, ldy, m, p0, p1, n);
#endif
    for (long i = 0; i < m; i++) gemv_cols(o.b, x + i * k, y + i * ldy, p0, p1, n, false);
  };
  const long chunks = cols_chunks(k, nt);
  if (chunks <= 1 && !o.acc) {
    cols(0, k, o.c, n);
    return;
  }
  std::vector<float> parts((size_t)chunks * m * n);
  std::atomic<long> next{0};
  pool_run(chunks > 1 ? nt : 1, [&] {
    for (long c; (c = next.fetch_add(1)) < chunks;) cols(k * c / chunks, k * (c + 1) / chunks, parts.data() + c * m * n, n);
  });
  sum_parts(o.c, m * n, chunks, o.acc, [&](long c) { return parts.data() + c * m * n; });
}

// Tiny products: packing would cost more than the arithmetic.
void gemm_small(const Op& o) {
  for (long i = 0; i < o.m; i++) {
    for (long j = 0; j < o.n; j++) {
      float s = 0.0f;
      for (long p = 0; p < o.k; p++) s += o.opA(i, p) * o.opB(p, j);
      float* cp = o.c + i * o.n + j;
      *cp = o.acc ? *cp + s : s;
    }
  }
}

void gemm_one(const Op& o, int nthreads) {
  if (o.m == 0 || o.n == 0) return;
  if (o.k == 0) {
    if (!o.acc) std::memset(o.c, 0, sizeof(float) * o.m * o.n);
    return;
  }
  const double flops = (double)o.m * o.n * o.k;
  // One row of output (decoding): y = x·op(B). One column: y = op(A)·x, the same two shapes transposed.
  if (o.m == 1 || o.n == 1) {
    const bool row = o.m == 1;
    const float* x = row ? o.a : o.b;
    const float* w = row ? o.b : o.a;
    const long outs = row ? o.n : o.m;
    const bool dotRows = row ? o.tb : !o.ta;  // W's rows are contiguous along k
    const long grain = dotRows ? gemv_rows_grain(o.k) : 256;
    const int nt = flops < 32768 ? 1 : nthreads;
    if (dotRows) {
      const auto rowsKernel = rows_kernel();
      if (nt == 1 || outs < 2 * grain) rowsKernel(w, x, o.c, outs, o.k, o.acc);
      else parallel_for((size_t)outs, (size_t)grain, [&](size_t lo, size_t hi) { rowsKernel(w + lo * o.k, x, o.c + lo, (long)(hi - lo), o.k, o.acc); });
      return;
    }
    // W stored [k, outs]: threads take contiguous blocks of rows (pure streaming) into private partial sums.
#if LMF_X86
    const auto colsKernel = current().isa == Isa::avx512 ? gemv_cols_avx512 : current().isa == Isa::avx2 ? gemv_cols_avx2 : gemv_cols;
#else
    const auto colsKernel = gemv_cols;
#endif
    const long chunks = cols_chunks(o.k, nt);
    if (chunks <= 1) {
      colsKernel(w, x, o.c, 0, o.k, outs, o.acc);
      return;
    }
    // Each chunk sums into a buffer of its own, 2 KiB past the 4 KiB phase of the chunk's first row of W: with y
    // wherever it fell (C, or one vector for all chunks), a sweep of the same products ran 1-15% slower in Zen 5's
    // fast minutes.
    const size_t stride = ((size_t)outs * sizeof(float) + 4095) / 4096 * 4096 + 4096;
    std::unique_ptr<char[]> scratch(new char[(size_t)chunks * stride + 4096]);
    char* const page = reinterpret_cast<char*>(((uintptr_t)scratch.get() + 4095) / 4096 * 4096);
    const auto part = [&](long c) {
      return reinterpret_cast<float*>(page + c * stride + ((uintptr_t)(w + o.k * c / chunks * outs) + 2048) % 4096);
    };
    std::atomic<long> next{0};
    pool_run(nt, [&] {
      for (long c; (c = next.fetch_add(1)) < chunks;) colsKernel(w, x, part(c), o.k * c / chunks, o.k * (c + 1) / chunks, outs, false);
    });
    sum_parts(o.c, outs, chunks, o.acc, part);
    return;
  }
  if (o.m <= kFewRows) {
    gemm_few(o, nthreads);
    return;
  }
  if (flops < 16384) {
    gemm_small(o);
    return;
  }
  const int nt = flops < 262144 ? 1 : nthreads;
  // The column split wins wherever each thread gets columns of its own (measured on Zen 5, 2 threads, against
  // the shared panel: 2048³ +8-12%, 1024×768×768 +2-10%, 1024³ 0-5%, no shape slower), and by far on wide
  // products with a long K (the LM head's input gradient, 256×50257×768: 2.5×) however large their packed A;
  // the shared B panel serves narrow products, and those whose packed A would not fit its buffer.
  // With wideItems kernels, products deeper than wide pack B and A a k block at a time with all threads, whatever
  // the depth of A (Zen 3, 2 threads: 256×3072×768 1.05-1.11×, 1024×1536×384 1.2-1.3×, 1024×50257×384 1.7×;
  // 256×768×3072 7-11% slower, so not wider ones), while a k block of A fits the A panel's size; except, with
  // the Intel set-up, where A has few row blocks and B is no larger than a panel: those take the column split
  // (2 threads, one-sided runs: 128×3072×768 1.12×, 256×3072×768 1.05-1.14×, 384×3072×768 1.02×, 512×3072×768
  // level, 1024×3072×768 0.92×; 256×50257×768 0.93-0.98×, so not larger B).
  const Kernel& kern = current();
  const long slivers = (o.n + kern.nr - 1) / kern.nr;
  const long mPad = (o.m + kern.mr - 1) / kern.mr * kern.mr;
  const bool deep = kern.wideItems && !o.tb && o.k > o.n && slivers >= nt;
  const bool fewRows = (mPad + kern.mc - 1) / kern.mc <= kern.deepColsBlocks && o.k * o.n <= kBPanelFloats;
  if (deep && !fewRows && mPad * kern.kcCols <= kAPanelFloats) gemm_cols_shared_b(o, nt);
  else if ((deep && fewRows) || o.n >= 2 * o.m || (slivers >= 2L * nt && (o.m + MAX_MR) * o.k <= kAPanelFloats)) gemm_packed_cols(o, nt);
  else gemm_packed(o, nt);
}

#if LMF_X86
// 24 independent accumulator chains: enough to cover FMA latency × pipes on current x86 cores.
__attribute__((target("avx512f,fma"))) void fma_loop_avx512(long iters, float* sink) {
  __m512 acc[24];
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, acc[i]);
  float tmp[16];
  _mm512_storeu_ps(tmp, s);
  *sink = tmp[0];
}
__attribute__((target("avx2,fma"))) void fma_loop_avx2(long iters, float* sink) {
  __m256 acc[12];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  float tmp[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(tmp, s);
  *sink = tmp[0];
}
#endif

}  // namespace

double measure_peak_gflops(double seconds, double window) {
#if LMF_X86
  const Isa isa = detect();
  if (isa == Isa::generic) return 0.0;
  const double flopsPerIter = isa == Isa::avx512 ? 24.0 * 16 * 2 : 12.0 * 8 * 2;
  const auto fma = [&](long iters) {
    float sink;
    if (isa == Isa::avx512) fma_loop_avx512(iters, &sink);
    else fma_loop_avx2(iters, &sink);
    volatile float keep = sink;
    (void)keep;
  };
  using clock = std::chrono::steady_clock;
  const auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  // Best single-core FMA throughput over many short runs (robust to other processes on the machine).
  const long burst = 100000;
  double best = 0;
  auto start = clock::now();
  do {
    auto t0 = clock::now();
    fma(burst);
    best = std::max(best, flopsPerIter * burst / since(t0) / 1e9);
  } while (since(start) < (window > 0 ? std::min(seconds, 0.05) : seconds));
  const int nt = pool_threads();
  if (window <= 0) return best * nt;
  // Every pool thread at once, in calls about `window` long, each timed from dispatch to join like one product.
  const long iters = std::max(burst / 10, (long)(window * best * 1e9 / flopsPerIter));
  double bestCall = 0;
  start = clock::now();
  do {
    auto t0 = clock::now();
    pool_run(nt, [&] { fma(iters); });
    bestCall = std::max(bestCall, nt * flopsPerIter * iters / since(t0) / 1e9);
  } while (since(start) < seconds);
  return bestCall;
#else
  (void)seconds;
  (void)window;
  return 0.0;
#endif
}

void gemv_rows_many(const float* x, long k, const GemvRows* products, int count) {
  long total = 0;
  for (int j = 0; j < count; j++) total += products[j].rows;
  const auto kernel = rows_kernel();
  // rows [lo, hi) of all the products laid end to end
  const auto run = [&](long lo, long hi) {
    long start = 0;
    for (int j = 0; j < count && start < hi; start += products[j].rows, j++) {
      const long a = std::max(lo, start) - start, b = std::min(hi, start + products[j].rows) - start;
      if (a < b) kernel(products[j].w + a * k, x, products[j].y + a, b - a, k, products[j].accumulate);
    }
  };
  if (pool_threads() == 1 || (double)total * k < 32768) run(0, total);
  else parallel_for((size_t)total, (size_t)gemv_rows_grain(k), [&](size_t lo, size_t hi) { run((long)lo, (long)hi); });
}

Isa gemm_best_isa() { return detect(); }
Isa gemm_isa() { return current().isa; }
void gemm_set_blocking(long kc, long kcCols, long mc, long nsl) {
  Kernel& k = current();
  if (kc > 0) k.kc = kc;
  if (kcCols > 0) k.kcCols = kcCols;
  if (mc > 0) k.mc = mc / k.mr * k.mr;
  if (nsl > 0) k.nsl = nsl;
}
void gemm_set_isa(Isa isa, Tuning tuning) {
  Isa best = detect();
  current() = kernel_for((int)isa > (int)best ? best : isa, tuning);
}

void gemm_serial(const float* a, const float* b, float* c, long m, long n, long k, bool transA, bool transB, bool accumulate) {
  gemm_one(Op{a, b, c, m, n, k, transA, transB, accumulate}, 1);
}

void gemm(const float* a, const float* b, float* c, long m, long n, long k, bool transA, bool transB, bool accumulate,
          const double* aOff, const double* bOff, const double* cOff, long batches) {
  const int nthreads = pool_threads();
  const long csize = m * n;
  // Batches may run side by side only when their outputs are disjoint (broadcast batch dims in matmul
  // backward accumulate several batches into one C).
  bool disjoint = batches > 1;
  if (disjoint) {
    std::vector<double> sorted(cOff, cOff + batches);
    std::sort(sorted.begin(), sorted.end());
    for (long i = 1; i < batches && disjoint; i++)
      if (sorted[i] - sorted[i - 1] < (double)csize) disjoint = false;
  }
  const double perBatch = (double)m * n * k;
  if (disjoint && nthreads > 1 && perBatch < 4.0e6) {
    // Many small products (attention scores per head): one batch per task, each single-threaded.
    std::atomic<long> next{0};
    pool_run(nthreads, [&] {
      for (long bi; (bi = next.fetch_add(1)) < batches;) {
        Op o{a + (long)aOff[bi], b + (long)bOff[bi], c + (long)cOff[bi], m, n, k, transA, transB, accumulate};
        gemm_one(o, 1);
      }
    });
    return;
  }
  for (long bi = 0; bi < batches; bi++) {
    Op o{a + (long)aOff[bi], b + (long)bOff[bi], c + (long)cOff[bi], m, n, k, transA, transB, accumulate};
    gemm_one(o, nthreads);
  }
}

}  // namespace lmf
