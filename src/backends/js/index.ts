import type { Backend, BinaryOp, UnaryOp } from "../backend.js";
import type { FloatArray, StorageArray } from "../../tensor/dtype.js";
import { erf, geluErf, geluErfGrad, geluTanh, geluTanhGrad, sigmoid } from "./math.js";

export { erf };

type Map1 = (x: FloatArray, out: FloatArray) => void;

const unaryKernels: Record<UnaryOp, Map1> = {
  neg: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = -x[i]!; },
  exp: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.exp(x[i]!); },
  log: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.log(x[i]!); },
  sqrt: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.sqrt(x[i]!); },
  rsqrt: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = 1 / Math.sqrt(x[i]!); },
  tanh: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.tanh(x[i]!); },
  abs: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.abs(x[i]!); },
  relu: (x, o) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; o[i] = v > 0 ? v : 0; } },
  silu: (x, o) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; o[i] = v * sigmoid(v); } },
  gelu: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = geluErf(x[i]!); },
  gelu_tanh: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = geluTanh(x[i]!); },
  sigmoid: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = sigmoid(x[i]!); },
  sin: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.sin(x[i]!); },
  cos: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = Math.cos(x[i]!); },
  square: (x, o) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; o[i] = v * v; } },
  reciprocal: (x, o) => { for (let i = 0; i < x.length; i++) o[i] = 1 / x[i]!; },
};

type Grad1 = (x: FloatArray, y: FloatArray, g: FloatArray, out: FloatArray) => void;

const unaryGradKernels: Record<UnaryOp, Grad1> = {
  neg: (_x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = -g[i]!; },
  exp: (_x, y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! * y[i]!; },
  log: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! / x[i]!; },
  sqrt: (_x, y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! / (2 * y[i]!); },
  rsqrt: (x, y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = (-0.5 * g[i]! * y[i]!) / x[i]!; },
  tanh: (_x, y, g, o) => { for (let i = 0; i < g.length; i++) { const t = y[i]!; o[i] = g[i]! * (1 - t * t); } },
  abs: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) { const v = x[i]!; o[i] = v > 0 ? g[i]! : v < 0 ? -g[i]! : 0; } },
  relu: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = x[i]! > 0 ? g[i]! : 0; },
  silu: (x, _y, g, o) => {
    for (let i = 0; i < g.length; i++) { const v = x[i]!; const s = sigmoid(v); o[i] = g[i]! * s * (1 + v * (1 - s)); }
  },
  gelu: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! * geluErfGrad(x[i]!); },
  gelu_tanh: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! * geluTanhGrad(x[i]!); },
  sigmoid: (_x, y, g, o) => { for (let i = 0; i < g.length; i++) { const s = y[i]!; o[i] = g[i]! * s * (1 - s); } },
  sin: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = g[i]! * Math.cos(x[i]!); },
  cos: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = -g[i]! * Math.sin(x[i]!); },
  square: (x, _y, g, o) => { for (let i = 0; i < g.length; i++) o[i] = 2 * g[i]! * x[i]!; },
  reciprocal: (_x, y, g, o) => { for (let i = 0; i < g.length; i++) { const r = y[i]!; o[i] = -g[i]! * r * r; } },
};

type Scalar2 = (a: number, b: number) => number;

const binaryScalar: Record<BinaryOp, Scalar2> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  max: (a, b) => (a >= b || Number.isNaN(a) ? a : b),
  min: (a, b) => (a <= b || Number.isNaN(a) ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
};

function binary(op: BinaryOp, a: StorageArray, aStrides: readonly number[], b: StorageArray, bStrides: readonly number[], out: StorageArray, outShape: readonly number[]): void {
  const n = out.length;
  if (n === 0) return;
  const nd = outShape.length;
  const f = binaryScalar[op];
  // Fast paths: same layout, or a scalar on one side, covering most calls.
  const aFull = a.length === n, bFull = b.length === n;
  if (aFull && bFull && isContiguous(aStrides, outShape) && isContiguous(bStrides, outShape)) {
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; return; }
    if (op === "mul") { for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; return; }
    if (op === "sub") { for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!; return; }
    if (op === "div") { for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!; return; }
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    return;
  }
  if (b.length === 1 && aFull && isContiguous(aStrides, outShape)) {
    const s = b[0]!;
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = a[i]! + s; return; }
    if (op === "mul") { for (let i = 0; i < n; i++) out[i] = a[i]! * s; return; }
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, s);
    return;
  }
  // General strided walk; the innermost dim is a tight loop.
  const inner = outShape[nd - 1]!;
  const as = aStrides[nd - 1]!, bs = bStrides[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  let ao = 0, bo = 0;
  for (let o = 0; o < n; o += inner) {
    if (op === "add") for (let j = 0; j < inner; j++) out[o + j] = a[ao + j * as]! + b[bo + j * bs]!;
    else if (op === "mul") for (let j = 0; j < inner; j++) out[o + j] = a[ao + j * as]! * b[bo + j * bs]!;
    else for (let j = 0; j < inner; j++) out[o + j] = f(a[ao + j * as]!, b[bo + j * bs]!);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      ao += aStrides[d]!;
      bo += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      ao -= aStrides[d]! * outShape[d]!;
      bo -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

function isContiguous(strides: readonly number[], shape: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i]!;
  }
  return true;
}

function gemm(
  a: FloatArray, b: FloatArray, c: FloatArray, m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean,
  aOffsets: ArrayLike<number>, bOffsets: ArrayLike<number>, cOffsets: ArrayLike<number>,
): void {
  for (let batch = 0; batch < cOffsets.length; batch++) {
    const ao = aOffsets[batch]!, bo = bOffsets[batch]!, co = cOffsets[batch]!;
    if (!accumulate) c.fill(0, co, co + m * n);
    if (!transB) {
      // i-k-j: streams rows of B and C; A[i,k] read from row (or column when transposed).
      for (let i = 0; i < m; i++) {
        const crow = co + i * n;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
          if (av === 0) continue;
          const brow = bo + p * n;
          for (let j = 0; j < n; j++) c[crow + j] += av * b[brow + j]!;
        }
      }
    } else if (!transA) {
      // dot products of rows of A and rows of B, four at a time for instruction-level parallelism.
      for (let i = 0; i < m; i++) {
        const arow = ao + i * k, crow = co + i * n;
        let j = 0;
        for (; j + 3 < n; j += 4) {
          const b0 = bo + j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (let p = 0; p < k; p++) {
            const av = a[arow + p]!;
            s0 += av * b[b0 + p]!;
            s1 += av * b[b1 + p]!;
            s2 += av * b[b2 + p]!;
            s3 += av * b[b3 + p]!;
          }
          c[crow + j] += s0; c[crow + j + 1] += s1; c[crow + j + 2] += s2; c[crow + j + 3] += s3;
        }
        for (; j < n; j++) {
          const brow = bo + j * k;
          let s = 0;
          for (let p = 0; p < k; p++) s += a[arow + p]! * b[brow + p]!;
          c[crow + j] += s;
        }
      }
    } else {
      for (let i = 0; i < m; i++) {
        const crow = co + i * n;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ao + p * m + i]! * b[bo + j * k + p]!;
          c[crow + j] += s;
        }
      }
    }
  }
}

function sumAxis(x: FloatArray, out: FloatArray, outer: number, inner: number, rest: number): void {
  out.fill(0);
  if (rest === 1) {
    for (let o = 0; o < outer; o++) {
      let s = 0;
      const base = o * inner;
      for (let i = 0; i < inner; i++) s += x[base + i]!;
      out[o] = s;
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    const ob = o * rest;
    for (let i = 0; i < inner; i++) {
      const xb = (o * inner + i) * rest;
      for (let r = 0; r < rest; r++) out[ob + r] += x[xb + r]!;
    }
  }
}

function maxAxis(x: FloatArray, out: FloatArray, indices: Int32Array | null, outer: number, inner: number, rest: number): void {
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < rest; r++) {
      let best = -Infinity, bi = 0;
      for (let i = 0; i < inner; i++) {
        const v = x[(o * inner + i) * rest + r]!;
        if (v > best || Number.isNaN(v)) {
          best = v;
          bi = i;
          if (Number.isNaN(v)) break;
        }
      }
      out[o * rest + r] = best;
      if (indices) indices[o * rest + r] = bi;
    }
  }
}

function softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[base + j]! > max) max = x[base + j]!;
    if (max === -Infinity) max = 0; // a fully masked row: exp(-inf - 0) = 0 gives NaN below, as torch does
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[base + j]! - max);
      if (!log) out[base + j] = e;
      sum += e;
    }
    if (log) {
      const lse = Math.log(sum);
      for (let j = 0; j < cols; j++) out[base + j] = x[base + j]! - max - lse;
    } else {
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) out[base + j] *= inv;
    }
  }
}

function softmaxBackward(y: FloatArray, g: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let s = 0;
    if (log) {
      for (let j = 0; j < cols; j++) s += g[base + j]!;
      for (let j = 0; j < cols; j++) out[base + j] = g[base + j]! - Math.exp(y[base + j]!) * s;
    } else {
      for (let j = 0; j < cols; j++) s += g[base + j]! * y[base + j]!;
      for (let j = 0; j < cols; j++) out[base + j] = y[base + j]! * (g[base + j]! - s);
    }
  }
}

function norm(x: FloatArray, weight: FloatArray | null, bias: FloatArray | null, out: FloatArray, mean: FloatArray, rstd: FloatArray,
  rows: number, cols: number, eps: number, rms: boolean, weightOffset: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let mu = 0;
    if (!rms) {
      for (let j = 0; j < cols; j++) mu += x[base + j]!;
      mu /= cols;
    }
    let v = 0;
    for (let j = 0; j < cols; j++) { const d = x[base + j]! - mu; v += d * d; }
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      let y = (x[base + j]! - mu) * rs;
      if (weight) y *= weight[j]! + weightOffset;
      if (bias) y += bias[j]!;
      out[base + j] = y;
    }
  }
}

function normBackward(x: FloatArray, weight: FloatArray | null, g: FloatArray, mean: FloatArray, rstd: FloatArray,
  dx: FloatArray, dWeight: FloatArray | null, dBias: FloatArray | null, rows: number, cols: number, rms: boolean, weightOffset: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const mu = mean[r]!, rs = rstd[r]!;
    // xhat = (x - mu) * rs; dxhat = g * w; dx = rs * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)); rms drops the mean(dxhat) term.
    let sumD = 0, sumDX = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const dxh = g[base + j]! * (weight ? weight[j]! + weightOffset : 1);
      sumD += dxh;
      sumDX += dxh * xh;
      if (dWeight) dWeight[j] += g[base + j]! * xh;
      if (dBias) dBias[j] += g[base + j]!;
    }
    const meanD = rms ? 0 : sumD / cols;
    const meanDX = sumDX / cols;
    for (let j = 0; j < cols; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const dxh = g[base + j]! * (weight ? weight[j]! + weightOffset : 1);
      dx[base + j] = rs * (dxh - meanD - xh * meanDX);
    }
  }
}

function permute(x: StorageArray, out: StorageArray, shape: readonly number[], perm: readonly number[]): void {
  const nd = shape.length;
  const inStrides = new Array<number>(nd);
  let s = 1;
  for (let i = nd - 1; i >= 0; i--) { inStrides[i] = s; s *= shape[i]!; }
  const outShape = perm.map((p) => shape[p]!);
  const st = perm.map((p) => inStrides[p]!);
  const n = out.length;
  if (n === 0) return;
  const inner = outShape[nd - 1]!, is = st[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  let off = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = x[off + j * is]!;
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      off -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

function embedding(table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void {
  for (let i = 0; i < ids.length; i++) {
    const src = ids[i]! * dim;
    out.set(table.subarray(src, src + dim), i * dim);
  }
}

function adamw(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void {
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    param[i] *= decay;
    const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * g);
    const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * g * g);
    param[i] -= (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

export const jsBackend: Backend = {
  name: "js",
  gemm,
  unary: (op, x, out) => unaryKernels[op](x, out),
  powScalar: (x, p, out) => {
    if (p === 2) for (let i = 0; i < x.length; i++) out[i] = x[i]! * x[i]!;
    else for (let i = 0; i < x.length; i++) out[i] = x[i]! ** p;
  },
  affine: (x, scale, shift, out) => { for (let i = 0; i < x.length; i++) out[i] = x[i]! * scale + shift; },
  binary,
  sumAxis,
  maxAxis,
  softmax,
  softmaxBackward,
  norm,
  normBackward,
  unaryBackward: (op, x, y, g, out) => unaryGradKernels[op](x, y, g, out),
  permute,
  embedding,
  adamw,
};
