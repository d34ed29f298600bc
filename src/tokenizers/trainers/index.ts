export { trainTokenizer, TOKENIZER_MODEL_TYPES } from "./train.js";
export type { TokenizerModelType, TrainTokenizerOptions } from "./train.js";
export { saveTokenizerJson } from "./save.js";
export type { AddedTokenJson, TrainedTokenizerJson } from "./tokenizer-json.js";
export { TokenizerTrainerError } from "./errors.js";
