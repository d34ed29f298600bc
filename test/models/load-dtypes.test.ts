import { describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { saveSafetensors } from "../../src/io/index.js";
import { createModel, loadModel } from "../../src/models/index.js";
import { f32ToBf16Bits, bf16BitsToF32, f32ToF16Bits, f16BitsToF32 } from "../../src/tensor/index.js";

// A vocabulary of 40 000 × 32 puts 1.28M elements in one tensor, more than one conversion chunk (2^20).
const config = { model_type: "gpt2", n_embd: 32, n_layer: 1, n_head: 2, vocab_size: 40000, n_positions: 16 };

describe("loading F16 / BF16 / F64 checkpoints into f32 parameters", () => {
  for (const [dtype, encode, decode] of [
    ["BF16", f32ToBf16Bits, bf16BitsToF32],
    ["F16", f32ToF16Bits, f16BitsToF32],
  ] as const) {
    it(`${dtype} weights convert exactly, across chunk boundaries`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-dtype-"));
      try {
        const model = createModel(config, { seed: 1 });
        const tensors: [string, { dtype: "F16" | "BF16"; shape: number[]; data: Uint16Array }][] = [];
        for (const [name, p] of model.namedParameters()) {
          tensors.push([name, { dtype, shape: [...p.shape], data: Uint16Array.from(p.data as Float32Array, (v) => encode(v)) }]);
        }
        await saveSafetensors(path.join(dir, "model.safetensors"), tensors);
        await writeFile(path.join(dir, "config.json"), JSON.stringify(config));
        const loaded = new Map((await loadModel(dir)).namedParameters());
        for (const [name, , ] of tensors) {
          const expected = Array.from(tensors.find(([n]) => n === name)![1].data, (b) => decode(b));
          const got = Array.from(loaded.get(name)!.data as Float32Array);
          expect(got.length).toBe(expected.length);
          let mismatches = 0;
          for (let i = 0; i < got.length; i++) if (!Object.is(got[i], Math.fround(expected[i]!))) mismatches++;
          expect(mismatches, name).toBe(0);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it("F64 weights load into f32 (rounded) and into f64 exactly", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "lmforge-dtype-"));
    try {
      const small = { ...config, vocab_size: 50 };
      const model = createModel(small, { seed: 2, dtype: "f64" });
      await model.save(dir);
      const as32 = new Map((await loadModel(dir)).namedParameters());
      const as64 = new Map((await loadModel(dir, { dtype: "f64" })).namedParameters());
      for (const [name, p] of model.namedParameters()) {
        expect(Array.from(as64.get(name)!.data as Float64Array)).toEqual(Array.from(p.data as Float64Array));
        expect(Array.from(as32.get(name)!.data as Float32Array)).toEqual(Array.from(p.data as Float64Array, (v) => Math.fround(v)));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
