import { GenerationError } from "./errors.js";

/**
 * Options of one generation run: camelCase versions of Hugging Face's `GenerationConfig` fields, with the same
 * meanings. Unset fields fall back to `GENERATION_DEFAULTS` (transformers 5's defaults for unset values).
 */
export interface GenerationOptions {
  /** Total length (prompt + new tokens) at which generation stops; `maxNewTokens` wins when both are set. */
  maxLength?: number;
  maxNewTokens?: number;
  /** Total length (prompt included) before which EOS is suppressed. */
  minLength?: number;
  /** Number of new tokens before which EOS is suppressed. */
  minNewTokens?: number;
  /** Beam search: stop when `numBeams` finished candidates exist (true), by heuristic (false), or never early. */
  earlyStopping?: boolean | "never";
  /** Seconds after which generation stops (finish reason "length": the budget ran out). */
  maxTime?: number;
  /** Generation stops when the text ends with one of these (the last token may run past the string's end). */
  stopStrings?: string | string[];

  doSample?: boolean;
  numBeams?: number;

  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  typicalP?: number;
  epsilonCutoff?: number;
  etaCutoff?: number;
  repetitionPenalty?: number;
  lengthPenalty?: number;
  noRepeatNgramSize?: number;
  badWordsIds?: number[][];
  forcedBosTokenId?: number;
  forcedEosTokenId?: number | number[];
  suppressTokens?: number[];
  beginSuppressTokens?: number[];
  /** Replace NaN by 0 and ±Infinity by the largest finite float32 before the other processors see them. */
  removeInvalidValues?: boolean;
  /** Apply log-softmax after every processor, so the scores are normalized log-probabilities. */
  renormalizeLogits?: boolean;

  numReturnSequences?: number;
  /** Keep the processed scores of every step. */
  outputScores?: boolean;
  /** Keep the raw logits of every step. */
  outputLogits?: boolean;
  /** Report the log-probability of each chosen token (lmforge; HF computes these with compute_transition_scores). */
  returnLogprobs?: boolean;

  padTokenId?: number;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  decoderStartTokenId?: number;
  /** Seed of the `Generator` used for sampling. */
  seed?: number;
}

/**
 * Values used when neither the model's generation_config.json nor the caller sets a field: transformers 5's
 * `GenerationConfig._get_default_generation_params`. `topK: 50` therefore applies whenever `doSample` is true and
 * nothing sets `topK` (use `topK: 0` to turn it off), exactly as in transformers.
 */
export const GENERATION_DEFAULTS: Readonly<GenerationOptions> = Object.freeze({
  maxLength: 20,
  minLength: 0,
  doSample: false,
  earlyStopping: false,
  numBeams: 1,
  temperature: 1.0,
  topK: 50,
  topP: 1.0,
  typicalP: 1.0,
  epsilonCutoff: 0,
  etaCutoff: 0,
  repetitionPenalty: 1.0,
  lengthPenalty: 1.0,
  noRepeatNgramSize: 0,
  numReturnSequences: 1,
  removeInvalidValues: false,
  outputScores: false,
});

type Kind = "int" | "number" | "bool" | "ids" | "id-or-ids" | "id-lists" | "strings" | "early-stopping";

/** Every supported option: its generation_config.json name and the kind of value it takes. */
const FIELDS: Record<keyof GenerationOptions, { json: string; kind: Kind }> = {
  maxLength: { json: "max_length", kind: "int" },
  maxNewTokens: { json: "max_new_tokens", kind: "int" },
  minLength: { json: "min_length", kind: "int" },
  minNewTokens: { json: "min_new_tokens", kind: "int" },
  earlyStopping: { json: "early_stopping", kind: "early-stopping" },
  maxTime: { json: "max_time", kind: "number" },
  stopStrings: { json: "stop_strings", kind: "strings" },
  doSample: { json: "do_sample", kind: "bool" },
  numBeams: { json: "num_beams", kind: "int" },
  temperature: { json: "temperature", kind: "number" },
  topK: { json: "top_k", kind: "int" },
  topP: { json: "top_p", kind: "number" },
  minP: { json: "min_p", kind: "number" },
  typicalP: { json: "typical_p", kind: "number" },
  epsilonCutoff: { json: "epsilon_cutoff", kind: "number" },
  etaCutoff: { json: "eta_cutoff", kind: "number" },
  repetitionPenalty: { json: "repetition_penalty", kind: "number" },
  lengthPenalty: { json: "length_penalty", kind: "number" },
  noRepeatNgramSize: { json: "no_repeat_ngram_size", kind: "int" },
  badWordsIds: { json: "bad_words_ids", kind: "id-lists" },
  forcedBosTokenId: { json: "forced_bos_token_id", kind: "int" },
  forcedEosTokenId: { json: "forced_eos_token_id", kind: "id-or-ids" },
  suppressTokens: { json: "suppress_tokens", kind: "ids" },
  beginSuppressTokens: { json: "begin_suppress_tokens", kind: "ids" },
  removeInvalidValues: { json: "remove_invalid_values", kind: "bool" },
  renormalizeLogits: { json: "renormalize_logits", kind: "bool" },
  numReturnSequences: { json: "num_return_sequences", kind: "int" },
  outputScores: { json: "output_scores", kind: "bool" },
  outputLogits: { json: "output_logits", kind: "bool" },
  returnLogprobs: { json: "return_logprobs", kind: "bool" },
  padTokenId: { json: "pad_token_id", kind: "int" },
  bosTokenId: { json: "bos_token_id", kind: "int" },
  eosTokenId: { json: "eos_token_id", kind: "id-or-ids" },
  decoderStartTokenId: { json: "decoder_start_token_id", kind: "int" },
  seed: { json: "seed", kind: "int" },
};

/**
 * generation_config.json fields lmforge does not implement, with the values that mean "off". A file that turns one
 * of them on is refused rather than silently generating something else than transformers would.
 */
const UNSUPPORTED_JSON: Record<string, unknown[]> = {
  encoder_repetition_penalty: [1, null],
  encoder_no_repeat_ngram_size: [0, null],
  exponential_decay_length_penalty: [null],
  sequence_bias: [null],
  guidance_scale: [null, 1],
  watermarking_config: [null],
  num_beam_groups: [1, null],
  diversity_penalty: [0, null],
  penalty_alpha: [null],
  dola_layers: [null],
  constraints: [null],
  force_words_ids: [null],
  forced_decoder_ids: [null],
  token_healing: [false, null],
  top_h: [null],
};

/**
 * Reads a generation_config.json object (snake_case) into options. Fields that do not steer decoding
 * (`use_cache`, `transformers_version`, …) are ignored; a field lmforge cannot honour is an error.
 */
export function generationOptionsFromConfig(config: unknown, source = "generation_config.json"): GenerationOptions {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new GenerationError(`${source}: expected a JSON object, got ${describe(config)}`);
  }
  const json = config as Record<string, unknown>;
  for (const [key, offValues] of Object.entries(UNSUPPORTED_JSON)) {
    if (key in json && !offValues.includes(json[key] as never)) {
      throw new GenerationError(
        `${source}: field "${key}" = ${JSON.stringify(json[key])} is not supported by lmforge ` +
          `(expected it unset or ${offValues.map((v) => JSON.stringify(v)).join(" / ")})`,
      );
    }
  }
  const options: Record<string, unknown> = {};
  for (const [name, { json: key, kind }] of Object.entries(FIELDS)) {
    const value = json[key];
    if (value === undefined || value === null) continue;
    checkKind(value, kind, `${source}: field "${key}"`);
    options[name] = value;
  }
  return options as GenerationOptions;
}

/** Later layers win; `undefined` in a later layer keeps the earlier value. Typical use: defaults, config, explicit. */
export function mergeGenerationOptions(...layers: (GenerationOptions | undefined)[]): GenerationOptions {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  }
  return merged as GenerationOptions;
}

/** The total length at which generation stops: prompt + `maxNewTokens` when set, else `maxLength`. */
export function resolveMaxLength(options: GenerationOptions, promptLength: number): number {
  if (options.maxNewTokens !== undefined) return promptLength + options.maxNewTokens;
  return options.maxLength ?? (GENERATION_DEFAULTS.maxLength as number);
}

/** EOS ids as a list (empty when unset). */
export function eosTokenIds(options: GenerationOptions): number[] {
  const eos = options.eosTokenId;
  return eos === undefined ? [] : Array.isArray(eos) ? [...eos] : [eos];
}

/** Throws a GenerationError naming the first invalid option; returns the options unchanged otherwise. */
export function validateGenerationOptions(options: GenerationOptions): GenerationOptions {
  if (typeof options !== "object" || options === null) {
    throw new GenerationError(`generation options: expected an object, got ${describe(options)}`);
  }
  for (const [name, value] of Object.entries(options)) {
    const field = FIELDS[name as keyof GenerationOptions];
    if (!field) {
      const camel = Object.entries(FIELDS).find(([, f]) => f.json === name)?.[0];
      throw new GenerationError(
        `unknown generation option "${name}"` + (camel ? ` (options are camelCase: did you mean "${camel}"?)` : ""),
      );
    }
    if (value !== undefined) checkKind(value, field.kind, `option ${name}`);
  }
  const o = options;
  const fail = (name: string, expected: string): never => {
    throw new GenerationError(
      `option ${name} = ${JSON.stringify((o as Record<string, unknown>)[name])}: expected ${expected}`,
    );
  };
  if (o.maxNewTokens !== undefined && o.maxNewTokens < 1) fail("maxNewTokens", "an integer >= 1");
  if (o.maxLength !== undefined && o.maxLength < 1) fail("maxLength", "an integer >= 1");
  if (o.minLength !== undefined && o.minLength < 0) fail("minLength", "an integer >= 0");
  if (o.minNewTokens !== undefined && o.minNewTokens < 0) fail("minNewTokens", "an integer >= 0");
  if (o.maxTime !== undefined && !(o.maxTime > 0)) fail("maxTime", "a number of seconds > 0");
  if (o.numBeams !== undefined && o.numBeams < 1) fail("numBeams", "an integer >= 1");
  if (o.temperature !== undefined) {
    if (!(o.temperature >= 0)) fail("temperature", "a number >= 0");
    if (o.temperature === 0 && o.doSample) fail("temperature", "a number > 0 when doSample is true (for greedy decoding set doSample: false)");
  }
  if (o.topK !== undefined && o.topK < 0) fail("topK", "an integer >= 0 (0 turns top-k off)");
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) fail("topP", "a number in (0, 1]");
  if (o.minP !== undefined && !(o.minP >= 0 && o.minP <= 1)) fail("minP", "a number in [0, 1]");
  if (o.typicalP !== undefined && !(o.typicalP > 0 && o.typicalP <= 1)) fail("typicalP", "a number in (0, 1]");
  if (o.epsilonCutoff !== undefined && !(o.epsilonCutoff >= 0 && o.epsilonCutoff < 1)) fail("epsilonCutoff", "a number in [0, 1)");
  if (o.etaCutoff !== undefined && !(o.etaCutoff >= 0 && o.etaCutoff < 1)) fail("etaCutoff", "a number in [0, 1)");
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0)) fail("repetitionPenalty", "a number > 0 (1 means no penalty)");
  if (o.noRepeatNgramSize !== undefined && o.noRepeatNgramSize < 0) fail("noRepeatNgramSize", "an integer >= 0");
  if (o.numReturnSequences !== undefined) {
    const beams = o.numBeams ?? 1;
    if (o.numReturnSequences < 1) fail("numReturnSequences", "an integer >= 1");
    if (beams === 1 && !o.doSample && o.numReturnSequences > 1) {
      fail("numReturnSequences", "1 with greedy decoding (set doSample: true or numBeams > 1 for several sequences)");
    }
    if (beams > 1 && o.numReturnSequences > beams) fail("numReturnSequences", `at most numBeams (${beams})`);
  }
  if (o.eosTokenId !== undefined && Array.isArray(o.eosTokenId) && o.eosTokenId.length === 0) {
    fail("eosTokenId", "a token id or a non-empty list of token ids");
  }
  if (o.badWordsIds !== undefined && (o.badWordsIds.length === 0 || o.badWordsIds.some((w) => w.length === 0))) {
    fail("badWordsIds", "a non-empty list of non-empty token id lists");
  }
  if (o.stopStrings !== undefined) {
    const list = typeof o.stopStrings === "string" ? [o.stopStrings] : o.stopStrings;
    if (list.length === 0 || list.some((s) => s.length === 0)) fail("stopStrings", "non-empty strings");
  }
  if (o.suppressTokens !== undefined) {
    const suppressed = new Set(o.suppressTokens);
    for (const name of ["forcedBosTokenId", "forcedEosTokenId"] as const) {
      const forced = o[name];
      if (forced === undefined) continue;
      const ids = Array.isArray(forced) ? forced : [forced];
      if (ids.length > 0 && ids.every((id) => suppressed.has(id))) {
        fail(name, "a token that suppressTokens does not also suppress (all scores would be -Infinity)");
      }
    }
  }
  return options;
}

function checkKind(value: unknown, kind: Kind, what: string): void {
  const isId = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  let ok: boolean;
  let expected: string;
  switch (kind) {
    case "int":
      ok = Number.isInteger(value);
      expected = "an integer";
      break;
    case "number":
      ok = typeof value === "number" && Number.isFinite(value);
      expected = "a finite number";
      break;
    case "bool":
      ok = typeof value === "boolean";
      expected = "true or false";
      break;
    case "ids":
      ok = Array.isArray(value) && value.every(isId);
      expected = "a list of token ids (integers >= 0)";
      break;
    case "id-or-ids":
      ok = isId(value) || (Array.isArray(value) && value.every(isId));
      expected = "a token id or a list of token ids (integers >= 0)";
      break;
    case "id-lists":
      ok = Array.isArray(value) && value.every((w) => Array.isArray(w) && w.every(isId));
      expected = "a list of token id lists";
      break;
    case "strings":
      ok = typeof value === "string" || (Array.isArray(value) && value.every((s) => typeof s === "string"));
      expected = "a string or a list of strings";
      break;
    case "early-stopping":
      ok = typeof value === "boolean" || value === "never";
      expected = 'true, false or "never"';
      break;
  }
  if (!ok) throw new GenerationError(`${what} = ${describe(value)}: expected ${expected}`);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
