import type { PreTrainedModel } from "../models/model.js";
import { generate } from "../generation/generate.js";
import { argmaxRow, logSoftmaxRow } from "../generation/sampling.js";
import { noGrad, type Tensor } from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { EvaluationError } from "./errors.js";

/** What the harness needs from a tokenizer (lmforge's Tokenizer fits). */
export type EvalTokenizer = Pick<Tokenizer, "encode" | "decode" | "bosTokenId" | "eosTokenId" | "padTokenId">;

export interface LoglikelihoodResult {
  /** Sum of the log-probabilities (nats) of the continuation's tokens. */
  loglikelihood: number;
  /** Whether greedy decoding would have produced every continuation token (lm-eval's is_greedy). */
  isGreedy: boolean;
  /** Number of continuation tokens scored. */
  tokens: number;
}

const encode = (tok: EvalTokenizer, text: string, special: boolean): number[] => tok.encode(text, { addSpecialTokens: special }).ids;

/** The token put before an empty context: BOS, else EOS (lm-eval's prefix_token_id). */
function prefixTokenId(model: PreTrainedModel, tok: EvalTokenizer, who: string): number {
  const id = tok.bosTokenId ?? model.config.bosTokenId ?? tok.eosTokenId ?? firstId(model.config.eosTokenId);
  if (id === undefined || id === null) throw new EvaluationError(`${who}: the context is empty and neither the tokenizer nor config.json has a BOS or EOS token to start from`);
  return id;
}

const firstId = (ids: number | number[] | null): number | null => (Array.isArray(ids) ? (ids[0] ?? null) : ids);

function checkIds(model: PreTrainedModel, ids: readonly number[], who: string): void {
  const vocab = model.config.vocabSize;
  for (const id of ids) {
    if (id >= vocab) throw new EvaluationError(`${who}: the tokenizer gave token id ${id}, but the model's vocabulary has ${vocab} tokens; use the model's own tokenizer`);
  }
}

/** Log-probabilities of `targets` read from consecutive rows of a [1, T, V] logits tensor starting at row `from`. */
function scoreRows(logits: Tensor, from: number, targets: readonly number[]): LoglikelihoodResult {
  const vocab = logits.shape[2]!;
  const data = logits.floatData;
  let loglikelihood = 0;
  let isGreedy = true;
  targets.forEach((target, i) => {
    const row = data.subarray((from + i) * vocab, (from + i + 1) * vocab);
    loglikelihood += logSoftmaxRow(row)[target]!;
    if (argmaxRow(row) !== target) isGreedy = false;
  });
  return { loglikelihood, isGreedy, tokens: targets.length };
}

/**
 * The tokens of a (context, continuation) pair as lm-evaluation-harness's HFLM splits them: trailing whitespace
 * of the context moves to the continuation; a causal LM's continuation tokens are those of encode(context +
 * continuation) after the first len(encode(context)) (no special tokens, BOS alone for an empty context); an
 * encoder-decoder's context is encoded with special tokens and its continuation without.
 */
export function encodePair(
  model: PreTrainedModel,
  tok: EvalTokenizer,
  context: string,
  continuation: string,
): { contextIds: number[]; continuationIds: number[] } {
  const who = "loglikelihood";
  if (!model.isEncoderDecoder && context === "") {
    return { contextIds: [prefixTokenId(model, tok, who)], continuationIds: encode(tok, continuation, false) };
  }
  const trimmed = context.replace(/\s+$/u, "");
  const cont = context.slice(trimmed.length) + continuation;
  if (model.isEncoderDecoder) return { contextIds: encode(tok, trimmed, true), continuationIds: encode(tok, cont, false) };
  const whole = encode(tok, trimmed + cont, false);
  const contextIds = encode(tok, trimmed, false);
  return { contextIds, continuationIds: whole.slice(contextIds.length) };
}

/**
 * log P(continuation | context) under the model: the sum of the log-softmax of the continuation tokens. A causal
 * LM reads context + continuation (left-truncated to its context length, as lm-eval does); an encoder-decoder
 * reads the context in the encoder and scores the continuation as decoder labels.
 */
export function loglikelihood(model: PreTrainedModel, tok: EvalTokenizer, context: string, continuation: string): LoglikelihoodResult {
  const { contextIds, continuationIds } = encodePair(model, tok, context, continuation);
  if (continuationIds.length === 0) throw new EvaluationError(`loglikelihood: the continuation ${JSON.stringify(continuation)} encodes to no tokens`);
  checkIds(model, [...contextIds, ...continuationIds], "loglikelihood");
  return noGrad(() => {
    if (model.isEncoderDecoder) {
      const { logits } = model.forward({ inputIds: [contextIds], labels: [continuationIds] });
      return scoreRows(logits, 0, continuationIds);
    }
    const maxLength = model.maxPositionEmbeddings ?? Infinity;
    if (continuationIds.length > maxLength) {
      throw new EvaluationError(`loglikelihood: the continuation has ${continuationIds.length} tokens, more than the model's context of ${maxLength}`);
    }
    const all = [...contextIds, ...continuationIds];
    const input = all.slice(Math.max(0, all.length - (maxLength + 1)), -1);
    const { logits } = model.forward({ inputIds: [input] });
    return scoreRows(logits, input.length - continuationIds.length, continuationIds);
  });
}

export interface GenerationTaskOptions {
  maxNewTokens: number;
  /** Text ends at the first of these strings, which is cut off (lm-eval's `until`). */
  stop: readonly string[];
}

/**
 * Greedy generation for generation tasks, as lm-eval's generate_until: the prompt is encoded as for
 * log-likelihoods (no special tokens for causal LMs) and left-truncated to leave room for maxNewTokens; the
 * text ends at EOS, after maxNewTokens, or before the first stop string.
 */
export async function generateText(model: PreTrainedModel, tok: EvalTokenizer, prompt: string, options: GenerationTaskOptions): Promise<string> {
  let ids = encode(tok, prompt, model.isEncoderDecoder);
  if (ids.length === 0 && !model.isEncoderDecoder) ids = [prefixTokenId(model, tok, "generate")];
  checkIds(model, ids, "generate");
  const stop = [...options.stop];
  const out = await generate(model, tok, ids, {
    maxNewTokens: options.maxNewTokens,
    doSample: false,
    numBeams: 1,
    truncate: true,
    ...(stop.length > 0 ? { stopStrings: stop } : {}),
  });
  const text = out.text![0]!;
  const cut = Math.min(...stop.map((s) => text.indexOf(s)).filter((i) => i >= 0));
  return Number.isFinite(cut) ? text.slice(0, cut) : text;
}
