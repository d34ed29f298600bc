/**
 * `npm run bench -- ab-decode --addons=A.node,B.node [--rounds=12] [--size=124m|30m] [--threads=2] [--rows=1] [--isa=avx2]`: greedy
 * decodes (the model bench's 32-token prompt + 64 new tokens, in a batch of `rows` rows) on two builds of the native kernels in one process, in turns.
 * On a shared machine the bandwidth moves more from one minute to the next than most kernel changes do, so two
 * builds are only comparable measured together; each round runs both, the first going first in even rounds and
 * second in odd ones (whichever runs second in a round tends to be faster or slower by itself). Build the older
 * side with `bench/native/build-addon.sh <git ref> <dir>`.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { setBackend } from "../src/backends/index.js";
import { createNativeBackend } from "../src/backends/native/backend.js";
import type { NativeAddon } from "../src/backends/native/loader.js";
import { createModel } from "../src/models/index.js";
import { Generator } from "../src/utils/rng.js";
import { flagValue, fmt, randint } from "./lib/common.js";
import { greedy, NEW, PROMPT, SIZES } from "./model.js";

export function main(flags: string[]): void {
  const paths = (flagValue(flags, "addons") ?? "").split(",").filter(Boolean);
  if (paths.length !== 2) throw new Error("ab-decode: --addons= expects two .node files, comma-separated (A,B)");
  const rounds = Number(flagValue(flags, "rounds") ?? 12);
  const threads = Number(flagValue(flags, "threads") ?? 2);
  const size = SIZES[flagValue(flags, "size") === "30m" ? 0 : 1]!;
  const rows = Number(flagValue(flags, "rows") ?? 1);
  // --isa: both builds' kernels for an older ISA than this CPU's (as setNativeIsa), to compare those paths here
  const isaName = flagValue(flags, "isa");
  const isa = isaName === undefined ? undefined : ["generic", "avx2", "avx512"].indexOf(isaName);
  if (isa === -1) throw new Error(`ab-decode: --isa= expects generic, avx2 or avx512, got ${JSON.stringify(isaName)}`);
  const require = createRequire(import.meta.url);
  const backends = paths.map((p) => {
    const addon = require(path.resolve(p)) as NativeAddon;
    addon.setNumThreads(threads);
    if (isa !== undefined) addon.setIsa(isa as 0 | 1 | 2);
    return createNativeBackend(addon);
  });
  const model = createModel(size.config, { seed: 0 });
  model.eval();
  const prompt = randint(0, Number(size.config.vocab_size), [rows, PROMPT], new Generator(1));
  const decodeRate = (): number => {
    const t0 = performance.now();
    const prefill = greedy(model, prompt);
    return (rows * NEW) / ((performance.now() - t0) / 1000 - prefill);
  };
  for (const b of backends) {
    setBackend(b);
    decodeRate(); // warm-up: first-touch of caches and scratch
  }
  const rates: [number[], number[]] = [[], []];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const got = [0, 0];
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      setBackend(backends[i]!);
      got[i] = decodeRate();
      rates[i as 0 | 1].push(got[i]!);
    }
    ratios.push(got[1]! / got[0]!);
  }
  const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
  const mean = (x: number[]): number => x.reduce((a, b) => a + b, 0) / x.length;
  console.log(`${size.name}, ${threads} threads, ${rounds} rounds, ${rows} row(s); decode steps alone, new tokens/s (all rows)`);
  for (const [i, p] of paths.entries()) console.log(`${"AB"[i]} ${p}: median ${fmt(median(rates[i as 0 | 1]))}, best ${fmt(Math.max(...rates[i as 0 | 1]))}`);
  console.log(`B / A, mean of rounds: ${fmt(mean(ratios), 3)} (A first: ${fmt(mean(ratios.filter((_, r) => r % 2 === 0)), 3)}, ` +
    `B first: ${fmt(mean(ratios.filter((_, r) => r % 2 === 1)), 3)})`);
}
