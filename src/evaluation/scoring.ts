import type { PreTrainedModel } from "../models/model.js";
import type { KVCache } from "../models/cache.js";
import { argmaxRow, logSoftmaxRow } from "../generation/sampling.js";
import { noGrad, type Tensor } from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { EvaluationError } from "./errors.js";

/** What the harness needs from a tokenizer (lmforge's Tokenizer fits). */
export type EvalTokenizer = Pick<Tokenizer, "encode" | "decode" | "bosTokenId" | "eosTokenId">;

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

export interface GreedyOptions {
  maxNewTokens: number;
  stop: readonly string[];
}

export interface GreedyResult {
  text: string;
  ids: number[];
  finishReason: "length" | "eos" | "stop";
}

/**
 * Greedy decoding with the KV cache, for generation tasks. The prompt is left-truncated so prompt + maxNewTokens
 * fits the model's context (as lm-eval does); decoding ends at EOS (the model's and the tokenizer's), after
 * maxNewTokens, or at the first stop string, which is cut from the text.
 */
export function greedyGenerate(model: PreTrainedModel, tok: EvalTokenizer, prompt: string, options: GreedyOptions): GreedyResult {
  const eos = new Set<number>([model.config.eosTokenId ?? [], tok.eosTokenId ?? []].flat());
  const ids: number[] = [];
  let finishReason: GreedyResult["finishReason"] = "length";
  let text = "";
  noGrad(() => {
    let step: (next: number | null) => Tensor;
    if (model.isEncoderDecoder) {
      const encoderIds = encode(tok, prompt, true);
      checkIds(model, encoderIds, "generate");
      const start = (model.config as { decoderStartTokenId?: number }).decoderStartTokenId ?? model.config.padTokenId ?? 0;
      let cache: KVCache | undefined;
      let encoderOutputs: Tensor | undefined;
      step = (next) => {
        const out = model.forward({
          ...(encoderOutputs ? { encoderOutputs } : { inputIds: [encoderIds] }),
          decoderInputIds: [[next ?? start]],
          pastKeyValues: cache ?? null,
          useCache: true,
        });
        cache = out.pastKeyValues;
        encoderOutputs ??= out.encoderLastHiddenState;
        return out.logits;
      };
    } else {
      let promptIds = encode(tok, prompt, false);
      if (promptIds.length === 0) promptIds = [prefixTokenId(model, tok, "generate")];
      const maxLength = model.maxPositionEmbeddings;
      if (maxLength !== null) {
        if (options.maxNewTokens >= maxLength) {
          throw new EvaluationError(`generate: maxNewTokens (${options.maxNewTokens}) leaves no room for a prompt in the model's context of ${maxLength} tokens`);
        }
        promptIds = promptIds.slice(-(maxLength - options.maxNewTokens));
      }
      checkIds(model, promptIds, "generate");
      let cache: KVCache | undefined;
      step = (next) => {
        const out = model.forward({ inputIds: [next === null ? promptIds : [next]], pastKeyValues: cache ?? null, useCache: true });
        cache = out.pastKeyValues;
        return out.logits;
      };
    }
    let logits = step(null);
    while (ids.length < options.maxNewTokens) {
      const [, t, vocab] = logits.shape as [number, number, number];
      const next = argmaxRow(logits.floatData.subarray((t - 1) * vocab, t * vocab));
      if (eos.has(next)) {
        finishReason = "eos";
        break;
      }
      ids.push(next);
      text = tok.decode(ids, { skipSpecialTokens: true });
      const cut = firstStop(text, options.stop);
      if (cut >= 0) {
        text = text.slice(0, cut);
        finishReason = "stop";
        break;
      }
      if (ids.length === options.maxNewTokens) break;
      logits = step(next);
    }
  });
  return { text, ids, finishReason };
}

function firstStop(text: string, stop: readonly string[]): number {
  let at = -1;
  for (const s of stop) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}
