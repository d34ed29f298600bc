import { ConfigError } from "../errors.js";
import type { UnaryOp } from "../backends/index.js";
import type { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";

export type Activation = (x: Tensor) => Tensor;

/** transformers' ACT2FN names -> the elementwise kernel each one is. */
const ACTIVATION_OPS: Record<string, UnaryOp> = {
  gelu: "gelu",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  relu: "relu",
  silu: "silu",
  swish: "silu",
  tanh: "tanh",
  sigmoid: "sigmoid",
};

const OPS: Partial<Record<UnaryOp, Activation>> = {
  gelu: (x) => F.gelu(x),
  gelu_tanh: (x) => F.gelu(x, "tanh"),
  relu: F.relu,
  silu: F.silu,
  tanh: F.tanh,
  sigmoid: F.sigmoid,
};

export function getActivation(name: string, where = "config.json"): Activation {
  return OPS[activationOp(name, where)]!;
}

/** The backend's elementwise op for an ACT2FN name (fused kernels apply it themselves). */
export function activationOp(name: string, where = "config.json"): UnaryOp {
  const op = ACTIVATION_OPS[name];
  if (!op) throw new ConfigError(`${where}: unknown activation "${name}"; supported: ${Object.keys(ACTIVATION_OPS).join(", ")}`);
  return op;
}
