/**
 * `npm run bench -- matmul [--threads=N] [--seconds=S] [--rounds=R]`: f32 matmul GFLOP/s for square 256/512/1024 and
 * the GPT-2 MLP shapes, on lmforge's current backend, the TypeScript backend and PyTorch (same threads, same run;
 * R rounds of PyTorch then lmforge over all shapes, best of each, so a slow spell of a shared machine falls on both),
 * against the machine's measured FMA peak: one core's best short burst times the threads, and the FMA rate all
 * threads sustain over calls as long as the product ("window peak").
 */
import os from "node:os";
import { getBackend, jsBackend, setBackend } from "../src/backends/index.js";
import { isNativeAvailable, measurePeakGflops, nativeInfo, setNumThreads } from "../src/backends/native/index.js";
import { matmul, randn, zeros } from "../src/tensor/index.js";
import { Generator } from "../src/utils/rng.js";
import { bestTime, cpuFlags, cpuModel, flagValue, fmt, runPytorch } from "./lib/common.js";

const SHAPES: [number, number, number][] = [[256, 256, 256], [512, 512, 512], [1024, 1024, 1024], [256, 768, 3072], [256, 3072, 768]];

export async function main(flags: string[]): Promise<void> {
  const threads = Number(flagValue(flags, "threads") ?? Math.min(2, os.cpus().length));
  const seconds = Number(flagValue(flags, "seconds") ?? 1);
  const rounds = Number(flagValue(flags, "rounds") ?? 3);
  const backend = getBackend();
  if (isNativeAvailable()) setNumThreads(threads);
  const g = new Generator(0);
  const key = ([m, k, n]: [number, number, number]): string => `${m}x${k}x${n}`;

  let peak = 0;
  let torch: { torch: string; threads: number; results: Record<string, number> } | null = null;
  const ours = new Map<string, number>(), windowPeaks = new Map<string, number>();
  const inputs = SHAPES.map(([m, k, n]) => ({ a: randn([m, k], { generator: g }), b: randn([k, n], { generator: g }), out: zeros([m, n]) }));
  for (let round = 0; round < rounds; round++) {
    const t = runPytorch<{ torch: string; threads: number; results: Record<string, number> }>("matmul.py", [String(threads), String(seconds), ...SHAPES.map(key)]);
    if (t) {
      if (torch) for (const [shape, v] of Object.entries(t.results)) torch.results[shape] = Math.max(torch.results[shape] ?? 0, v);
      else torch = t;
    }
    if (isNativeAvailable()) peak = Math.max(peak, measurePeakGflops(1));
    SHAPES.forEach((shape, i) => {
      const [m, k, n] = shape;
      const { a, b, out } = inputs[i]!;
      // Into a preallocated output, as the PyTorch side does (out=c): the kernel, not the allocator, is timed.
      const time = bestTime(() => matmul(a, b, { out }), seconds);
      ours.set(key(shape), Math.max(ours.get(key(shape)) ?? 0, (2 * m * n * k) / time / 1e9));
      // The FMA peak over calls as long as this product, timed the same way (best of about as many calls).
      if (isNativeAvailable()) windowPeaks.set(key(shape), Math.max(windowPeaks.get(key(shape)) ?? 0, measurePeakGflops(seconds, time)));
    });
  }

  const rows: string[] = [];
  SHAPES.forEach((shape, i) => {
    const [m, k, n] = shape;
    const { a, b, out } = inputs[i]!;
    const flops = 2 * m * n * k;
    const oursBest = ours.get(key(shape))!;
    const windowPeak = windowPeaks.get(key(shape)) ?? null;
    let js: number | null = null;
    if (m * n * k <= 512 ** 3 && backend !== jsBackend) {
      setBackend(jsBackend);
      js = flops / bestTime(() => matmul(a, b, { out }), seconds, 2) / 1e9;
      setBackend(backend);
    }
    const pt = torch?.results[key(shape)] ?? null;
    const share = (p: number | null): string => (p ? `${fmt((100 * oursBest) / p, 0)}%` : "–");
    rows.push(`| ${m}×${k}×${n} | ${fmt(oursBest)} | ${share(peak || null)} | ${fmt(windowPeak)} | ${share(windowPeak)} | ${fmt(js)} | ${fmt(pt)} | ${pt ? fmt(oursBest / pt, 2) + "×" : "–"} |`);
  });
  const info = isNativeAvailable() ? nativeInfo() : null;
  console.log(`machine: ${cpuModel()}, ${os.cpus().length} cores (${cpuFlags().join(" ")}); ${new Date().toISOString()}`);
  console.log(`${rounds} rounds, best of each side; lmforge backend: ${backend.name}${info ? ` (${info.isa} micro-kernel, ${info.threads} threads)` : ""}; PyTorch ${torch ? `${torch.torch}, ${torch.threads} threads` : "not available"}`);
  if (peak) {
    console.log(`f32 peak (FMA throughput, ${threads} threads): ${fmt(peak)} GFLOP/s = one core's best 0.3 ms burst × ${threads}; ` +
      `"window peak": all threads' FMA loops in calls as long as the product, timed like it (best call)`);
  }
  console.log("");
  console.log(`| M×K×N | lmforge ${backend.name} GFLOP/s | % of peak | window peak GFLOP/s | % of window peak | lmforge js GFLOP/s | PyTorch GFLOP/s | lmforge / PyTorch |`);
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}
