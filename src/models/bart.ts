/**
 * BART (Lewis et al., 2020): a denoising encoder-decoder of post-norm transformer layers with learned
 * absolute positions (the table starts 2 rows in, a fairseq legacy), a layer norm right after the
 * embeddings, biased attention and feed-forward projections, one token table shared by encoder, decoder and
 * the tied head, and a final_logits_bias buffer added to the logits. Names follow transformers'
 * BartForConditionalGeneration.
 */
import { Module, ModuleList, Parameter } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { getActivation, type Activation } from "../nn/activations.js";
import { scaledDotProductAttention } from "../nn/attention.js";
import * as init from "../nn/init.js";
import { Tensor, arange, zeros } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import { getDefaultGenerator, type Generator } from "../utils/rng.js";
import { ConfigError } from "../errors.js";
import { ConfigReader, type BaseConfig, type RawConfig } from "./config.js";
import { KVCache, cachedKeyValues } from "./cache.js";
import { buildAttentionMask } from "./masks.js";
import { PreTrainedModel, shiftTokensRight, toIds, type IdsInput, type ModelInputs, type ModelOutput } from "./model.js";
import { registerModelFamily } from "./registry.js";
import { Seq2SeqInputError, readSeq2SeqInputs, seq2seqLoss, storesKey, untiedCopy } from "./seq2seq.js";

export interface BartConfig extends BaseConfig {
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderAttentionHeads: number;
  decoderAttentionHeads: number;
  encoderFfnDim: number;
  decoderFfnDim: number;
  activationFunction: string;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  encoderLayerdrop: number;
  decoderLayerdrop: number;
  maxPositionEmbeddings: number;
  initStd: number;
  scaleEmbedding: boolean;
  padTokenId: number;
  decoderStartTokenId: number;
}

export function parseBartConfig(raw: RawConfig): BartConfig {
  const r = new ConfigReader(raw);
  const padTokenId = r.optionalInt("pad_token_id") ?? 1;
  const initStd = r.number("init_std", 0.02);
  const config: BartConfig = {
    ...r.base({ initializerRange: initStd }),
    padTokenId,
    bosTokenId: r.optionalInt("bos_token_id") ?? 0,
    eosTokenId: r.tokenIds("eos_token_id") ?? 2,
    dModel: r.int("d_model", 1024),
    encoderLayers: r.int("encoder_layers", 12),
    decoderLayers: r.int("decoder_layers", 12),
    encoderAttentionHeads: r.int("encoder_attention_heads", 16),
    decoderAttentionHeads: r.int("decoder_attention_heads", 16),
    encoderFfnDim: r.int("encoder_ffn_dim", 4096),
    decoderFfnDim: r.int("decoder_ffn_dim", 4096),
    activationFunction: r.string("activation_function", "gelu"),
    dropout: r.number("dropout", 0.1),
    attentionDropout: r.number("attention_dropout", 0.0),
    activationDropout: r.number("activation_dropout", 0.0),
    encoderLayerdrop: r.number("encoder_layerdrop", 0.0),
    decoderLayerdrop: r.number("decoder_layerdrop", 0.0),
    maxPositionEmbeddings: r.int("max_position_embeddings", 1024),
    initStd,
    scaleEmbedding: r.boolean("scale_embedding", false),
    decoderStartTokenId: r.optionalInt("decoder_start_token_id") ?? 2,
  };
  getActivation(config.activationFunction, `config.json: activation_function`);
  for (const key of ["encoder_attention_heads", "decoder_attention_heads"] as const) {
    const heads = key === "encoder_attention_heads" ? config.encoderAttentionHeads : config.decoderAttentionHeads;
    if (heads < 1 || config.dModel % heads !== 0) {
      throw new ConfigError(`config.json: field "${key}" (${heads}) must be a positive divisor of d_model (${config.dModel})`);
    }
  }
  return config;
}

/** Token embeddings multiplied by sqrt(d_model) when scale_embedding is set; the pad row gets no gradient. */
class BartScaledWordEmbedding extends Embedding {
  constructor(numEmbeddings: number, dim: number, paddingIdx: number | null, private readonly _scale: number) {
    super(numEmbeddings, dim, paddingIdx);
  }

  override forward(ids: Tensor): Tensor {
    const x = super.forward(ids);
    return this._scale === 1 ? x : F.affine(x, this._scale);
  }
}

/** Learned positions; row i + 2 holds position i (fairseq reserved the first two rows). */
class BartLearnedPositionalEmbedding extends Embedding {
  static readonly OFFSET = 2;

  constructor(private readonly _maxPositions: number, dim: number) {
    super(_maxPositions + BartLearnedPositionalEmbedding.OFFSET, dim);
  }

  /** Embeddings [length, dim] of positions past, past+1, …, past+length-1. */
  positions(length: number, past: number): Tensor {
    if (past + length > this._maxPositions) {
      throw new Seq2SeqInputError(`BART: ${past + length} positions exceed max_position_embeddings (${this._maxPositions})`);
    }
    const off = BartLearnedPositionalEmbedding.OFFSET;
    return super.forward(arange(past + off, past + length + off, 1, { dtype: "i32" }));
  }
}

class BartAttention extends Module {
  k_proj: Linear;
  v_proj: Linear;
  q_proj: Linear;
  out_proj: Linear;
  private readonly _headDim: number;

  constructor(private readonly _dim: number, private readonly _heads: number, private readonly _dropout: number, private readonly _layerIdx: number) {
    super();
    this.k_proj = new Linear(_dim, _dim);
    this.v_proj = new Linear(_dim, _dim);
    this.q_proj = new Linear(_dim, _dim);
    this.out_proj = new Linear(_dim, _dim);
    this._headDim = _dim / _heads;
  }

  private split(x: Tensor): Tensor {
    const [b, t] = x.shape as [number, number, number];
    return F.transpose(F.reshape(x, [b, t, this._heads, this._headDim]), 1, 2);
  }

  /** Self-attention when `encoderStates` is null, else cross-attention over them (their keys/values cached once). */
  forward(x: Tensor, mask: Tensor, cache: KVCache | null, encoderStates: Tensor | null = null): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const source = encoderStates ?? x;
    const { key, value, length } = cachedKeyValues(cache, this._layerIdx, encoderStates !== null, () => ({
      key: this.split(this.k_proj.forward(source)),
      value: this.split(this.v_proj.forward(source)),
    }));
    const y = scaledDotProductAttention(this.split(this.q_proj.forward(x)), key, value, {
      mask, scale: this._headDim ** -0.5, dropout: this._dropout, training: this.training, kvLength: length,
    });
    return this.out_proj.forward(F.reshape(F.transpose(y, 1, 2), [b, t, this._dim]));
  }
}

class BartEncoderLayer extends Module {
  self_attn: BartAttention;
  self_attn_layer_norm: LayerNorm;
  dropout: Dropout;
  activation_dropout: Dropout;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  private readonly _act: Activation;

  constructor(c: BartConfig, layerIdx: number) {
    super();
    this.self_attn = new BartAttention(c.dModel, c.encoderAttentionHeads, c.attentionDropout, layerIdx);
    this.self_attn_layer_norm = new LayerNorm(c.dModel);
    this.dropout = new Dropout(c.dropout);
    this.activation_dropout = new Dropout(c.activationDropout);
    this.fc1 = new Linear(c.dModel, c.encoderFfnDim);
    this.fc2 = new Linear(c.encoderFfnDim, c.dModel);
    this.final_layer_norm = new LayerNorm(c.dModel);
    this._act = getActivation(c.activationFunction);
  }

  // Post-norm: each sub-layer's output is added to its input, then normalized.
  forward(x: Tensor, mask: Tensor): Tensor {
    let h = this.self_attn_layer_norm.forward(F.add(x, this.dropout.forward(this.self_attn.forward(x, mask, null))));
    const ff = this.fc2.forward(this.activation_dropout.forward(this._act(this.fc1.forward(h))));
    h = this.final_layer_norm.forward(F.add(h, this.dropout.forward(ff)));
    return h;
  }
}

class BartDecoderLayer extends Module {
  self_attn: BartAttention;
  dropout: Dropout;
  activation_dropout: Dropout;
  self_attn_layer_norm: LayerNorm;
  encoder_attn: BartAttention;
  encoder_attn_layer_norm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  private readonly _act: Activation;

  constructor(c: BartConfig, layerIdx: number) {
    super();
    this.self_attn = new BartAttention(c.dModel, c.decoderAttentionHeads, c.attentionDropout, layerIdx);
    this.dropout = new Dropout(c.dropout);
    this.activation_dropout = new Dropout(c.activationDropout);
    this.self_attn_layer_norm = new LayerNorm(c.dModel);
    this.encoder_attn = new BartAttention(c.dModel, c.decoderAttentionHeads, c.attentionDropout, layerIdx);
    this.encoder_attn_layer_norm = new LayerNorm(c.dModel);
    this.fc1 = new Linear(c.dModel, c.decoderFfnDim);
    this.fc2 = new Linear(c.decoderFfnDim, c.dModel);
    this.final_layer_norm = new LayerNorm(c.dModel);
    this._act = getActivation(c.activationFunction);
  }

  forward(x: Tensor, selfMask: Tensor, encoderStates: Tensor, crossMask: Tensor, cache: KVCache | null): Tensor {
    let h = this.self_attn_layer_norm.forward(F.add(x, this.dropout.forward(this.self_attn.forward(x, selfMask, cache))));
    h = this.encoder_attn_layer_norm.forward(F.add(h, this.dropout.forward(this.encoder_attn.forward(h, crossMask, cache, encoderStates))));
    const ff = this.fc2.forward(this.activation_dropout.forward(this._act(this.fc1.forward(h))));
    return this.final_layer_norm.forward(F.add(h, this.dropout.forward(ff)));
  }
}

/** LayerDrop (Fan et al., 2019): while training, each layer is skipped with this probability. */
function skipLayer(training: boolean, layerdrop: number): boolean {
  return training && layerdrop > 0 && getDefaultGenerator().random() < layerdrop;
}

/** Token embeddings + positions, then the embedding layer norm and dropout (both stacks start so). */
function embed(tokens: Embedding, positions: BartLearnedPositionalEmbedding, norm: LayerNorm, dropout: Dropout, ids: Tensor, past: number): Tensor {
  const x = F.add(tokens.forward(ids), positions.positions(ids.shape[1]!, past));
  return dropout.forward(norm.forward(x));
}

export class BartEncoder extends Module {
  embed_tokens: Embedding;
  embed_positions: BartLearnedPositionalEmbedding;
  layers: ModuleList<BartEncoderLayer>;
  layernorm_embedding: LayerNorm;
  dropout: Dropout;

  constructor(private readonly _config: BartConfig, embedTokens: Embedding) {
    super();
    this.embed_tokens = embedTokens;
    this.embed_positions = new BartLearnedPositionalEmbedding(_config.maxPositionEmbeddings, _config.dModel);
    this.layers = new ModuleList(Array.from({ length: _config.encoderLayers }, (_, i) => new BartEncoderLayer(_config, i)));
    this.layernorm_embedding = new LayerNorm(_config.dModel);
    this.dropout = new Dropout(_config.dropout);
  }

  forward(ids: Tensor, attentionMask: Tensor | null): Tensor {
    const [b, t] = ids.shape as [number, number];
    let x = embed(this.embed_tokens, this.embed_positions, this.layernorm_embedding, this.dropout, ids, 0);
    const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: t, attentionMask, causal: false, dtype: x.dtype as "f32" | "f64" });
    for (const layer of this.layers) if (!skipLayer(this.training, this._config.encoderLayerdrop)) x = layer.forward(x, mask);
    return x;
  }
}

export class BartDecoder extends Module {
  embed_tokens: Embedding;
  embed_positions: BartLearnedPositionalEmbedding;
  layers: ModuleList<BartDecoderLayer>;
  layernorm_embedding: LayerNorm;
  dropout: Dropout;

  constructor(private readonly _config: BartConfig, embedTokens: Embedding) {
    super();
    this.embed_tokens = embedTokens;
    this.embed_positions = new BartLearnedPositionalEmbedding(_config.maxPositionEmbeddings, _config.dModel);
    this.layers = new ModuleList(Array.from({ length: _config.decoderLayers }, (_, i) => new BartDecoderLayer(_config, i)));
    this.layernorm_embedding = new LayerNorm(_config.dModel);
    this.dropout = new Dropout(_config.dropout);
  }

  /** With a cache, the new tokens' positions continue after the cached ones. */
  forward(ids: Tensor, attentionMask: Tensor | null, encoderStates: Tensor, encoderMask: Tensor | null, cache: KVCache | null): Tensor {
    const [b, t] = ids.shape as [number, number];
    const past = cache?.seqLength ?? 0;
    let x = embed(this.embed_tokens, this.embed_positions, this.layernorm_embedding, this.dropout, ids, past);
    const dtype = x.dtype as "f32" | "f64";
    const selfMask = buildAttentionMask({ batch: b, queryLength: t, keyLength: past + t, attentionMask, causal: true, dtype });
    const crossMask = buildAttentionMask({ batch: b, queryLength: t, keyLength: encoderStates.shape[1]!, attentionMask: encoderMask, causal: false, dtype });
    // LayerDrop is a training-time regularizer; with a cache every layer must run to keep the cache whole.
    for (const layer of this.layers) if (cache || !skipLayer(this.training, this._config.decoderLayerdrop)) x = layer.forward(x, selfMask, encoderStates, crossMask, cache);
    return x;
  }
}

export class BartModel extends Module {
  shared: Embedding;
  encoder: BartEncoder;
  decoder: BartDecoder;

  constructor(config: BartConfig) {
    super();
    const scale = config.scaleEmbedding ? Math.sqrt(config.dModel) : 1;
    this.shared = new BartScaledWordEmbedding(config.vocabSize, config.dModel, config.padTokenId, scale);
    this.encoder = new BartEncoder(config, this.shared);
    this.decoder = new BartDecoder(config, this.shared);
  }
}

/** The output projection; its weight is the shared token table when tie_word_embeddings (the default). */
class BartHead extends Module {
  constructor(public weight: Parameter) {
    super();
  }
}

export class BartForConditionalGeneration extends PreTrainedModel<BartConfig> {
  model: BartModel;
  lm_head: BartHead;
  /** transformers registers this as a buffer: saved and loaded, never trained. */
  private readonly _finalLogitsBias: Tensor;

  constructor(config: BartConfig) {
    super(config);
    this.model = new BartModel(config);
    const head = config.tieWordEmbeddings
      ? this.model.shared.weight
      : new Parameter(init.normal([config.vocabSize, config.dModel], 0, config.initStd, getDefaultGenerator()));
    this.lm_head = new BartHead(head);
    this._finalLogitsBias = zeros([1, config.vocabSize]);
  }

  override get isEncoderDecoder(): boolean {
    return true;
  }

  override get baseModelPrefix(): string {
    return "model";
  }

  override get maxPositionEmbeddings(): number {
    return this.config.maxPositionEmbeddings;
  }

  override namedBuffers(): [string, Tensor][] {
    return [["final_logits_bias", this._finalLogitsBias]];
  }

  /** As transformers 5: a tied weight that the checkpoint also stores under its own name is left untied. */
  override adaptToCheckpoint(keys: ReadonlySet<string>): void {
    const shared = this.model.shared;
    const embeddingStored = ["shared", "encoder.embed_tokens", "decoder.embed_tokens"].some((n) => storesKey(keys, `model.${n}.weight`, "model"));
    if (this.lm_head.weight === shared.weight && keys.has("lm_head.weight") && embeddingStored) this.lm_head.weight = untiedCopy(shared.weight);
    if (!storesKey(keys, "model.shared.weight", "model")) return;
    for (const stack of [this.model.encoder, this.model.decoder]) {
      const name = `model.${stack === this.model.encoder ? "encoder" : "decoder"}.embed_tokens.weight`;
      if (stack.embed_tokens === shared && storesKey(keys, name, "model")) {
        const c = this.config;
        const own = init.withoutInit(() => new BartScaledWordEmbedding(c.vocabSize, c.dModel, c.padTokenId, c.scaleEmbedding ? Math.sqrt(c.dModel) : 1));
        own.weight = untiedCopy(shared.weight);
        stack.embed_tokens = own;
      }
    }
  }

  /** The encoder's last hidden state [batch, seq, d_model], to reuse across decoding steps. */
  encode(inputIds: IdsInput, attentionMask: IdsInput | null = null): Tensor {
    return this.model.encoder.forward(toIds(inputIds, "inputIds"), attentionMask ? toIds(attentionMask, "attentionMask") : null);
  }

  forward(inputs: ModelInputs): ModelOutput {
    const c = this.config;
    // Without labels or decoder inputs, BartModel denoises: the decoder reads the encoder inputs shifted right.
    const ids = readSeq2SeqInputs(inputs, "BartForConditionalGeneration", c, (x) => shiftTokensRight(x, c.padTokenId, c.decoderStartTokenId));
    const encoderStates = inputs.encoderOutputs ?? this.model.encoder.forward(ids.inputIds!, ids.attentionMask);
    const cache = inputs.pastKeyValues ?? (inputs.useCache ? new KVCache() : null);
    const h = this.model.decoder.forward(ids.decoderInputIds, ids.decoderAttentionMask, encoderStates, ids.attentionMask, cache);
    const logits = F.add(F.linear(h, this.lm_head.weight), this._finalLogitsBias);
    const out: ModelOutput = { logits, encoderLastHiddenState: encoderStates };
    if (ids.labels) out.loss = seq2seqLoss(logits, ids.labels);
    if (cache) out.pastKeyValues = cache;
    return out;
  }

  /** transformers' BartPreTrainedModel._init_weights: normal(0, init_std), zero biases and pad row, unit norms. */
  initWeights(g: Generator): void {
    const std = this.config.initStd;
    for (const [name, p] of this.namedParameters()) {
      if (/(layer_norm|layernorm_embedding)\.weight$/.test(name)) init.constant_(p, 1);
      else if (name.endsWith(".bias")) init.constant_(p, 0);
      else {
        init.normal_(p, 0, std, g);
        const pad = this.config.padTokenId;
        if (/(shared|embed_tokens)\.weight$/.test(name) && pad >= 0 && pad < p.shape[0]!) {
          const dim = p.shape[1]!;
          p.floatData.fill(0, pad * dim, (pad + 1) * dim);
        }
      }
    }
    this._finalLogitsBias.floatData.fill(0);
  }
}

registerModelFamily({
  modelTypes: ["bart"],
  architectures: { BartForConditionalGeneration: (raw) => new BartForConditionalGeneration(parseBartConfig(raw)) },
  defaultArchitecture: "BartForConditionalGeneration",
  description: "BART: encoder-decoder, learned positions (offset 2), post-norm, embedding layer norm, tied head + final_logits_bias",
});
