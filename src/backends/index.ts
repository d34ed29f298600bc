import type { Backend } from "./backend.js";
import { jsBackend } from "./js/index.js";
import { selectBackend } from "./select.js";

export type { AttentionInputs, AttentionShape, Backend, BinaryOp, LlamaBlockShape, LlamaBlockWeights, PreNormBlockShape, PreNormBlockWeights, UnaryOp } from "./backend.js";
export { jsBackend };
export { BackendError, isNativeAvailable, measurePeakGflops, nativeBackend, nativeInfo, setNumThreads, type NativeInfo } from "./native/index.js";
export { selectBackend } from "./select.js";

let current: Backend = selectBackend();

/** The backend every tensor op runs on. */
export function getBackend(): Backend {
  return current;
}

/** Swaps the kernels under every tensor op (e.g. a native SIMD backend); model code is unchanged. */
export function setBackend(backend: Backend): void {
  current = backend;
}
