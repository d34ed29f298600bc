import { expect } from "vitest";
import { Tensor, tensor, noGrad } from "../../src/tensor/index.js";
import { Generator } from "../../src/utils/rng.js";

/** Random f64 leaf tensor that requires grad. */
export function randLeaf(shape: number[], g: Generator, options: { low?: number; high?: number } = {}): Tensor {
  const low = options.low ?? -1, high = options.high ?? 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = low + (high - low) * g.random();
  return tensor(data, { shape, requiresGrad: true });
}

/**
 * Compares autograd gradients of f with central finite differences in float64. The output is reduced to a
 * scalar with fixed random weights so every output element's gradient path is checked.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options: { eps?: number; atol?: number; rtol?: number; seed?: number } = {}): void {
  const eps = options.eps ?? 1e-6, atol = options.atol ?? 1e-6, rtol = options.rtol ?? 1e-5;
  const g = new Generator(options.seed ?? 123);
  const out0 = noGrad(() => f(...inputs));
  const w = new Float64Array(out0.size);
  for (let i = 0; i < w.length; i++) w[i] = g.random() * 2 - 1;
  const weights = tensor(w, { shape: [...out0.shape] });
  const scalar = (): number => {
    const out = noGrad(() => f(...inputs));
    let s = 0;
    for (let i = 0; i < out.size; i++) s += (out.data[i] as number) * w[i]!;
    return s;
  };
  for (const x of inputs) x.grad = null;
  const out = f(...inputs);
  out.mul(weights).sum().backward();
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    expect(x.grad, `input ${k} has no grad`).not.toBeNull();
    const analytic = x.grad!.data as Float64Array;
    const d = x.data as Float64Array;
    for (let i = 0; i < d.length; i++) {
      const orig = d[i]!;
      d[i] = orig + eps;
      const plus = scalar();
      d[i] = orig - eps;
      const minus = scalar();
      d[i] = orig;
      const numeric = (plus - minus) / (2 * eps);
      const diff = Math.abs(numeric - analytic[i]!);
      if (diff > atol + rtol * Math.abs(numeric)) {
        throw new Error(`gradcheck: input ${k} element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`);
      }
    }
  }
}
