/**
 * Greedy generation speed on a GPT-2-124M-shaped model (or, with --model=llama, a LLaMA-shaped one of about the
 * same size) with random weights (f32): a 32-token prompt and 64 new tokens, with the KV cache (one prefill, then
 * one token a step; each layer one backend call where the backend has the fused block, and op by op), and
 * without it (the whole sequence every step), in the same run. All must give the same ids.
 * Flags: --new-tokens N, --prompt-tokens N, --model gpt2|llama.
 */
import os from "node:os";
import { getBackend, type Backend } from "../src/backends/index.js";
import { generate } from "../src/generation/index.js";
import { createModel } from "../src/models/index.js";
import { Generator } from "../src/utils/rng.js";

function flag(flags: string[], name: string, fallback: number): number {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit ? Number(hit.split("=")[1]) : fallback;
}

const MODELS = {
  gpt2: {
    what: "GPT-2 124M shape (12 layers, 768 wide, vocab 50257)", fused: "preNormBlock",
    config: { model_type: "gpt2", n_embd: 768, n_layer: 12, n_head: 12, vocab_size: 50257, n_positions: 1024 },
  },
  llama: {
    what: "LLaMA shape (12 layers, 768 wide, 12 heads sharing 4 key/value heads, SwiGLU 2048, vocab 32000, untied head)", fused: "llamaBlock",
    config: { model_type: "llama", hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64,
      intermediate_size: 2048, vocab_size: 32000, max_position_embeddings: 1024 },
  },
} as const;

export async function main(flags: string[] = []): Promise<void> {
  const promptTokens = flag(flags, "prompt-tokens", 32);
  const newTokens = flag(flags, "new-tokens", 64);
  const name = flags.find((f) => f.startsWith("--model="))?.split("=")[1] ?? "gpt2";
  if (name !== "gpt2" && name !== "llama") throw new Error(`--model: expected gpt2 or llama, got "${name}"`);
  const spec = MODELS[name];
  const started = performance.now();
  const model = createModel(spec.config, { seed: 0 });
  const vocab = name === "gpt2" ? 50257 : 32000;
  const createSeconds = (performance.now() - started) / 1000;
  const rng = new Generator(1);
  const prompt = Array.from({ length: promptTokens }, () => rng.randint(0, vocab));
  // minNewTokens keeps a random model's EOS from ending the run early, so every run makes newTokens tokens.
  const options = { maxNewTokens: newTokens, minNewTokens: newTokens };
  const backend: Backend = getBackend();
  const fusedBlock = backend[spec.fused];
  const time = async (useCache: boolean, tokens = newTokens, fused = true): Promise<{ seconds: number; ids: number[] }> => {
    if (!fused) backend[spec.fused] = undefined;
    try {
      const t0 = performance.now();
      const out = await generate(model, null, prompt, { ...options, maxNewTokens: tokens, minNewTokens: tokens, useCache });
      return { seconds: (performance.now() - t0) / 1000, ids: out.ids[0]! };
    } finally {
      backend[spec.fused] = fusedBlock as never;
    }
  };

  await time(true, 2); // warm-up: first-call costs (kernel setup, JIT) stay out of the numbers
  const prefill = await time(true, 1);
  const cached = await time(true);
  const opByOp = fusedBlock ? await time(true, newTokens, false) : null;
  const uncached = await time(false);
  const same = cached.ids.join() === uncached.ids.join() && (!opByOp || opByOp.ids.join() === cached.ids.join());

  const rows = [
    ["KV cache", cached.seconds, newTokens / cached.seconds],
    ...(opByOp ? [["KV cache, layers op by op (no fused block)", opByOp.seconds, newTokens / opByOp.seconds] as const] : []),
    ["no cache (full sequence each step)", uncached.seconds, newTokens / uncached.seconds],
  ] as const;
  const decodeRate = (newTokens - 1) / (cached.seconds - prefill.seconds);
  process.stdout.write(
    [
      `generate: ${spec.what}, ${(model.numParameters() / 1e6).toFixed(1)}M parameters, random weights (created in ${createSeconds.toFixed(1)} s), f32, greedy`,
      `prompt ${promptTokens} tokens + ${newTokens} new; backend ${getBackend().name}; ${os.cpus()[0]?.model ?? "unknown CPU"} x${os.cpus().length}; ` +
        `Node ${process.version}; load average ${os.loadavg()[0]!.toFixed(1)}; ${new Date().toISOString().slice(0, 10)}`,
      "",
      "| mode | seconds | new tokens/s |",
      "| --- | ---: | ---: |",
      ...rows.map(([mode, s, rate]) => `| ${mode} | ${s.toFixed(2)} | ${rate.toFixed(2)} |`),
      "",
      `with the cache: prefill + first token ${prefill.seconds.toFixed(2)} s, then ${decodeRate.toFixed(2)} tokens/s; ` +
        `speed-up ${(uncached.seconds / cached.seconds).toFixed(1)}x` +
        (opByOp ? `; fused blocks ${(opByOp.seconds / cached.seconds).toFixed(2)}x faster than op by op` : "") +
        `; same ids in every mode: ${same ? "yes" : "NO"}`,
      "",
    ].join("\n"),
  );
  if (!same) process.exitCode = 1;
}
