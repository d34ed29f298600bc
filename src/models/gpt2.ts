/**
 * GPT-2 (Radford et al., 2019): learned absolute positions, pre-norm blocks of causal self-attention and a
 * GELU MLP, a final layer norm, and an LM head tied to the token embeddings. Parameter names follow
 * transformers' GPT2LMHeadModel (Conv1D weights stored [in, out]).
 */
import { Module, ModuleList, Parameter } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { activationOp, getActivation, type Activation } from "../nn/activations.js";
import { scaledDotProductAttention } from "../nn/attention.js";
import * as init from "../nn/init.js";
import { Tensor, arange, zeros } from "../tensor/tensor.js";
import { getBackend, type PreNormBlockShape, type PreNormBlockWeights } from "../backends/index.js";
import * as F from "../tensor/ops.js";
import type { Generator } from "../utils/rng.js";
import { ConfigReader, type BaseConfig, type RawConfig } from "./config.js";
import { KVCache } from "./cache.js";
import { buildAttentionMask } from "./masks.js";
import { PreTrainedModel, TiedLinear, causalLMInputs, fusedBlockArrays, lmHead, causalLMLoss, toIds, type ModelInputs, type ModelOutput } from "./model.js";
import { registerModelFamily } from "./registry.js";
import { getDefaultGenerator } from "../utils/rng.js";

export interface GPT2Config extends BaseConfig {
  nEmbd: number;
  nHead: number;
  nLayer: number;
  nPositions: number;
  nInner: number;
  activationFunction: string;
  layerNormEpsilon: number;
  attnPdrop: number;
  residPdrop: number;
  embdPdrop: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
}

export function parseGPT2Config(raw: RawConfig): GPT2Config {
  const r = new ConfigReader(raw);
  const nEmbd = r.int("n_embd", 768);
  return {
    ...r.base(),
    nEmbd,
    nHead: r.int("n_head", 12),
    nLayer: r.int("n_layer", 12),
    nPositions: r.int("n_positions", 1024),
    nInner: r.optionalInt("n_inner") ?? 4 * nEmbd,
    activationFunction: r.string("activation_function", "gelu_new"),
    layerNormEpsilon: r.number("layer_norm_epsilon", 1e-5),
    attnPdrop: r.number("attn_pdrop", 0.1),
    residPdrop: r.number("resid_pdrop", 0.1),
    embdPdrop: r.number("embd_pdrop", 0.1),
    scaleAttnWeights: r.boolean("scale_attn_weights", true),
    scaleAttnByInverseLayerIdx: r.boolean("scale_attn_by_inverse_layer_idx", false),
  };
}

/** GPT-2's Conv1D: a linear layer whose weight is stored [in, out]. */
export class Conv1D extends Module {
  weight: Parameter;
  bias: Parameter;

  constructor(readonly nf: number, readonly nx: number) {
    super();
    this.weight = new Parameter(init.normal([nx, nf], 0, 0.02, getDefaultGenerator()));
    this.bias = new Parameter(zeros([nf]));
  }

  forward(x: Tensor): Tensor {
    const flat = F.reshape(x, [-1, this.nx]);
    return F.reshape(F.addmm(this.bias, flat, this.weight), [...x.shape.slice(0, -1), this.nf]);
  }
}

class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  readonly _headDim: number;
  readonly _scale: number;

  constructor(private readonly _config: GPT2Config, readonly layerIdx: number) {
    super();
    const e = _config.nEmbd;
    this.c_attn = new Conv1D(3 * e, e);
    this.c_proj = new Conv1D(e, e);
    this.attn_dropout = new Dropout(_config.attnPdrop);
    this.resid_dropout = new Dropout(_config.residPdrop);
    this._headDim = e / _config.nHead;
    let scale = _config.scaleAttnWeights ? 1 / Math.sqrt(this._headDim) : 1;
    if (_config.scaleAttnByInverseLayerIdx) scale /= layerIdx + 1;
    this._scale = scale;
  }

  forward(x: Tensor, mask: Tensor, cache: KVCache | null): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const heads = (y: Tensor): Tensor => F.transpose(F.reshape(y, [b, t, this._config.nHead, this._headDim]), 1, 2);
    const [q, k0, v0] = F.split(this.c_attn.forward(x), this._config.nEmbd, 2) as [Tensor, Tensor, Tensor];
    const kv = cache ? cache.update(this.layerIdx, heads(k0), heads(v0)) : { key: heads(k0), value: heads(v0) };
    const y = scaledDotProductAttention(heads(q), kv.key, kv.value, {
      mask, scale: this._scale, dropout: this._config.attnPdrop, training: this.training, kvLength: kv.length,
    });
    const merged = F.reshape(F.transpose(y, 1, 2), [b, t, this._config.nEmbd]);
    return this.resid_dropout.forward(this.c_proj.forward(merged));
  }
}

class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  dropout: Dropout;
  private readonly _act: Activation;

  constructor(config: GPT2Config) {
    super();
    this.c_fc = new Conv1D(config.nInner, config.nEmbd);
    this.c_proj = new Conv1D(config.nEmbd, config.nInner);
    this.dropout = new Dropout(config.residPdrop);
    this._act = getActivation(config.activationFunction);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this._act(this.c_fc.forward(x))));
  }
}

class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(readonly _config: GPT2Config, layerIdx: number) {
    super();
    this.ln_1 = new LayerNorm(_config.nEmbd, _config.layerNormEpsilon);
    this.attn = new GPT2Attention(_config, layerIdx);
    this.ln_2 = new LayerNorm(_config.nEmbd, _config.layerNormEpsilon);
    this.mlp = new GPT2MLP(_config);
  }

  forward(x: Tensor, mask: Tensor, cache: KVCache | null): Tensor {
    const fused = cache ? fusedBlocks([this], x, mask, cache) : null;
    if (fused) return fused;
    const h = F.add(x, this.attn.forward(this.ln_1.forward(x), mask, cache));
    return F.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }

  /** The block's weights as the backend's fused block takes them, or null when nothing may skip recording. */
  fusedWeights(x: Tensor, mask: Tensor): PreNormBlockWeights | null {
    const { attn, mlp, ln_1, ln_2 } = this;
    const parts = {
      ln1Weight: ln_1.weight, ln1Bias: ln_1.bias, qkvWeight: attn.c_attn.weight, qkvBias: attn.c_attn.bias, projWeight: attn.c_proj.weight,
      projBias: attn.c_proj.bias, ln2Weight: ln_2.weight, ln2Bias: ln_2.bias, fcWeight: mlp.c_fc.weight, fcBias: mlp.c_fc.bias,
      fc2Weight: mlp.c_proj.weight, fc2Bias: mlp.c_proj.bias,
    };
    const arrays = fusedBlockArrays(this.training, [x, mask], parts);
    return arrays && !Object.values(arrays).includes(null) ? (arrays as PreNormBlockWeights) : null;
  }
}

/**
 * Consecutive blocks as one backend call each, when the backend has a fused block and nothing needs recording
 * (generation: eval mode, f32, no gradient): a decode step makes one call per layer instead of ~25 ops, and the
 * weight products run back to back. All the JavaScript of the steps (weights, cache slots, mask strides) runs
 * before the first call: between two calls the caches hold the last layer's weights, and the same bookkeeping
 * done there ran several times as slowly (GPT-2 124M on Zen 3: 56-77 µs a layer there, about 17 µs here; a decode
 * step's time outside the backend 1.30-1.40 -> 0.68 ms). Null when it does not apply.
 */
function fusedBlocks(blocks: readonly GPT2Block[], x: Tensor, mask: Tensor, cache: KVCache): Tensor | null {
  const be = getBackend();
  if (!be.preNormBlock) return null;
  const weights: PreNormBlockWeights[] = [];
  for (const block of blocks) {
    const w = block.fusedWeights(x, mask);
    if (!w) return null;
    weights.push(w);
  }
  const config = blocks[0]!._config;
  const [b, t, embed] = x.shape as [number, number, number];
  const steps = blocks.map((block, i) => {
    const { layerIdx, _headDim, _scale } = block.attn;
    const slot = cache.reserve(layerIdx, [b, config.nHead, t, _headDim], "f32");
    const shape: PreNormBlockShape = {
      batch: b, queryLength: t, past: slot.start, capacity: slot.key.shape[2]!, embed, heads: config.nHead, inner: config.nInner,
      eps: config.layerNormEpsilon, scale: _scale, activation: activationOp(config.activationFunction),
    };
    const maskStrides = F.attentionMaskStrides(mask, [b, config.nHead, t, slot.start + t]);
    return { weights: weights[i]!, key: slot.key.floatData, value: slot.value.floatData, maskStrides, shape };
  });
  const out = Float32Array.from(x.floatData);  // each block updates it in place
  const maskData = mask.floatData;
  for (const s of steps) be.preNormBlock(s.weights, out, s.key, s.value, maskData, s.maskStrides, s.shape);
  return new Tensor(out, x.shape, "f32");
}

export class GPT2Model extends Module {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;

  constructor(readonly _config: GPT2Config) {
    super();
    this.wte = new Embedding(_config.vocabSize, _config.nEmbd);
    this.wpe = new Embedding(_config.nPositions, _config.nEmbd);
    this.drop = new Dropout(_config.embdPdrop);
    this.h = new ModuleList(Array.from({ length: _config.nLayer }, (_, i) => new GPT2Block(_config, i)));
    this.ln_f = new LayerNorm(_config.nEmbd, _config.layerNormEpsilon);
  }

  forward(inputIds: Tensor, attentionMask: Tensor | null, positionIds: Tensor | null, cache: KVCache | null): Tensor {
    const [b, t] = inputIds.shape as [number, number];
    const past = cache?.seqLength ?? 0;
    const positions = positionIds ?? F.expand(F.unsqueeze(arange(past, past + t), 0), [b, t]);
    let x = this.drop.forward(F.add(this.wte.forward(inputIds), this.wpe.forward(positions)));
    const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: past + t, attentionMask, causal: true, dtype: x.dtype as "f32" | "f64" });
    const fused = cache ? fusedBlocks([...this.h], x, mask, cache) : null;
    if (fused) return this.ln_f.forward(fused);
    for (const block of this.h) x = block.forward(x, mask, cache);
    return this.ln_f.forward(x);
  }
}

export class GPT2LMHeadModel extends PreTrainedModel<GPT2Config> {
  transformer: GPT2Model;
  lm_head: TiedLinear | Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    this.lm_head = lmHead(config.tieWordEmbeddings, this.transformer.wte.weight, config.nEmbd, config.vocabSize);
  }

  override get baseModelPrefix(): string {
    return "transformer";
  }

  override get ignoredCheckpointKeys(): RegExp[] {
    return [/\.attn\.bias$/, /\.attn\.masked_bias$/];
  }

  override get maxPositionEmbeddings(): number {
    return this.config.nPositions;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { ids, mask, positions, cache } = causalLMInputs(inputs, "GPT2LMHeadModel");
    const hidden = this.transformer.forward(ids, mask, positions, cache);
    const logits = this.lm_head.forward(hidden);
    const out: ModelOutput = { logits };
    if (inputs.labels) out.loss = causalLMLoss(logits, toIds(inputs.labels, "labels"));
    if (cache) out.pastKeyValues = cache;
    return out;
  }

  /** transformers' GPT2PreTrainedModel._init_weights, including the scaled init of residual projections. */
  initWeights(g: Generator): void {
    const std = this.config.initializerRange;
    for (const [name, p] of this.namedParameters()) {
      if (name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight") || name.endsWith("ln_f.weight")) init.constant_(p, 1);
      else if (name.endsWith(".bias")) init.constant_(p, 0);
      else if (name.endsWith("c_proj.weight")) init.normal_(p, 0, std / Math.sqrt(2 * this.config.nLayer), g);
      else init.normal_(p, 0, std, g);
    }
  }
}

registerModelFamily({
  modelTypes: ["gpt2"],
  architectures: { GPT2LMHeadModel: (raw) => new GPT2LMHeadModel(parseGPT2Config(raw)) },
  defaultArchitecture: "GPT2LMHeadModel",
  description: "GPT-2: learned positions, pre-norm, gelu_new MLP, tied head",
});
