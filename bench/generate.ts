/**
 * Greedy generation speed on a GPT-2-124M-shaped model with random weights (f32): a 32-token prompt and 64 new
 * tokens, with the KV cache (one prefill, then one token a step) and without it (the whole sequence every step),
 * in the same run. Both must give the same ids. Flags: --new-tokens N, --prompt-tokens N.
 */
import os from "node:os";
import { getBackend } from "../src/backends/index.js";
import { generate } from "../src/generation/index.js";
import { createModel } from "../src/models/index.js";
import { Generator } from "../src/utils/rng.js";

function flag(flags: string[], name: string, fallback: number): number {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit ? Number(hit.split("=")[1]) : fallback;
}

export async function main(flags: string[] = []): Promise<void> {
  const promptTokens = flag(flags, "prompt-tokens", 32);
  const newTokens = flag(flags, "new-tokens", 64);
  const started = performance.now();
  const model = createModel({ model_type: "gpt2", n_embd: 768, n_layer: 12, n_head: 12, vocab_size: 50257, n_positions: 1024 }, { seed: 0 });
  const createSeconds = (performance.now() - started) / 1000;
  const rng = new Generator(1);
  const prompt = Array.from({ length: promptTokens }, () => rng.randint(0, 50257));
  // minNewTokens keeps a random model's EOS from ending the run early, so every run makes newTokens tokens.
  const options = { maxNewTokens: newTokens, minNewTokens: newTokens };
  const time = async (useCache: boolean, tokens = newTokens): Promise<{ seconds: number; ids: number[] }> => {
    const t0 = performance.now();
    const out = await generate(model, null, prompt, { ...options, maxNewTokens: tokens, minNewTokens: tokens, useCache });
    return { seconds: (performance.now() - t0) / 1000, ids: out.ids[0]! };
  };

  await time(true, 2); // warm-up: first-call costs (kernel setup, JIT) stay out of the numbers
  const prefill = await time(true, 1);
  const cached = await time(true);
  const uncached = await time(false);
  const same = cached.ids.join() === uncached.ids.join();

  const rows = [
    ["KV cache", cached.seconds, newTokens / cached.seconds],
    ["no cache (full sequence each step)", uncached.seconds, newTokens / uncached.seconds],
  ] as const;
  const decodeRate = (newTokens - 1) / (cached.seconds - prefill.seconds);
  process.stdout.write(
    [
      `generate: GPT-2 124M shape (12 layers, 768 wide, vocab 50257), random weights (created in ${createSeconds.toFixed(1)} s), f32, greedy`,
      `prompt ${promptTokens} tokens + ${newTokens} new; backend ${getBackend().name}; ${os.cpus()[0]?.model ?? "unknown CPU"} x${os.cpus().length}; ` +
        `Node ${process.version}; load average ${os.loadavg()[0]!.toFixed(1)}; ${new Date().toISOString().slice(0, 10)}`,
      "",
      "| mode | seconds | new tokens/s |",
      "| --- | ---: | ---: |",
      ...rows.map(([mode, s, rate]) => `| ${mode} | ${s.toFixed(2)} | ${rate.toFixed(2)} |`),
      "",
      `with the cache: prefill + first token ${prefill.seconds.toFixed(2)} s, then ${decodeRate.toFixed(2)} tokens/s; ` +
        `speed-up ${(uncached.seconds / cached.seconds).toFixed(1)}x; same ids with and without the cache: ${same ? "yes" : "NO"}`,
      "",
    ].join("\n"),
  );
  if (!same) process.exitCode = 1;
}
