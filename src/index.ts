export * from "./errors.js";
export * from "./io/index.js";
export * from "./evaluation/index.js";
