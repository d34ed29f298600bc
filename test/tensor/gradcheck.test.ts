import { describe, expect, it } from "vitest";
import * as T from "../../src/tensor/index.js";
import { Tensor, tensor } from "../../src/tensor/index.js";
import { Generator } from "../../src/utils/rng.js";
import { gradcheck, randLeaf } from "../helpers/gradcheck.js";

const g = new Generator(2024);
const r = (shape: number[], low?: number, high?: number): Tensor => randLeaf(shape, g, { low, high });
const ids = (values: number[], shape = [values.length]): Tensor => tensor(values, { dtype: "i32", shape });

describe("finite-difference gradients (float64)", () => {
  it("binary ops with broadcasting", () => {
    gradcheck(T.add, [r([2, 3, 4]), r([3, 1])]);
    gradcheck(T.sub, [r([4]), r([2, 3, 4])]);
    gradcheck(T.mul, [r([2, 1, 4]), r([1, 3, 1])]);
    gradcheck(T.div, [r([2, 3]), r([3], 0.5, 2)]);
    gradcheck((a, b) => T.pow(a, b), [r([2, 3], 0.5, 2), r([1, 3])]);
    gradcheck((a) => T.pow(a, 3), [r([5])]);
    gradcheck((a) => T.pow(a, 0.5), [r([5], 0.2, 2)]);
    gradcheck((a) => T.add(T.mul(a, 2.5), 1), [r([3, 2])]);
    gradcheck(T.maximum, [r([6]), r([6])]);
    gradcheck(T.minimum, [r([2, 3]), r([3])]);
  });
  it("unary ops", () => {
    for (const f of [T.neg, T.exp, T.tanh, T.relu, T.silu, T.sigmoid, T.sin, T.cos, T.square]) gradcheck(f, [r([3, 4], -2, 2)]);
    gradcheck(T.abs, [r([3, 4], 0.1, 1)]);
    gradcheck(T.log, [r([3, 4], 0.1, 3)]);
    gradcheck(T.sqrt, [r([3, 4], 0.1, 3)]);
    gradcheck(T.rsqrt, [r([3, 4], 0.1, 3)]);
    gradcheck((x) => T.gelu(x), [r([10], -4, 4)]);
    gradcheck((x) => T.gelu(x, "tanh"), [r([10], -4, 4)]);
  });
  it("matmul, batched matmul with broadcast batch dims, linear", () => {
    gradcheck(T.matmul, [r([3, 4]), r([4, 5])]);
    gradcheck(T.matmul, [r([2, 3, 4]), r([4, 2])]);
    gradcheck(T.matmul, [r([2, 1, 3, 4]), r([3, 4, 2])]);
    gradcheck(T.matmul, [r([4]), r([2, 4, 3])]);
    gradcheck(T.matmul, [r([2, 3, 4]), r([4])]);
    gradcheck((x, w, b) => T.linear(x, w, b), [r([2, 3, 4]), r([5, 4]), r([5])]);
    gradcheck((x, w, b) => T.linear(x, w, b), [r([1, 4]), r([5, 4]), r([5])]); // one row: the bias seeds the product
    gradcheck((b, x, w) => T.addmm(b, x, w), [r([5]), r([3, 4]), r([4, 5])]);
    gradcheck((b, x, w) => T.addmm(b, x, w), [r([5]), r([1, 4]), r([4, 5])]);
  });
  it("addmm equals bias + mat1 · mat2 element by element", () => {
    for (const m of [1, 3]) {
      const b = r([5]), x = r([m, 4]), w = r([4, 5]);
      const y = T.addmm(b, x, w);
      expect(y.shape).toEqual([m, 5]);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < 5; j++) {
          let want = b.data[j] as number;
          for (let p = 0; p < 4; p++) want += (x.data[i * 4 + p] as number) * (w.data[p * 5 + j] as number);
          expect(y.data[i * 5 + j]).toBeCloseTo(want, 12);
        }
      }
    }
    expect(() => T.addmm(r([4]), r([3, 4]), r([4, 5]))).toThrow(/addmm: bias \[4\] must hold 5 values/);
  });
  it("reductions", () => {
    gradcheck((x) => T.sum(x), [r([2, 3, 4])]);
    gradcheck((x) => T.sum(x, [0, 2], true), [r([2, 3, 4])]);
    gradcheck((x) => T.mean(x, 1), [r([2, 3, 4])]);
    gradcheck((x) => T.max(x, -1), [r([3, 5])]);
    gradcheck((x) => T.max(x, [0, 1], true), [r([3, 5])]);
    gradcheck((x) => T.variance(x, 1), [r([3, 5])]);
    gradcheck((x) => T.variance(x, [0, 1], { keepdim: true, correction: 0 }), [r([3, 5])]);
  });
  it("softmax and log-softmax on any dim", () => {
    gradcheck((x) => T.softmax(x), [r([3, 5], -3, 3)]);
    gradcheck((x) => T.softmax(x, 0), [r([3, 5], -3, 3)]);
    gradcheck((x) => T.logSoftmax(x), [r([2, 3, 5], -3, 3)]);
    gradcheck((x) => T.logSoftmax(x, 1), [r([2, 3, 5], -3, 3)]);
  });
  it("shape ops", () => {
    gradcheck((x) => T.reshape(x, [6, -1]), [r([2, 3, 4])]);
    gradcheck((x) => T.permute(x, [2, 0, 1]), [r([2, 3, 4])]);
    gradcheck((x) => T.transpose(x, 0, 2), [r([2, 3, 4])]);
    gradcheck((x) => T.slice(x, 1, 1, 5, 2), [r([2, 6, 3])]);
    gradcheck((x) => T.slice(x, -1, -2), [r([2, 6, 3])]);
    gradcheck((a, b) => T.concat([a, b, a], 1), [r([2, 3, 2]), r([2, 1, 2])]);
    gradcheck((x) => T.split(x, [1, 3], 1)[1]!, [r([2, 4])]);
    gradcheck((a, b) => T.stack([a, b], 1), [r([2, 3]), r([2, 3])]);
    gradcheck((x) => T.expand(x, [2, 3, 4]), [r([3, 1])]);
    gradcheck((x) => T.unsqueeze(T.squeeze(x, 1), 0), [r([3, 1, 2])]);
  });
  it("indexing: gather, index-select, embedding with padding row", () => {
    gradcheck((x) => T.gather(x, 1, ids([0, 2, 2, 1, 0, 0], [2, 3])), [r([2, 4])]);
    gradcheck((x) => T.gather(x, 0, ids([1, 0, 1, 1], [2, 2])), [r([2, 3])]);
    gradcheck((x) => T.indexSelect(x, 1, ids([2, 0, 2])), [r([2, 3, 2])]);
    gradcheck((w) => T.embedding(ids([1, 3, 1, 0], [2, 2]), w), [r([4, 3])]);
    const w = r([4, 3]);
    T.embedding(ids([0, 1, 0]), w, 0).sum().backward();
    const grad = w.grad!.toArray() as number[][];
    if (grad[0]!.some((v) => v !== 0) || grad[1]!.some((v) => v !== 1)) throw new Error(`padding row must get no gradient: ${JSON.stringify(grad)}`);
  });
  it("where and masked fill", () => {
    const cond = tensor([[1, 0, 1], [0, 0, 1]], { dtype: "f64" });
    gradcheck((a, b) => T.where(cond, a, b), [r([2, 3]), r([3])]);
    gradcheck((a) => T.maskedFill(a, cond, -5), [r([2, 3])]);
  });
  it("layer norm and RMS norm (with Gemma's 1 + weight)", () => {
    gradcheck((x, w, b) => T.layerNorm(x, w, b, 1e-5), [r([3, 6]), r([6]), r([6])]);
    gradcheck((x) => T.layerNorm(x, null, null), [r([2, 2, 5])]);
    gradcheck((x, w) => T.rmsNorm(x, w, 1e-6), [r([3, 6]), r([6])]);
    gradcheck((x, w) => T.rmsNorm(x, w, 1e-6, 1), [r([3, 6]), r([6])]);
  });
  it("cross-entropy with ignore index and label smoothing", () => {
    const t = ids([2, -100, 0, 4]);
    gradcheck((x) => T.crossEntropy(x, t), [r([4, 5], -2, 2)]);
    gradcheck((x) => T.crossEntropy(x, t, { labelSmoothing: 0.1 }), [r([4, 5], -2, 2)]);
    gradcheck((x) => T.crossEntropy(x, t, { reduction: "sum" }), [r([4, 5], -2, 2)]);
    gradcheck((x) => T.crossEntropy(x, t, { reduction: "none", labelSmoothing: 0.2 }), [r([4, 5], -2, 2)]);
  });
  it("dtype conversion and dropout pass gradients", () => {
    gradcheck((x) => T.toDtype(T.toDtype(x, "f32"), "f64"), [r([4])], { atol: 1e-6, rtol: 1e-5, eps: 1e-3 });
    gradcheck((x) => T.dropout(x, 0.5, true, new Generator(5)), [r([20])]);
  });
});
