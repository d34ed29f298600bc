import type { Backend } from "../backend.js";
import { createNativeBackend } from "./backend.js";
import { BackendError } from "./errors.js";
import { loadAddon, type NativeAddon } from "./loader.js";

export { BackendError } from "./errors.js";

let backend: Backend | null = null;

/** True when the compiled kernels (build/Release/lmforge_native.node) loaded on this machine. */
export function isNativeAvailable(): boolean {
  return loadAddon().addon !== null;
}

function addonOrThrow(): NativeAddon {
  const load = loadAddon();
  if (!load.addon) throw new BackendError(`native backend unavailable: ${load.reason}; rebuild with \`npm rebuild lmforge\` (needs a C++ compiler) or use LMFORGE_BACKEND=js`);
  return load.addon;
}

/** The native Backend (C++ SIMD kernels on a thread pool); throws BackendError when the build is missing. */
export function nativeBackend(): Backend {
  backend ??= createNativeBackend(addonOrThrow());
  return backend;
}

export interface NativeInfo {
  /** Threads in the pool (the caller's thread included). */
  threads: number;
  /** GEMM micro-kernel in use and the best one this CPU supports. */
  isa: "generic" | "avx2" | "avx512";
  bestIsa: "generic" | "avx2" | "avx512";
}

export function nativeInfo(): NativeInfo {
  return addonOrThrow().info();
}

/** Resizes the native thread pool (default: LMFORGE_NUM_THREADS, else the number of cores). */
export function setNumThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new BackendError(`setNumThreads: expected a positive integer, got ${threads}`);
  addonOrThrow().setNumThreads(threads);
}

/**
 * Forces a GEMM micro-kernel no newer than `isa` (tests run every path on one machine), with AVX-512 the blocking
 * tuned for `tuning`'s CPUs rather than the running CPU's ("amd": Zen 5 and other AMD CPUs but Zen 4). The exp, tanh
 * and erf kernels (and the softmax and attention that use them) follow it too, at that ISA's vector width.
 */
export function setNativeIsa(isa: NativeInfo["isa"], tuning?: "intel" | "amd" | "zen4"): void {
  const tunings = { intel: 1, amd: 2, zen4: 3 } as const;
  addonOrThrow().setIsa(isa === "avx512" ? 2 : isa === "avx2" ? 1 : 0, tuning ? tunings[tuning] : 0);
}

/**
 * f32 FMA GFLOP/s of all pool threads on register-resident data, the peak a GEMM is compared against, measured
 * for about `seconds`. By default one core's best 0.3 ms burst times the thread count (the clock the cores reach);
 * with `windowSeconds`, all threads run together in calls that long, each timed like one product (what the
 * machine sustains over the length of a timed product).
 */
export function measurePeakGflops(seconds = 0.5, windowSeconds = 0): number {
  return addonOrThrow().measurePeak(seconds, windowSeconds);
}
