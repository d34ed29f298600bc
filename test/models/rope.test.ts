import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { ConfigReader, RotaryEmbedding, applyRotary, computeRopeInvFreq, parseRopeDict, readRopeParameters, type RopeParameters } from "../../src/models/index.js";
import { tensor } from "../../src/tensor/index.js";

const fallback = { ropeTheta: 10000, maxPositionEmbeddings: 128 };
const params = (dict: Record<string, unknown>): RopeParameters => parseRopeDict(dict, "config.json: rope_parameters", fallback);

function expectClose(actual: Float32Array, expected: number[], rel = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e), `index ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(rel * Math.abs(e)));
}

const defaultFreqs = (theta: number, dim: number): number[] => Array.from({ length: dim / 2 }, (_, i) => theta ** (-(2 * i) / dim));

describe("RoPE inverse frequencies", () => {
  it("default: theta^(-2i/dim)", () => {
    const { invFreq, attentionScaling } = computeRopeInvFreq(params({ rope_type: "default", rope_theta: 10000 }), 16);
    expectClose(invFreq, defaultFreqs(10000, 16));
    expect(attentionScaling).toBe(1);
  });

  it("linear: the default frequencies divided by factor", () => {
    expectClose(computeRopeInvFreq(params({ rope_type: "linear", factor: 4, rope_theta: 10000 }), 16).invFreq, defaultFreqs(10000, 16).map((f) => f / 4));
  });

  it("llama3 (Llama 3.1's values): keep short wavelengths, divide long ones by factor, blend the middle", () => {
    const [theta, dim, factor, low, high, old] = [500000, 128, 8, 1, 4, 8192];
    const p = params({ rope_type: "llama3", rope_theta: theta, factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old });
    const regimes = { high: 0, low: 0, medium: 0 };
    const expected = defaultFreqs(theta, dim).map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < old / high) return regimes.high++, f;
      if (wavelen > old / low) return regimes.low++, f / factor;
      regimes.medium++;
      const smooth = (old / wavelen - low) / (high - low);
      return ((1 - smooth) * f) / factor + smooth * f;
    });
    expect(regimes.high).toBeGreaterThan(0);
    expect(regimes.low).toBeGreaterThan(0);
    expect(regimes.medium).toBeGreaterThan(0);
    expectClose(computeRopeInvFreq(p, dim).invFreq, expected, 2e-6);
  });

  it("yarn: ramp between interpolated and extrapolated frequencies, cos/sin scaled by 0.1·ln(factor) + 1", () => {
    const [theta, dim, factor, orig] = [10000, 64, 4, 64];
    const p = params({ rope_type: "yarn", rope_theta: theta, factor, original_max_position_embeddings: orig });
    const corr = (rot: number): number => (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
    const lo = Math.max(Math.floor(corr(32)), 0), hi = Math.min(Math.ceil(corr(1)), dim - 1);
    const expected = defaultFreqs(theta, dim).map((f, i) => {
      const ramp = Math.min(1, Math.max(0, (i - lo) / (hi - lo)));
      return (f / factor) * ramp + f * (1 - ramp);
    });
    const { invFreq, attentionScaling } = computeRopeInvFreq(p, dim);
    expectClose(invFreq, expected, 2e-6);
    expect(attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
  });
});

describe("RoPE tables and rotation", () => {
  it("cos/sin are cos(pos · inv_freq), repeated over both halves, per batch row", () => {
    const rot = new RotaryEmbedding(params({ rope_theta: 100 }), 4);
    const { cos, sin } = rot.forward(tensor([[0, 1, 2], [5, 6, 7]], { dtype: "i32" }));
    expect(cos.shape).toEqual([2, 1, 3, 4]);
    const f = defaultFreqs(100, 4);
    const c = cos.data as Float32Array, s = sin.data as Float32Array;
    for (const [row, t, pos] of [[0, 2, 2], [1, 0, 5]] as const) {
      for (let j = 0; j < 4; j++) {
        const o = (row * 3 + t) * 4 + j;
        expect(c[o]).toBeCloseTo(Math.cos(pos * f[j % 2]!), 6);
        expect(s[o]).toBeCloseTo(Math.sin(pos * f[j % 2]!), 6);
      }
    }
  });

  it("rotation keeps norms and makes q·k depend only on the relative position", () => {
    const rot = new RotaryEmbedding(params({ rope_theta: 10000 }), 8);
    const q = tensor([[[[0.3, -1.2, 0.5, 2.0, -0.7, 0.1, 1.1, -0.4]]]], { dtype: "f64" });
    const k = tensor([[[[1.0, 0.2, -0.3, 0.8, 0.6, -1.5, 0.4, 0.9]]]], { dtype: "f64" });
    const at = (x: typeof q, pos: number): number[] => {
      const { cos, sin } = rot.forward(tensor([[pos]], { dtype: "i32" }), "f64");
      return Array.from(applyRotary(x, cos, sin).data as Float64Array);
    };
    const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const q0 = Array.from(q.data as Float64Array);
    expect(dot(at(q, 9), at(q, 9))).toBeCloseTo(dot(q0, q0), 6);
    expect(dot(at(q, 7), at(k, 3))).toBeCloseTo(dot(at(q, 14), at(k, 10)), 5);
    expect(Math.abs(dot(at(q, 7), at(k, 3)) - dot(at(q, 7), at(k, 4)))).toBeGreaterThan(1e-3);
  });
});

describe("reading rope parameters from config.json", () => {
  const layerTypes = ["full_attention", "sliding_attention"] as const;
  it("flat rope_theta + rope_scaling (old `type` key) equals transformers 5's rope_parameters", () => {
    const flat = readRopeParameters(new ConfigReader({ rope_theta: 5000, rope_scaling: { type: "linear", factor: 2 } }), ["full_attention"], 10000, 64);
    const nested = readRopeParameters(new ConfigReader({ rope_parameters: { rope_type: "linear", rope_theta: 5000, factor: 2 } }), ["full_attention"], 10000, 64);
    expect(flat.full_attention).toEqual(nested.full_attention);
    expect(flat.full_attention.ropeTheta).toBe(5000);
  });

  it("per-layer-type rope_parameters, and errors naming the missing type or bad field", () => {
    const r = readRopeParameters(new ConfigReader({ rope_parameters: { full_attention: { rope_theta: 1e6 }, sliding_attention: { rope_theta: 1e4 } } }), [...layerTypes], 10000, 64);
    expect([r.full_attention.ropeTheta, r.sliding_attention.ropeTheta]).toEqual([1e6, 1e4]);
    expect(() => readRopeParameters(new ConfigReader({ rope_parameters: { full_attention: { rope_theta: 1e6 } } }), [...layerTypes], 10000, 64)).toThrow(/sliding_attention/);
    expect(() => params({ rope_type: "linear", factor: "two" })).toThrow(/rope_parameters.*"factor"/);
    expect(() => params({ rope_type: "default", partial_rotary_factor: 0.5 })).toThrow(ConfigError);
    expect(() => computeRopeInvFreq(params({}), 7)).toThrow(/even/);
  });
});
