import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { expectCacheMatchesFullForward, expectSaveRoundTrip } from "../helpers/parity.js";
import { describeDecoderParity } from "./decoder-suite.js";
import { createModel, type LlamaForCausalLM } from "../../src/models/index.js";
import { noGrad, tensor } from "../../src/tensor/index.js";

describeDecoderParity("qwen2", "Qwen2ForCausalLM");

const base = JSON.parse(readFileSync(path.join(fixturesDir, "qwen2/config.json"), "utf8")) as Record<string, unknown>;
const { layer_types: _ignored, ...noLayerTypes } = base;

describe("Qwen2 sliding window", () => {
  it("only with use_sliding_window: layers from max_window_layers on slide", () => {
    const off = createModel({ ...noLayerTypes, sliding_window: 3 }) as LlamaForCausalLM;
    expect(off.config.layerTypes).toEqual(["full_attention", "full_attention"]);
    expect(off.config.slidingWindow).toBeNull();
    const on = createModel({ ...noLayerTypes, use_sliding_window: true, sliding_window: 3, max_window_layers: 1 }) as LlamaForCausalLM;
    expect(on.config.layerTypes).toEqual(["full_attention", "sliding_attention"]);
    expect(on.config.slidingWindow).toBe(3);
  });

  it("a sliding model's last position ignores tokens beyond the window's reach; the cache agrees", async () => {
    // Both layers slide with window 2: position 7 sees 6..7, which saw 5..7; token 4 is out of reach, 5 is not.
    const model = createModel({ ...noLayerTypes, use_sliding_window: true, sliding_window: 2, max_window_layers: 0 }, { seed: 7 }).eval();
    const ids = [11, 12, 13, 14, 15, 16, 17, 18];
    const last = (x: number[]): number[] => noGrad(() => {
      const l = model.forward({ inputIds: [x] }).logits;
      return Array.from((l.data as Float32Array).subarray(7 * 320));
    });
    const ref = last(ids);
    expect(last(ids.map((t, i) => (i === 4 ? 99 : t)))).toEqual(ref);
    expect(last(ids.map((t, i) => (i === 5 ? 99 : t)))).not.toEqual(ref);
    expectCacheMatchesFullForward(model, tensor([ids], { dtype: "i32" }));
    await expectSaveRoundTrip(model, { inputIds: [ids] });
  });

  it("q/k/v projections have biases, o_proj does not", () => {
    const names = [...createModel(base).namedParameters()].map(([n]) => n);
    expect(names).toContain("model.layers.0.self_attn.q_proj.bias");
    expect(names).toContain("model.layers.0.self_attn.v_proj.bias");
    expect(names).not.toContain("model.layers.0.self_attn.o_proj.bias");
  });
});
