/**
 * `npm run bench -- model [--threads=N] [--seconds=S] [--only=forward,train,generate,batched] [--sizes=30m,124m]`:
 * lmforge against a plain PyTorch GPT-2 (bench/pytorch/model.py) with the same shapes and threads, in one run:
 * forward tokens/s (1 × 256, no grad), training step tokens/s (forward + backward + AdamW; 4 × 256 on ~30M,
 * 1 × 256 on 124M), greedy generation with a KV cache (32-token prompt + 64 new) with the memory-bandwidth
 * bound (weight bytes per token / streaming read bandwidth: the best probe pass, and the probe's average over a
 * window as long as the decode), and the same for a batch of four rows (`batched`).
 */
import os from "node:os";
import { getBackend } from "../src/backends/index.js";
import { isNativeAvailable, nativeInfo, setNumThreads } from "../src/backends/native/index.js";
import { createModel, type KVCache, type PreTrainedModel } from "../src/models/index.js";
import { argmax, noGrad, Tensor } from "../src/tensor/index.js";
import { AdamW } from "../src/training/index.js";
import { Generator } from "../src/utils/rng.js";
import { bestTime, cpuFlags, cpuModel, flagValue, fmt, randint, runPytorch, sumAxisForBench } from "./lib/common.js";

interface Size { name: string; config: Record<string, number | string>; trainBatch: number }

export const SIZES: Size[] = [
  { name: "~30M (6 layers, 6 heads, 384 wide)", config: { model_type: "gpt2", n_embd: 384, n_layer: 6, n_head: 6, vocab_size: 50257, n_positions: 1024 }, trainBatch: 4 },
  { name: "GPT-2 124M", config: { model_type: "gpt2", n_embd: 768, n_layer: 12, n_head: 12, vocab_size: 50257, n_positions: 1024 }, trainBatch: 1 },
];
const SEQ = 256;
export const PROMPT = 32, NEW = 64;
const BATCH_ROWS = 4;  // the batched greedy measure: four rows, as numBeams 4 or four sampled sequences decode

/**
 * Read bandwidth (GB/s) of the backend's row-sum kernel over a 512 MiB array: the best of at least three passes,
 * or, with `windowSeconds`, passes back to back for that long (the average over a window as long as a decode).
 */
let bandwidthArray: Float32Array | null = null;
function streamingBandwidth(windowSeconds = 0): number {
  const n = 128 << 20;
  const x = (bandwidthArray ??= new Float32Array(n).fill(1));
  const rows = 256, out = new Float32Array(rows);
  const pass = (): void => sumAxisForBench(x, out, rows, n / rows);
  if (windowSeconds <= 0) return (n * 4) / bestTime(pass, 0.2, 3) / 1e9;
  pass();
  let passes = 0;
  const t0 = performance.now();
  do {
    pass();
    passes++;
  } while (performance.now() - t0 < windowSeconds * 1000);
  return (passes * n * 4) / ((performance.now() - t0) / 1000) / 1e9;
}

/**
 * Greedy decoding with the KV cache, every row of `prompt` [rows, length] on its own argmax (a batch of rows
 * decodes as beam search and several sampled sequences do); returns the seconds spent in the prefill.
 */
export function greedy(model: PreTrainedModel, prompt: Tensor): number {
  return noGrad(() => {
    const t0 = performance.now();
    let out = model.forward({ inputIds: prompt, useCache: true });
    const prefill = (performance.now() - t0) / 1000;
    let cache = out.pastKeyValues as KVCache;
    for (let i = 0; i < NEW; i++) {
      const [b, t, v] = out.logits.shape as [number, number, number];
      const last = new Float32Array(b * v);
      for (let r = 0; r < b; r++) last.set(out.logits.data.subarray((r * t + t - 1) * v, (r * t + t) * v) as Float32Array, r * v);
      const next = argmax(new Tensor(last, [b, v], "f32"), -1);
      out = model.forward({ inputIds: new Tensor(next.data, [b, 1], "i32"), pastKeyValues: cache, useCache: true });
      cache = out.pastKeyValues as KVCache;
    }
    return prefill;
  });
}

// Training steps warm up longer on both sides (bench/pytorch/model.py too): the first few grow the allocator's heap
// to the steady state, and on a 124M step those page faults cost a third of the step.
const TRAIN_WARMUPS = 3;

export async function main(flags: string[]): Promise<void> {
  const threads = Number(flagValue(flags, "threads") ?? Math.min(2, os.cpus().length));
  const seconds = Number(flagValue(flags, "seconds") ?? 3);
  const only = new Set((flagValue(flags, "only") ?? "forward,train,generate,batched").split(","));
  const sizes = flagValue(flags, "sizes")?.split(",");
  if (isNativeAvailable()) setNumThreads(threads);
  let bandwidth = 0;
  const g = new Generator(1);
  const lines: string[] = [];
  for (const [i, size] of SIZES.entries()) {
    if (sizes && !sizes.includes(["30m", "124m"][i]!)) continue;
    const model = createModel(size.config, { seed: 0 });
    const params = model.numParameters();
    const vocab = Number(size.config.vocab_size);
    const torchCfg = {
      ...size.config, threads, seq: SEQ, seconds,
      forward: only.has("forward"), train_batch: only.has("train") ? size.trainBatch : 0, gen_prompt: PROMPT, gen_new: only.has("generate") || only.has("batched") ? NEW : 0,
      gen_batches: [...(only.has("generate") ? [1] : []), ...(only.has("batched") ? [BATCH_ROWS] : [])],
    };
    const pt = runPytorch<Record<string, number>>("model.py", [JSON.stringify(torchCfg)]);
    const row = (what: string, ours: number, theirs: number | undefined, extra = ""): void => {
      lines.push(`| ${size.name} | ${what} | ${fmt(ours)} | ${fmt(theirs)} | ${theirs ? fmt(ours / theirs, 2) + "×" : "–"} | ${extra} |`);
    };
    if (only.has("forward")) {
      model.eval();
      const ids = randint(0, vocab, [1, SEQ], g);
      const t = bestTime(() => noGrad(() => model.forward({ inputIds: ids })), seconds);
      row("forward 1×256, tokens/s", SEQ / t, pt?.forward_tokens_per_s);
    }
    if (only.has("train")) {
      model.train();
      const opt = new AdamW(model.parameters(), { lr: 1e-4 });
      const ids = randint(0, vocab, [size.trainBatch, SEQ], g);
      const t = bestTime(() => {
        const { loss } = model.forward({ inputIds: ids, labels: ids });
        opt.zeroGrad();
        loss!.backward();
        opt.step();
      }, seconds, 2, TRAIN_WARMUPS);
      row(`train step ${size.trainBatch}×256, tokens/s`, (size.trainBatch * SEQ) / t, pt?.train_tokens_per_s);
    }
    if (only.has("generate")) {
      model.eval();
      const prompt = randint(0, vocab, [1, PROMPT], g);
      greedy(model, prompt); // warm-up
      // Bytes a decode step must read: every weight once (the tied embedding as the LM head; one row of each
      // embedding table is negligible), i.e. all parameters except the position table.
      const wpe = Number(size.config.n_positions) * Number(size.config.n_embd);
      const bytesPerToken = (params - wpe) * 4;
      // The machine's bandwidth moves with other tenants' load, so each timed run is paired with the bandwidth
      // measured right before and right after it (the higher of the two, so the bound is never understated),
      // and the share of the bound is taken per pair. The bound is per decoded token: decode steps alone.
      // Two bounds: from the probe's best pass (about 9 ms), and from its average over a window as long as the
      // decode itself (the machine's bandwidth moves within a second, so the best pass overstates what a whole
      // decode can get).
      const runs: { total: number; decodeRate: number; bound: number; windowBound: number }[] = [];
      const deadline = performance.now() + seconds * 1000;
      while (runs.length < 3 || (performance.now() < deadline && runs.length < 20)) {
        const before = streamingBandwidth(), beforeWindow = streamingBandwidth(runs[0]?.total ?? 0.5);
        const t0 = performance.now();
        const prefill = greedy(model, prompt);
        const total = (performance.now() - t0) / 1000;
        const bw = Math.max(before, streamingBandwidth()), windowBw = Math.max(beforeWindow, streamingBandwidth(total));
        runs.push({ total, decodeRate: NEW / (total - prefill), bound: (bw * 1e9) / bytesPerToken, windowBound: (windowBw * 1e9) / bytesPerToken });
      }
      bandwidth = Math.max(...runs.map((r) => (r.bound * bytesPerToken) / 1e9));
      const summary = (bound: (r: (typeof runs)[number]) => number): string => {
        const shares = runs.map((r) => r.decodeRate / bound(r)).sort((a, b) => a - b);
        return `median ${fmt(100 * shares[Math.floor(shares.length / 2)]!, 0)}%, range ${fmt(100 * shares[0]!, 0)}-${fmt(100 * shares[shares.length - 1]!, 0)}%`;
      };
      const best = runs.reduce((a, b) => (b.decodeRate > a.decodeRate ? b : a));
      row(`greedy ${PROMPT}+${NEW}, new tokens/s (prefill included)`, NEW / Math.min(...runs.map((r) => r.total)), pt?.generate_tokens_per_s,
        `decode alone ${fmt(best.decodeRate)} tok/s = ${fmt(100 * best.decodeRate / best.bound, 0)}% of the bound ${fmt(best.bound)} tok/s measured with it; ` +
        `share of the bound over ${runs.length} paired runs: ${summary((r) => r.bound)}; ` +
        `of the same-window bound: ${summary((r) => r.windowBound)}`);
    }
    if (only.has("batched")) {
      model.eval();
      const prompt = randint(0, vocab, [BATCH_ROWS, PROMPT], g);
      greedy(model, prompt); // warm-up
      const t = bestTime(() => greedy(model, prompt), seconds, 2);
      row(`greedy ${BATCH_ROWS} rows × (${PROMPT}+${NEW}), new tokens/s (all rows, prefill included)`, (BATCH_ROWS * NEW) / t, pt?.generate_batched_tokens_per_s);
    }
    lines.push(`<!-- ${size.name}: ${(params / 1e6).toFixed(1)}M parameters -->`);
  }
  const info = isNativeAvailable() ? nativeInfo() : null;
  console.log(`machine: ${cpuModel()}, ${os.cpus().length} cores (${cpuFlags().join(" ")}); ${new Date().toISOString()}`);
  console.log(`lmforge backend: ${getBackend().name}${info ? ` (${info.isa}, ${info.threads} threads)` : ""}; streaming read bandwidth (highest measured) ${bandwidth ? fmt(bandwidth) + " GB/s" : "not measured"}`);
  console.log("");
  console.log("| model | measure | lmforge | PyTorch | lmforge / PyTorch | note |");
  console.log("|---|---|---|---|---|---|");
  for (const l of lines) console.log(l);
}
