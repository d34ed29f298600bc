export { EvaluationError } from "./errors.js";
export * from "./porter.js";
export * from "./rouge.js";
export * from "./bootstrap.js";
export * from "./bleu.js";
export * from "./chrf.js";
export * from "./classification.js";
export * from "./perplexity.js";
