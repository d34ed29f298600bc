import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The functions exported by native/addon.cc (arrays are checked there; see the Backend contract for meaning). */
export interface NativeAddon {
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean,
    accumulate: boolean, aOffsets: Float64Array, bOffsets: Float64Array, cOffsets: Float64Array): void;
  unary(op: number, x: Float32Array, out: Float32Array): void;
  unaryBackward(op: number, x: Float32Array, y: Float32Array, g: Float32Array, out: Float32Array): void;
  powScalar(x: Float32Array, p: number, out: Float32Array): void;
  affine(x: Float32Array, scale: number, shift: number, out: Float32Array): void;
  /** meta = [nd, ...shape, ...aStrides, ...bStrides] */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, meta: Float64Array): void;
  sumAxis(x: Float32Array, out: Float32Array, outer: number, inner: number, rest: number): void;
  maxAxis(x: Float32Array, out: Float32Array, indices: Int32Array | null, outer: number, inner: number, rest: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number, log: boolean): void;
  softmaxBackward(y: Float32Array, g: Float32Array, out: Float32Array, rows: number, cols: number, log: boolean): void;
  norm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array, rstd: Float32Array,
    rows: number, cols: number, eps: number, rms: boolean, weightOffset: number): void;
  normBackward(x: Float32Array, w: Float32Array | null, g: Float32Array, mean: Float32Array, rstd: Float32Array, dx: Float32Array,
    dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number, rms: boolean, weightOffset: number): void;
  permute(x: ArrayBufferView, out: ArrayBufferView, shape: Float64Array, perm: Float64Array): void;
  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, dim: number): void;
  dropoutMask(state: Uint32Array, p: number, scale: number, out: Float32Array): void;
  dropoutBits(state: Uint32Array, p: number, out: Uint32Array, n: number): void;
  /** q, k, v, mask, maskStrides, keep, dropScale, out, stats, then B, H, Hkv, T, S, D, scale, softcap */
  attentionTrainForward(...args: (Float32Array | Float64Array | Uint32Array | number | null)[]): void;
  /** q, k, v, mask, maskStrides, keep, dropScale, out, stats, gOut, dq, dk, dv, dMask, then B, H, Hkv, T, S, D, scale, softcap */
  attentionTrainBackward(...args: (Float32Array | Float64Array | Uint32Array | number | null)[]): void;
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number): void;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array | null, maskStrides: Float64Array | null, out: Float32Array,
    batch: number, heads: number, kvHeads: number, queryLength: number, keyLength: number, headDim: number, scale: number, softcap: number, kvCapacity: number): void;
  /** weights in PreNormBlockWeights order, then x, caches, mask, strides, B, T, capacity, past, embed, heads, inner, eps, scale, op */
  preNormBlock(...args: (Float32Array | Float64Array | number | null)[]): void;
  /** weights in LlamaBlockWeights order (null where absent), then x, caches, cos, sin, mask, strides, dims */
  llamaBlock(...args: (Float32Array | Float64Array | null)[]): void;
  setNumThreads(n: number): void;
  info(): { threads: number; isa: "generic" | "avx2" | "avx512"; bestIsa: "generic" | "avx2" | "avx512" };
  setIsa(isa: 0 | 1 | 2, tuning?: 0 | 1 | 2 | 3): void;
  measurePeak(seconds: number, windowSeconds: number): number;
}

export type AddonLoad = { addon: NativeAddon; path: string } | { addon: null; reason: string };

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * Where node-gyp puts the library (`npm install` runs it; the same path from src/ and dist/), unless
 * LMFORGE_NATIVE_ADDON names a prebuilt one.
 */
export const addonPath = process.env.LMFORGE_NATIVE_ADDON || path.join(packageRoot, "build", "Release", "lmforge_native.node");

let cached: AddonLoad | undefined;

/** Loads the compiled kernels once; never throws (a missing or broken build is reported as a reason). */
export function loadAddon(): AddonLoad {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    cached = { addon: null, reason: `${addonPath} was not built (no C++ toolchain during npm install?)` };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    cached = { addon: require(addonPath) as NativeAddon, path: addonPath };
  } catch (e) {
    cached = { addon: null, reason: `${addonPath} failed to load: ${(e as Error).message}` };
  }
  return cached;
}
