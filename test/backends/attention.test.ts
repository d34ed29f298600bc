// The fused attention kernel against the composed ops (matmul, softmax, matmul) that training uses.
import { afterEach, describe, expect, it } from "vitest";
import { getBackend, jsBackend, setBackend } from "../../src/backends/index.js";
import { isNativeAvailable, nativeBackend, nativeInfo, setNativeIsa } from "../../src/backends/native/index.js";
import { MASK_MIN, scaledDotProductAttention } from "../../src/nn/attention.js";
import { Tensor, noGrad, randn } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/ops.js";
import { buildAttentionMask } from "../../src/models/masks.js";
import { Generator } from "../../src/utils/rng.js";
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

  it("a fully masked row averages the values, as the composed softmax does", () => {
    setBackend(nativeBackend());
    const q = randn([1, 1, 2, 4], { generator: g }), k = randn([1, 1, 3, 4], { generator: g }), v = randn([1, 1, 3, 4], { generator: g });
    const mask = new Tensor(Float32Array.from([MASK_MIN, MASK_MIN, MASK_MIN, 0, MASK_MIN, 0]), [1, 1, 2, 3], "f32");
    const fused = noGrad(() => F.fusedAttention(q, k, v, mask, 0.5));
    expect(maxRelErr(fused!, composed(q, k, v, mask, 0.5))).toBeLessThan(1e-5);
  });

  it("falls back to the composed ops when a gradient is needed, f64 is used or the backend has no kernel", () => {
    setBackend(nativeBackend());
    const q = randn([1, 2, 5, 8], { generator: g }).requiresGrad_(), k = randn([1, 2, 5, 8], { generator: g }), v = randn([1, 2, 5, 8], { generator: g });
    expect(F.fusedAttention(q, k, v, null, 0.3)).toBeNull();
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
