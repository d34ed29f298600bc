export * from "./errors.js";
export * from "./io/index.js";
export * from "./evaluation/index.js";
export * from "./generation/index.js";
export * from "./prompting/index.js";
export * from "./tokenizers/index.js";
