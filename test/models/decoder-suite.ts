/**
 * The parity checks every decoder-only fixture (llama, qwen2, qwen3, gemma3) goes through: logits, loss and
 * gradients against transformers, greedy ids (plain and left-padded) against transformers' generate, KV-cache
 * decoding, save/load, left padding, and the older flat config form giving the same logits.
 */
import { describe, expect, it } from "vitest";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectFusedMatchesComposed, expectGradsClose, expectLogitsClose, expectLossClose, expectSaveRoundTrip, fixtureModel, readReference, refIds, withFusedBlock } from "../helpers/parity.js";
import { getBackend } from "../../src/backends/index.js";
import { KVCache, loadModel, positionIdsFromMask, type PreTrainedModel } from "../../src/models/index.js";
import { Tensor, noGrad, tensor } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/index.js";

interface GenerationCase {
  input_ids: number[][];
  attention_mask?: number[][];
  max_new_tokens: number;
  output_ids: number[][];
}

export function readCases(name: string): Record<string, GenerationCase & { loss?: number }> {
  return JSON.parse(readFileSync(path.join(fixturesDir, name, "reference.json"), "utf8")).cases;
}

/**
 * Greedy decoding with the KV cache, as transformers' generate does it: positions from the attention mask,
 * the mask grown by one each step, finished rows padded with pad_token_id, stop when every row hit EOS.
 */
export function greedy(model: PreTrainedModel, c: GenerationCase, padTokenId: number, eosTokenId: number): number[][] {
  return noGrad(() => {
    const rows = c.input_ids.map((r) => [...r]);
    let mask = c.attention_mask ? c.attention_mask.map((r) => [...r]) : rows.map((r) => r.map(() => 1));
    const done = rows.map(() => false);
    const cache = new KVCache();
    let step = tensor(rows, { dtype: "i32" });
    for (let n = 0; n < c.max_new_tokens && done.some((d) => !d); n++) {
      const maskT = tensor(mask, { dtype: "i32" });
      const positionIds = positionIdsFromMask(maskT, step.shape[1]);
      const { logits } = model.forward({ inputIds: step, attentionMask: maskT, positionIds, pastKeyValues: cache, useCache: true });
      const last = F.argmax(F.slice(logits, 1, logits.shape[1]! - 1), -1).data as Int32Array;
      const next = rows.map((_, i) => (done[i] ? padTokenId : last[i]!));
      next.forEach((t, i) => {
        rows[i]!.push(t);
        if (t === eosTokenId) done[i] = true;
      });
      mask = mask.map((r) => [...r, 1]);
      step = tensor(next.map((t) => [t]), { dtype: "i32" });
    }
    return rows;
  });
}

/** config.json in the older flat form hub checkpoints use: rope_theta (+ rope_local_base_freq), no layer_types. */
export function toFlatConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out = { ...config };
  const rp = out.rope_parameters as Record<string, Record<string, unknown>> & Record<string, unknown>;
  delete out.rope_parameters;
  if (rp.full_attention || rp.sliding_attention) {
    out.rope_theta = rp.full_attention!.rope_theta;
    out.rope_local_base_freq = rp.sliding_attention!.rope_theta;
    out.sliding_window_pattern = out._sliding_window_pattern;
    delete out._sliding_window_pattern;
  } else {
    const { rope_theta, rope_type, ...rest } = rp;
    out.rope_theta = rope_theta;
    if (rope_type !== "default") out.rope_scaling = { rope_type, ...rest };
  }
  delete out.layer_types;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function describeDecoderParity(name: string, className: string): void {
  const cases = readCases(name);
  const config = JSON.parse(readFileSync(path.join(fixturesDir, name, "config.json"), "utf8")) as Record<string, unknown>;
  const pad = config.pad_token_id as number, eos = config.eos_token_id as number;

  describe(`${className} parity with transformers (${name} fixture)`, () => {
    it("logits, loss and every parameter's gradient", async () => {
      const model = await fixtureModel(name);
      expect(model.constructor.name).toBe(className);
      const ref = await readReference(name);
      const ids = refIds(ref, "input_ids");
      const out = model.forward({ inputIds: ids, labels: ids });
      expectLogitsClose(out.logits, ref.get("logits")!);
      expectLossClose(out.loss, cases.loss!.loss!);
      out.loss!.backward();
      expectGradsClose(model, ref);
    });

    it("greedy ids equal transformers' generate, plain and left-padded", async () => {
      const model = await fixtureModel(name);
      expect(greedy(model, cases.greedy!, pad, eos)).toEqual(cases.greedy!.output_ids);
      expect(greedy(model, cases.left_padded_greedy!, pad, eos)).toEqual(cases.left_padded_greedy!.output_ids);
    });

    it("KV-cache decoding equals the full forward pass", async () => {
      const model = await fixtureModel(name);
      expectCacheMatchesFullForward(model, refIds(await readReference(name), "input_ids"));
    });

    it.skipIf(getBackend().name !== "native")("decoder layers as one native call give the op-by-op logits and cache (padded batch, prefill, decode steps)", async () => {
      const model = await fixtureModel(name);
      expectFusedMatchesComposed("llamaBlock", model, config.num_hidden_layers as number);
      // not while gradients are recorded, nor in training mode
      const step = (): number => withFusedBlock("llamaBlock", true, () => model.forward({ inputIds: [[1, 2, 3]], pastKeyValues: new KVCache(), useCache: true })).calls;
      expect(step()).toBe(0);
      model.train();
      expect(noGrad(step)).toBe(0);
      model.eval();
      expect(noGrad(step)).toBe(config.num_hidden_layers);
    });

    it("save then load round-trips exactly", async () => {
      const model = await fixtureModel(name);
      await expectSaveRoundTrip(model, { inputIds: [[1, 2, 3, 4, 5, 6]] });
    });

    it("a left-padded row with positions from the mask gives the unpadded prompt's logits", async () => {
      const model = await fixtureModel(name);
      const prompt = [73, 251, 179, 245, 206];
      const padded = [[8, 146, 260, 295, 127, 238, 149], [pad, pad, ...prompt]];
      const mask = tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]], { dtype: "i32" });
      noGrad(() => {
        const batch = model.forward({ inputIds: padded, attentionMask: mask, positionIds: positionIdsFromMask(mask) }).logits;
        const alone = model.forward({ inputIds: [prompt] }).logits;
        const row = F.slice(F.slice(batch, 0, 1, 2), 1, 2);
        expect(row.shape).toEqual(alone.shape);
        expect(maxAbsDiff(row.data as Float32Array, alone.data as Float32Array)).toBeLessThanOrEqual(1e-5);
      });
    });

    it("the older flat config keys give identical logits", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), `lmforge-${name}-flat-`));
      try {
        await writeFile(path.join(dir, "config.json"), JSON.stringify(toFlatConfig(config)));
        await copyFile(path.join(fixturesDir, name, "model.safetensors"), path.join(dir, "model.safetensors"));
        const flat = await loadModel(dir);
        const nested = await fixtureModel(name);
        const ids: Tensor = refIds(await readReference(name), "input_ids");
        const a = noGrad(() => nested.forward({ inputIds: ids }).logits), b = noGrad(() => flat.forward({ inputIds: ids }).logits);
        expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Float32Array));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
