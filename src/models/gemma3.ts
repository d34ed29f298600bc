/**
 * Gemma 3 text (Gemma Team, 2025): LLaMA's decoder with embeddings scaled by sqrt(hidden_size), RMSNorms that
 * scale by (1 + weight) around both sub-layers (four per layer), per-head q/k norms, a GELU-tanh gated MLP,
 * attention scaled by query_pre_attn_scalar^-0.5, local sliding-window layers interleaved with global ones
 * (each kind with its own RoPE base), and optional tanh soft-capping of attention scores and final logits.
 */
import { ConfigError } from "../errors.js";
import { ConfigReader, type RawConfig } from "./config.js";
import { LlamaForCausalLM, readDecoderDims, readLayerTypes, type LlamaConfig } from "./llama.js";
import { registerModelFamily } from "./registry.js";
import { LAYER_TYPES, parseRopeDict, type LayerType, type RopeParameters } from "./rope.js";

/**
 * RoPE per layer type. transformers 5 writes `rope_parameters` keyed by layer type; older configs have
 * `rope_theta` (+ `rope_scaling`) for global layers and `rope_local_base_freq` for local ones.
 */
function readGemmaRope(r: ConfigReader, maxPositionEmbeddings: number): Record<LayerType, RopeParameters> {
  const theta: Record<LayerType, number> = {
    full_attention: r.number("rope_theta", 1_000_000),
    sliding_attention: r.number("rope_local_base_freq", 10_000),
  };
  const scaling = r.object("rope_scaling");
  const params = r.object("rope_parameters");
  const nested = params !== null && Object.keys(params).length > 0 && Object.keys(params).every((k) => (LAYER_TYPES as readonly string[]).includes(k));
  const out = {} as Record<LayerType, RopeParameters>;
  for (const t of LAYER_TYPES) {
    let dict: RawConfig = {};
    let where = `${r.source}: rope_parameters.${t}`;
    if (scaling && t === "full_attention") {
      dict = scaling;
      where = `${r.source}: rope_scaling`;
    } else if (nested && params[t] !== undefined && params[t] !== null) {
      dict = params[t] as RawConfig;
    } else if (params && !nested && t === "full_attention") {
      dict = params;
      where = `${r.source}: rope_parameters`;
    }
    out[t] = parseRopeDict(dict, where, { ropeTheta: theta[t], maxPositionEmbeddings });
  }
  return out;
}

export function parseGemma3TextConfig(raw: RawConfig): LlamaConfig {
  const r = new ConfigReader(raw);
  const dims = readDecoderDims(r, {
    tieWordEmbeddings: true, hiddenSize: 2304, intermediateSize: 9216, numHiddenLayers: 26, numAttentionHeads: 8, numKeyValueHeads: 4,
    headDim: 256, rmsNormEps: 1e-6, maxPositionEmbeddings: 131072,
  });
  if (raw.pad_token_id === undefined) dims.padTokenId = 0;
  if (r.boolean("use_bidirectional_attention", false)) {
    throw new ConfigError(`${r.source}: use_bidirectional_attention is for Gemma 3 embedding models; Gemma3ForCausalLM needs causal attention`);
  }
  const pattern = r.int("sliding_window_pattern", r.int("_sliding_window_pattern", 6));
  if (pattern <= 0) throw new ConfigError(`${r.source}: field "sliding_window_pattern" must be a positive integer, got ${pattern}`);
  const layerTypes = readLayerTypes(r, dims.numHiddenLayers, (i) => ((i + 1) % pattern !== 0 ? "sliding_attention" : "full_attention"));
  const slidingWindow = r.int("sliding_window", 4096);
  if (slidingWindow <= 0) throw new ConfigError(`${r.source}: field "sliding_window" must be a positive integer, got ${slidingWindow}`);
  const attentionBias = r.boolean("attention_bias", false);
  const queryPreAttnScalar = r.number("query_pre_attn_scalar", 256);
  if (queryPreAttnScalar <= 0) throw new ConfigError(`${r.source}: field "query_pre_attn_scalar" must be positive, got ${queryPreAttnScalar}`);
  return {
    ...dims,
    hiddenAct: r.string("hidden_activation", r.string("hidden_act", "gelu_pytorch_tanh")),
    qkvBias: attentionBias,
    oProjBias: attentionBias,
    mlpBias: false,
    layerTypes,
    slidingWindow,
    rope: readGemmaRope(r, dims.maxPositionEmbeddings),
    qkNorm: true,
    normWeightOffset: 1,
    sandwichNorms: true,
    embedScale: Math.sqrt(dims.hiddenSize),
    attentionScale: 1 / Math.sqrt(queryPreAttnScalar),
    attnLogitSoftcapping: r.optionalNumber("attn_logit_softcapping"),
    finalLogitSoftcapping: r.optionalNumber("final_logit_softcapping"),
  };
}

export class Gemma3ForCausalLM extends LlamaForCausalLM {}

registerModelFamily({
  modelTypes: ["gemma3_text"],
  architectures: { Gemma3ForCausalLM: (raw) => new Gemma3ForCausalLM(parseGemma3TextConfig(raw)) },
  defaultArchitecture: "Gemma3ForCausalLM",
  description: "Gemma 3 text: scaled embeddings, (1 + w) sandwich RMSNorms, q/k norms, local/global attention, soft-capping",
});
