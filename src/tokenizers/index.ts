export { Tokenizer } from "./tokenizer.js";
export type {
  TokenizerConfig, EncodeOptions, EncodeBatchOptions, TokenizerDecodeOptions, ChatTemplateOptions,
} from "./tokenizer.js";
export type { Encoding } from "./encoding.js";
export { toCodePointOffsets } from "./encoding.js";
export type { ChatMessage } from "./chat-template.js";
export { loadTokenizer, type LoadTokenizerOptions } from "./load.js";
export { TokenizerError } from "./errors.js";
export type { AddedToken } from "./added-vocabulary.js";
export * from "./trainers/index.js";
