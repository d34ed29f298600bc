// The fused attention kernels (inference, and training with gradients and dropout) against the composed ops
// (matmul, softmax, dropout, matmul), which the model parity tests check against transformers.
import { afterEach, describe, expect, it } from "vitest";
import { getBackend, jsBackend, setBackend, type Backend } from "../../src/backends/index.js";
import { isNativeAvailable, nativeBackend, nativeInfo, setNativeIsa } from "../../src/backends/native/index.js";
import { MASK_MIN, scaledDotProductAttention } from "../../src/nn/attention.js";
import { Tensor, noGrad, randn } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/ops.js";
import { buildAttentionMask } from "../../src/models/masks.js";
import { Generator, getDefaultGenerator, manualSeed } from "../../src/utils/rng.js";
import { nativeIsas } from "../helpers/native-isas.js";

const available = isNativeAvailable();
const g = new Generator(11);

function maxRelErr(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs((a.data[i] as number) - (b.data[i] as number)) / Math.max(1, Math.abs(b.data[i] as number)));
  return worst;
}

describe.skipIf(!available)("fused attention (native) equals the composed ops", () => {
  const previous = getBackend();
  afterEach(() => {
    setBackend(previous);
    setNativeIsa(nativeInfo().bestIsa);
  });
  const isas = nativeIsas();  // the kernel's exp runs at each ISA's vector width

  const composed = (q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number, softcap = 0): Tensor => {
    setBackend(jsBackend); // the JS backend has no fused kernel, so this is the composed path
    try {
      return noGrad(() => scaledDotProductAttention(q, k, v, { mask, scale, softcap }));
    } finally {
      setBackend(nativeBackend());
    }
  };

  const cases = [
    { name: "causal prefill, odd sizes", b: 2, h: 3, hkv: 3, t: 33, s: 33, d: 65, causal: true, pad: false, softcap: 0 },
    { name: "decode one token over a cache", b: 1, h: 12, hkv: 12, t: 1, s: 97, d: 64, causal: true, pad: false, softcap: 0 },
    { name: "grouped-query heads with left padding", b: 2, h: 8, hkv: 2, t: 7, s: 130, d: 16, causal: true, pad: true, softcap: 0 },
    { name: "bidirectional with padding and soft-capping", b: 3, h: 2, hkv: 1, t: 65, s: 65, d: 7, causal: false, pad: true, softcap: 5 },
    { name: "no mask", b: 1, h: 1, hkv: 1, t: 257, s: 257, d: 32, causal: false, pad: false, softcap: 0 },
  ];

  for (const c of cases) {
    it.each(isas)(`${c.name} (%s)`, (isa) => {
      setNativeIsa(isa);
      setBackend(nativeBackend());
      const q = randn([c.b, c.h, c.t, c.d], { generator: g }), k = randn([c.b, c.hkv, c.s, c.d], { generator: g }), v = randn([c.b, c.hkv, c.s, c.d], { generator: g });
      let mask: Tensor | null = null;
      if (c.causal || c.pad) {
        const am = new Int32Array(c.b * c.s).fill(1);
        if (c.pad) for (let b = 1; b < c.b; b++) for (let j = 0; j < 3 * b; j++) am[b * c.s + j] = 0;
        mask = buildAttentionMask({ batch: c.b, queryLength: c.t, keyLength: c.s, attentionMask: c.pad ? new Tensor(am, [c.b, c.s], "i32") : null, causal: c.causal });
      }
      const scale = 1 / Math.sqrt(c.d);
      const fused = noGrad(() => F.fusedAttention(q, k, v, mask, scale, c.softcap));
      expect(fused).not.toBeNull();
      const viaModule = noGrad(() => scaledDotProductAttention(q, k, v, { mask, scale, softcap: c.softcap }));
      const want = composed(q, k, v, mask, scale, c.softcap);
      expect(maxRelErr(fused!, want)).toBeLessThan(2e-5);
      expect(maxRelErr(viaModule, want)).toBeLessThan(2e-5);
    });
  }

  it.each(isas)("a chunk of queries over a cache's storage reads only its first kvLength positions (%s)", (isa) => {
    setNativeIsa(isa);
    setBackend(nativeBackend());
    const [b, h, hkv, t, cap, len, d] = [2, 4, 2, 6, 40, 29, 16];
    const q = randn([b, h, t, d], { generator: g }), k = randn([b, hkv, cap, d], { generator: g }), v = randn([b, hkv, cap, d], { generator: g });
    const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: len, attentionMask: null, causal: true });
    const fused = noGrad(() => F.fusedAttention(q, k, v, mask, 0.25, 0, len));
    const want = composed(q, F.narrow(k, 2, 0, len), F.narrow(v, 2, 0, len), mask, 0.25);
    expect(maxRelErr(fused!, want)).toBeLessThan(2e-5);
  });

  it("a fully masked row averages the values, as the composed softmax does", () => {
    setBackend(nativeBackend());
    const q = randn([1, 1, 2, 4], { generator: g }), k = randn([1, 1, 3, 4], { generator: g }), v = randn([1, 1, 3, 4], { generator: g });
    const mask = new Tensor(Float32Array.from([MASK_MIN, MASK_MIN, MASK_MIN, 0, MASK_MIN, 0]), [1, 1, 2, 3], "f32");
    const fused = noGrad(() => F.fusedAttention(q, k, v, mask, 0.5));
    expect(maxRelErr(fused!, composed(q, k, v, mask, 0.5))).toBeLessThan(1e-5);
  });

  it("falls back to the composed ops when f64 is used or the backend has no kernel", () => {
    setBackend(nativeBackend());
    const q = randn([1, 2, 5, 8], { generator: g }).requiresGrad_(), k = randn([1, 2, 5, 8], { generator: g }), v = randn([1, 2, 5, 8], { generator: g });
    expect(noGrad(() => F.fusedAttention(q, k, v, null, 0.3))).not.toBeNull();
    const out = scaledDotProductAttention(q, k, v, { scale: 0.3 });
    expect(out.requiresGrad).toBe(true);
    F.sum(out).backward();
    expect(q.grad).not.toBeNull();
    expect(noGrad(() => F.fusedAttention(q.to("f64"), k.to("f64"), v.to("f64"), null, 0.3))).toBeNull();
    setBackend(jsBackend);
    expect(noGrad(() => F.fusedAttention(q, k, v, null, 0.3))).toBeNull();
  });

  it("rejects a mask that does not broadcast to the scores", () => {
    setBackend(nativeBackend());
    const q = randn([1, 2, 5, 8], { generator: g }), k = randn([1, 2, 6, 8], { generator: g });
    expect(() => noGrad(() => F.fusedAttention(q, k, k, randn([1, 1, 5, 5], { generator: g }), 1))).toThrow(/mask/);
  });
});

describe.skipIf(!available)("fused training attention (native) equals the composed ops, with gradients", () => {
  const previous = getBackend();
  afterEach(() => {
    setBackend(previous);
    setNativeIsa(nativeInfo().bestIsa);
  });
  // The native backend without its fused kernels runs the composed ops.
  const composedBackend = (): Backend => ({ ...nativeBackend(), attention: undefined, attentionForward: undefined, attentionBackward: undefined });

  interface Case { name: string; b: number; h: number; hkv: number; t: number; s: number; d: number; causal: boolean; pad: "left" | "right" | null; softcap: number; p: number }
  const cases: Case[] = [
    { name: "causal, fewer rows than a block, odd head size", b: 2, h: 3, hkv: 3, t: 33, s: 33, d: 65, causal: true, pad: null, softcap: 0, p: 0 },
    { name: "causal over three blocks with dropout (rows of 150 bits)", b: 1, h: 2, hkv: 2, t: 150, s: 150, d: 64, causal: true, pad: null, softcap: 0, p: 0.1 },
    { name: "grouped-query heads, left padding (fully masked rows)", b: 2, h: 8, hkv: 2, t: 70, s: 70, d: 16, causal: true, pad: "left", softcap: 0, p: 0 },
    { name: "bidirectional, right padding, soft-capping and dropout", b: 3, h: 2, hkv: 1, t: 65, s: 65, d: 7, causal: false, pad: "right", softcap: 5, p: 0.3 },
    { name: "cross-attention without a mask, dropout", b: 2, h: 4, hkv: 4, t: 20, s: 45, d: 32, causal: false, pad: null, softcap: 0, p: 0.2 },
  ];

  function run(be: Backend, c: Case) {
    setBackend(be);
    const r = new Generator(31);
    const q = randn([c.b, c.h, c.t, c.d], { generator: r }).requiresGrad_();
    const k = randn([c.b, c.hkv, c.s, c.d], { generator: r }).requiresGrad_(), v = randn([c.b, c.hkv, c.s, c.d], { generator: r }).requiresGrad_();
    let mask: Tensor | null = null;
    if (c.causal || c.pad) {
      const am = new Int32Array(c.b * c.s).fill(1);
      for (let b = 1; b < c.b; b++) for (let j = 0; j < 3 * b; j++) am[b * c.s + (c.pad === "left" ? j : c.s - 1 - j)] = 0;
      mask = buildAttentionMask({ batch: c.b, queryLength: c.t, keyLength: c.s, attentionMask: c.pad ? new Tensor(am, [c.b, c.s], "i32") : null, causal: c.causal });
    }
    manualSeed(5);
    const out = scaledDotProductAttention(q, k, v, { mask, scale: 1 / Math.sqrt(c.d), softcap: c.softcap, dropout: c.p, training: true });
    const op = out.gradFn?.name;  // backward() frees the graph
    F.sum(F.mul(out, randn(out.shape, { generator: r }))).backward();
    return { out, grads: [q.grad!, k.grad!, v.grad!], op, state: getDefaultGenerator().getState() };
  }

  for (const c of cases) {
    it.each(nativeIsas())(`${c.name} (%s)`, (isa) => {
      setNativeIsa(isa);
      const fused = run(nativeBackend(), c), want = run(composedBackend(), c);
      expect(fused.op).toBe("scaledDotProductAttention");
      expect(want.op).not.toBe("scaledDotProductAttention");
      expect(maxRelErr(fused.out, want.out)).toBeLessThan(2e-5);
      for (let i = 0; i < 3; i++) expect(maxRelErr(fused.grads[i]!, want.grads[i]!)).toBeLessThan(2e-5);
      expect(fused.state).toEqual(want.state);  // the same number of dropout draws
    });
  }

  it.each([["the backend's", true], ["TypeScript's", false]] as const)("drops the same probabilities as dropout(softmax(...)) does with the same seed (bits drawn by %s kernel)", (_, native) => {
    setBackend(native ? nativeBackend() : { ...nativeBackend(), dropoutBits: undefined });
    const r = new Generator(3);
    const q = randn([1, 1, 4, 8], { generator: r }).requiresGrad_(), k = randn([1, 1, 40, 8], { generator: r }), v = randn([1, 1, 40, 8], { generator: r });
    manualSeed(9);
    const fused = scaledDotProductAttention(q, k, v, { dropout: 0.5, training: true });
    // The reference, written out: keep position i of the [4, 40] probabilities when the i-th draw is ≥ 0.5.
    const g = manualSeed(9);
    const probs = noGrad(() => F.softmax(F.affine(F.matmul(q, F.transpose(k, -2, -1)), 1 / Math.sqrt(8)), -1));
    const kept = new Float32Array(probs.size);
    for (let i = 0; i < kept.length; i++) kept[i] = g.random() >= 0.5 ? 2 * (probs.data[i] as number) : 0;
    const want = noGrad(() => F.matmul(new Tensor(kept, probs.shape, "f32"), v));
    expect(maxRelErr(fused, want)).toBeLessThan(2e-6);
  });

  it.each(nativeIsas())("passes a gradient to a learned mask, as T5's position bias plus padding (%s)", (isa) => {
    setNativeIsa(isa);
    const run = (be: Backend) => {
      setBackend(be);
      const r = new Generator(6);
      const q = randn([2, 3, 70, 16], { generator: r }).requiresGrad_(), k = randn([2, 3, 70, 16], { generator: r }).requiresGrad_();
      const v = randn([2, 3, 70, 16], { generator: r }).requiresGrad_();
      const bias = randn([1, 3, 70, 70], { generator: r }).requiresGrad_();
      const am = new Int32Array(2 * 70).fill(1);
      for (let j = 60; j < 70; j++) am[70 + j] = 0;  // the second row's last keys are padding
      const pad = buildAttentionMask({ batch: 2, queryLength: 70, keyLength: 70, attentionMask: new Tensor(am, [2, 70], "i32"), causal: false });
      manualSeed(2);
      const out = scaledDotProductAttention(q, k, v, { mask: F.add(bias, pad), scale: 1, dropout: 0.1, training: true });
      F.sum(F.mul(out, randn(out.shape, { generator: r }))).backward();
      return [out, q.grad!, k.grad!, v.grad!, bias.grad!];
    };
    const fused = run(nativeBackend()), want = run(composedBackend());
    expect(fused[4]!.shape).toEqual([1, 3, 70, 70]);
    for (let i = 0; i < 5; i++) expect(maxRelErr(fused[i]!, want[i]!)).toBeLessThan(2e-5);
  });

  it("falls back to the composed ops when the keys are a cache's storage, and checks dropout", () => {
    setBackend(nativeBackend());
    const r = new Generator(4);
    const q = randn([1, 2, 5, 8], { generator: r }).requiresGrad_(), k = randn([1, 2, 9, 8], { generator: r }), v = randn([1, 2, 9, 8], { generator: r });
    expect(F.fusedAttention(q, k, v, null, 0.3, 0, 6)).toBeNull();
    expect(F.fusedAttention(q, k, v, null, 0.3)?.gradFn?.name).toBe("scaledDotProductAttention");
    expect(() => F.fusedAttention(q, k, v, null, 0.3, 0, undefined, 1.5)).toThrow(/dropout must be in \[0, 1\]/);
  });
});
