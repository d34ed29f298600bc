// KVCache: in-place storage that grows, read back as the concatenation of everything appended.
import { describe, expect, it } from "vitest";
import { KVCache } from "../../src/models/cache.js";
import { scaledDotProductAttention } from "../../src/nn/attention.js";
import { Tensor, noGrad, randn } from "../../src/tensor/index.js";
import * as F from "../../src/tensor/ops.js";
import { Generator } from "../../src/utils/rng.js";

const g = new Generator(5);

function expectEqual(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data)).toEqual(Array.from(b.data));
}

describe("KVCache", () => {
  it("appends in place across storage growth; layers and the returned storage hold exactly what was appended", () => {
    const cache = new KVCache();
    const keys: Tensor[] = [], values: Tensor[] = [];
    // 40 + 300 single steps: past the first capacity (length + 256), so the storage grows once.
    for (const t of [40, ...Array.from({ length: 300 }, () => 1)]) {
      const k = randn([2, 3, t, 5], { generator: g }), v = randn([2, 3, t, 5], { generator: g });
      keys.push(k);
      values.push(v);
      const kv = noGrad(() => cache.update(0, k, v));
      const length = keys.reduce((n, x) => n + x.shape[2]!, 0);
      expect(kv.length).toBe(length);
      expect(kv.key.shape[2]).toBeGreaterThanOrEqual(length);
      if (length === 40 || length === 296 || length === 297 || length === 340) {
        expectEqual(F.narrow(kv.key, 2, 0, length), F.concat(keys, 2));
        expectEqual(F.narrow(kv.value, 2, 0, length), F.concat(values, 2));
      }
    }
    expect(cache.seqLength).toBe(340);
    expectEqual(cache.layers[0]!.key, F.concat(keys, 2));
    expectEqual(cache.layers[0]!.value, F.concat(values, 2));
  });

  it("reserve counts new positions as filled, keeps the past across growth, and rejects a different layout", () => {
    const cache = new KVCache();
    const first = randn([1, 2, 3, 4], { generator: g });
    noGrad(() => cache.update(1, first, first));
    const slot = cache.reserve(1, [1, 2, 300, 4], "f32");
    expect(slot.start).toBe(3);
    expect(slot.key.shape[2]).toBeGreaterThanOrEqual(303);
    expect(cache.layers[1]!.key.shape).toEqual([1, 2, 303, 4]);
    expectEqual(F.narrow(cache.layers[1]!.key, 2, 0, 3), first);
    expect(() => cache.reserve(1, [1, 3, 1, 4], "f32")).toThrow(/KVCache: layer 1 holds \[1, 2, \d+, 4\] f32, got new keys \[1, 3, 1, 4\] f32/);
  });

  it("reorder permutes the batch of the filled positions", () => {
    const cache = new KVCache();
    const k = randn([3, 2, 4, 2], { generator: g }), v = randn([3, 2, 4, 2], { generator: g });
    noGrad(() => cache.update(0, k, v));
    const idx = new Tensor(Int32Array.from([2, 0, 0]), [3], "i32");
    cache.reorder(idx);
    expectEqual(cache.layers[0]!.key, F.indexSelect(k, 0, idx));
    expectEqual(cache.layers[0]!.value, F.indexSelect(v, 0, idx));
  });

  it("reorders its own storage in place: swaps and repeats rows, leaves identity rows, and keeps appending", () => {
    const cache = new KVCache();
    const k = randn([3, 2, 5, 4], { generator: g }), v = randn([3, 2, 5, 4], { generator: g });
    const slot = noGrad(() => cache.update(0, k, v));
    expect(slot.key.shape[2]).toBeGreaterThan(5); // room to spare: only the filled positions move
    const idx = new Tensor(Int32Array.from([1, 0, 0]), [3], "i32"); // rows 0 and 1 swap, row 2 takes row 0's
    cache.reorder(idx);
    expectEqual(cache.layers[0]!.key, F.indexSelect(k, 0, idx));
    expectEqual(cache.layers[0]!.value, F.indexSelect(v, 0, idx));
    const k2 = randn([3, 2, 1, 4], { generator: g }), v2 = randn([3, 2, 1, 4], { generator: g });
    const next = noGrad(() => cache.update(0, k2, v2));
    expect(next.key).toBe(slot.key); // the same storage
    expectEqual(cache.layers[0]!.key, F.concat([F.indexSelect(k, 0, idx), k2], 2));
    const identity = new Tensor(Int32Array.from([0, 1, 2]), [3], "i32");
    const before = Array.from(cache.layers[0]!.value.data);
    cache.reorder(identity);
    expect(Array.from(cache.layers[0]!.value.data)).toEqual(before);
    // another batch size takes copies; an index past the batch is refused
    cache.reorder(new Tensor(Int32Array.from([2, 2, 0, 1]), [4], "i32"));
    expect(cache.layers[0]!.key.shape).toEqual([4, 2, 6, 4]);
    expect(() => cache.reorder(new Tensor(Int32Array.from([0, 1, 2, 4]), [4], "i32"))).toThrow(/KVCache.reorder: index 4 out of range for batch 4/);
  });

  it("reorders cross-attention keys/values: a copy first (the model's tensors stay as they were), then in place", () => {
    const cache = new KVCache();
    const k = randn([3, 2, 6, 4], { generator: g }), v = randn([3, 2, 6, 4], { generator: g });
    const kBefore = Array.from(k.data);
    cache.setCross(0, k, v);
    const first = new Tensor(Int32Array.from([1, 1, 0]), [3], "i32"), second = new Tensor(Int32Array.from([2, 0, 1]), [3], "i32");
    cache.reorder(first);
    expect(Array.from(k.data)).toEqual(kBefore);
    const copy = cache.getCross(0)!;
    expectEqual(copy.key, F.indexSelect(k, 0, first));
    cache.reorder(second);
    expect(cache.getCross(0)!.key).toBe(copy.key);
    expectEqual(cache.getCross(0)!.key, F.indexSelect(F.indexSelect(k, 0, first), 0, second));
    expectEqual(cache.getCross(0)!.value, F.indexSelect(F.indexSelect(v, 0, first), 0, second));
  });

  it("concatenates (so backward reaches the past) while gradients are recorded", () => {
    const cache = new KVCache();
    const k1 = randn([1, 1, 2, 3], { generator: g }).requiresGrad_(), v1 = randn([1, 1, 2, 3], { generator: g });
    const k2 = randn([1, 1, 1, 3], { generator: g }).requiresGrad_(), v2 = randn([1, 1, 1, 3], { generator: g });
    cache.update(0, k1, v1);
    const kv = cache.update(0, k2, v2);
    expect(kv.length).toBeUndefined();
    F.sum(F.mul(kv.key, kv.key)).backward();
    // d/dk sum(k²) = 2k for every position, old and new
    expect(Array.from(k1.grad!.data)).toEqual(Array.from(k1.data).map((x) => 2 * x));
    expect(Array.from(k2.grad!.data)).toEqual(Array.from(k2.data).map((x) => 2 * x));
  });

  it("attention over the storage's first kvLength positions equals attention over the trimmed keys/values", () => {
    const cache = new KVCache();
    noGrad(() => cache.update(0, randn([1, 4, 9, 8], { generator: g }), randn([1, 4, 9, 8], { generator: g })));
    const kv = noGrad(() => cache.update(0, randn([1, 4, 1, 8], { generator: g }), randn([1, 4, 1, 8], { generator: g })));
    const q = randn([1, 4, 1, 8], { generator: g });
    const viaStorage = noGrad(() => scaledDotProductAttention(q, kv.key, kv.value, { kvLength: kv.length }));
    const layer = cache.layers[0]!;
    const trimmed = noGrad(() => scaledDotProductAttention(q, layer.key, layer.value));
    const worst = Math.max(...Array.from(viaStorage.data, (x, i) => Math.abs((x as number) - (trimmed.data[i] as number))));
    expect(worst).toBeLessThan(1e-6);
    // reference: softmax(q·kᵀ/√8)·v written out for head 0
    const s = 10, d = 8;
    const scores = Array.from({ length: s }, (_, j) => {
      let dot = 0;
      for (let e = 0; e < d; e++) dot += (q.data[e] as number) * (layer.key.data[j * d + e] as number);
      return dot / Math.sqrt(d);
    });
    const m = Math.max(...scores), w = scores.map((x) => Math.exp(x - m)), z = w.reduce((a, b) => a + b, 0);
    for (let e = 0; e < d; e++) {
      let want = 0;
      for (let j = 0; j < s; j++) want += (w[j]! / z) * (layer.value.data[j * d + e] as number);
      expect(viaStorage.data[e]).toBeCloseTo(want, 5);
    }
  });
});
