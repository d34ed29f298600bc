export { GenerationError } from "./errors.js";
export type { TokenRows, Detokenizer, DetokenizeOptions } from "./types.js";
export {
  GENERATION_DEFAULTS,
  generationOptionsFromConfig,
  mergeGenerationOptions,
  resolveMaxLength,
  eosTokenIds,
  validateGenerationOptions,
  type GenerationOptions,
} from "./options.js";
export {
  scoreRow,
  softmaxRow,
  logSoftmaxRow,
  logSumExpRow,
  tokenLogprob,
  argmaxRow,
  sampleFromLogits,
} from "./sampling.js";
export {
  LogitsProcessorList,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  MinPLogitsWarper,
  TypicalLogitsWarper,
  EpsilonLogitsWarper,
  EtaLogitsWarper,
  RepetitionPenaltyLogitsProcessor,
  NoRepeatNGramLogitsProcessor,
  NoBadWordsLogitsProcessor,
  MinLengthLogitsProcessor,
  MinNewTokensLengthLogitsProcessor,
  ForcedBOSTokenLogitsProcessor,
  ForcedEOSTokenLogitsProcessor,
  InfNanRemoveLogitsProcessor,
  SuppressTokensLogitsProcessor,
  SuppressTokensAtBeginLogitsProcessor,
  LogitNormalization,
  buildLogitsProcessors,
  type LogitsProcessor,
  type LogitsProcessorContext,
} from "./processors.js";
export {
  MaxLengthCriteria,
  MaxTimeCriteria,
  EosTokenCriteria,
  StopStringCriteria,
  StoppingCriteriaList,
  buildStoppingCriteria,
  type FinishReason,
  type StoppingCriterion,
  type StoppingContext,
} from "./stopping.js";
export {
  IncrementalDecoder,
  TextStreamer,
  TextIteratorStreamer,
  streamText,
  type TextStreamerOptions,
} from "./streamer.js";
export {
  generate,
  generateStream,
  type GenerateInput,
  type GenerateOptions,
  type GenerateOutput,
  type GenerationStream,
  type GenerationTokenizer,
} from "./generate.js";
