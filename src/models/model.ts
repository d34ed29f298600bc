import { TensorError } from "../errors.js";
import { Linear } from "../nn/layers.js";
import { Module, Parameter } from "../nn/module.js";
import { Tensor, isGradEnabled, tensor } from "../tensor/tensor.js";
import type { FloatArray } from "../tensor/dtype.js";
import * as F from "../tensor/ops.js";
import { Generator } from "../utils/rng.js";
import type { BaseConfig } from "./config.js";
import { KVCache } from "./cache.js";
import { saveModel, type SaveModelOptions } from "./checkpoint.js";

/** Integer inputs may be tensors or plain (nested) arrays. */
export type IdsInput = Tensor | number[] | number[][];

export interface ModelInputs {
  inputIds?: IdsInput;
  attentionMask?: IdsInput;
  tokenTypeIds?: IdsInput;
  positionIds?: IdsInput;
  decoderInputIds?: IdsInput;
  decoderAttentionMask?: IdsInput;
  /** The encoder's last hidden state, to skip re-encoding (encoder-decoder models). */
  encoderOutputs?: Tensor;
  labels?: IdsInput;
  pastKeyValues?: KVCache | null;
  useCache?: boolean;
}

export interface ModelOutput {
  logits: Tensor;
  loss?: Tensor;
  pastKeyValues?: KVCache;
  /** Encoder-decoder models: the encoder output used, so generation can reuse it. */
  encoderLastHiddenState?: Tensor;
}

/** Converts ids given as arrays or tensors into a 2-D i32 tensor [batch, seq]. */
export function toIds(x: IdsInput, name: string): Tensor {
  let t: Tensor;
  if (x instanceof Tensor) t = x.dtype === "i32" ? x : F.toDtype(x, "i32");
  else t = tensor(x as number[][], { dtype: "i32" });
  if (t.ndim === 1) t = F.unsqueeze(t, 0);
  if (t.ndim !== 2) throw new TensorError(`${name}: expected [batch, sequence] ids, got shape [${t.shape.join(", ")}]`);
  return t;
}

/**
 * The base of every model family: a Module with its config, Hugging Face parameter names, and the
 * conventions transformers' PreTrainedModel has (loss from labels, tied embeddings, weight init).
 */
export abstract class PreTrainedModel<C extends BaseConfig = BaseConfig> extends Module {
  /** Generation defaults from generation_config.json, when the checkpoint has one. */
  generationConfig: Record<string, unknown> | null = null;

  constructor(readonly config: C) {
    super();
  }

  abstract forward(inputs: ModelInputs): ModelOutput;

  get isEncoderDecoder(): boolean {
    return false;
  }

  /** The prefix of the base model inside the head model ("transformer" for GPT-2, "model" for LLaMA). */
  get baseModelPrefix(): string {
    return "";
  }

  /** Checkpoint keys that are buffers in transformers, not parameters (ignored when loading). */
  get ignoredCheckpointKeys(): RegExp[] {
    return [];
  }

  /**
   * Persistent buffers (state that is saved and loaded but not trained, e.g. BART's final_logits_bias):
   * loaded from the checkpoint when it has them, written by save.
   */
  namedBuffers(): [string, Tensor][] {
    return [];
  }

  /**
   * Called with the checkpoint's tensor names before its weights are copied in. transformers leaves a tied
   * pair untied when the checkpoint stores both names; a family with tied weights can do the same here.
   */
  adaptToCheckpoint(_keys: ReadonlySet<string>): void {}

  /** Initializes every parameter as the family does in transformers (_init_weights). */
  abstract initWeights(generator: Generator): void;

  /** Writes a folder transformers can load: config.json, safetensors (sharded above a size), generation_config.json. */
  save(dir: string, options: SaveModelOptions = {}): Promise<void> {
    return saveModel(this, dir, options);
  }

  /** Length of the context the model was trained for, when its config says. */
  get maxPositionEmbeddings(): number | null {
    return null;
  }
}

/** A decoder-only model's forward inputs as tensors, with a new cache when useCache asks for one. */
export function causalLMInputs(inputs: ModelInputs, model: string): { ids: Tensor; mask: Tensor | null; positions: Tensor | null; cache: KVCache | null } {
  if (!inputs.inputIds) throw new RangeError(`${model}.forward: inputIds is required`);
  return {
    ids: toIds(inputs.inputIds, "inputIds"),
    mask: inputs.attentionMask ? toIds(inputs.attentionMask, "attentionMask") : null,
    positions: inputs.positionIds ? toIds(inputs.positionIds, "positionIds") : null,
    cache: inputs.pastKeyValues ?? (inputs.useCache ? new KVCache() : null),
  };
}

/** A head whose weight is another module's parameter (an LM head tied to the token embeddings). */
export class TiedLinear extends Module {
  constructor(readonly weight: Parameter) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight);
  }
}

/**
 * A causal LM's head: the token embeddings themselves when the checkpoint ties them (tie_word_embeddings, the
 * default for GPT-2 and most small LLaMA-family models), else its own bias-free [vocab, hidden] Linear.
 */
export function lmHead(tie: boolean, embeddings: Parameter, hiddenSize: number, vocabSize: number): TiedLinear | Linear {
  return tie ? new TiedLinear(embeddings) : new Linear(hiddenSize, vocabSize, { bias: false });
}

/** Causal LM loss as transformers computes it: predict token t+1 from position t; -100 ignored. */
/**
 * The data of a block's parameters (null where a part is absent) when the block may run as one fused backend call
 * for inference: not training, the inputs and every present part f32, and nothing recording a gradient. Null when
 * it may not.
 */
export function fusedBlockArrays<K extends string>(training: boolean, inputs: Tensor[], parts: Record<K, Tensor | null>): Record<K, FloatArray | null> | null {
  const present = (Object.values(parts) as (Tensor | null)[]).filter((p): p is Tensor => p !== null);
  if (training || [...inputs, ...present].some((t) => t.dtype !== "f32")) return null;
  if (isGradEnabled() && [...inputs, ...present].some((t) => t.requiresGrad)) return null;
  const out = {} as Record<K, FloatArray | null>;
  for (const name of Object.keys(parts) as K[]) out[name] = parts[name]?.floatData ?? null;
  return out;
}

export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  const shifted = F.reshape(F.slice(logits, 1, 0, t - 1), [b * (t - 1), v]);
  const targets = F.reshape(F.slice(labels, 1, 1), [b * (t - 1)]);
  return F.crossEntropy(shifted, targets);
}

/** Seq2seq decoder inputs from labels: shift right, decoder_start_token_id first, -100 replaced by pad. */
export function shiftTokensRight(labels: Tensor, padTokenId: number, decoderStartTokenId: number): Tensor {
  const [b, t] = labels.shape as [number, number];
  const src = labels.data as Int32Array;
  const out = new Int32Array(b * t);
  for (let i = 0; i < b; i++) {
    out[i * t] = decoderStartTokenId;
    for (let j = 1; j < t; j++) {
      const v = src[i * t + j - 1]!;
      out[i * t + j] = v === -100 ? padTokenId : v;
    }
  }
  return new Tensor(out, [b, t], "i32");
}
