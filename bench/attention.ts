/**
 * `npm run bench -- attention [--threads=N] [--seconds=S] [--dropout=P] [--shapes=B,H,T,D;...]`: causal
 * self-attention with a gradient, as training runs it (dropout on the probabilities, forward then backward of
 * sum(out · w)), on GPT-2-shaped heads. Three sides in one run: lmforge's fused training kernel, lmforge's composed
 * ops (the same backend without its fused kernels) and PyTorch's nanoGPT-style attention (bench/pytorch/attention.py).
 * Also the memory each holds from forward to backward besides q, k, v: for lmforge the array buffers still
 * reachable after the forward (settled by forced GCs before and after), for PyTorch the storages autograd saves plus the output.
 */
import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";
import { getBackend, setBackend, type Backend } from "../src/backends/index.js";
import { isNativeAvailable, nativeInfo, setNumThreads } from "../src/backends/native/index.js";
import { buildAttentionMask } from "../src/models/masks.js";
import { scaledDotProductAttention } from "../src/nn/attention.js";
import { randn, type Tensor } from "../src/tensor/index.js";
import * as F from "../src/tensor/ops.js";
import { Generator } from "../src/utils/rng.js";
import { cpuModel, flagValue, fmt, runPytorch } from "./lib/common.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** Array-buffer bytes after full GCs; more than one, as V8 releases backing stores behind the collection. */
async function settledArrayBuffers(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().arrayBuffers;
}

interface Side { forwardMs: number; backwardMs: number; heldBytes: number }

async function measure(be: Backend, shape: number[], p: number, seconds: number): Promise<Side> {
  setBackend(be);
  const [b, h, t, d] = shape as [number, number, number, number];
  const g = new Generator(0);
  const [q, k, v] = [0, 1, 2].map(() => randn([b, h, t, d], { generator: g }).requiresGrad_()) as [Tensor, Tensor, Tensor];
  const w = randn([b, h, t, d], { generator: g });
  const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: t, attentionMask: null, causal: true });
  const forward = (): Tensor => scaledDotProductAttention(q, k, v, { mask, dropout: p, training: true });
  const before = await settledArrayBuffers();
  let y = forward();
  const heldBytes = (await settledArrayBuffers()) - before;
  F.sum(F.mul(y, w)).backward();
  let forwardMs = Infinity, backwardMs = Infinity;
  const start = performance.now();
  for (let reps = 0; reps < 3 || performance.now() - start < seconds * 1000; reps++) {
    q.grad = k.grad = v.grad = null;
    const t0 = performance.now();
    y = forward();
    const t1 = performance.now();
    F.sum(F.mul(y, w)).backward();
    forwardMs = Math.min(forwardMs, t1 - t0);
    backwardMs = Math.min(backwardMs, performance.now() - t1);
  }
  return { forwardMs, backwardMs, heldBytes };
}

export async function main(flags: string[]): Promise<void> {
  if (!isNativeAvailable()) throw new Error("bench attention: the native backend is not built (npm run install)");
  const threads = Number(flagValue(flags, "threads") ?? Math.min(2, os.cpus().length));
  const seconds = Number(flagValue(flags, "seconds") ?? 2);
  const p = Number(flagValue(flags, "dropout") ?? 0.1);
  const shapes = (flagValue(flags, "shapes") ?? "1,12,256,64;4,6,256,64;1,12,1024,64").split(";");
  setNumThreads(threads);
  const fused = getBackend();
  const composed: Backend = { ...fused, attention: undefined, attentionForward: undefined, attentionBackward: undefined };
  const pt = runPytorch<{ torch: string; results: Record<string, { forward_ms: number; backward_ms: number; held_bytes: number }> }>(
    "attention.py", [String(threads), String(seconds), String(p), ...shapes]);
  console.log(`causal attention with a gradient, dropout ${p}, ${threads} threads, ${cpuModel()} (${nativeInfo().isa}), PyTorch ${pt?.torch ?? "–"}, ${new Date().toISOString()}`);
  console.log("| B, H, T, D | side | forward ms | backward ms | forward + backward ms | speed vs PyTorch | held MB |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  try {
    for (const spec of shapes) {
      const shape = spec.split(",").map(Number);
      const ref = pt?.results[spec];
      const theirs = ref ? ref.forward_ms + ref.backward_ms : undefined;
      const row = (side: string, s: Side): void => {
        const total = s.forwardMs + s.backwardMs;
        console.log(`| ${spec} | ${side} | ${fmt(s.forwardMs, 2)} | ${fmt(s.backwardMs, 2)} | ${fmt(total, 2)} | ${theirs ? fmt(theirs / total, 2) + "×" : "–"} | ${fmt(s.heldBytes / 1e6)} |`);
      };
      row("lmforge fused", await measure(fused, shape, p, seconds));
      row("lmforge composed", await measure(composed, shape, p, seconds));
      if (ref) row("PyTorch", { forwardMs: ref.forward_ms, backwardMs: ref.backward_ms, heldBytes: ref.held_bytes });
    }
  } finally {
    setBackend(fused);
  }
}
