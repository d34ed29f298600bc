/** Helpers shared by the performance benchmarks (matmul, model): machine description, timing, PyTorch runner. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getBackend } from "../../src/backends/index.js";
import { Tensor } from "../../src/tensor/index.js";
import type { Generator } from "../../src/utils/rng.js";

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PYTHON = "/usr/bin/python3";

export function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

export function cpuFlags(): string[] {
  try {
    const m = /flags\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m ? m[1]!.split(/\s+/).filter((f) => /^(avx2|fma|avx512f|avx512bw|avx512_bf16|avx_vnni)$/.test(f)) : [];
  } catch {
    return [];
  }
}

/** Best wall time (seconds) of fn over at least `minReps` runs and `minSeconds` in total, after `warmups` runs. */
export function bestTime(fn: () => void, minSeconds = 1, minReps = 3, warmups = 1): number {
  for (let i = 0; i < warmups; i++) fn();
  let best = Infinity, reps = 0;
  const start = performance.now();
  while (reps < minReps || performance.now() - start < minSeconds * 1000) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
    reps++;
  }
  return best / 1000;
}

/** Runs bench/pytorch/<script> with args; null (and a note on stderr) when PyTorch is not installed. */
export function runPytorch<T>(script: string, args: string[], timeoutMs = 30 * 60_000): T | null {
  if (!existsSync(PYTHON)) {
    process.stderr.write(`(${PYTHON} not found: PyTorch columns skipped)\n`);
    return null;
  }
  const r = spawnSync(PYTHON, [path.join(benchDir, "pytorch", script), ...args], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    process.stderr.write(`(PyTorch run failed, columns skipped: ${(r.stderr || String(r.error)).trim().split("\n").pop()})\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}

export function flagValue(flags: string[], name: string): string | undefined {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

export const fmt = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? "–" : v.toFixed(digits));
/** Uniform random ids in [low, high) as an i32 tensor. */
export function randint(low: number, high: number, shape: [number, number], g: Generator): Tensor {
  const n = shape[0] * shape[1];
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = low + Math.floor(g.random() * (high - low));
  return new Tensor(data, shape, "i32");
}

/** A plain streaming read through the backend (row sums): used to measure memory bandwidth. */
export function sumAxisForBench(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  getBackend().sumAxis(x, out, rows, cols, 1);
}
