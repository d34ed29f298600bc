import "./methods.js";

export { Tensor, noGrad, isGradEnabled, setGradEnabled, tensor, zeros, ones, full, zerosLike, onesLike, arange, rand, randn } from "./tensor.js";
export type { GradFn, NestedArray, TensorOptions, RandomOptions } from "./tensor.js";
export * from "./ops.js";
export { DTYPES, bytesPerElement, f16BitsToF32, f32ToF16Bits, bf16BitsToF32, f32ToBf16Bits, convert as convertStorage } from "./dtype.js";
export type { DType, FloatDType, FloatArray, StorageArray } from "./dtype.js";
export { broadcastShapes, numel } from "./shape.js";
export type { Shape } from "./shape.js";
