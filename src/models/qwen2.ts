/**
 * Qwen2 (Qwen team, 2024): LLaMA with biases on the q/k/v projections and, when `use_sliding_window` is set,
 * sliding-window attention in the layers from `max_window_layers` on.
 */
import { ConfigError } from "../errors.js";
import { ConfigReader, type RawConfig } from "./config.js";
import { LLAMA_SWITCHES, LlamaForCausalLM, readDecoderDims, readLayerTypes, type LlamaConfig } from "./llama.js";
import { registerModelFamily } from "./registry.js";
import { readRopeParameters } from "./rope.js";

/**
 * A Qwen2-style config (Qwen3 builds on it). The sliding window only exists with use_sliding_window, and
 * layer_types, when absent, makes the layers from max_window_layers on sliding (transformers 5's reading).
 */
export function readQwenConfig(r: ConfigReader, defaults: { headDim?: number } = {}): LlamaConfig {
  const dims = readDecoderDims(r, {
    tieWordEmbeddings: false, hiddenSize: 4096, intermediateSize: 22016, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 32,
    rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, ...defaults,
  });
  const useSliding = r.boolean("use_sliding_window", false);
  const slidingWindow = useSliding ? (r.raw.sliding_window === undefined ? 4096 : r.optionalInt("sliding_window")) : null;
  if (slidingWindow !== null && slidingWindow <= 0) throw new ConfigError(`${r.source}: field "sliding_window" must be a positive integer, got ${slidingWindow}`);
  const maxWindowLayers = r.int("max_window_layers", 28);
  const layerTypes = readLayerTypes(r, dims.numHiddenLayers, (i) => (slidingWindow !== null && i >= maxWindowLayers ? "sliding_attention" : "full_attention"));
  return {
    ...dims,
    hiddenAct: r.string("hidden_act", "silu"),
    qkvBias: true,
    oProjBias: false,
    mlpBias: false,
    layerTypes,
    slidingWindow,
    rope: readRopeParameters(r, layerTypes, 10000, dims.maxPositionEmbeddings),
    ...LLAMA_SWITCHES,
    attentionScale: 1 / Math.sqrt(dims.headDim),
  };
}

export function parseQwen2Config(raw: RawConfig): LlamaConfig {
  return readQwenConfig(new ConfigReader(raw));
}

export class Qwen2ForCausalLM extends LlamaForCausalLM {}

registerModelFamily({
  modelTypes: ["qwen2"],
  architectures: { Qwen2ForCausalLM: (raw) => new Qwen2ForCausalLM(parseQwen2Config(raw)) },
  defaultArchitecture: "Qwen2ForCausalLM",
  description: "Qwen2: LLaMA with q/k/v biases and optional sliding-window layers",
});
