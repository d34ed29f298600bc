/**
 * LLaMA (Touvron et al., 2023): token embeddings, pre-norm decoder layers of rotary grouped-query attention and
 * a SwiGLU MLP with RMSNorm, a final RMSNorm and an LM head (tied or not). Parameter names follow
 * transformers' LlamaForCausalLM.
 *
 * Qwen2, Qwen3 and Gemma 3 are the same decoder with a few switches (q/k/v bias, per-head q/k norms, Gemma's
 * (1 + weight) norms around both sub-layers, scaled embeddings, sliding-window layers, soft-capping); their
 * files only read their config.json into a LlamaConfig.
 */
import { Module, ModuleList, Parameter } from "../nn/module.js";
import { Embedding, Linear, RMSNorm } from "../nn/layers.js";
import { activationOp, getActivation, type Activation } from "../nn/activations.js";
import { scaledDotProductAttention } from "../nn/attention.js";
import * as init from "../nn/init.js";
import { ConfigError } from "../errors.js";
import { Tensor, arange } from "../tensor/tensor.js";
import { getBackend, type LlamaBlockShape, type LlamaBlockWeights } from "../backends/index.js";
import * as F from "../tensor/ops.js";
import type { Generator } from "../utils/rng.js";
import { ConfigReader, type BaseConfig, type RawConfig } from "./config.js";
import { KVCache } from "./cache.js";
import { buildAttentionMask } from "./masks.js";
import { PreTrainedModel, TiedLinear, causalLMInputs, fusedBlockArrays, lmHead, causalLMLoss, toIds, type ModelInputs, type ModelOutput } from "./model.js";
import { registerModelFamily } from "./registry.js";
import { LAYER_TYPES, RotaryEmbedding, applyRotary, readRopeParameters, type LayerType, type RopeParameters } from "./rope.js";

export interface LlamaConfig extends BaseConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  hiddenAct: string;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  attentionDropout: number;
  /** Bias on q_proj/k_proj/v_proj, and on o_proj. */
  qkvBias: boolean;
  oProjBias: boolean;
  mlpBias: boolean;
  /** One per layer; sliding layers see only the last `slidingWindow` positions. */
  layerTypes: LayerType[];
  slidingWindow: number | null;
  rope: Record<LayerType, RopeParameters>;
  /** Per-head RMSNorm of queries and keys before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** 1 for Gemma's RMSNorm, which scales by (1 + weight). */
  normWeightOffset: number;
  /** Gemma 3: norms after attention and before and after the MLP as well. */
  sandwichNorms: boolean;
  /** Multiplies the token embeddings (Gemma: sqrt(hidden_size)). */
  embedScale: number | null;
  /** Multiplies q·kᵀ (head_dim^-0.5, Gemma 3: query_pre_attn_scalar^-0.5). */
  attentionScale: number;
  attnLogitSoftcapping: number | null;
  finalLogitSoftcapping: number | null;
}

export interface DecoderDefaults {
  tieWordEmbeddings: boolean;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Absent: as many as the attention heads. */
  numKeyValueHeads?: number;
  /** Absent: hidden_size / num_attention_heads. */
  headDim?: number;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
}

export type DecoderDims = Pick<LlamaConfig, keyof BaseConfig | "hiddenSize" | "intermediateSize" | "numHiddenLayers" | "numAttentionHeads"
  | "numKeyValueHeads" | "headDim" | "maxPositionEmbeddings" | "rmsNormEps" | "attentionDropout">;

/** LLaMA's settings of the switches the other families flip. */
export const LLAMA_SWITCHES = {
  qkNorm: false, normWeightOffset: 0, sandwichNorms: false, embedScale: null, attnLogitSoftcapping: null, finalLogitSoftcapping: null,
} satisfies Partial<LlamaConfig>;

/** The fields every LLaMA-style config.json has, with the family's defaults. */
export function readDecoderDims(r: ConfigReader, defaults: DecoderDefaults): DecoderDims {
  const hiddenSize = r.int("hidden_size", defaults.hiddenSize);
  const numAttentionHeads = r.int("num_attention_heads", defaults.numAttentionHeads);
  const numKeyValueHeads = r.optionalInt("num_key_value_heads") ?? defaults.numKeyValueHeads ?? numAttentionHeads;
  const numHiddenLayers = r.int("num_hidden_layers", defaults.numHiddenLayers);
  for (const [key, v] of [["hidden_size", hiddenSize], ["num_attention_heads", numAttentionHeads], ["num_key_value_heads", numKeyValueHeads], ["num_hidden_layers", numHiddenLayers]] as const) {
    if (v <= 0) throw new ConfigError(`${r.source}: field "${key}" must be a positive integer, got ${v}`);
  }
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new ConfigError(`${r.source}: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`);
  }
  let headDim = r.optionalInt("head_dim") ?? defaults.headDim ?? null;
  if (headDim === null) {
    if (hiddenSize % numAttentionHeads !== 0) throw new ConfigError(`${r.source}: hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}) and there is no head_dim`);
    headDim = hiddenSize / numAttentionHeads;
  }
  if (headDim <= 0 || headDim % 2 !== 0) throw new ConfigError(`${r.source}: field "head_dim" must be a positive even integer (RoPE rotates pairs), got ${headDim}`);
  const base = r.base({ tieWordEmbeddings: defaults.tieWordEmbeddings });
  if (base.padTokenId !== null && (base.padTokenId < 0 || base.padTokenId >= base.vocabSize)) {
    throw new ConfigError(`${r.source}: pad_token_id ${base.padTokenId} is outside the vocabulary (vocab_size ${base.vocabSize})`);
  }
  return {
    ...base,
    hiddenSize,
    intermediateSize: r.int("intermediate_size", defaults.intermediateSize),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: r.int("max_position_embeddings", defaults.maxPositionEmbeddings),
    rmsNormEps: r.number("rms_norm_eps", defaults.rmsNormEps),
    attentionDropout: r.number("attention_dropout", 0),
  };
}

/** layer_types from config.json, checked against the number of layers. */
export function readLayerTypes(r: ConfigReader, numLayers: number, fallback: (i: number) => LayerType): LayerType[] {
  const types = r.stringArray("layer_types", Array.from({ length: numLayers }, (_, i) => fallback(i)));
  if (types.length !== numLayers) throw new ConfigError(`${r.source}: field "layer_types" has ${types.length} entries for ${numLayers} layers`);
  for (const t of types) {
    if (!(LAYER_TYPES as readonly string[]).includes(t)) throw new ConfigError(`${r.source}: field "layer_types" has "${t}"; expected ${LAYER_TYPES.join(" or ")}`);
  }
  return types as LayerType[];
}

export function parseLlamaConfig(raw: RawConfig): LlamaConfig {
  const r = new ConfigReader(raw);
  const dims = readDecoderDims(r, {
    tieWordEmbeddings: false, hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32, rmsNormEps: 1e-6, maxPositionEmbeddings: 2048,
  });
  const layerTypes = Array.from({ length: dims.numHiddenLayers }, (): LayerType => "full_attention");
  const attentionBias = r.boolean("attention_bias", false);
  return {
    ...dims,
    hiddenAct: r.string("hidden_act", "silu"),
    qkvBias: attentionBias,
    oProjBias: attentionBias,
    mlpBias: r.boolean("mlp_bias", false),
    layerTypes,
    slidingWindow: null,
    rope: readRopeParameters(r, layerTypes, 10000, dims.maxPositionEmbeddings),
    ...LLAMA_SWITCHES,
    attentionScale: 1 / Math.sqrt(dims.headDim),
  };
}

export class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm?: RMSNorm;
  k_norm?: RMSNorm;

  constructor(private readonly _config: LlamaConfig, private readonly _layerIdx: number) {
    super();
    const c = _config, d = c.headDim;
    this.q_proj = new Linear(c.hiddenSize, c.numAttentionHeads * d, { bias: c.qkvBias });
    this.k_proj = new Linear(c.hiddenSize, c.numKeyValueHeads * d, { bias: c.qkvBias });
    this.v_proj = new Linear(c.hiddenSize, c.numKeyValueHeads * d, { bias: c.qkvBias });
    this.o_proj = new Linear(c.numAttentionHeads * d, c.hiddenSize, { bias: c.oProjBias });
    if (c.qkNorm) {
      this.q_norm = new RMSNorm(d, c.rmsNormEps, c.normWeightOffset);
      this.k_norm = new RMSNorm(d, c.rmsNormEps, c.normWeightOffset);
    }
  }

  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, cache: KVCache | null): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const c = this._config, d = c.headDim;
    const heads = (y: Tensor, n: number): Tensor => F.transpose(F.reshape(y, [b, t, n, d]), 1, 2);
    let q = heads(this.q_proj.forward(x), c.numAttentionHeads);
    let k = heads(this.k_proj.forward(x), c.numKeyValueHeads);
    const v = heads(this.v_proj.forward(x), c.numKeyValueHeads);
    if (this.q_norm && this.k_norm) {
      q = this.q_norm.forward(q);
      k = this.k_norm.forward(k);
    }
    q = applyRotary(q, cos, sin);
    k = applyRotary(k, cos, sin);
    const kv = cache ? cache.update(this._layerIdx, k, v) : { key: k, value: v };
    const y = scaledDotProductAttention(q, kv.key, kv.value, {
      mask, scale: c.attentionScale, softcap: c.attnLogitSoftcapping, dropout: c.attentionDropout, training: this.training, kvLength: kv.length,
    });
    return this.o_proj.forward(F.reshape(F.transpose(y, 1, 2), [b, t, c.numAttentionHeads * d]));
  }
}

/** SwiGLU (GeGLU for Gemma): down(act(gate(x)) · up(x)). */
export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  private readonly _act: Activation;

  constructor(c: LlamaConfig) {
    super();
    this.gate_proj = new Linear(c.hiddenSize, c.intermediateSize, { bias: c.mlpBias });
    this.up_proj = new Linear(c.hiddenSize, c.intermediateSize, { bias: c.mlpBias });
    this.down_proj = new Linear(c.intermediateSize, c.hiddenSize, { bias: c.mlpBias });
    this._act = getActivation(c.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(F.mul(this._act(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

export class LlamaDecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: LlamaAttention;
  /** LLaMA: the norm before the MLP. Gemma 3: the norm of the attention output. */
  post_attention_layernorm: RMSNorm;
  pre_feedforward_layernorm?: RMSNorm;
  mlp: LlamaMLP;
  post_feedforward_layernorm?: RMSNorm;

  constructor(readonly _config: LlamaConfig, readonly _layerIdx: number) {
    super();
    const c = _config;
    const norm = (): RMSNorm => new RMSNorm(c.hiddenSize, c.rmsNormEps, c.normWeightOffset);
    this.input_layernorm = norm();
    this.self_attn = new LlamaAttention(c, _layerIdx);
    this.post_attention_layernorm = norm();
    if (c.sandwichNorms) this.pre_feedforward_layernorm = norm();
    this.mlp = new LlamaMLP(c);
    if (c.sandwichNorms) this.post_feedforward_layernorm = norm();
  }

  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, cache: KVCache | null): Tensor {
    const fused = cache ? fusedLayers([this], x, [{ cos, sin, mask }], cache) : null;
    if (fused) return fused;
    const attn = this.self_attn.forward(this.input_layernorm.forward(x), cos, sin, mask, cache);
    if (this.pre_feedforward_layernorm && this.post_feedforward_layernorm) {
      const h = F.add(x, this.post_attention_layernorm.forward(attn));
      return F.add(h, this.post_feedforward_layernorm.forward(this.mlp.forward(this.pre_feedforward_layernorm.forward(h))));
    }
    const h = F.add(x, attn);
    return F.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }

  /** The layer's weights as the backend's fused layer takes them, or null when nothing may skip recording. */
  fusedWeights(inputs: Tensor[]): LlamaBlockWeights | null {
    const { self_attn: attn, mlp } = this;
    const parts = {
      inputLayernorm: this.input_layernorm.weight, qProj: attn.q_proj.weight, qProjBias: attn.q_proj.bias, kProj: attn.k_proj.weight,
      kProjBias: attn.k_proj.bias, vProj: attn.v_proj.weight, vProjBias: attn.v_proj.bias, oProj: attn.o_proj.weight, oProjBias: attn.o_proj.bias,
      qNorm: attn.q_norm?.weight ?? null, kNorm: attn.k_norm?.weight ?? null, postAttentionLayernorm: this.post_attention_layernorm.weight,
      preFeedforwardLayernorm: this.pre_feedforward_layernorm?.weight ?? null, postFeedforwardLayernorm: this.post_feedforward_layernorm?.weight ?? null,
      gateProj: mlp.gate_proj.weight, gateProjBias: mlp.gate_proj.bias, upProj: mlp.up_proj.weight, upProjBias: mlp.up_proj.bias,
      downProj: mlp.down_proj.weight, downProjBias: mlp.down_proj.bias,
    };
    return fusedBlockArrays(this.training, inputs, parts) as LlamaBlockWeights | null;
  }
}

/**
 * Consecutive layers as one backend call each (layer i with rotary tables and mask tables[i]), when the backend
 * has a fused layer and nothing needs recording (generation: eval mode, f32, no gradient): a decode step makes
 * one call per layer instead of ~30 ops. All the JavaScript of the steps runs before the first call, as in GPT-2's
 * fusedBlocks (between two calls the caches hold the last layer's weights). Null when it does not apply.
 */
function fusedLayers(layers: readonly LlamaDecoderLayer[], x: Tensor, tables: readonly RotaryTables[], cache: KVCache): Tensor | null {
  const be = getBackend();
  if (!be.llamaBlock) return null;
  const weights: LlamaBlockWeights[] = [];
  for (const [i, layer] of layers.entries()) {
    const { cos, sin, mask } = tables[i]!;
    const w = layer.fusedWeights([x, cos, sin, mask]);
    if (!w) return null;
    weights.push(w);
  }
  const c = layers[0]!._config;
  const [b, t, hidden] = x.shape as [number, number, number];
  const steps = layers.map((layer, i) => {
    const { cos, sin, mask } = tables[i]!;
    const slot = cache.reserve(layer._layerIdx, [b, c.numKeyValueHeads, t, c.headDim], "f32");
    const shape: LlamaBlockShape = {
      batch: b, queryLength: t, past: slot.start, capacity: slot.key.shape[2]!, cosBatch: cos.shape[0]!, hidden, heads: c.numAttentionHeads,
      kvHeads: c.numKeyValueHeads, headDim: c.headDim, inner: c.intermediateSize, eps: c.rmsNormEps, normOffset: c.normWeightOffset,
      scale: c.attentionScale, softcap: c.attnLogitSoftcapping ?? 0, activation: activationOp(c.hiddenAct),
    };
    const maskStrides = F.attentionMaskStrides(mask, [b, c.numAttentionHeads, t, slot.start + t]);
    return { key: slot.key.floatData, value: slot.value.floatData, cos: cos.floatData, sin: sin.floatData, mask: mask.floatData, maskStrides, shape };
  });
  const out = Float32Array.from(x.floatData);  // each layer updates it in place
  for (const [i, s] of steps.entries()) be.llamaBlock(weights[i]!, out, s.key, s.value, s.cos, s.sin, s.mask, s.maskStrides, s.shape);
  return new Tensor(out, x.shape, "f32");
}

interface RotaryTables { cos: Tensor; sin: Tensor; mask: Tensor }

export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  private readonly _rotary: Map<LayerType, RotaryEmbedding>;

  constructor(private readonly _config: LlamaConfig) {
    super();
    const c = _config;
    this.embed_tokens = new Embedding(c.vocabSize, c.hiddenSize, c.padTokenId);
    this.layers = new ModuleList(Array.from({ length: c.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(c, i)));
    this.norm = new RMSNorm(c.hiddenSize, c.rmsNormEps, c.normWeightOffset);
    this._rotary = new Map([...new Set(c.layerTypes)].map((t) => [t, new RotaryEmbedding(c.rope[t], c.headDim)]));
  }

  forward(inputIds: Tensor, attentionMask: Tensor | null, positionIds: Tensor | null, cache: KVCache | null): Tensor {
    const [b, t] = inputIds.shape as [number, number];
    const past = cache?.seqLength ?? 0;
    const positions = positionIds ?? F.unsqueeze(arange(past, past + t, 1, { dtype: "i32" }), 0);
    if (positions.shape[1] !== t || (positions.shape[0] !== 1 && positions.shape[0] !== b)) {
      throw new RangeError(`positionIds: expected shape [${b}, ${t}] (or [1, ${t}]), got [${positions.shape.join(", ")}]`);
    }
    let x = this.embed_tokens.forward(inputIds);
    const dtype = x.dtype as "f32" | "f64";
    // transformers keeps the scale as a tensor cast to the weights' dtype before multiplying.
    if (this._config.embedScale !== null) x = F.affine(x, dtype === "f32" ? Math.fround(this._config.embedScale) : this._config.embedScale);
    const tables = new Map<LayerType, RotaryTables>();
    for (const [type, rotary] of this._rotary) {
      const window = type === "sliding_attention" ? this._config.slidingWindow : null;
      const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: past + t, attentionMask, causal: true, slidingWindow: window, dtype });
      tables.set(type, { ...rotary.forward(positions, dtype), mask });
    }
    const perLayer = this._config.layerTypes.map((type) => tables.get(type)!);
    const fused = cache ? fusedLayers([...this.layers], x, perLayer, cache) : null;
    if (fused) return this.norm.forward(fused);
    for (const [i, layer] of [...this.layers].entries()) {
      const { cos, sin, mask } = perLayer[i]!;
      x = layer.forward(x, cos, sin, mask, cache);
    }
    return this.norm.forward(x);
  }
}

export class LlamaForCausalLM extends PreTrainedModel<LlamaConfig> {
  model: LlamaModel;
  lm_head: TiedLinear | Linear;

  constructor(config: LlamaConfig) {
    super(config);
    this.model = new LlamaModel(config);
    this.lm_head = lmHead(config.tieWordEmbeddings, this.model.embed_tokens.weight, config.hiddenSize, config.vocabSize);
  }

  override get baseModelPrefix(): string {
    return "model";
  }

  /** Older checkpoints store the rotary inverse frequencies, a buffer recomputed from the config. */
  override get ignoredCheckpointKeys(): RegExp[] {
    return [/rotary_emb\.\w*inv_freq$/];
  }

  override get maxPositionEmbeddings(): number {
    return this.config.maxPositionEmbeddings;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { ids, mask, positions, cache } = causalLMInputs(inputs, this.constructor.name);
    const hidden = this.model.forward(ids, mask, positions, cache);
    let logits = this.lm_head.forward(hidden);
    const cap = this.config.finalLogitSoftcapping;
    if (cap) logits = F.affine(F.tanh(F.affine(logits, 1 / cap)), cap);
    const out: ModelOutput = { logits };
    if (inputs.labels) out.loss = causalLMLoss(logits, toIds(inputs.labels, "labels"));
    if (cache) out.pastKeyValues = cache;
    return out;
  }

  /**
   * transformers' _init_weights: linear and embedding weights from N(0, initializer_range), biases and the
   * padding row zero, RMSNorm weights 1 (0 for Gemma's (1 + weight) norms).
   */
  initWeights(g: Generator): void {
    const std = this.config.initializerRange;
    for (const [, m] of this.namedModules()) {
      if (m instanceof Linear) {
        init.normal_(m.weight, 0, std, g);
        if (m.bias) init.constant_(m.bias, 0);
      } else if (m instanceof Embedding) {
        init.normal_(m.weight, 0, std, g);
        if (m.paddingIdx !== null) m.weight.floatData.fill(0, m.paddingIdx * m.embeddingDim, (m.paddingIdx + 1) * m.embeddingDim);
      } else if (m instanceof RMSNorm) {
        init.constant_(m.weight, m.weightOffset === 0 ? 1 : 0);
      }
    }
  }
}

registerModelFamily({
  modelTypes: ["llama"],
  architectures: { LlamaForCausalLM: (raw) => new LlamaForCausalLM(parseLlamaConfig(raw)) },
  defaultArchitecture: "LlamaForCausalLM",
  description: "LLaMA: RoPE (default/linear/llama3/yarn), RMSNorm, SwiGLU MLP, grouped-query attention",
});
