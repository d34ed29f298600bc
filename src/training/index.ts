export { Optimizer, SGD, AdamW, clipGradNorm, OptimizerError } from "./optimizers.js";
export type { SGDOptions, AdamWOptions } from "./optimizers.js";
