export { PromptError } from "./errors.js";
export { PROMPT_TEMPLATES, type FewShotExample, type PromptTemplate, type PromptTemplateName } from "./templates.js";
export {
  buildPrompt,
  type BuildPromptOptions,
  type BuiltPrompt,
  type PromptMessage,
  type PromptTokenizer,
} from "./builder.js";
export { loadShots, parseShots } from "./shots.js";
