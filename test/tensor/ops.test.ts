import { describe, expect, it } from "vitest";
import * as T from "../../src/tensor/index.js";
import { tensor, Tensor, noGrad } from "../../src/tensor/index.js";
import { Generator } from "../../src/utils/rng.js";

const close = (a: number[] | number, b: number[] | number, tol = 1e-6): void => {
  const x = ([] as number[]).concat(a as number[]), y = ([] as number[]).concat(b as number[]);
  expect(x.length).toBe(y.length);
  x.forEach((v, i) => expect(Math.abs(v - y[i]!), `index ${i}: ${v} vs ${y[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(y[i]!))));
};
const flat = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>);

describe("tensor creation", () => {
  it("nested arrays, shapes, item, toArray", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("f32");
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(3.5).item()).toBe(3.5);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => t.item()).toThrow(/6 elements/);
  });
  it("zeros, ones, full, arange", () => {
    expect(T.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(T.ones([3], { dtype: "i32" }).toArray()).toEqual([1, 1, 1]);
    expect(T.full([2], 7).toArray()).toEqual([7, 7]);
    expect(T.arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(T.arange(5).dtype).toBe("i32");
    close(flat(T.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75]);
  });
  it("rand and randn are seeded", () => {
    const a = T.randn([100], { generator: new Generator(3) });
    const b = T.randn([100], { generator: new Generator(3) });
    expect(flat(a)).toEqual(flat(b));
    const u = T.rand([1000], { generator: new Generator(4) });
    expect(flat(u).every((v) => v >= 0 && v < 1)).toBe(true);
  });
  it("f16 and bf16 convert exactly with round-to-nearest-even", () => {
    // f16: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> ties to even (1); 1 + 3·2^-11 -> 1 + 2^-9.
    expect(T.f32ToF16Bits(1)).toBe(0x3c00);
    expect(T.f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(T.f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(T.f32ToF16Bits(65504)).toBe(0x7bff);
    expect(T.f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(T.f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(T.f32ToF16Bits(2 ** -25)).toBe(0x0000); // halfway to zero: ties to even
    expect(T.f32ToF16Bits(-2)).toBe(0xc000);
    expect(Number.isNaN(T.f16BitsToF32(T.f32ToF16Bits(NaN)))).toBe(true);
    expect(T.f16BitsToF32(0x3555)).toBeCloseTo(0.333251953125, 12);
    // bf16 keeps the top 16 bits of f32; 1 + 2^-8 is halfway -> even (1), 1 + 3·2^-8 -> 1 + 2^-6.
    expect(T.f32ToBf16Bits(1)).toBe(0x3f80);
    expect(T.f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(T.f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(T.bf16BitsToF32(0x4049)).toBe(3.140625);
    // every f16 value survives f16 -> f32 -> f16
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue;
      expect(T.f32ToF16Bits(T.f16BitsToF32(bits))).toBe(bits);
    }
    // f32(0.1) = 0x3DCCCCCD rounds up to 0x3DCD; f32(1e-3) = 0x3A83126F rounds down to 0x3A83 = 2^-10·(1 + 3/128)
    const t = tensor([0.1, -2.5, 1e-3]).to("bf16");
    expect(t.dtype).toBe("bf16");
    close(flat(t.to("f32")), [0.10009765625, -2.5, 0.00099945068359375], 1e-12);
  });
});

describe("forward values", () => {
  it("broadcast arithmetic", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.add(tensor([10, 20, 30])).toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
    expect(a.mul(tensor([[2], [3]])).toArray()).toEqual([[2, 4, 6], [12, 15, 18]]);
    expect(a.sub(1).div(2).toArray()).toEqual([[0, 0.5, 1], [1.5, 2, 2.5]]);
    expect(() => a.add(tensor([1, 2]))).toThrow(/cannot be broadcast/);
  });
  it("matmul and batched matmul", () => {
    const a = tensor([[1, 2], [3, 4], [5, 6]]);
    const b = tensor([[7, 8, 9], [10, 11, 12]]);
    expect(a.matmul(b).toArray()).toEqual([[27, 30, 33], [61, 68, 75], [95, 106, 117]]);
    const batched = T.matmul(T.stack([a, a.mul(2)]), b);
    expect(batched.shape).toEqual([2, 3, 3]);
    expect((batched.toArray() as number[][][])[1]![0]).toEqual([54, 60, 66]);
    expect(() => a.matmul(a)).toThrow(/do not align/);
  });
  it("matmul writes into out (torch.matmul out=)", () => {
    const a = tensor([[1, 2], [3, 4], [5, 6]]);
    const b = tensor([[7, 8, 9], [10, 11, 12]]);
    const out = T.full([3, 3], -1);
    expect(T.matmul(a, b, { out })).toBe(out);
    expect(out.toArray()).toEqual([[27, 30, 33], [61, 68, 75], [95, 106, 117]]);
    const bout = T.zeros([2, 3, 3]);
    T.matmul(T.stack([a, a.mul(2)]), b, { out: bout });
    expect((bout.toArray() as number[][][])[1]![0]).toEqual([54, 60, 66]);
    const vout = T.zeros([3]);
    expect(T.matmul(tensor([1, 2]), b, { out: vout })).toBe(vout);
    expect(vout.toArray()).toEqual([27, 30, 33]);
    expect(() => T.matmul(a, b, { out: T.zeros([3, 2]) })).toThrow(/out is \[3, 2\] f32, the result is \[3, 3\]/);
    const w = tensor([[1, 0], [0, 1]], { requiresGrad: true });
    expect(() => T.matmul(a, w, { out: T.zeros([3, 2]) })).toThrow(/does not support autograd/);
    noGrad(() => T.matmul(a, w, { out: T.zeros([3, 2]) }));
  });
  it("reductions", () => {
    const a = tensor([[1, 5, 3], [4, 2, 6]]);
    expect(a.sum().item()).toBe(21);
    expect(a.sum(0).toArray()).toEqual([5, 7, 9]);
    expect(a.sum(1, true).toArray()).toEqual([[9], [12]]);
    expect(a.mean(1).toArray()).toEqual([3, 4]);
    expect(a.max(1).toArray()).toEqual([5, 6]);
    expect(a.argmax(1).toArray()).toEqual([1, 2]);
    close(flat(a.var(1)), [4, 4]);
    close(flat(a.var(1, { correction: 0 })), [8 / 3, 8 / 3]);
  });
  it("softmax is stable for large logits", () => {
    const s = T.softmax(tensor([1000, 1001, 1002]));
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const z = e[0]! + e[1]! + e[2]!;
    close(flat(s), e.map((v) => v / z));
    close(flat(T.logSoftmax(tensor([1000, 1001, 1002]))), e.map((v) => Math.log(v / z)));
  });
  it("layer norm and RMS norm", () => {
    const x = tensor([[1, 2, 3, 4]]);
    const mu = 2.5, v = 1.25;
    close(flat(T.layerNorm(x, null, null, 1e-5)), [1, 2, 3, 4].map((a) => (a - mu) / Math.sqrt(v + 1e-5)), 1e-6);
    const ms = (1 + 4 + 9 + 16) / 4;
    close(flat(T.rmsNorm(x, tensor([1, 1, 2, 2]), 1e-6)), [1, 2, 6, 8].map((a) => a / Math.sqrt(ms + 1e-6)), 1e-6);
  });
  it("activations match known values", () => {
    // torch.nn.functional.gelu(torch.tensor([1., -0.5, 2.])) and the tanh form
    close(flat(T.gelu(tensor([1, -0.5, 2]))), [0.8413447460685429, -0.15426876936299347, 1.9544997361036416], 1e-6);
    close(flat(T.gelu(tensor([1, -0.5, 2]), "tanh")), [0.8411919906082768, -0.15428599017516932, 1.9545976940871754], 1e-6);
    close(flat(T.silu(tensor([1, -1]))), [1 / (1 + Math.exp(-1)), -1 / (1 + Math.exp(1))]);
    expect(T.relu(tensor([-1, 0, 2])).toArray()).toEqual([0, 0, 2]);
  });
  it("shape ops", () => {
    const a = T.arange(24, undefined, 1, { dtype: "f32" }).reshape(2, 3, 4);
    expect(a.permute(2, 0, 1).shape).toEqual([4, 2, 3]);
    expect((a.transpose(0, 2).toArray() as number[][][])[3]![2]![1]).toBe(23);
    expect(a.slice(2, 1, 3).toArray()).toEqual([[[1, 2], [5, 6], [9, 10]], [[13, 14], [17, 18], [21, 22]]]);
    expect(T.concat([tensor([[1, 2]]), tensor([[3, 4]])], 0).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(T.split(tensor([1, 2, 3, 4, 5]), 2).map((t) => t.toArray())).toEqual([[1, 2], [3, 4], [5]]);
    expect(T.expand(tensor([[1], [2]]), [2, 3]).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(() => a.reshape(5, -1)).toThrow(/cannot reshape/);
  });
  it("gather, index-select, embedding, where", () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(x.gather(1, tensor([[0, 0], [1, 0]], { dtype: "i32" })).toArray()).toEqual([[1, 1], [4, 3]]);
    expect(x.indexSelect(0, tensor([1, 1, 0], { dtype: "i32" })).toArray()).toEqual([[3, 4], [3, 4], [1, 2]]);
    expect(T.embedding(tensor([[1, 0]], { dtype: "i32" }), x).toArray()).toEqual([[[3, 4], [1, 2]]]);
    expect(() => T.embedding(tensor([2], { dtype: "i32" }), x)).toThrow(/out of range/);
    expect(T.where(tensor([1, 0]), tensor([1, 2]), tensor([3, 4])).toArray()).toEqual([1, 4]);
    expect(T.maskedFill(tensor([1, 2]), tensor([0, 1]), -Infinity).toArray()).toEqual([1, -Infinity]);
  });
  it("cross-entropy equals -log softmax at the target, with ignore index and label smoothing", () => {
    const logits = tensor([[2, 1, 0], [0, 0, 3], [1, 1, 1]]);
    const target = tensor([0, -100, 2], { dtype: "i32" });
    const lse = (r: number[]): number => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const nll0 = lse([2, 1, 0]) - 2, nll2 = lse([1, 1, 1]) - 1;
    close(T.crossEntropy(logits, target).item(), (nll0 + nll2) / 2);
    // smoothing: (1-ε)·nll + ε/C·Σ_c -log p_c
    const eps = 0.1;
    const smooth = (r: number[], y: number): number => (1 - eps) * (lse(r) - r[y]!) + (eps / 3) * r.reduce((s, v) => s + lse(r) - v, 0);
    close(T.crossEntropy(logits, target, { labelSmoothing: eps }).item(), (smooth([2, 1, 0], 0) + smooth([1, 1, 1], 2)) / 2);
  });
  it("dropout is seeded and scales kept units", () => {
    const x = T.ones([1000]);
    const a = T.dropout(x, 0.3, true, new Generator(9));
    const b = T.dropout(x, 0.3, true, new Generator(9));
    expect(flat(a)).toEqual(flat(b));
    const kept = flat(a).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    expect(Math.abs(kept.length / 1000 - 0.7)).toBeLessThan(0.05);
    expect(T.dropout(x, 0.3, false)).toBe(x);
  });
  it("dropout keeps unit i when the generator's i-th uniform draw is at least p (on every backend)", () => {
    const g = new Generator(21), ref = new Generator(21);
    const out = flat(T.dropout(T.ones([3001]), 0.25, true, g));
    expect(out).toEqual(Array.from({ length: 3001 }, () => (ref.random() >= 0.25 ? Math.fround(1 / 0.75) : 0)));
    expect(g.getState()).toEqual(ref.getState());
  });
  it("causal and padding masks", () => {
    expect(T.causalMask(2, 3).toArray()).toEqual([[0, 0, -Infinity], [0, 0, 0]]);
    expect(T.causalMask(3, 3, { slidingWindow: 2 }).toArray()).toEqual([[0, -Infinity, -Infinity], [0, 0, -Infinity], [-Infinity, 0, 0]]);
    expect(T.paddingMask(tensor([[0, 1]], { dtype: "i32" })).toArray()).toEqual([[[[-Infinity, 0]]]]);
  });
});

describe("large outputs (their storage is not zero-filled)", () => {
  // Above 64 KiB outputs skip the zero fill, so every kernel must write each element; dirty freed memory first so
  // a skipped element would read as NaN rather than as a lucky zero.
  const dirty = (): void => { for (let i = 0; i < 8; i++) T.full([1 << 16], Number.NaN).add(1); };
  it("empty reductions and products are zeros, copies are exact", () => {
    dirty();
    expect(flat(T.matmul(T.zeros([300, 0]), T.zeros([0, 300]))).every((v) => v === 0)).toBe(true);
    dirty();
    expect(flat(T.sum(T.zeros([200, 0, 300]), 1))).toEqual(new Array(200 * 300).fill(0));
    const g = new Generator(3);
    const a = T.randn([130, 260], { generator: g }), b = T.randn([70, 260], { generator: g });
    dirty();
    const c = T.concat([a, b], 0);
    expect(flat(c)).toEqual([...flat(a), ...flat(b)]);
    dirty();
    const tr = c.transpose(0, 1).contiguous();
    for (const [i, j] of [[0, 0], [259, 199], [17, 150]] as const) expect(tr.data[i * 200 + j]).toBe(c.data[j * 260 + i]);
  });
  it("a leaf's gradient is its own copy of the incoming one", () => {
    const x = T.randn([300, 300], { generator: new Generator(4), requiresGrad: true });
    dirty();
    x.mul(3).sum().backward();
    expect(flat(x.grad!).every((v) => v === 3)).toBe(true);
  });
});

describe("autograd", () => {
  it("accumulates gradients into .grad across backward calls", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 5, 7]);
  });
  it("shared gradients are not aliased between leaves", () => {
    const a = tensor([1, 2], { requiresGrad: true }), b = tensor([3, 4], { requiresGrad: true });
    a.add(b).sum().backward();
    a.grad!.data[0] = 100;
    expect(b.grad!.toArray()).toEqual([1, 1]);
  });
  it("a leaf keeps no array that the seed, another leaf or a view shares", () => {
    // 300×300 floats: large enough for uninitialized storage, the path whose arrays a leaf may keep
    const g = new Generator(5);
    const x = T.randn([300, 300], { generator: g, requiresGrad: true });
    const seed = T.randn([90000], { generator: g });
    const seedValues = flat(seed);
    T.reshape(x, [90000]).backward(seed);
    x.grad!.data.fill(7);
    expect(flat(seed)).toEqual(seedValues);
    // concat's backward hands each input a part of one gradient; reshape hands on its input's whole array
    const a = T.randn([300, 300], { generator: g, requiresGrad: true }), b = T.randn([300, 300], { generator: g, requiresGrad: true });
    const c = T.concat([a, b], 0).mul(2);
    c.add(T.reshape(c, [600, 300])).sum().backward();
    a.grad!.data.fill(-1);
    expect(flat(b.grad!).every((v) => v === 4)).toBe(true);
    // a weight gradient made by the backward pass is kept; its values are still its own after the next pass
    const w = T.randn([300, 300], { generator: g, requiresGrad: true });
    T.matmul(T.ones([2, 300]), w).sum().backward();
    const kept = w.grad!;
    T.matmul(T.ones([2, 300]), w).mul(3).sum().backward();
    expect(flat(kept).every((v) => v === 2)).toBe(true);
    expect(flat(w.grad!).every((v) => v === 8)).toBe(true);
  });
  it("noGrad and detach stop recording", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(x.detach().requiresGrad).toBe(false);
    expect(() => y.sum().backward()).toThrow(/does not require grad/);
  });
  it("backward on a non-scalar needs a gradient", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/scalar outputs/);
    x.mul(2).backward(tensor([1, 10]));
    expect(x.grad!.toArray()).toEqual([2, 20]);
  });
});
