/**
 * `npm run bench -- load-memory`: peak resident memory while loadModel reads a GPT-2-124M-shaped f32
 * checkpoint, relative to the weights' bytes. The load runs in a fresh child process whose peak RSS
 * (getrusage maxrss) is compared with its RSS just before loading, so the parent's memory doesn't count.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createModel } from "../src/models/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const child = `
import { loadModel } from ${JSON.stringify(path.join(root, "src/models/index.ts"))};
globalThis.gc?.();
const before = process.memoryUsage().rss;
const model = await loadModel(process.argv[1]);
const peak = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({ before, peak, params: model.numParameters() }));
`;

export async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-loadmem-"));
  try {
    const config = { model_type: "gpt2", n_embd: 768, n_layer: 12, n_head: 12, vocab_size: 50257, n_positions: 1024 };
    await createModel(config, { seed: 0 }).save(dir);
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", child, dir], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    const { before, peak, params } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { before: number; peak: number; params: number };
    const weights = params * 4;
    const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
    console.log(`| model | weights (f32) | RSS before load | peak RSS | peak - before | ratio to weights |`);
    console.log(`| --- | --- | --- | --- | --- | --- |`);
    console.log(`| GPT-2 124M shape | ${mib(weights)} MiB | ${mib(before)} MiB | ${mib(peak)} MiB | ${mib(peak - before)} MiB | ${((peak - before) / weights).toFixed(2)}x |`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
