/**
 * Qwen2 (Qwen team, 2024): LLaMA with biases on the q/k/v projections and, when `use_sliding_window` is set,
 * sliding-window attention in the layers from `max_window_layers` on.
 */
import { ConfigError } from "../errors.js";
import { ConfigReader, type RawConfig } from "./config.js";
import { LlamaForCausalLM, readDecoderDims, readLayerTypes, type DecoderDefaults, type LlamaConfig } from "./llama.js";
import { registerModelFamily } from "./registry.js";
import { readRopeParameters, type LayerType } from "./rope.js";

/**
 * Qwen's sliding-window switches as transformers 5 reads them: the window only exists with
 * use_sliding_window, and layer_types (when absent) makes layers >= max_window_layers sliding.
 */
export function readQwenLayers(r: ConfigReader, numLayers: number): { layerTypes: LayerType[]; slidingWindow: number | null } {
  const useSliding = r.boolean("use_sliding_window", false);
  const window = useSliding ? (r.raw.sliding_window === undefined ? 4096 : r.optionalInt("sliding_window")) : null;
  if (window !== null && window <= 0) throw new ConfigError(`${r.source}: field "sliding_window" must be a positive integer, got ${window}`);
  const maxWindowLayers = r.int("max_window_layers", 28);
  const layerTypes = readLayerTypes(r, numLayers, (i) => (window !== null && i >= maxWindowLayers ? "sliding_attention" : "full_attention"));
  return { layerTypes, slidingWindow: window };
}

export const QWEN_DEFAULTS: DecoderDefaults = {
  tieWordEmbeddings: false, hiddenSize: 4096, intermediateSize: 22016, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 32,
  rmsNormEps: 1e-6, maxPositionEmbeddings: 32768,
};

export function parseQwen2Config(raw: RawConfig): LlamaConfig {
  const r = new ConfigReader(raw);
  const dims = readDecoderDims(r, QWEN_DEFAULTS);
  const { layerTypes, slidingWindow } = readQwenLayers(r, dims.numHiddenLayers);
  return {
    ...dims,
    hiddenAct: r.string("hidden_act", "silu"),
    qkvBias: true,
    oProjBias: false,
    mlpBias: false,
    layerTypes,
    slidingWindow,
    rope: readRopeParameters(r, layerTypes, 10000, dims.maxPositionEmbeddings),
    qkNorm: false,
    normWeightOffset: 0,
    sandwichNorms: false,
    embedScale: null,
    attentionScale: 1 / Math.sqrt(dims.headDim),
    attnLogitSoftcapping: null,
    finalLogitSoftcapping: null,
  };
}

export class Qwen2ForCausalLM extends LlamaForCausalLM {}

registerModelFamily({
  modelTypes: ["qwen2"],
  architectures: { Qwen2ForCausalLM: (raw) => new Qwen2ForCausalLM(parseQwen2Config(raw)) },
  defaultArchitecture: "Qwen2ForCausalLM",
  description: "Qwen2: LLaMA with q/k/v biases and optional sliding-window layers",
});
