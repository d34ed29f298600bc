import { EvaluationError } from "./errors.js";
import type { ModelInputs, ModelOutput } from "../models/model.js";
import { Tensor, noGrad } from "../tensor/index.js";

/** What perplexity needs from a causal LM: a forward pass that returns the mean loss for labels. */
export interface CausalLM {
  forward(inputs: ModelInputs): ModelOutput;
  readonly maxPositionEmbeddings?: number | null;
}

export interface PerplexityOptions {
  /** Window length (tokens per forward pass); default the model's context length, else the whole text. */
  maxLength?: number;
  /** How far each window moves; default maxLength (disjoint windows). */
  stride?: number;
}

export interface PerplexityResult {
  perplexity: number;
  /** Summed negative log-likelihood (nats) over the scored tokens. */
  nll: number;
  /** Number of tokens whose likelihood was scored. */
  tokens: number;
}

/**
 * Perplexity exp(Σ nll / N) of a causal LM over one or more token sequences, with the sliding-window method
 * of the transformers guide: windows of maxLength start every `stride` tokens; each window scores only the
 * tokens not scored by the previous one (earlier tokens are context, labelled -100), so every token after a
 * sequence's first is scored exactly once, with up to maxLength - stride tokens of extra context.
 */
export function perplexity(model: CausalLM, sequences: number[] | number[][], options: PerplexityOptions = {}): PerplexityResult {
  const seqs = (sequences.length > 0 && Array.isArray(sequences[0]) ? sequences : [sequences]) as number[][];
  if (seqs.length === 0 || seqs.every((s) => s.length < 2)) throw new EvaluationError("perplexity: need at least one sequence of 2 or more tokens");
  let nll = 0, tokens = 0;
  for (const ids of seqs) {
    const maxLength = options.maxLength ?? model.maxPositionEmbeddings ?? ids.length;
    const stride = options.stride ?? maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new EvaluationError(`perplexity: maxLength must be an integer >= 2, got ${maxLength}`);
    if (!Number.isInteger(stride) || stride < 1 || stride > maxLength) throw new EvaluationError(`perplexity: stride must be an integer in [1, maxLength], got ${stride}`);
    let prevEnd = 0;
    for (let begin = 0; begin < ids.length; begin += stride) {
      const end = Math.min(begin + maxLength, ids.length);
      const targetLength = end - prevEnd;
      const window = ids.slice(begin, end);
      const labels = window.map((id, i) => (i < window.length - targetLength ? -100 : id));
      // The shift inside the model drops the window's first label, so it is never scored.
      const scored = labels.slice(1).filter((l) => l !== -100).length;
      if (scored > 0) {
        const loss = noGrad(() => model.forward({ inputIds: [window], labels: [labels] }).loss);
        if (!(loss instanceof Tensor)) throw new EvaluationError("perplexity: the model returned no loss for labels");
        nll += loss.item() * scored;
        tokens += scored;
      }
      prevEnd = end;
      if (end === ids.length) break;
    }
  }
  return { perplexity: Math.exp(nll / tokens), nll, tokens };
}
