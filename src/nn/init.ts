import { Tensor } from "../tensor/tensor.js";
import { allocate, type FloatArray } from "../tensor/dtype.js";
import { numel, type Shape } from "../tensor/shape.js";
import { Generator } from "../utils/rng.js";

let skipInit = false;

/**
 * Builds modules without drawing random weights (parameters start at zero), for a model whose weights are
 * about to be loaded from a checkpoint: saves the time and keeps memory at one copy of the weights.
 */
export function withoutInit<T>(fn: () => T): T {
  const prev = skipInit;
  skipInit = true;
  try {
    return fn();
  } finally {
    skipInit = prev;
  }
}

/** Fresh tensors drawn from a seeded generator, for parameter initialization. */
export function normal(shape: Shape, mean: number, std: number, g: Generator, dtype: "f32" | "f64" = "f32"): Tensor {
  const data = allocate(dtype, numel(shape)) as FloatArray;
  if (!skipInit) for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  return new Tensor(data, shape, dtype);
}

export function uniform(shape: Shape, low: number, high: number, g: Generator, dtype: "f32" | "f64" = "f32"): Tensor {
  const data = allocate(dtype, numel(shape)) as FloatArray;
  if (!skipInit) for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * g.random();
  return new Tensor(data, shape, dtype);
}

/** Fills a tensor's storage in place with N(mean, std) (nn.init.normal_). */
export function normal_(t: Tensor, mean: number, std: number, g: Generator): Tensor {
  const d = t.floatData;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * g.normal();
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  t.floatData.fill(value);
  return t;
}
