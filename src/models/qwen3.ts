/**
 * Qwen3 (Qwen team, 2025): Qwen2 with attention_bias in place of the fixed q/k/v biases and a per-head RMSNorm
 * of queries and keys before RoPE; head_dim is its own setting (default 128), not hidden_size / heads.
 */
import { ConfigReader, type RawConfig } from "./config.js";
import { LlamaForCausalLM, type LlamaConfig } from "./llama.js";
import { readQwenConfig } from "./qwen2.js";
import { registerModelFamily } from "./registry.js";

export function parseQwen3Config(raw: RawConfig): LlamaConfig {
  const r = new ConfigReader(raw);
  const attentionBias = r.boolean("attention_bias", false);
  return { ...readQwenConfig(r, { headDim: 128 }), qkvBias: attentionBias, oProjBias: attentionBias, qkNorm: true };
}

export class Qwen3ForCausalLM extends LlamaForCausalLM {}

registerModelFamily({
  modelTypes: ["qwen3"],
  architectures: { Qwen3ForCausalLM: (raw) => new Qwen3ForCausalLM(parseQwen3Config(raw)) },
  defaultArchitecture: "Qwen3ForCausalLM",
  description: "Qwen3: LLaMA with per-head q/k RMSNorm and an independent head_dim",
});
