/**
 * Runs a model one decoding step at a time, as transformers' generate loop does: one full prefill, then (with the
 * KV cache) only the newest token of every row. It hides the difference between decoder-only models (the prompt
 * is the start of every row; left padding handled by the attention mask and position ids made from it) and
 * encoder-decoder models (the encoder runs once; rows are the decoder's ids).
 */
import type { KVCache } from "../models/cache.js";
import { positionIdsFromMask } from "../models/masks.js";
import type { ModelInputs, PreTrainedModel } from "../models/model.js";
import { Tensor, noGrad } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import { GenerationError } from "./errors.js";
import type { TokenRows } from "./types.js";

export interface StepRunnerOptions {
  /**
   * Decoder-only: the attention mask of the prompts ([rows][promptLength], 1 = token, 0 = padding), or null when
   * nothing is padded. Encoder-decoder: the encoder's mask.
   */
  attentionMask: number[][] | null;
  /** Encoder-decoder only: the encoder input ids, one row per decoding row. */
  encoderInputIds?: number[][];
  /** false recomputes every row from its start at every step (slower; for comparison). */
  useCache: boolean;
  /**
   * Rows come in groups of this many copies of one prompt (numBeams, or numReturnSequences when sampling). With
   * the cache, the first step then runs the model on one row of each group and copies its cache and scores to the
   * others (transformers runs every copy).
   */
  copies?: number;
}

export class StepRunner {
  private cache: KVCache | null = null;
  private fed = 0;
  private encoderStates: Tensor | null = null;
  private mask: number[][] | null;
  private readonly encoderMask: Tensor | null = null;

  constructor(readonly model: PreTrainedModel, private readonly options: StepRunnerOptions) {
    if (model.isEncoderDecoder) {
      if (!options.encoderInputIds) throw new GenerationError("an encoder-decoder model needs encoder input ids");
      this.encoderMask = options.attentionMask ? idsTensor(options.attentionMask) : null;
      this.mask = null;
    } else {
      this.mask = options.attentionMask ? options.attentionMask.map((r) => [...r]) : null;
    }
  }

  /**
   * The next-token logits of every row, [rows, vocab] in float32 (row-major). `rows` holds every row's ids so far
   * (equal lengths); with the cache only the ids not fed yet go through the model.
   */
  next(rows: TokenRows): { scores: Float32Array; vocabSize: number } {
    const length = rows[0]!.length;
    if (this.mask) for (const m of this.mask) while (m.length < length) m.push(1);
    const copies = this.options.copies ?? 1;
    const once = copies > 1 && this.options.useCache && this.fed === 0 && this.inGroups(rows, copies);
    const pick = <T>(list: readonly T[]): readonly T[] => (once ? list.filter((_, i) => i % copies === 0) : list);
    const start = this.options.useCache ? this.fed : 0;
    const input = idsTensor(pick(rows).map((r) => r.slice(start)));
    const inputs: ModelInputs = { useCache: this.options.useCache };
    if (this.options.useCache && this.cache) inputs.pastKeyValues = this.cache;
    if (this.model.isEncoderDecoder) {
      inputs.decoderInputIds = input;
      if (this.encoderStates) inputs.encoderOutputs = this.encoderStates;
      else inputs.inputIds = idsTensor(pick(this.options.encoderInputIds!));
      if (this.encoderMask) inputs.attentionMask = once ? idsTensor(pick(this.options.attentionMask!)) : this.encoderMask;
    } else {
      inputs.inputIds = input;
      if (this.mask) {
        const mask = idsTensor(pick(this.mask));
        inputs.attentionMask = mask;
        inputs.positionIds = positionIdsFromMask(mask, length - start);
      }
    }
    const out = noGrad(() => this.model.forward(inputs));
    // one row per group so far: every row of a group takes its cache, encoder states and scores
    const spread = once ? new Tensor(Int32Array.from(rows, (_, i) => Math.floor(i / copies)), [rows.length], "i32") : null;
    if (this.options.useCache) this.cache = out.pastKeyValues ?? null;
    if (spread) this.cache?.reorder(spread);
    if (out.encoderLastHiddenState) this.encoderStates = spread ? F.indexSelect(out.encoderLastHiddenState, 0, spread) : out.encoderLastHiddenState;
    this.fed = length;
    const last = lastPosition(out.logits);
    if (!spread) return last;
    const V = last.vocabSize, scores = new Float32Array(rows.length * V);
    spread.data.forEach((from, i) => scores.set(last.scores.subarray(from * V, (from + 1) * V), i * V));
    return { scores, vocabSize: V };
  }

  /** Whether the rows, their mask rows and encoder inputs repeat in groups of `copies` identical ones. */
  private inGroups(rows: TokenRows, copies: number): boolean {
    const lists = [rows, this.mask ?? this.options.attentionMask, this.options.encoderInputIds].filter((l) => l != null);
    return rows.length % copies === 0 && lists.every((list) => list.every((row, i) => {
      const head = list[i - (i % copies)]!;
      return row.length === head.length && row.every((v, j) => v === head[j]);
    }));
  }

  /** Beam search: row i continues what row indices[i] was (the cache, and the mask rows, follow). */
  reorder(indices: readonly number[]): void {
    if (this.cache) this.cache.reorder(new Tensor(Int32Array.from(indices), [indices.length], "i32"));
    if (this.mask) this.mask = indices.map((i) => [...this.mask![i]!]);
  }
}

function idsTensor(rows: readonly (readonly number[])[]): Tensor {
  const t = rows[0]?.length ?? 0;
  const data = new Int32Array(rows.length * t);
  rows.forEach((r, i) => data.set(r, i * t));
  return new Tensor(data, [rows.length, t], "i32");
}

/** logits [rows, seq, vocab] -> the last position of every row, as float32 (transformers casts to float32 too). */
function lastPosition(logits: Tensor): { scores: Float32Array; vocabSize: number } {
  const [rows, seq, vocab] = logits.shape as [number, number, number];
  const src = logits.dtype === "f32" || logits.dtype === "f64" ? (logits.data as Float32Array | Float64Array) : F.toDtype(logits, "f32").floatData;
  const out = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const from = (r * seq + seq - 1) * vocab;
    if (src instanceof Float32Array) out.set(src.subarray(from, from + vocab), r * vocab);
    else for (let j = 0; j < vocab; j++) out[r * vocab + j] = src[from + j]!;
  }
  return { scores: out, vocabSize: vocab };
}
