import { ConfigError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";

export type Activation = (x: Tensor) => Tensor;

/** transformers' ACT2FN names -> lmforge ops. */
const ACTIVATIONS: Record<string, Activation> = {
  gelu: (x) => F.gelu(x),
  gelu_new: (x) => F.gelu(x, "tanh"),
  gelu_pytorch_tanh: (x) => F.gelu(x, "tanh"),
  gelu_fast: (x) => F.gelu(x, "tanh"),
  relu: F.relu,
  silu: F.silu,
  swish: F.silu,
  tanh: F.tanh,
  sigmoid: F.sigmoid,
};

export function getActivation(name: string, where = "config.json"): Activation {
  const fn = ACTIVATIONS[name];
  if (!fn) throw new ConfigError(`${where}: unknown activation "${name}"; supported: ${Object.keys(ACTIVATIONS).join(", ")}`);
  return fn;
}
