/**
 * `generate`: greedy decoding, sampling and beam search for decoder-only and encoder-decoder models, following
 * transformers 5's `GenerationMixin.generate` (special-token defaults, attention mask inference, left padding with
 * position ids from the mask, finished rows padded with pad_token_id, the processor and stopping-criteria order).
 */
import type { PreTrainedModel } from "../models/model.js";
import { Generator as Rng, getDefaultGenerator } from "../utils/rng.js";
import { beamSearch, type DecodedSequences } from "./beam-search.js";
import { GenerationError } from "./errors.js";
import {
  GENERATION_DEFAULTS,
  eosTokenIds,
  generationOptionsFromConfig,
  mergeGenerationOptions,
  resolveMaxLength,
  validateGenerationOptions,
  type GenerationOptions,
} from "./options.js";
import { buildLogitsProcessors, type LogitsProcessorList } from "./processors.js";
import { StepRunner } from "./runner.js";
import { argmaxRow, sampleFromLogits, scoreRow, tokenLogprob } from "./sampling.js";
import { buildStoppingCriteria, type FinishReason, type StoppingCriteriaList } from "./stopping.js";
import { IncrementalDecoder, type TextStreamer } from "./streamer.js";
import type { Detokenizer } from "./types.js";

/** What generate needs from a tokenizer (lmforge's Tokenizer has it). */
export interface GenerationTokenizer extends Detokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): { ids: number[] };
  readonly padTokenId?: number;
}

/** A prompt, several prompts (a batch), or token ids (one row or a batch of rows). */
export type GenerateInput = string | string[] | number[] | number[][];

export interface GenerateOptions extends GenerationOptions {
  /** With ids: 1 for tokens, 0 for padding, same shape as the ids. Inferred from padTokenId when left out. */
  attentionMask?: number[] | number[][];
  /** Cut prompts from the left so prompt + new tokens fit the model's context window, instead of an error. */
  truncate?: boolean;
  /** Add the tokenizer's special tokens (BOS, ...) to text prompts; default true, as transformers' tokenizers. */
  addSpecialTokens?: boolean;
  /** Leave special tokens (EOS, ...) out of `text`; default true. */
  skipSpecialTokens?: boolean;
  /** Reuse keys/values of past positions (default). false recomputes every sequence from its start each step. */
  useCache?: boolean;
  /**
   * As transformers' `streamer`: gets `put(promptIds)`, then `put(token)` after every step, then `end()` (one
   * sequence only; a TextIteratorStreamer with skipPrompt turns it into text pieces).
   */
  streamer?: Pick<TextStreamer, "put" | "end">;
}

export interface GenerateOutput {
  /**
   * Full sequences as transformers returns them: for decoder-only models the (left-padded) prompt and the new
   * tokens; for encoder-decoder models the decoder sequence, decoder_start_token_id first. Rows that finished
   * early are filled with pad_token_id. With numReturnSequences > 1, the sequences of one input are adjacent.
   */
  ids: number[][];
  /** The new tokens of each row decoded (without the prompt and the fill), when a tokenizer was given. */
  text?: string[];
  /**
   * With returnLogprobs: for each new token, its log-probability under the scores it was chosen from (after the
   * logits processors; for beam search, the beam score increment), as compute_transition_scores reports.
   */
  logprobs?: number[][];
  finishReason: FinishReason[];
}

const EXTRA_OPTIONS = ["attentionMask", "truncate", "addSpecialTokens", "skipSpecialTokens", "useCache", "streamer"] as const;

interface Plan {
  model: PreTrainedModel;
  tokenizer: GenerationTokenizer | null;
  options: GenerationOptions;
  /** Rows the decoding starts from (already expanded for beams / return sequences). */
  rows: number[][];
  /** Unexpanded rows (beam search keeps one per batch item). */
  batchRows: number[][];
  promptLength: number;
  runner: StepRunner;
  processors: LogitsProcessorList;
  criteria: StoppingCriteriaList;
  eos: number[];
  pad: number | undefined;
  maxLength: number;
  skipSpecialTokens: boolean;
}

/** Generates from a prompt (or ids) and returns the sequences, their text and why each ended. */
export async function generate(
  model: PreTrainedModel,
  tokenizer: GenerationTokenizer | null,
  input: GenerateInput,
  options: GenerateOptions = {},
): Promise<GenerateOutput> {
  const plan = prepare(model, tokenizer, input, options);
  const streamer = options.streamer;
  if (!streamer) {
    const steps = run(plan);
    let r = steps.next();
    while (!r.done) r = steps.next();
    return r.value;
  }
  const tokens = singleRowTokens(plan, "option streamer");
  let r = tokens.next(); // checks the request before the streamer hears anything
  streamer.put(plan.rows[0]!);
  for (; !r.done; r = tokens.next()) streamer.put(r.value);
  streamer.end();
  return r.value;
}

/** One sequence's new tokens as they come (up to the one that finished it); returns the output. */
function* singleRowTokens(plan: Plan, who: string): Generator<number, GenerateOutput> {
  if (plan.rows.length !== 1 || (plan.options.numBeams ?? 1) > 1) {
    throw new GenerationError(`${who} streams one sequence: give one prompt, numReturnSequences 1 and numBeams 1`);
  }
  const steps = run(plan);
  let finished = false;
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done) return r.value;
    if (!finished) yield r.value.tokens[0]!;
    finished = r.value.finished[0]!;
  }
}

/**
 * Streams the text of one sequence (greedy or sampled; batch of one) as it is generated. Pieces never split a
 * character: bytes of an unfinished UTF-8 sequence are held back until it completes. `result()` gives the same
 * output `generate` would, finishing the generation if the pieces were not all read.
 */
export interface GenerationStream extends AsyncIterable<string> {
  result(): Promise<GenerateOutput>;
}

export function generateStream(
  model: PreTrainedModel,
  tokenizer: GenerationTokenizer,
  input: GenerateInput,
  options: GenerateOptions = {},
): GenerationStream {
  if (!tokenizer) throw new GenerationError("generateStream needs a tokenizer to turn tokens into text");
  const plan = prepare(model, tokenizer, input, options);
  const tokens = singleRowTokens(plan, "generateStream");
  // Checks the request now rather than at the first read.
  const first = tokens.next();
  const decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: plan.skipSpecialTokens });
  const pieces = (function* (): Generator<string, GenerateOutput> {
    for (let r = first; ; r = tokens.next()) {
      if (r.done) {
        yield decoder.flush();
        return r.value;
      }
      yield decoder.push(r.value);
    }
  })();
  let output: GenerateOutput | null = null;
  const stream: GenerationStream = {
    async *[Symbol.asyncIterator]() {
      while (output === null) {
        const r = pieces.next();
        if (r.done) output = r.value;
        else if (r.value) yield r.value;
        // Let the consumer (a terminal, a socket) run between tokens.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    async result() {
      for await (const _ of stream);
      return output!;
    },
  };
  return stream;
}

interface Step {
  /** The token appended to every row this step. */
  tokens: number[];
  /** Rows that are finished after this step. */
  finished: boolean[];
}

/** Runs a plan; yields after every greedy/sampling step, returns the output. */
function* run(plan: Plan): Generator<Step, GenerateOutput> {
  const { model } = plan;
  const wasTraining = model.training;
  if (wasTraining) model.eval();
  try {
    const o = plan.options;
    const generator = o.doSample ? (o.seed !== undefined ? new Rng(o.seed) : getDefaultGenerator()) : null;
    let decoded: DecodedSequences;
    if ((o.numBeams ?? 1) > 1) {
      decoded = beamSearch(plan.runner, plan.batchRows, plan.processors, plan.criteria, {
        numBeams: o.numBeams!,
        numReturnSequences: o.numReturnSequences ?? 1,
        lengthPenalty: o.lengthPenalty ?? 1,
        earlyStopping: o.earlyStopping ?? false,
        maxLength: plan.maxLength,
        eosTokenIds: plan.eos,
        ...(plan.pad !== undefined ? { padTokenId: plan.pad } : {}),
        ...(generator ? { generator } : {}),
      });
    } else {
      decoded = yield* sampleLoop(plan, generator);
    }
    return finish(plan, decoded);
  } finally {
    if (wasTraining) model.train();
  }
}

/** transformers' `_sample`: greedy (argmax) or multinomial sampling of the processed scores, one token a step. */
function* sampleLoop(plan: Plan, generator: Rng | null): Generator<Step, DecodedSequences> {
  const rows = plan.rows.map((r) => [...r]);
  const n = rows.length;
  const unfinished: boolean[] = Array(n).fill(true);
  const reasons: FinishReason[] = Array(n).fill("length");
  const lengths = rows.map((r) => r.length);
  const logprobs: number[][] = rows.map(() => []);
  const padFinished = plan.eos.length > 0;
  const wantLogprobs = plan.options.returnLogprobs === true;
  for (;;) {
    const { scores, vocabSize } = plan.runner.next(rows);
    plan.processors.call(rows, scores, vocabSize);
    const tokens: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!unfinished[i] && padFinished) {
        tokens.push(plan.pad!);
        continue;
      }
      const row = scoreRow(scores, vocabSize, i);
      const token = generator ? sampleFromLogits(row, generator) : argmaxRow(row);
      if (unfinished[i] && wantLogprobs) logprobs[i]!.push(tokenLogprob(row, token));
      tokens.push(token);
    }
    tokens.forEach((t, i) => rows[i]!.push(t));
    const stops = plan.criteria.call(rows);
    for (let i = 0; i < n; i++) {
      const reason = stops[i];
      if (unfinished[i] && reason) {
        unfinished[i] = false;
        reasons[i] = reason;
        lengths[i] = rows[i]!.length;
      }
    }
    yield { tokens, finished: unfinished.map((u) => !u) };
    if (!unfinished.some(Boolean)) break;
  }
  return { ids: rows, lengths, finishReason: reasons, logprobs };
}

function finish(plan: Plan, decoded: DecodedSequences): GenerateOutput {
  const out: GenerateOutput = { ids: decoded.ids, finishReason: decoded.finishReason };
  if (plan.tokenizer) {
    const tok = plan.tokenizer;
    out.text = decoded.ids.map((ids, i) => tok.decode(ids.slice(plan.promptLength, decoded.lengths[i]), { skipSpecialTokens: plan.skipSpecialTokens }));
  }
  if (plan.options.returnLogprobs) out.logprobs = decoded.logprobs;
  return out;
}

/** Options, special tokens, prompts and the model runner, as transformers' generate prepares them. */
function prepare(model: PreTrainedModel, tokenizer: GenerationTokenizer | null, input: GenerateInput, options: GenerateOptions): Plan {
  if (typeof options !== "object" || options === null) throw new GenerationError("generate: options must be an object");
  const explicit: Record<string, unknown> = { ...options };
  for (const key of EXTRA_OPTIONS) delete explicit[key];
  validateGenerationOptions(explicit as GenerationOptions);
  const fromFile = model.generationConfig ? generationOptionsFromConfig(model.generationConfig) : modelDefaults(model);
  const o = validateGenerationOptions(mergeGenerationOptions(GENERATION_DEFAULTS, fromFile, explicit as GenerationOptions));

  const eos = eosTokenIds(o);
  // As transformers' _prepare_special_tokens: without a pad token, finished rows are filled with EOS.
  const pad = o.padTokenId ?? eos[0];
  if (o.padTokenId === undefined && pad !== undefined) o.padTokenId = pad;
  const vocabSize = model.config.vocabSize;
  for (const [name, ids] of [["eosTokenId", eos], ["padTokenId", pad === undefined ? [] : [pad]]] as const) {
    for (const id of ids) if (id >= vocabSize) throw new GenerationError(`option ${name} = ${id}: expected a token id below the vocabulary size ${vocabSize}`);
  }

  let { rows, mask } = readInput(model, tokenizer, input, options, o, pad);
  const context = model.maxPositionEmbeddings;
  const encoderDecoder = model.isEncoderDecoder;
  if (!encoderDecoder) {
    const maxLength = resolveMaxLength(o, rows[0]!.length);
    const newTokens = maxLength - rows[0]!.length;
    if (newTokens < 1) {
      throw new GenerationError(`the prompt has ${rows[0]!.length} tokens, which leaves no room below maxLength ${maxLength}: raise maxLength or set maxNewTokens`);
    }
    if (context !== null && rows[0]!.length + newTokens > context) {
      const room = context - newTokens;
      if (!options.truncate || room < 1) {
        throw new GenerationError(
          `the prompt has ${rows[0]!.length} tokens; with ${newTokens} new tokens that exceeds the model's context window of ${context} tokens` +
            (room < 1 ? " (lower maxNewTokens)" : " (shorten the prompt, lower maxNewTokens, or truncate it from the left with truncate / --truncate)"),
        );
      }
      rows = rows.map((r) => r.slice(r.length - room));
      mask = mask && mask.map((m) => m.slice(m.length - room));
    }
  } else if (context !== null && rows[0]!.length > context) {
    if (!options.truncate) {
      throw new GenerationError(`the input has ${rows[0]!.length} tokens, more than the model's context window of ${context} (truncate it from the left with truncate / --truncate)`);
    }
    rows = rows.map((r) => r.slice(r.length - context));
    mask = mask && mask.map((m) => m.slice(m.length - context));
  }

  const numBeams = o.numBeams ?? 1;
  const expand = numBeams > 1 ? numBeams : (o.numReturnSequences ?? 1);
  const repeat = <T>(list: T[]): T[] => list.flatMap((x) => Array.from({ length: expand }, () => x));
  let decoderRows: number[][];
  let runner: StepRunner;
  const useCache = options.useCache ?? true;
  const expandedMask = mask && mask.some((m) => m.includes(0)) ? repeat(mask) : null;
  if (encoderDecoder) {
    const start = o.decoderStartTokenId ?? decoderStartFromConfig(model) ?? o.bosTokenId;
    if (start === undefined) throw new GenerationError("option decoderStartTokenId: an encoder-decoder model needs decoder_start_token_id (or bos_token_id)");
    decoderRows = rows.map(() => [start]);
    runner = new StepRunner(model, { attentionMask: expandedMask, encoderInputIds: repeat(rows), useCache, copies: expand });
  } else {
    decoderRows = rows;
    runner = new StepRunner(model, { attentionMask: expandedMask, useCache, copies: expand });
  }
  const promptLength = decoderRows[0]!.length;
  const maxLength = resolveMaxLength(o, promptLength);
  if (encoderDecoder && context !== null && maxLength > context) {
    throw new GenerationError(`maxLength ${maxLength} of the decoder exceeds the model's context window of ${context} (lower maxNewTokens)`);
  }
  return {
    model,
    tokenizer,
    options: o,
    rows: numBeams > 1 ? decoderRows : repeat(decoderRows),
    batchRows: decoderRows,
    promptLength,
    runner,
    processors: buildLogitsProcessors(o, { promptLength }),
    criteria: buildStoppingCriteria(o, tokenizer ? { promptLength, tokenizer } : { promptLength }),
    eos,
    pad,
    maxLength,
    skipSpecialTokens: options.skipSpecialTokens ?? true,
  };
}

/**
 * Without generation_config.json, transformers builds the generation config from config.json
 * (GenerationConfig.from_model_config): its token ids and any generation fields it carries (older checkpoints keep
 * num_beams, forced_eos_token_id, ... there).
 */
function modelDefaults(model: PreTrainedModel): GenerationOptions {
  const c = model.config;
  const ids: GenerationOptions = {};
  if (c.bosTokenId !== null) ids.bosTokenId = c.bosTokenId;
  if (c.eosTokenId !== null) ids.eosTokenId = c.eosTokenId;
  if (c.padTokenId !== null) ids.padTokenId = c.padTokenId;
  return mergeGenerationOptions(ids, generationOptionsFromConfig(c.raw, "config.json"));
}

function decoderStartFromConfig(model: PreTrainedModel): number | undefined {
  const start = (model.config as { decoderStartTokenId?: unknown }).decoderStartTokenId;
  return typeof start === "number" ? start : undefined;
}

/** Rows of ids and their attention mask (null: nothing padded) from text prompts or ids. */
function readInput(
  model: PreTrainedModel,
  tokenizer: GenerationTokenizer | null,
  input: GenerateInput,
  options: GenerateOptions,
  o: GenerationOptions,
  pad: number | undefined,
): { rows: number[][]; mask: number[][] | null } {
  const leftPad = !model.isEncoderDecoder;
  if (typeof input === "string" || (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === "string"))) {
    if (!tokenizer) throw new GenerationError("a text prompt needs a tokenizer (or give token ids)");
    if (options.attentionMask !== undefined) throw new GenerationError("option attentionMask goes with token ids, not text prompts");
    const prompts = typeof input === "string" ? [input] : (input as string[]);
    const rows = prompts.map((p) => [...tokenizer.encode(p, { addSpecialTokens: options.addSpecialTokens ?? true }).ids]);
    return padRows(withBos(rows, o), tokenizer.padTokenId ?? pad, leftPad, model.config.vocabSize);
  }
  if (!Array.isArray(input) || input.length === 0) {
    throw new GenerationError("generate: input must be a prompt string, a list of prompts, or token ids (number[] or number[][])");
  }
  const rows: number[][] = typeof input[0] === "number" ? [[...(input as number[])]] : (input as number[][]).map((r) => (Array.isArray(r) ? [...r] : r));
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw new GenerationError(`input ids row ${i}: expected a list of token ids`);
    row.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) {
        throw new GenerationError(`input ids [${i}][${j}] = ${JSON.stringify(id)}: expected a token id in [0, ${model.config.vocabSize})`);
      }
    });
  });
  if (options.attentionMask !== undefined) {
    const mask = typeof options.attentionMask[0] === "number" ? [options.attentionMask as number[]] : (options.attentionMask as number[][]);
    const ok = mask.length === rows.length && mask.every((m, i) => Array.isArray(m) && m.length === rows[i]!.length && m.every((v) => v === 0 || v === 1));
    if (!ok) throw new GenerationError("option attentionMask: expected 0/1 values in the same shape as the input ids");
    if (rows.some((r) => r.length !== rows[0]!.length)) throw new GenerationError("input ids: rows given with an attentionMask must have equal lengths");
    return { rows: withBos(rows, o), mask: mask.map((m) => [...m]) };
  }
  if (rows.some((r) => r.length !== rows[0]!.length)) return padRows(withBos(rows, o), pad, leftPad, model.config.vocabSize);
  return { rows: withBos(rows, o), mask: inferMask(rows, o, pad) };
}

/** An empty prompt starts from BOS, as transformers does. */
function withBos(rows: number[][], o: GenerationOptions): number[][] {
  if (rows.every((r) => r.length > 0)) return rows;
  if (rows.length === 1 && o.bosTokenId !== undefined) return [[o.bosTokenId]];
  throw new GenerationError("input ids: a row is empty (give at least one token, or set bosTokenId to start an empty prompt)");
}

/** Pads ragged rows to the longest (left for decoder-only models, as generation needs; right for encoders). */
function padRows(rows: number[][], pad: number | undefined, left: boolean, vocabSize: number): { rows: number[][]; mask: number[][] | null } {
  const width = Math.max(...rows.map((r) => r.length));
  if (rows.every((r) => r.length === width)) return { rows, mask: null };
  if (pad === undefined || pad >= vocabSize) {
    throw new GenerationError("prompts of different lengths need a pad token: set padTokenId (or eosTokenId), or give a tokenizer with a pad token");
  }
  const padded = rows.map((r) => {
    const fill = Array<number>(width - r.length).fill(pad);
    return left ? [...fill, ...r] : [...r, ...fill];
  });
  const mask = rows.map((r) => {
    const ones = Array<number>(r.length).fill(1);
    const zeros = Array<number>(width - r.length).fill(0);
    return left ? [...zeros, ...ones] : [...ones, ...zeros];
  });
  return { rows: padded, mask };
}

/**
 * transformers' _prepare_attention_mask_for_generation: pad tokens in the ids are masked out, unless the pad token
 * is also an EOS token (then nothing can be told apart and every token counts).
 */
function inferMask(rows: number[][], o: GenerationOptions, pad: number | undefined): number[][] | null {
  if (pad === undefined || eosTokenIds(o).includes(pad)) return null;
  if (!rows.some((r) => r.includes(pad))) return null;
  return rows.map((r) => r.map((id) => (id === pad ? 0 : 1)));
}
