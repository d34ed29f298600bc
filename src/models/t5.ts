/**
 * T5 (Raffel et al., 2020) and its v1.1 / FLAN-T5 variants: an encoder-decoder of pre-norm blocks with RMS
 * layer norms (no mean, no bias), unscaled q·kᵀ attention whose only position signal is a learned bias per
 * relative-position bucket (computed by each stack's first layer and shared by the rest), a ReLU or gated
 * feed-forward, one embedding table shared by encoder and decoder, and a head tied to it, the decoder output
 * scaled by d_model^-0.5 first in original T5 (not in v1.1 / FLAN-T5). Names follow transformers'
 * T5ForConditionalGeneration.
 */
import { Module, ModuleList, type Parameter } from "../nn/module.js";
import { Dropout, Embedding, Linear, RMSNorm } from "../nn/layers.js";
import { getActivation, type Activation } from "../nn/activations.js";
import { scaledDotProductAttention } from "../nn/attention.js";
import * as init from "../nn/init.js";
import { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import type { Generator } from "../utils/rng.js";
import { ConfigError } from "../errors.js";
import { ConfigReader, type BaseConfig, type RawConfig } from "./config.js";
import { KVCache, cachedKeyValues } from "./cache.js";
import { buildAttentionMask } from "./masks.js";
import { PreTrainedModel, toIds, type IdsInput, type ModelInputs, type ModelOutput } from "./model.js";
import { registerModelFamily } from "./registry.js";
import { readSeq2SeqInputs, seq2seqLoss, untiedCopy } from "./seq2seq.js";

export interface T5Config extends BaseConfig {
  dModel: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  dropoutRate: number;
  layerNormEpsilon: number;
  initializerFactor: number;
  /** The feed-forward activation, from feed_forward_proj ("gated-gelu" means gelu_new, as transformers reads it). */
  denseActFn: string;
  isGatedAct: boolean;
  /** Multiply the decoder output by d_model^-0.5 before the head (original T5, not v1.1 / FLAN-T5). */
  scaleDecoderOutputs: boolean;
  padTokenId: number;
  decoderStartTokenId: number;
}

export function parseT5Config(raw: RawConfig): T5Config {
  const r = new ConfigReader(raw);
  const proj = r.string("feed_forward_proj", "relu");
  const parts = proj.split("-");
  if ((parts.length > 1 && parts[0] !== "gated") || parts.length > 2) {
    throw new ConfigError(`config.json: field "feed_forward_proj" must be "{activation}" or "gated-{activation}" (e.g. "relu", "gated-gelu"), got ${JSON.stringify(proj)}`);
  }
  const denseActFn = proj === "gated-gelu" ? "gelu_new" : parts[parts.length - 1]!;
  getActivation(denseActFn, `config.json: feed_forward_proj ${JSON.stringify(proj)}`);
  // Hub configs say tie_word_embeddings: false for v1.1 / FLAN-T5 to mean "do not scale". transformers 5
  // gives that meaning its own field, scale_decoder_outputs, and always ties the head: it stays untied only
  // when the checkpoint stores lm_head.weight (see adaptToCheckpoint).
  const tieFlag = r.boolean("tie_word_embeddings", true);
  const numLayers = r.int("num_layers", 6);
  const padTokenId = r.optionalInt("pad_token_id") ?? 0;
  const config: T5Config = {
    ...r.base(),
    tieWordEmbeddings: true,
    padTokenId,
    eosTokenId: r.tokenIds("eos_token_id") ?? 1,
    dModel: r.int("d_model", 512),
    dKv: r.int("d_kv", 64),
    dFf: r.int("d_ff", 2048),
    numLayers,
    numDecoderLayers: r.optionalInt("num_decoder_layers") ?? numLayers,
    numHeads: r.int("num_heads", 8),
    relativeAttentionNumBuckets: r.int("relative_attention_num_buckets", 32),
    relativeAttentionMaxDistance: r.int("relative_attention_max_distance", 128),
    dropoutRate: r.number("dropout_rate", 0.1),
    layerNormEpsilon: r.number("layer_norm_epsilon", 1e-6),
    initializerFactor: r.number("initializer_factor", 1.0),
    denseActFn,
    isGatedAct: parts[0] === "gated",
    scaleDecoderOutputs: r.boolean("scale_decoder_outputs", tieFlag),
    decoderStartTokenId: r.optionalInt("decoder_start_token_id") ?? padTokenId,
  };
  for (const [key, v] of [["d_model", config.dModel], ["d_kv", config.dKv], ["d_ff", config.dFf], ["num_heads", config.numHeads], ["relative_attention_num_buckets", config.relativeAttentionNumBuckets]] as const) {
    if (v < 1) throw new ConfigError(`config.json: field "${key}" must be a positive integer, got ${v}`);
  }
  return config;
}

/**
 * The bucket of a relative position (key position - query position), as Mesh TensorFlow and transformers
 * compute it: half the buckets per direction when bidirectional (later keys in the upper half), else only
 * the past counts; exact buckets below max_exact, then logarithmic up to max_distance. The logarithmic part
 * is evaluated in float32 as PyTorch does, so bucket edges fall where they fall there.
 */
export function relativePositionBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = numBuckets;
  let distance: number;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (relativePosition > 0) bucket += n;
    distance = Math.abs(relativePosition);
  } else {
    distance = -Math.min(relativePosition, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (distance < maxExact) return bucket + distance;
  const f32 = Math.fround;
  const logRatio = f32(Math.log(f32(distance / maxExact)));
  const scaled = f32(f32(logRatio / f32(Math.log(maxDistance / maxExact))) * (n - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), n - 1);
}

class T5Attention extends Module {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  relative_attention_bias: Embedding | undefined;
  private readonly _heads: number;
  private readonly _dKv: number;

  constructor(private readonly _config: T5Config, hasRelativeAttentionBias: boolean, private readonly _isDecoder: boolean, private readonly _layerIdx: number) {
    super();
    const inner = _config.numHeads * _config.dKv;
    this.q = new Linear(_config.dModel, inner, { bias: false });
    this.k = new Linear(_config.dModel, inner, { bias: false });
    this.v = new Linear(_config.dModel, inner, { bias: false });
    this.o = new Linear(inner, _config.dModel, { bias: false });
    this.relative_attention_bias = hasRelativeAttentionBias ? new Embedding(_config.relativeAttentionNumBuckets, _config.numHeads) : undefined;
    this._heads = _config.numHeads;
    this._dKv = _config.dKv;
  }

  /** The learned bias [1, heads, queries, keys] for queries at absolute positions past, past+1, …. */
  positionBias(queryLength: number, keyLength: number, past: number): Tensor {
    if (!this.relative_attention_bias) throw new Error("T5Attention.positionBias: this layer has no relative attention bias");
    const { relativeAttentionNumBuckets: nb, relativeAttentionMaxDistance: md } = this._config;
    const buckets = new Int32Array(queryLength * keyLength);
    for (let i = 0; i < queryLength; i++) {
      for (let j = 0; j < keyLength; j++) buckets[i * keyLength + j] = relativePositionBucket(j - (past + i), !this._isDecoder, nb, md);
    }
    const values = this.relative_attention_bias.forward(new Tensor(buckets, [queryLength, keyLength], "i32"));
    return F.unsqueeze(F.permute(values, [2, 0, 1]), 0);
  }

  private split(x: Tensor): Tensor {
    const [b, t] = x.shape as [number, number, number];
    return F.transpose(F.reshape(x, [b, t, this._heads, this._dKv]), 1, 2);
  }

  /** Self-attention when `encoderStates` is null, else cross-attention over them (their keys/values cached once). */
  forward(x: Tensor, bias: Tensor | null, cache: KVCache | null, encoderStates: Tensor | null): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const source = encoderStates ?? x;
    const { key, value, length } = cachedKeyValues(cache, this._layerIdx, encoderStates !== null, () => ({
      key: this.split(this.k.forward(source)),
      value: this.split(this.v.forward(source)),
    }));
    // Mesh TensorFlow folds the 1/sqrt(d) into the query init, so the scores are not scaled.
    const y = scaledDotProductAttention(this.split(this.q.forward(x)), key, value, {
      mask: bias, scale: 1, dropout: this._config.dropoutRate, training: this.training, kvLength: length,
    });
    return this.o.forward(F.reshape(F.transpose(y, 1, 2), [b, t, this._heads * this._dKv]));
  }
}

class T5LayerSelfAttention extends Module {
  SelfAttention: T5Attention;
  layer_norm: RMSNorm;
  dropout: Dropout;

  constructor(config: T5Config, hasRelativeAttentionBias: boolean, isDecoder: boolean, layerIdx: number) {
    super();
    this.SelfAttention = new T5Attention(config, hasRelativeAttentionBias, isDecoder, layerIdx);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
    this.dropout = new Dropout(config.dropoutRate);
  }

  forward(x: Tensor, bias: Tensor | null, cache: KVCache | null): Tensor {
    return F.add(x, this.dropout.forward(this.SelfAttention.forward(this.layer_norm.forward(x), bias, cache, null)));
  }
}

class T5LayerCrossAttention extends Module {
  EncDecAttention: T5Attention;
  layer_norm: RMSNorm;
  dropout: Dropout;

  constructor(config: T5Config, layerIdx: number) {
    super();
    this.EncDecAttention = new T5Attention(config, false, true, layerIdx);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
    this.dropout = new Dropout(config.dropoutRate);
  }

  forward(x: Tensor, encoderStates: Tensor, mask: Tensor | null, cache: KVCache | null): Tensor {
    return F.add(x, this.dropout.forward(this.EncDecAttention.forward(this.layer_norm.forward(x), mask, cache, encoderStates)));
  }
}

class T5DenseActDense extends Module {
  wi: Linear;
  wo: Linear;
  dropout: Dropout;
  private readonly _act: Activation;

  constructor(config: T5Config) {
    super();
    this.wi = new Linear(config.dModel, config.dFf, { bias: false });
    this.wo = new Linear(config.dFf, config.dModel, { bias: false });
    this.dropout = new Dropout(config.dropoutRate);
    this._act = getActivation(config.denseActFn);
  }

  forward(x: Tensor): Tensor {
    return this.wo.forward(this.dropout.forward(this._act(this.wi.forward(x))));
  }
}

class T5DenseGatedActDense extends Module {
  wi_0: Linear;
  wi_1: Linear;
  wo: Linear;
  dropout: Dropout;
  private readonly _act: Activation;

  constructor(config: T5Config) {
    super();
    this.wi_0 = new Linear(config.dModel, config.dFf, { bias: false });
    this.wi_1 = new Linear(config.dModel, config.dFf, { bias: false });
    this.wo = new Linear(config.dFf, config.dModel, { bias: false });
    this.dropout = new Dropout(config.dropoutRate);
    this._act = getActivation(config.denseActFn);
  }

  forward(x: Tensor): Tensor {
    const gated = F.mul(this._act(this.wi_0.forward(x)), this.wi_1.forward(x));
    return this.wo.forward(this.dropout.forward(gated));
  }
}

class T5LayerFF extends Module {
  DenseReluDense: T5DenseActDense | T5DenseGatedActDense;
  layer_norm: RMSNorm;
  dropout: Dropout;

  constructor(config: T5Config) {
    super();
    this.DenseReluDense = config.isGatedAct ? new T5DenseGatedActDense(config) : new T5DenseActDense(config);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
    this.dropout = new Dropout(config.dropoutRate);
  }

  forward(x: Tensor): Tensor {
    return F.add(x, this.dropout.forward(this.DenseReluDense.forward(this.layer_norm.forward(x))));
  }
}

class T5Block extends Module {
  layer: ModuleList;
  private readonly _self: T5LayerSelfAttention;
  private readonly _cross: T5LayerCrossAttention | null;
  private readonly _ff: T5LayerFF;

  constructor(config: T5Config, isDecoder: boolean, layerIdx: number) {
    super();
    this._self = new T5LayerSelfAttention(config, layerIdx === 0, isDecoder, layerIdx);
    this._cross = isDecoder ? new T5LayerCrossAttention(config, layerIdx) : null;
    this._ff = new T5LayerFF(config);
    this.layer = new ModuleList(this._cross ? [this._self, this._cross, this._ff] : [this._self, this._ff]);
  }

  get selfAttention(): T5Attention {
    return this._self.SelfAttention;
  }

  forward(x: Tensor, bias: Tensor | null, encoder: { states: Tensor; mask: Tensor | null } | null, cache: KVCache | null): Tensor {
    let h = this._self.forward(x, bias, cache);
    if (this._cross && encoder) h = this._cross.forward(h, encoder.states, encoder.mask, cache);
    return this._ff.forward(h);
  }
}

export class T5Stack extends Module {
  embed_tokens: Embedding;
  block: ModuleList<T5Block>;
  final_layer_norm: RMSNorm;
  dropout: Dropout;

  constructor(config: T5Config, embedTokens: Embedding, private readonly _isDecoder: boolean) {
    super();
    this.embed_tokens = embedTokens;
    const layers = _isDecoder ? config.numDecoderLayers : config.numLayers;
    this.block = new ModuleList(Array.from({ length: layers }, (_, i) => new T5Block(config, _isDecoder, i)));
    this.final_layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
    this.dropout = new Dropout(config.dropoutRate);
  }

  /**
   * The encoder (bidirectional) or decoder (causal, attending to `encoder`) stack. With a cache, the new
   * tokens sit after the cached ones: their relative-position bias is that of their absolute positions.
   */
  forward(ids: Tensor, attentionMask: Tensor | null, encoder: { states: Tensor; mask: Tensor | null } | null, cache: KVCache | null): Tensor {
    const [b, t] = ids.shape as [number, number];
    const past = cache?.seqLength ?? 0;
    let x = this.dropout.forward(this.embed_tokens.forward(ids));
    const dtype = x.dtype as "f32" | "f64";
    const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: past + t, attentionMask, causal: this._isDecoder, dtype });
    const bias = this.block.length > 0 ? F.add(this.block.get(0).selfAttention.positionBias(t, past + t, past), mask) : null;
    const cross = encoder && {
      states: encoder.states,
      mask: buildAttentionMask({ batch: b, queryLength: t, keyLength: encoder.states.shape[1]!, attentionMask: encoder.mask, causal: false, dtype }),
    };
    for (const block of this.block) x = block.forward(x, bias, cross, cache);
    return this.dropout.forward(this.final_layer_norm.forward(x));
  }
}

/** The output projection; its weight is the shared embedding table unless the checkpoint stores its own. */
class T5Head extends Module {
  constructor(public weight: Parameter) {
    super();
  }
}

export class T5ForConditionalGeneration extends PreTrainedModel<T5Config> {
  shared: Embedding;
  encoder: T5Stack;
  decoder: T5Stack;
  lm_head: T5Head;

  constructor(config: T5Config) {
    super(config);
    this.shared = new Embedding(config.vocabSize, config.dModel);
    this.encoder = new T5Stack(config, this.shared, false);
    this.decoder = new T5Stack(config, this.shared, true);
    this.lm_head = new T5Head(this.shared.weight);
  }

  override get isEncoderDecoder(): boolean {
    return true;
  }

  override get ignoredCheckpointKeys(): RegExp[] {
    // Old checkpoints carry an unused bias table in the first cross-attention (transformers ignores it too).
    return [/^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/];
  }

  /**
   * As transformers 5: a tied weight that the checkpoint also stores under its own name is left untied —
   * FLAN-T5 and T5 v1.1 checkpoints on the hub keep a trained lm_head.weight of their own.
   */
  override adaptToCheckpoint(keys: ReadonlySet<string>): void {
    const embeddingStored = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"].some((k) => keys.has(k));
    if (this.lm_head.weight === this.shared.weight && keys.has("lm_head.weight") && embeddingStored) this.lm_head.weight = untiedCopy(this.shared.weight);
    if (!keys.has("shared.weight")) return;
    for (const stack of [this.encoder, this.decoder]) {
      const name = `${stack === this.encoder ? "encoder" : "decoder"}.embed_tokens.weight`;
      if (stack.embed_tokens === this.shared && keys.has(name)) {
        const own = init.withoutInit(() => new Embedding(this.config.vocabSize, this.config.dModel));
        own.weight = untiedCopy(this.shared.weight);
        stack.embed_tokens = own;
      }
    }
  }

  /** The encoder's last hidden state [batch, seq, d_model], to reuse across decoding steps. */
  encode(inputIds: IdsInput, attentionMask: IdsInput | null = null): Tensor {
    return this.encoder.forward(toIds(inputIds, "inputIds"), attentionMask ? toIds(attentionMask, "attentionMask") : null, null, null);
  }

  forward(inputs: ModelInputs): ModelOutput {
    const c = this.config;
    const ids = readSeq2SeqInputs(inputs, "T5ForConditionalGeneration", c);
    const encoderStates = inputs.encoderOutputs ?? this.encoder.forward(ids.inputIds!, ids.attentionMask, null, null);
    const cache = inputs.pastKeyValues ?? (inputs.useCache ? new KVCache() : null);
    let h = this.decoder.forward(ids.decoderInputIds, ids.decoderAttentionMask, { states: encoderStates, mask: ids.attentionMask }, cache);
    if (c.scaleDecoderOutputs) h = F.affine(h, c.dModel ** -0.5);
    const logits = F.linear(h, this.lm_head.weight);
    const out: ModelOutput = { logits, encoderLastHiddenState: encoderStates };
    if (ids.labels) out.loss = seq2seqLoss(logits, ids.labels);
    if (cache) out.pastKeyValues = cache;
    return out;
  }

  /** transformers' T5PreTrainedModel._init_weights (Mesh TensorFlow's fan-in scaled normals). */
  initWeights(g: Generator): void {
    const { initializerFactor: f, dModel, dKv, dFf, numHeads } = this.config;
    for (const [name, p] of this.namedParameters()) {
      const last = name.split(".").slice(-2).join(".");
      if (name.endsWith("layer_norm.weight")) init.constant_(p, f);
      else if (name === "shared.weight" || name === "lm_head.weight" || name.endsWith("embed_tokens.weight")) init.normal_(p, 0, f, g);
      else if (last === "wi.weight" || last === "wi_0.weight" || last === "wi_1.weight" || last === "k.weight" || last === "v.weight") init.normal_(p, 0, f * dModel ** -0.5, g);
      else if (last === "relative_attention_bias.weight") init.normal_(p, 0, f * dModel ** -0.5, g);
      else if (last === "wo.weight") init.normal_(p, 0, f * dFf ** -0.5, g);
      else if (last === "q.weight") init.normal_(p, 0, f * (dModel * dKv) ** -0.5, g);
      else if (last === "o.weight") init.normal_(p, 0, f * (numHeads * dKv) ** -0.5, g);
      else throw new Error(`T5ForConditionalGeneration.initWeights: no rule for ${name}`);
    }
  }
}

registerModelFamily({
  modelTypes: ["t5"],
  architectures: { T5ForConditionalGeneration: (raw) => new T5ForConditionalGeneration(parseT5Config(raw)) },
  defaultArchitecture: "T5ForConditionalGeneration",
  description: "T5 / FLAN-T5: encoder-decoder, relative position buckets, RMS norms, ReLU or gated-GELU FFN",
});
