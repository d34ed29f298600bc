import "./gpt2.js";
import "./bert.js";

export { PreTrainedModel, causalLMLoss, shiftTokensRight, toIds } from "./model.js";
export type { ModelInputs, ModelOutput, IdsInput } from "./model.js";
export { KVCache } from "./cache.js";
export { buildAttentionMask, positionIdsFromMask } from "./masks.js";
export type { MaskOptions } from "./masks.js";
export { ConfigReader } from "./config.js";
export type { BaseConfig, RawConfig } from "./config.js";
export { registerModelFamily, listModelFamilies, supportedArchitectures, resolveArchitecture } from "./registry.js";
export type { ModelFamily } from "./registry.js";
export { loadModel, createModel, saveModel, modelFromConfig, loadWeights, CheckpointError } from "./checkpoint.js";
export type { LoadModelOptions, CreateModelOptions, SaveModelOptions } from "./checkpoint.js";
export { GPT2LMHeadModel, GPT2Model, Conv1D, parseGPT2Config } from "./gpt2.js";
export type { GPT2Config } from "./gpt2.js";
export { BertForMaskedLM, BertForSequenceClassification, BertModel, parseBertConfig } from "./bert.js";
export type { BertConfig, BertProblemType } from "./bert.js";
