import { describe, expect, it } from "vitest";
import { SGD, AdamW, clipGradNorm, OptimizerError } from "../../src/training/index.js";
import { tensor, Tensor } from "../../src/tensor/index.js";

/*
 * Expected values are computed here, element by element in float64, from the update rules in PyTorch's
 * documentation (torch.optim.SGD and torch.optim.AdamW "Algorithm" sections), on the fixed problem
 * f(w) = Σ_i (a_i·w_i − b_i)², whose gradient 2·a_i·(a_i·w_i − b_i) is also written out by hand.
 */
const A = [1.5, -0.5, 2.0, 0.25];
const B = [0.3, 1.0, -1.2, 0.7];
const W0 = [0.1, -0.2, 0.3, 0.4];
const grad = (w: number[]): number[] => w.map((wi, i) => 2 * A[i]! * (A[i]! * wi - B[i]!));

function lossOf(w: Tensor): Tensor {
  return w.mul(tensor(A, { dtype: "f64" })).sub(tensor(B, { dtype: "f64" })).pow(2).sum();
}

function run(opt: (w: Tensor) => SGD | AdamW, steps: number): number[] {
  const w = tensor(W0, { dtype: "f64", requiresGrad: true });
  const o = opt(w);
  for (let s = 0; s < steps; s++) {
    o.zeroGrad();
    lossOf(w).backward();
    o.step();
  }
  return Array.from(w.data as Float64Array);
}

describe("optimizers follow PyTorch's update formulas", () => {
  it("SGD with momentum, dampening and weight decay", () => {
    const lr = 0.05, mu = 0.9, tau = 0.1, wd = 0.01;
    const w = [...W0];
    const buf = [0, 0, 0, 0];
    for (let t = 1; t <= 5; t++) {
      const g = grad(w);
      for (let i = 0; i < 4; i++) {
        const gi = g[i]! + wd * w[i]!;
        buf[i] = t === 1 ? gi : mu * buf[i]! + (1 - tau) * gi;
        w[i] = w[i]! - lr * buf[i]!;
      }
    }
    const got = run((p) => new SGD([p], { lr, momentum: mu, dampening: tau, weightDecay: wd }), 5);
    got.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThan(1e-12));
  });
  it("SGD with Nesterov momentum", () => {
    const lr = 0.05, mu = 0.9;
    const w = [...W0];
    const buf = [0, 0, 0, 0];
    for (let t = 1; t <= 4; t++) {
      const g = grad(w);
      for (let i = 0; i < 4; i++) {
        buf[i] = t === 1 ? g[i]! : mu * buf[i]! + g[i]!;
        w[i] = w[i]! - lr * (g[i]! + mu * buf[i]!);
      }
    }
    const got = run((p) => new SGD([p], { lr, momentum: mu, nesterov: true }), 4);
    got.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThan(1e-12));
  });
  it("AdamW with bias correction and decoupled weight decay", () => {
    const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    const w = [...W0];
    const m = [0, 0, 0, 0], v = [0, 0, 0, 0];
    for (let t = 1; t <= 6; t++) {
      const g = grad(w);
      for (let i = 0; i < 4; i++) {
        w[i] = w[i]! * (1 - lr * wd);
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
        const mHat = m[i]! / (1 - b1 ** t), vHat = v[i]! / (1 - b2 ** t);
        w[i] = w[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    }
    const got = run((p) => new AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd }), 6);
    got.forEach((x, i) => expect(Math.abs(x - w[i]!)).toBeLessThan(1e-6));
  });
  it("clipGradNorm scales by maxNorm / (norm + 1e-6) when the norm is larger", () => {
    const a = tensor([3, 0], { requiresGrad: true }), b = tensor([4], { requiresGrad: true });
    a.grad = tensor([3, 0]);
    b.grad = tensor([4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    expect((a.grad.toArray() as number[])[0]).toBeCloseTo(3 * coef, 6);
    expect((b.grad.toArray() as number[])[0]).toBeCloseTo(4 * coef, 6);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5);
  });
  it("rejects bad hyper-parameters by name", () => {
    const p = tensor([1], { requiresGrad: true });
    expect(() => new AdamW([p], { lr: -1 })).toThrow(/invalid lr/);
    expect(() => new AdamW([p], { betas: [1, 0.9] })).toThrow(/betas\[0\]/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(OptimizerError);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
  });
});
