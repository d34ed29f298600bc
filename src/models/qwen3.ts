/**
 * Qwen3 (Qwen team, 2025): Qwen2 without the q/k/v biases (attention_bias instead) and with a per-head RMSNorm
 * of queries and keys before RoPE; head_dim is its own setting, not hidden_size / heads.
 */
import { ConfigReader, type RawConfig } from "./config.js";
import { LlamaForCausalLM, readDecoderDims, type LlamaConfig } from "./llama.js";
import { QWEN_DEFAULTS, readQwenLayers } from "./qwen2.js";
import { registerModelFamily } from "./registry.js";
import { readRopeParameters } from "./rope.js";

export function parseQwen3Config(raw: RawConfig): LlamaConfig {
  const r = new ConfigReader(raw);
  const dims = readDecoderDims(r, { ...QWEN_DEFAULTS, headDim: 128 });
  const { layerTypes, slidingWindow } = readQwenLayers(r, dims.numHiddenLayers);
  const attentionBias = r.boolean("attention_bias", false);
  return {
    ...dims,
    hiddenAct: r.string("hidden_act", "silu"),
    qkvBias: attentionBias,
    oProjBias: attentionBias,
    mlpBias: false,
    layerTypes,
    slidingWindow,
    rope: readRopeParameters(r, layerTypes, 10000, dims.maxPositionEmbeddings),
    qkNorm: true,
    normWeightOffset: 0,
    sandwichNorms: false,
    embedScale: null,
    attentionScale: 1 / Math.sqrt(dims.headDim),
    attnLogitSoftcapping: null,
    finalLogitSoftcapping: null,
  };
}

export class Qwen3ForCausalLM extends LlamaForCausalLM {}

registerModelFamily({
  modelTypes: ["qwen3"],
  architectures: { Qwen3ForCausalLM: (raw) => new Qwen3ForCausalLM(parseQwen3Config(raw)) },
  defaultArchitecture: "Qwen3ForCausalLM",
  description: "Qwen3: LLaMA with per-head q/k RMSNorm and an independent head_dim",
});
