/**
 * Hugging Face tokenizer.json pipelines, reimplemented to give the ids, tokens and offsets `tokenizers` gives.
 *
 * ```ts
 * const tok = await loadTokenizer("Qwen/Qwen3-0.6B");          // folder, tokenizer.json file or hub id
 * const { ids, tokens, offsets } = tok.encode("Hello world");   // special tokens added, as tokenizer(text)
 * tok.decode(ids, { skipSpecialTokens: true });
 * tok.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: false });
 * ```
 *
 * Offsets are [start, end) in UTF-16 code units of the input, so `text.slice(start, end)` is the token's source;
 * Python reports code-point indices, which differ after characters outside the BMP (emoji, rare CJK).
 * `toCodePointOffsets(text, offsets)` converts.
 */
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
