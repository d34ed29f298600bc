import { TensorError } from "../errors.js";
import { getBackend, type AttentionInputs, type AttentionShape, type BinaryOp, type UnaryOp } from "../backends/index.js";
import { allocate, allocateUninitialized, convert, isFloat, type DType, type FloatArray, type StorageArray } from "./dtype.js";
import { broadcastShapes, broadcastStrides, normalizeDim, normalizeDims, numel, shapesEqual, stridesOf, type Shape } from "./shape.js";
import { Tensor, result, full, isGradEnabled } from "./tensor.js";
import { Generator, getDefaultGenerator } from "../utils/rng.js";

export type TensorLike = Tensor | number;

function promote(a: DType, b: DType): DType {
  if (a === "f64" || b === "f64") return "f64";
  if (a === "f32" || b === "f32") return "f32";
  if (a === "i32" && b === "i32") return "i32";
  throw new TensorError(`ops on ${a} and ${b} tensors are not supported; convert f16/bf16 with .to("f32")`);
}

function scalarLike(value: number, dtype: DType): Tensor {
  return full([], value, { dtype });
}

function asTensor(x: TensorLike, like: Tensor): Tensor {
  return typeof x === "number" ? scalarLike(x, isFloat(like.dtype) ? like.dtype : Number.isInteger(x) ? like.dtype : "f32") : x;
}

function castTo(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : toDtype(t, dtype);
}

/** Sums a broadcast gradient back down to `shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = dims.length > 0 ? sum(g, dims, true) : g;
  return reshape(s, shape);
}

// ---- elementwise binary ----

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, dtype: DType): { data: StorageArray; shape: number[] } {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = allocateUninitialized(dtype, numel(shape));
  getBackend().binary(op, castTo(a, dtype).data, broadcastStrides(a.shape, shape), castTo(b, dtype).data, broadcastStrides(b.shape, shape), out, shape);
  return { data: out, shape };
}

function binary(op: BinaryOp, x: TensorLike, y: TensorLike, backward?: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  const a = typeof x === "number" ? asTensor(x, y as Tensor) : x;
  const b = asTensor(y, a);
  const dtype = promote(a.dtype, b.dtype);
  const { data, shape } = binaryRaw(op, a, b, dtype);
  let out: Tensor;
  out = result(data, shape, dtype, [a, b], op, (g) => {
    if (!backward) throw new TensorError(`${op} is not differentiable`);
    const [ga, gb] = backward(g, a, b, out);
    return [ga && a.requiresGrad ? sumToShape(ga, a.shape) : null, gb && b.requiresGrad ? sumToShape(gb, b.shape) : null];
  });
  return out;
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary("add", a, b, (g) => [g, g]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary("sub", a, b, (g) => [g, neg(g)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary("mul", a, b, (g, x, y) => [mul(g, y), mul(g, x)]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary("div", a, b, (g, x, y) => [div(g, y), x.requiresGrad || y.requiresGrad ? neg(div(mul(g, x), mul(y, y))) : null]);
}

/** a ** b; with a number exponent the fast scalar kernel is used. */
export function pow(a: Tensor, b: TensorLike): Tensor {
  if (typeof b === "number") {
    const x = a.floatData;
    const out = allocateUninitialized(a.dtype, a.size) as FloatArray;
    getBackend().powScalar(x, b, out);
    return result(out, a.shape, a.dtype, [a], "pow", (g) => [mul(g, mul(pow(a, b - 1), b))]);
  }
  return binary("pow", a, b, (g, x, y, out) => [mul(g, mul(y, pow(x, sub(y, 1)))), mul(g, mul(out, log(x)))]);
}

/** Elementwise maximum (torch.maximum); the gradient goes to the larger input (to a on ties). */
export function maximum(a: Tensor, b: TensorLike): Tensor {
  return binary("max", a, b, (g, x, y) => {
    const m = binaryRaw("gt", y, x, g.dtype);
    const mask = new Tensor(m.data, m.shape, g.dtype);
    return [mul(g, sub(1, mask)), mul(g, mask)];
  });
}

export function minimum(a: Tensor, b: TensorLike): Tensor {
  return binary("min", a, b, (g, x, y) => {
    const m = binaryRaw("lt", y, x, g.dtype);
    const mask = new Tensor(m.data, m.shape, g.dtype);
    return [mul(g, sub(1, mask)), mul(g, mask)];
  });
}

/** Comparisons give a tensor of 0/1 in the promoted dtype (no gradient). */
export function eq(a: Tensor, b: TensorLike): Tensor {
  return binary("eq", a, b);
}

export function gt(a: Tensor, b: TensorLike): Tensor {
  return binary("gt", a, b);
}

export function lt(a: Tensor, b: TensorLike): Tensor {
  return binary("lt", a, b);
}

/** x * scale + shift in one pass (used for scalar arithmetic in hot paths). */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  const out = allocateUninitialized(x.dtype, x.size) as FloatArray;
  getBackend().affine(x.floatData, scale, shift, out);
  return result(out, x.shape, x.dtype, [x], "affine", (g) => [scale === 1 ? g : affine(g, scale)]);
}

// ---- elementwise unary ----

function unary(op: UnaryOp, x: Tensor): Tensor {
  const input = isFloat(x.dtype) ? x : toDtype(x, "f32");
  const out = allocateUninitialized(input.dtype, input.size) as FloatArray;
  getBackend().unary(op, input.floatData, out);
  const y = result(out, input.shape, input.dtype, [input], op, (g) => {
    const gi = allocateUninitialized(g.dtype, g.size) as FloatArray;
    getBackend().unaryBackward(op, input.floatData, out, g.floatData, gi);
    return [new Tensor(gi, g.shape, g.dtype)];
  });
  return y;
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const abs = (x: Tensor): Tensor => unary("abs", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
export const silu = (x: Tensor): Tensor => unary("silu", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const sin = (x: Tensor): Tensor => unary("sin", x);
export const cos = (x: Tensor): Tensor => unary("cos", x);
export const square = (x: Tensor): Tensor => unary("square", x);

/** GELU; approximate "tanh" is gelu_new / gelu_pytorch_tanh, "none" the exact erf form. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  return unary(approximate === "tanh" ? "gelu_tanh" : "gelu", x);
}

// ---- dtype ----

/** Converts to another dtype (f16/bf16 round-to-nearest-even); float<->float conversions pass gradients. */
export function toDtype(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const data = convert(x.data, x.dtype, dtype);
  return result(data, x.shape, dtype, [x], "to", (g) => [isFloat(x.dtype) ? toDtype(g, x.dtype) : null]);
}

// ---- reductions ----

function reduceShape(shape: Shape, dims: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (dims.includes(i)) {
      if (keepdim) out.push(1);
    } else out.push(d);
  });
  return out;
}

/** Sum over dims (all when omitted). */
export function sum(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const input = isFloat(x.dtype) ? x : toDtype(x, "f32");
  const ds = normalizeDims(dims, input.ndim, "sum");
  let data = input.floatData;
  let cur = [...input.shape];
  for (let k = ds.length - 1; k >= 0; k--) {
    const d = ds[k]!;
    const outer = numel(cur.slice(0, d)), inner = cur[d]!, rest = numel(cur.slice(d + 1));
    const out = allocateUninitialized(input.dtype, outer * rest) as FloatArray;
    getBackend().sumAxis(data, out, outer, inner, rest);
    data = out;
    cur[d] = 1;
  }
  const keepShape = cur;
  const shape = reduceShape(input.shape, ds, keepdim);
  if (ds.length === 0) data = data.slice() as FloatArray;
  return result(data, shape, input.dtype, [input], "sum", (g) => [expand(reshape(g, keepShape), input.shape)]);
}

export function mean(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ds = normalizeDims(dims, x.ndim, "mean");
  let count = 1;
  for (const d of ds) count *= x.shape[d]!;
  return affine(sum(x, ds, keepdim), 1 / count);
}

/** Variance with Bessel's correction by default (torch.var: correction=1). */
export function variance(x: Tensor, dims?: number | readonly number[], options: { keepdim?: boolean; correction?: number } = {}): Tensor {
  const ds = normalizeDims(dims, x.ndim, "var");
  let count = 1;
  for (const d of ds) count *= x.shape[d]!;
  const centered = sub(x, mean(x, ds, true));
  return affine(sum(square(centered), ds, options.keepdim ?? false), 1 / Math.max(0, count - (options.correction ?? 1)));
}

/** Max over one dim with the indices (torch.max(x, dim)); the gradient flows to the first maximal element. */
export function maxDim(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  const input = isFloat(x.dtype) ? x : toDtype(x, "f32");
  const d = normalizeDim(dim, input.ndim, "max");
  const outer = numel(input.shape.slice(0, d)), inner = input.shape[d]!, rest = numel(input.shape.slice(d + 1));
  if (inner === 0) throw new TensorError("max: reduction over an empty dimension");
  const out = allocateUninitialized(input.dtype, outer * rest) as FloatArray;
  const idx = new Int32Array(outer * rest);
  getBackend().maxAxis(input.floatData, out, idx, outer, inner, rest);
  const shape = reduceShape(input.shape, [d], keepdim);
  const values = result(out, shape, input.dtype, [input], "max", (g) => {
    const gx = allocate(g.dtype, input.size) as FloatArray;
    const gd = g.floatData;
    for (let o = 0; o < outer; o++) for (let r = 0; r < rest; r++) gx[(o * inner + idx[o * rest + r]!) * rest + r] = gd[o * rest + r]!;
    return [new Tensor(gx, input.shape, g.dtype)];
  });
  return { values, indices: new Tensor(idx, shape, "i32") };
}

/** Max over dims (all when omitted). */
export function max(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ds = normalizeDims(dims, x.ndim, "max");
  let cur = x;
  for (let k = ds.length - 1; k >= 0; k--) cur = maxDim(cur, ds[k]!, true).values;
  return keepdim ? cur : reshape(cur, reduceShape(x.shape, ds, false));
}

export function argmax(x: Tensor, dim = -1, keepdim = false): Tensor {
  return maxDim(x, dim, keepdim).indices;
}

// ---- softmax ----

function softmaxImpl(x: Tensor, dim: number, log: boolean): Tensor {
  const d = normalizeDim(dim, x.ndim, log ? "logSoftmax" : "softmax");
  if (d !== x.ndim - 1) return transpose(softmaxImpl(transpose(x, d, -1), -1, log), d, -1);
  const cols = x.shape[x.ndim - 1] ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = allocateUninitialized(x.dtype, x.size) as FloatArray;
  getBackend().softmax(x.floatData, out, rows, cols, log);
  return result(out, x.shape, x.dtype, [x], log ? "logSoftmax" : "softmax", (g) => {
    const gi = allocateUninitialized(g.dtype, g.size) as FloatArray;
    getBackend().softmaxBackward(out, g.floatData, gi, rows, cols, log);
    return [new Tensor(gi, x.shape, g.dtype)];
  });
}

export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxImpl(x, dim, false);
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxImpl(x, dim, true);
}

// ---- shape ops ----

/** Reshape sharing storage; one dim may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const infer = shape.length - known.length;
  if (infer > 1) throw new TensorError(`reshape: only one dimension can be -1, got [${shape.join(", ")}]`);
  const knownSize = numel(known);
  const full = shape.map((d) => (d === -1 ? (knownSize === 0 ? 0 : x.size / knownSize) : d));
  if (numel(full) !== x.size || full.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TensorError(`reshape: cannot reshape [${x.shape.join(", ")}] (${x.size} elements) into [${shape.join(", ")}]`);
  }
  if (shapesEqual(full, x.shape)) return x;
  return result(x.data, full, x.dtype, [x], "reshape", (g) => [reshape(g, x.shape)]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim(startDim, x.ndim, "flatten"), e = normalizeDim(endDim, x.ndim, "flatten");
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = dim < 0 ? dim + x.ndim + 1 : dim;
  if (d < 0 || d > x.ndim) throw new TensorError(`unsqueeze: dim ${dim} out of range for ${x.ndim} dims`);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normalizeDim(dim, x.ndim, "squeeze");
  if (x.shape[d] !== 1) return x;
  return reshape(x, [...x.shape.slice(0, d), ...x.shape.slice(d + 1)]);
}

/** Reorders dims (a copy; storage stays contiguous). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new TensorError(`permute: expected ${x.ndim} dims, got [${dims.join(", ")}]`);
  const perm = dims.map((d) => normalizeDim(d, x.ndim, "permute"));
  if (new Set(perm).size !== perm.length) throw new TensorError(`permute: repeated dim in [${dims.join(", ")}]`);
  if (perm.every((p, i) => p === i)) return x;
  const shape = perm.map((p) => x.shape[p]!);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  // Moving only size-1 dims keeps the memory order (a decode step's [B, 1, H, D] -> [B, H, 1, D]): share the data.
  const kept = perm.filter((p) => x.shape[p]! !== 1);
  if (kept.every((p, i) => i === 0 || p > kept[i - 1]!)) return result(x.data, shape, x.dtype, [x], "permute", (g) => [permute(g, inverse)]);
  const out = allocateUninitialized(x.dtype, x.size);
  getBackend().permute(x.data, out, x.shape, perm);
  return result(out, shape, x.dtype, [x], "permute", (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeDim(dim0, x.ndim, "transpose"), b = normalizeDim(dim1, x.ndim, "transpose");
  const perm = Array.from({ length: x.ndim }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Broadcasts to a larger shape (materialized). -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - (shape.length - x.ndim)]! : d));
  const check = broadcastShapes(x.shape, target, "expand");
  if (!shapesEqual(check, target)) throw new TensorError(`expand: cannot expand [${x.shape.join(", ")}] to [${shape.join(", ")}]`);
  if (shapesEqual(x.shape, target)) return x;
  return result(broadcastData(x, target), target, x.dtype, [x], "expand", (g) => [sumToShape(g, x.shape)]);
}

/** Elements start, start+step, … below end along dim (negative start/end count from the end, as in Python). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  const d = normalizeDim(dim, x.ndim, "slice");
  const len = x.shape[d]!;
  if (!Number.isInteger(step) || step < 1) throw new TensorError(`slice: step must be a positive integer, got ${step}`);
  const clamp = (v: number): number => Math.min(len, Math.max(0, v < 0 ? v + len : v));
  const s = clamp(start), e = clamp(end ?? len);
  const count = Math.max(0, Math.ceil((e - s) / step));
  if (s === 0 && count === len && step === 1) return x;
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  const shape = [...x.shape];
  shape[d] = count;
  const out = allocateUninitialized(x.dtype, outer * count * inner);
  const src = x.data;
  // With step 1 each outer index is one contiguous run (one copy instead of `count` small ones).
  const run = step === 1 ? count * inner : inner, runs = step === 1 ? 1 : count;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < runs; i++) {
      const from = (o * len + s + i * step) * inner;
      out.set(src.subarray(from, from + run) as never, (o * count + i) * inner);
    }
  }
  return result(out, shape, x.dtype, [x], "slice", (g) => {
    const gx = allocate(g.dtype, x.size) as FloatArray;
    const gd = g.floatData;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < runs; i++) {
        const to = (o * len + s + i * step) * inner;
        gx.set(gd.subarray((o * count + i) * inner, (o * count + i) * inner + run), to);
      }
    }
    return [new Tensor(gx, x.shape, g.dtype)];
  });
}

/** torch.narrow */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  return slice(x, dim, start, start + length);
}

export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError("concat: expected at least one tensor");
  const first = tensors[0]!;
  const d = normalizeDim(dim, first.ndim, "concat");
  const dtype = tensors.map((t) => t.dtype).reduce(promote);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new TensorError(`concat: shapes [${first.shape.join(", ")}] and [${t.shape.join(", ")}] differ outside dim ${d}`);
    }
  }
  if (tensors.length === 1) return castTo(first, dtype);
  const outer = numel(first.shape.slice(0, d)), inner = numel(first.shape.slice(d + 1));
  const total = tensors.reduce((s, t) => s + t.shape[d]!, 0);
  const shape = [...first.shape];
  shape[d] = total;
  const out = allocateUninitialized(dtype, outer * total * inner);
  let offset = 0;
  const parts = tensors.map((t) => castTo(t, dtype));
  for (const t of parts) {
    const len = t.shape[d]!;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * len * inner, (o + 1) * len * inner) as never, (o * total + offset) * inner);
    offset += len;
  }
  return result(out, shape, dtype, parts, "concat", (g) => {
    let start = 0;
    return parts.map((t) => {
      const piece = slice(g, d, start, start + t.shape[d]!);
      start += t.shape[d]!;
      return piece;
    });
  });
}

export const cat = concat;

/** Splits into chunks of `size` (or the given sizes) along dim, as torch.split. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim(dim, x.ndim, "split");
  const len = x.shape[d]!;
  const list = typeof sizes === "number" ? Array.from({ length: Math.ceil(len / sizes) }, (_, i) => Math.min(sizes, len - i * sizes)) : [...sizes];
  if (list.reduce((a, b) => a + b, 0) !== len) throw new TensorError(`split: sizes [${list.join(", ")}] do not add up to ${len}`);
  let start = 0;
  return list.map((n) => {
    const part = slice(x, d, start, start + n);
    start += n;
    return part;
  });
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const len = x.shape[normalizeDim(dim, x.ndim, "chunk")]!;
  return split(x, Math.ceil(len / chunks), dim);
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError("stack: expected at least one tensor");
  const d = dim < 0 ? dim + tensors[0]!.ndim + 1 : dim;
  return concat(tensors.map((t) => unsqueeze(t, d)), d);
}

// ---- indexing ----

function indexData(index: Tensor, op: string): Int32Array {
  if (index.dtype !== "i32") throw new TensorError(`${op}: index must be an i32 tensor, got ${index.dtype}`);
  return index.data as Int32Array;
}

/** torch.gather: out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normalizeDim(dim, x.ndim, "gather");
  if (index.ndim !== x.ndim) throw new TensorError(`gather: index has ${index.ndim} dims, expected ${x.ndim}`);
  const idx = indexData(index, "gather");
  const xs = stridesOf(x.shape), is = stridesOf(index.shape);
  const out = allocate(x.dtype, index.size);
  const offsets = new Int32Array(index.size);
  for (let n = 0; n < index.size; n++) {
    let rem = n, off = 0;
    for (let k = 0; k < index.ndim; k++) {
      const c = Math.floor(rem / is[k]!);
      rem -= c * is[k]!;
      if (k === d) {
        const v = idx[n]!;
        if (v < 0 || v >= x.shape[d]!) throw new TensorError(`gather: index ${v} out of range for dim ${d} of size ${x.shape[d]}`);
        off += v * xs[k]!;
      } else {
        if (c >= x.shape[k]!) throw new TensorError(`gather: index shape [${index.shape.join(", ")}] exceeds input [${x.shape.join(", ")}] at dim ${k}`);
        off += c * xs[k]!;
      }
    }
    offsets[n] = off;
    out[n] = x.data[off]!;
  }
  return result(out, index.shape, x.dtype, [x], "gather", (g) => {
    const gx = allocate(g.dtype, x.size) as FloatArray;
    const gd = g.floatData;
    for (let n = 0; n < offsets.length; n++) gx[offsets[n]!] += gd[n]!;
    return [new Tensor(gx, x.shape, g.dtype)];
  });
}

/** torch.index_select along dim with a 1-D i32 index. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normalizeDim(dim, x.ndim, "indexSelect");
  const idx = indexData(index, "indexSelect");
  const len = x.shape[d]!;
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  for (const v of idx) if (v < 0 || v >= len) throw new TensorError(`indexSelect: index ${v} out of range for dim ${d} of size ${len}`);
  const shape = [...x.shape];
  shape[d] = idx.length;
  const out = allocate(x.dtype, outer * idx.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < idx.length; i++) {
      const from = (o * len + idx[i]!) * inner;
      out.set(x.data.subarray(from, from + inner) as never, (o * idx.length + i) * inner);
    }
  }
  return result(out, shape, x.dtype, [x], "indexSelect", (g) => {
    const gx = allocate(g.dtype, x.size) as FloatArray;
    const gd = g.floatData;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < idx.length; i++) {
        const to = (o * len + idx[i]!) * inner, from = (o * idx.length + i) * inner;
        for (let j = 0; j < inner; j++) gx[to + j] += gd[from + j]!;
      }
    }
    return [new Tensor(gx, x.shape, g.dtype)];
  });
}

/** Rows of a [num, dim] weight for integer ids of any shape; the row at paddingIdx gets no gradient (as nn.Embedding). */
export function embedding(ids: Tensor, weight: Tensor, paddingIdx: number | null = null): Tensor {
  const idx = indexData(ids, "embedding");
  if (weight.ndim !== 2) throw new TensorError(`embedding: weight must be 2-D, got [${weight.shape.join(", ")}]`);
  const [num, dim] = weight.shape as [number, number];
  for (const v of idx) if (v < 0 || v >= num) throw new TensorError(`embedding: id ${v} out of range for a table of ${num} rows`);
  const out = allocate(weight.dtype, idx.length * dim) as FloatArray;
  getBackend().embedding(weight.floatData, idx, out, dim);
  return result(out, [...ids.shape, dim], weight.dtype, [weight], "embedding", (g) => {
    const gw = allocate(g.dtype, weight.size) as FloatArray;
    const gd = g.floatData;
    for (let i = 0; i < idx.length; i++) {
      const row = idx[i]!;
      if (row === paddingIdx) continue;
      const to = row * dim, from = i * dim;
      for (let j = 0; j < dim; j++) gw[to + j] += gd[from + j]!;
    }
    return [new Tensor(gw, weight.shape, g.dtype)];
  });
}

/** where(cond, a, b): a where cond is non-zero, else b, with broadcasting over all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const ta = typeof a === "number" ? (typeof b === "number" ? scalarLike(a, "f32") : asTensor(a, b)) : a;
  const tb = asTensor(b, ta);
  const dtype = promote(ta.dtype, tb.dtype);
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "where"), tb.shape, "where");
  const c = broadcastData(cond, shape), xa = broadcastData(castTo(ta, dtype), shape), xb = broadcastData(castTo(tb, dtype), shape);
  const out = allocate(dtype, numel(shape));
  for (let i = 0; i < out.length; i++) out[i] = c[i] ? xa[i]! : xb[i]!;
  return result(out, shape, dtype, [ta, tb], "where", (g) => {
    const ga = allocate(g.dtype, g.size) as FloatArray, gb = allocate(g.dtype, g.size) as FloatArray;
    const gd = g.floatData;
    for (let i = 0; i < gd.length; i++) {
      if (c[i]) ga[i] = gd[i]!;
      else gb[i] = gd[i]!;
    }
    return [
      ta.requiresGrad ? sumToShape(new Tensor(ga, shape, g.dtype), ta.shape) : null,
      tb.requiresGrad ? sumToShape(new Tensor(gb, shape, g.dtype), tb.shape) : null,
    ];
  });
}

/** A tensor's data broadcast to `shape` (materialized by adding a broadcast zero; its own data when equal). */
function broadcastData(t: Tensor, shape: readonly number[]): StorageArray {
  if (shapesEqual(t.shape, shape)) return t.data;
  const out = allocate(t.dtype, numel(shape));
  getBackend().binary("add", t.data, broadcastStrides(t.shape, shape), allocate(t.dtype, 1), shape.map(() => 0), out, shape);
  return out;
}

/** Fills value where mask is non-zero (torch.masked_fill). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, scalarLike(value, x.dtype), x);
}

// ---- matmul ----

export interface MatmulOptions {
  /**
   * Writes the product into this tensor (torch.matmul's `out=`) instead of allocating one; it must have the
   * result's shape and dtype, and, as in PyTorch, an op writing into `out` is not recorded for autograd.
   */
  out?: Tensor;
}

/** torch.matmul: 1-D, 2-D and batched (batch dims broadcast). */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new TensorError("matmul: both arguments need at least 1 dimension");
  const target = options.out;
  if (target && isGradEnabled() && (a.requiresGrad || b.requiresGrad)) {
    throw new TensorError("matmul: `out` does not support autograd (an input requires grad); call it inside noGrad() or drop `out`");
  }
  if (a.ndim === 1 || b.ndim === 1) {
    const r = a.ndim === 1 ? squeeze(matmul(unsqueeze(a, 0), b), -2) : squeeze(matmul(a, unsqueeze(b, -1)), -1);
    if (!target) return r;
    checkOut(r.shape, r.dtype, target);
    target.floatData.set(r.floatData);
    return target;
  }
  const dtype = promote(a.dtype, b.dtype);
  if (!isFloat(dtype)) throw new TensorError("matmul: float tensors expected");
  const A = castTo(a, dtype), B = castTo(b, dtype);
  const m = A.shape[A.ndim - 2]!, k = A.shape[A.ndim - 1]!, n = B.shape[B.ndim - 1]!;
  if (B.shape[B.ndim - 2] !== k) {
    throw new TensorError(`matmul: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] do not align (${k} vs ${B.shape[B.ndim - 2]})`);
  }
  const batch = broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2), "matmul");
  const nb = numel(batch);
  const aOff = batchOffsets(A.shape.slice(0, -2), batch, m * k), bOff = batchOffsets(B.shape.slice(0, -2), batch, k * n);
  const cOff = Array.from({ length: nb }, (_, i) => i * m * n);
  if (target) checkOut([...batch, m, n], dtype, target);
  const out = target ? target.floatData : (allocateUninitialized(dtype, nb * m * n) as FloatArray);
  getBackend().gemm(A.floatData, B.floatData, out, m, n, k, false, false, false, aOff, bOff, cOff);
  if (target) return target;
  return result(out, [...batch, m, n], dtype, [A, B], "matmul", (g) => {
    const gd = g.floatData;
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (A.requiresGrad) {
      const gad = allocate(dtype, A.size) as FloatArray;
      getBackend().gemm(gd, B.floatData, gad, m, k, n, false, true, true, cOff, bOff, aOff);
      ga = new Tensor(gad, A.shape, dtype);
    }
    if (B.requiresGrad) {
      const gbd = allocate(dtype, B.size) as FloatArray;
      getBackend().gemm(A.floatData, gd, gbd, k, n, m, true, false, true, aOff, cOff, bOff);
      gb = new Tensor(gbd, B.shape, dtype);
    }
    return [ga, gb];
  });
}

function checkOut(shape: Shape, dtype: DType, out: Tensor): void {
  if (!shapesEqual(out.shape, shape) || out.dtype !== dtype) {
    throw new TensorError(`matmul: out is [${out.shape.join(", ")}] ${out.dtype}, the result is [${shape.join(", ")}] ${dtype}`);
  }
}

/** Offsets of each broadcast batch's matrix inside a tensor whose batch shape is `own`. */
function batchOffsets(own: Shape, batch: Shape, matrixSize: number): number[] {
  const nb = numel(batch);
  const strides = broadcastStrides(own, batch);
  const out = new Array<number>(nb);
  for (let i = 0; i < nb; i++) {
    let rem = i, off = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      const c = rem % batch[d]!;
      rem = Math.floor(rem / batch[d]!);
      off += c * strides[d]!;
    }
    out[i] = off * matrixSize;
  }
  return out;
}

/** y = x · weightᵀ + bias with weight [out, in] as in nn.Linear; x may have any leading dims. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return biasedMatmul(x, weight, bias, true, "linear");
}

/**
 * bias + mat1 · mat2 (torch.addmm with beta = alpha = 1) for mat1 [m, k], mat2 [k, n] and a bias of n values
 * (GPT-2's Conv1D); one op, so the bias is added inside the product instead of in a second pass.
 */
export function addmm(bias: Tensor, mat1: Tensor, mat2: Tensor): Tensor {
  if (mat1.ndim !== 2 || mat2.ndim !== 2) throw new TensorError(`addmm: mat1 and mat2 must be 2-D, got [${mat1.shape.join(", ")}] and [${mat2.shape.join(", ")}]`);
  if (bias.size !== mat2.shape[1]) throw new TensorError(`addmm: bias [${bias.shape.join(", ")}] must hold ${mat2.shape[1]} values (mat2's columns)`);
  return biasedMatmul(mat1, mat2, bias, false, "addmm");
}

/** x · W (+ bias) with W [out, in] when `transposed` (nn.Linear) or [in, out] (addmm); x may have leading dims. */
function biasedMatmul(x: Tensor, weight: Tensor, bias: Tensor | null, transposed: boolean, name: string): Tensor {
  const inF = weight.shape[transposed ? 1 : 0]!, outF = weight.shape[transposed ? 0 : 1]!;
  if (x.shape[x.ndim - 1] !== inF) {
    throw new TensorError(`${name}: input has ${x.shape[x.ndim - 1]} features, weight expects ${inF} ([${weight.shape.join(", ")}])`);
  }
  const dtype = promote(x.dtype, weight.dtype);
  const X = castTo(x, dtype), W = castTo(weight, dtype), Bv = bias && castTo(bias, dtype);
  const rows = X.size / inF;
  const out = allocateUninitialized(dtype, rows * outF) as FloatArray;
  const be = getBackend();
  // One row (decoding): start from the bias and accumulate the product into it.
  const seeded = Bv !== null && rows === 1;
  if (seeded) out.set(Bv.floatData);
  be.gemm(X.floatData, W.floatData, out, rows, outF, inF, false, transposed, seeded, [0], [0], [0]);
  if (Bv && !seeded) be.binary("add", out, [outF, 1], Bv.floatData, [0, 1], out, [rows, outF]);
  const inputs = Bv ? [X, W, Bv] : [X, W];
  return result(out, [...X.shape.slice(0, -1), outF], dtype, inputs, name, (g) => {
    const gd = g.floatData;
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (X.requiresGrad) {
      const d = allocateUninitialized(dtype, X.size) as FloatArray;
      be.gemm(gd, W.floatData, d, rows, inF, outF, false, !transposed, false, [0], [0], [0]);
      gx = new Tensor(d, X.shape, dtype);
    }
    if (W.requiresGrad) {
      const d = allocateUninitialized(dtype, W.size) as FloatArray;
      if (transposed) be.gemm(gd, X.floatData, d, outF, inF, rows, true, false, false, [0], [0], [0]);
      else be.gemm(X.floatData, gd, d, inF, outF, rows, true, false, false, [0], [0], [0]);
      gw = new Tensor(d, W.shape, dtype);
    }
    if (Bv?.requiresGrad) {
      const d = allocateUninitialized(dtype, outF) as FloatArray;
      be.sumAxis(gd, d, 1, rows, outF);
      gb = new Tensor(d, Bv.shape, dtype);
    }
    return [gx, gw, gb];
  });
}

/**
 * softmax(q·kᵀ·scale + mask)·v as one backend kernel, for q [B, H, T, D] and k, v [B, Hkv, S, D]; softcap > 0 caps
 * the scores as cap · tanh(scores / cap) before the mask, and dropout > 0 drops probabilities (drawn from
 * `generator` in the order dropout(softmax(...)) draws them). With a gradient to record it runs the backend's
 * training kernel, which keeps only the output and each row's softmax statistics and recomputes the rest in backward.
 * A mask may take a gradient (T5's learned position bias enters as the mask). Returns null when the backend has no
 * such kernel, the inputs are not f32, or a gradient flows through a KV cache's storage (kvLength short of its
 * capacity): callers then use the composed ops.
 */
export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number, softcap = 0, kvLength?: number,
  dropout = 0, generator?: Generator): Tensor | null {
  const be = getBackend();
  if ([q, k, v, mask].some((t) => t && t.dtype !== "f32") || q.ndim !== 4 || k.ndim !== 4 || (mask && mask.ndim > 4)) return null;
  const [b, h, t, d] = q.shape as [number, number, number, number];
  const [kb, hkv, capacity, kd] = k.shape as [number, number, number, number];
  if (kb !== b || kd !== d || hkv === 0 || h % hkv !== 0 || !shapesEqual(v.shape, k.shape)) return null;
  const s = kvLength ?? capacity;
  if (!Number.isInteger(s) || s < 0 || s > capacity) throw new TensorError(`attention: kvLength ${s} must be an integer in [0, ${capacity}]`);
  if (dropout < 0 || dropout > 1) throw new TensorError(`attention: dropout must be in [0, 1], got ${dropout}`);
  const needsGrad = isGradEnabled() && [q, k, v, mask].some((x) => x?.requiresGrad);
  const maskStrides = mask ? attentionMaskStrides(mask, [b, h, t, s]) : null;
  if (!needsGrad && dropout === 0) {
    if (!be.attention) return null;
    const out = new Float32Array(q.size);
    be.attention(q.floatData, k.floatData, v.floatData, mask ? mask.floatData : null, maskStrides, out, b, h, hkv, t, s, d, scale, softcap, capacity);
    return new Tensor(out, q.shape, "f32");
  }
  if (!be.attentionForward || !be.attentionBackward || s !== capacity) return null;
  const inputs: AttentionInputs = {
    q: q.floatData as Float32Array, k: k.floatData as Float32Array, v: v.floatData as Float32Array,
    mask: mask ? (mask.floatData as Float32Array) : null, maskStrides, keep: dropout > 0 ? keepBits(generator ?? getDefaultGenerator(), dropout, b * h * t * s) : null,
  };
  const shape: AttentionShape = {
    batch: b, heads: h, kvHeads: hkv, queryLength: t, keyLength: s, headDim: d, scale, softcap, dropScale: dropout === 1 ? 0 : 1 / (1 - dropout),
  };
  const out = allocateUninitialized("f32", q.size) as Float32Array;
  const stats = new Float32Array(2 * b * h * t);
  be.attentionForward(inputs, shape, out, stats);
  const backward = be.attentionBackward.bind(be);
  const maskGrad = mask?.requiresGrad ? mask : null;
  return result(out, q.shape, "f32", maskGrad ? [q, k, v, maskGrad] : [q, k, v], "scaledDotProductAttention", (g) => {
    const dq = allocateUninitialized("f32", q.size) as Float32Array;
    const dk = allocateUninitialized("f32", k.size) as Float32Array, dv = allocateUninitialized("f32", v.size) as Float32Array;
    const dMask = maskGrad ? (allocateUninitialized("f32", b * h * t * s) as Float32Array) : null;
    backward(inputs, shape, out, stats, g.floatData as Float32Array, dq, dk, dv, dMask);
    const grads = [new Tensor(dq, q.shape, "f32"), new Tensor(dk, k.shape, "f32"), new Tensor(dv, v.shape, "f32")];
    return maskGrad ? [...grads, sumToShape(new Tensor(dMask!, [b, h, t, s], "f32"), maskGrad.shape)] : grads;
  });
}

/** Strides that read an additive attention mask as the scores [B, H, T, S] (0 where it broadcasts). */
export function attentionMaskStrides(mask: Tensor, scores: readonly number[]): number[] {
  if (!shapesEqual(broadcastShapes(mask.shape, scores, "attention mask"), scores)) {
    throw new TensorError(`attention: mask [${mask.shape.join(", ")}] does not broadcast to scores [${scores.join(", ")}]`);
  }
  return broadcastStrides(mask.shape, scores);
}

// ---- normalization ----

const normScratchBuffers: Record<string, FloatArray[]> = {};
function normScratch(dtype: DType, rows: number, which: 0 | 1): FloatArray {
  const bufs = (normScratchBuffers[dtype] ??= []);
  if ((bufs[which]?.length ?? 0) < rows) bufs[which] = allocate(dtype, Math.max(rows, 256)) as FloatArray;
  return bufs[which]!.subarray(0, rows);
}

function normImpl(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, rms: boolean, weightOffset: number): Tensor {
  const cols = x.shape[x.ndim - 1]!;
  const rows = x.size / cols;
  for (const p of [weight, bias]) {
    if (p && (p.ndim !== 1 || p.shape[0] !== cols)) throw new TensorError(`${rms ? "rmsNorm" : "layerNorm"}: parameter shape [${p.shape.join(", ")}] does not match normalized size ${cols}`);
  }
  const dtype = x.dtype;
  const W = weight ? castTo(weight, dtype) : null, Bv = bias ? castTo(bias, dtype) : null;
  const inputs = [x, ...(W ? [W] : []), ...(Bv ? [Bv] : [])];
  const out = allocateUninitialized(dtype, x.size) as FloatArray;
  // The row statistics are kept only for backward; without it they go to a reused scratch buffer.
  const keep = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const meanA = keep ? (allocate(dtype, rows) as FloatArray) : normScratch(dtype, rows, 0);
  const rstd = keep ? (allocate(dtype, rows) as FloatArray) : normScratch(dtype, rows, 1);
  const be = getBackend();
  be.norm(x.floatData, W?.floatData ?? null, Bv?.floatData ?? null, out, meanA, rstd, rows, cols, eps, rms, weightOffset);
  return result(out, x.shape, dtype, inputs, rms ? "rmsNorm" : "layerNorm", (g) => {
    const dx = allocateUninitialized(dtype, x.size) as FloatArray;
    const dw = W?.requiresGrad ? (allocate(dtype, cols) as FloatArray) : null;
    const db = Bv?.requiresGrad ? (allocate(dtype, cols) as FloatArray) : null;
    be.normBackward(x.floatData, W?.floatData ?? null, g.floatData, meanA, rstd, dx, dw, db, rows, cols, rms, weightOffset);
    const grads: (Tensor | null)[] = [new Tensor(dx, x.shape, dtype)];
    if (W) grads.push(dw ? new Tensor(dw, W.shape, dtype) : null);
    if (Bv) grads.push(db ? new Tensor(db, Bv.shape, dtype) : null);
    return grads;
  });
}

/** Layer norm over the last dim (nn.functional.layer_norm with normalized_shape = last dim). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  return normImpl(x, weight, bias, eps, false, 0);
}

/** RMS norm over the last dim: x / sqrt(mean(x²) + eps) * (weight + weightOffset); Gemma uses offset 1. */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6, weightOffset = 0): Tensor {
  return normImpl(x, weight, null, eps, true, weightOffset);
}

// ---- dropout ----

/** Inverted dropout with a seeded generator; identity when not training or p = 0. */
export function dropout(x: Tensor, p: number, training: boolean, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new TensorError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const g = generator ?? getDefaultGenerator();
  const mask = allocateUninitialized(x.dtype, x.size) as FloatArray;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const be = getBackend();
  // drawn in the backend when it can (the same bits): the TypeScript loop was 7% of a training step's time
  if (be.dropoutMask && mask instanceof Float32Array) g.advance((state) => be.dropoutMask!(state, p, scale, mask));
  else for (let i = 0; i < mask.length; i++) mask[i] = g.random() >= p ? scale : 0;
  return mul(x, new Tensor(mask, x.shape, x.dtype));
}

/** Dropout's keep decisions for n elements as bits (bit i set when kept), drawn as dropout() draws its mask. */
function keepBits(g: Generator, p: number, n: number): Uint32Array {
  const bits = new Uint32Array(Math.ceil(n / 32));
  const be = getBackend();
  if (be.dropoutBits) g.advance((state) => be.dropoutBits!(state, p, bits, n));
  else for (let i = 0; i < n; i++) if (g.random() >= p) bits[i >>> 5]! |= 1 << (i & 31);
  return bits;
}

// ---- losses ----

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: "mean" | "sum" | "none";
}

/**
 * Cross-entropy between logits [N, C] (or [..., C]) and integer targets [N] (or [...]), as
 * torch.nn.functional.cross_entropy: targets equal to ignoreIndex (-100) count for nothing, and label
 * smoothing ε mixes the one-hot target with the uniform distribution: (1-ε)·nll + ε·mean_c(-log p_c).
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const eps = options.labelSmoothing ?? 0;
  const reduction = options.reduction ?? "mean";
  const C = logits.shape[logits.ndim - 1]!;
  const N = logits.size / C;
  const t = indexData(target, "crossEntropy");
  if (t.length !== N) throw new TensorError(`crossEntropy: ${N} rows of logits but ${t.length} targets`);
  const dtype = logits.dtype;
  const lsm = allocateUninitialized(dtype, logits.size) as FloatArray;
  const be = getBackend();
  be.softmax(logits.floatData, lsm, N, C, true);
  const perRow = allocate(dtype, N) as FloatArray;
  let count = 0;
  for (let i = 0; i < N; i++) {
    const y = t[i]!;
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= C) throw new TensorError(`crossEntropy: target ${y} out of range for ${C} classes`);
    count++;
    let loss = -(1 - eps) * lsm[i * C + y]!;
    if (eps > 0) {
      let s = 0;
      for (let c = 0; c < C; c++) s += lsm[i * C + c]!;
      loss -= (eps * s) / C;
    }
    perRow[i] = loss;
  }
  let outData: FloatArray;
  let shape: number[];
  if (reduction === "none") {
    outData = perRow;
    shape = [...target.shape];
  } else {
    let s = 0;
    for (let i = 0; i < N; i++) s += perRow[i]!;
    outData = allocate(dtype, 1) as FloatArray;
    outData[0] = reduction === "mean" ? s / count : s; // mean over zero targets is NaN, as in torch
    shape = [];
  }
  return result(outData, shape, dtype, [logits], "crossEntropy", (g) => {
    // scale · (softmax − target), target = (1−ε)·onehot + ε/C, with the N×C work in backend kernels.
    const gd = g.floatData;
    const gl = allocateUninitialized(dtype, logits.size) as FloatArray;
    be.unary("exp", lsm, gl);
    const uniform = reduction !== "none";
    const scaleOf = (i: number): number => (reduction === "none" ? gd[i]! : reduction === "mean" ? gd[0]! / count : gd[0]!);
    if (uniform) be.affine(gl, scaleOf(0), (-scaleOf(0) * eps) / C, gl);
    for (let i = 0; i < N; i++) {
      const y = t[i]!;
      if (y === ignoreIndex) {
        gl.fill(0, i * C, (i + 1) * C);
        continue;
      }
      const scale = scaleOf(i);
      if (!uniform) {
        const row = gl.subarray(i * C, (i + 1) * C);
        be.affine(row, scale, (-scale * eps) / C, row);
      }
      gl[i * C + y] -= scale * (1 - eps);
    }
    return [new Tensor(gl, logits.shape, dtype)];
  });
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits: per element max(x, 0) − x·y + log(1 + e^(−|x|)),
 * the form that stays finite for large |x|. Targets are probabilities with the logits' shape and get no
 * gradient (the logits get sigmoid(x) − y).
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, options: { reduction?: "mean" | "sum" | "none" } = {}): Tensor {
  if (!shapesEqual(logits.shape, target.shape)) {
    throw new TensorError(`binaryCrossEntropyWithLogits: logits [${logits.shape.join(", ")}] and targets [${target.shape.join(", ")}] must have the same shape`);
  }
  const reduction = options.reduction ?? "mean";
  const dtype = logits.dtype;
  const x = logits.floatData;
  const y = target.data as ArrayLike<number>;
  const n = x.length;
  const perElement = allocate(dtype, n) as FloatArray;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    perElement[i] = Math.max(xi, 0) - xi * y[i]! + Math.log1p(Math.exp(-Math.abs(xi)));
    total += perElement[i]!;
  }
  let outData: FloatArray;
  if (reduction === "none") outData = perElement;
  else {
    outData = allocate(dtype, 1) as FloatArray;
    outData[0] = reduction === "mean" ? total / n : total;
  }
  return result(outData, reduction === "none" ? [...logits.shape] : [], dtype, [logits], "binaryCrossEntropyWithLogits", (g) => {
    const gd = g.floatData;
    const gl = allocate(dtype, n) as FloatArray;
    for (let i = 0; i < n; i++) {
      const scale = reduction === "none" ? gd[i]! : reduction === "mean" ? gd[0]! / n : gd[0]!;
      gl[i] = scale * (1 / (1 + Math.exp(-x[i]!)) - y[i]!);
    }
    return [new Tensor(gl, logits.shape, dtype)];
  });
}

// ---- attention masks ----

/**
 * Additive causal mask [q, k]: 0 where key j is visible from query i (j <= i + offset), -Infinity elsewhere.
 * offset = k - q lines the last query up with the last key (decoding with a cache).
 */
export function causalMask(queryLength: number, keyLength = queryLength, options: { dtype?: "f32" | "f64"; slidingWindow?: number } = {}): Tensor {
  const out = allocate(options.dtype ?? "f32", queryLength * keyLength);
  const offset = keyLength - queryLength;
  const w = options.slidingWindow;
  for (let i = 0; i < queryLength; i++) {
    for (let j = 0; j < keyLength; j++) {
      const visible = j <= i + offset && (w === undefined || i + offset - j < w);
      out[i * keyLength + j] = visible ? 0 : -Infinity;
    }
  }
  return new Tensor(out, [queryLength, keyLength], options.dtype ?? "f32");
}

/** Additive padding mask [batch, 1, 1, keys] from an attention mask of 1 (attend) / 0 (pad). */
export function paddingMask(attentionMask: Tensor, dtype: "f32" | "f64" = "f32"): Tensor {
  if (attentionMask.ndim !== 2) throw new TensorError(`paddingMask: attention mask must be [batch, seq], got [${attentionMask.shape.join(", ")}]`);
  const [b, s] = attentionMask.shape as [number, number];
  const out = allocate(dtype, b * s);
  for (let i = 0; i < out.length; i++) out[i] = attentionMask.data[i] ? 0 : -Infinity;
  return new Tensor(out, [b, 1, 1, s], dtype);
}


