import { isNativeAvailable, nativeInfo } from "../../src/backends/native/index.js";

/**
 * Every ISA this CPU runs, oldest first (none without the native library): setNativeIsa to each runs the GEMM
 * micro-kernels and the exp/tanh/erf kernels' vector width (4, 8 or 16 lanes) of that ISA.
 */
export function nativeIsas(): ("generic" | "avx2" | "avx512")[] {
  if (!isNativeAvailable()) return [];
  const all = ["generic", "avx2", "avx512"] as const;
  return all.slice(0, all.indexOf(nativeInfo().bestIsa) + 1);
}
