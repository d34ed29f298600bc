export { Module, ModuleList, Parameter, StateDictError } from "./module.js";
export type { LoadStateDictResult } from "./module.js";
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout } from "./layers.js";
export type { LayerOptions } from "./layers.js";
export * as init from "./init.js";
export * as functional from "../tensor/ops.js";
