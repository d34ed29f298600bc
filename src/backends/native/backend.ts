import type { AttentionInputs, AttentionShape, Backend, BinaryOp, UnaryOp } from "../backend.js";
import { jsBackend } from "../js/index.js";
import type { FloatArray, StorageArray } from "../../tensor/dtype.js";
import { BackendError } from "./errors.js";
import type { NativeAddon } from "./loader.js";

// Op codes: the order of the enums in native/kernels.h.
const UNARY: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, abs: 6, relu: 7, silu: 8, gelu: 9, gelu_tanh: 10, sigmoid: 11, sin: 12, cos: 13,
  square: 14, reciprocal: 15,
};
const BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6, eq: 7, gt: 8, lt: 9 };

const ZERO = new Float64Array([0]);

function offsets(o: ArrayLike<number>): Float64Array {
  if (o instanceof Float64Array) return o;
  if (o.length === 1 && o[0] === 0) return ZERO;
  return Float64Array.from(o);
}

const f32 = (x: StorageArray | null): x is Float32Array => x instanceof Float32Array;

// The addon's argument order: operands and dropScale first, then the arrays each call writes, then the shape.
const attentionOperands = (x: AttentionInputs, s: AttentionShape) =>
  [x.q, x.k, x.v, x.mask, x.maskStrides ? Float64Array.from(x.maskStrides) : null, x.keep, s.dropScale] as const;
const attentionDims = (s: AttentionShape) =>
  [s.batch, s.heads, s.kvHeads, s.queryLength, s.keyLength, s.headDim, s.scale, s.softcap] as const;

/**
 * The Backend over the compiled kernels. f32 runs natively; f64 (used for exact gradient checks) and integer
 * storage go to the TypeScript kernels, which define the contract. Any build of native/ can back one (bench/ab-decode.ts
 * times two builds in one process); users get index.ts's nativeBackend(), over the build `npm install` made.
 */
export function createNativeBackend(n: NativeAddon): Backend {
  return {
    name: "native",
    gemm(a, b, c, m, nn, k, transA, transB, accumulate, aOff, bOff, cOff) {
      if (!f32(a) || !f32(b) || !f32(c)) return jsBackend.gemm(a, b, c, m, nn, k, transA, transB, accumulate, aOff, bOff, cOff);
      n.gemm(a, b, c, m, nn, k, transA, transB, accumulate, offsets(aOff), offsets(bOff), offsets(cOff));
    },
    unary(op, x, out) {
      if (!f32(x) || !f32(out)) return jsBackend.unary(op, x, out);
      n.unary(UNARY[op], x, out);
    },
    unaryBackward(op, x, y, g, out) {
      if (!f32(x) || !f32(y) || !f32(g) || !f32(out)) return jsBackend.unaryBackward(op, x, y, g, out);
      n.unaryBackward(UNARY[op], x, y, g, out);
    },
    powScalar(x, p, out) {
      if (!f32(x) || !f32(out)) return jsBackend.powScalar(x, p, out);
      n.powScalar(x, p, out);
    },
    affine(x, scale, shift, out) {
      if (!f32(x) || !f32(out)) return jsBackend.affine(x, scale, shift, out);
      n.affine(x, scale, shift, out);
    },
    binary(op, a, aStrides, b, bStrides, out, outShape) {
      const nd = outShape.length;
      if (!f32(a) || !f32(b) || !f32(out) || nd > 16) return jsBackend.binary(op, a, aStrides, b, bStrides, out, outShape);
      const meta = new Float64Array(1 + 3 * nd);
      meta[0] = nd;
      for (let i = 0; i < nd; i++) {
        meta[1 + i] = outShape[i]!;
        meta[1 + nd + i] = aStrides[i]!;
        meta[1 + 2 * nd + i] = bStrides[i]!;
      }
      n.binary(BINARY[op], a, b, out, meta);
    },
    sumAxis(x, out, outer, inner, rest) {
      if (!f32(x) || !f32(out)) return jsBackend.sumAxis(x, out, outer, inner, rest);
      n.sumAxis(x, out, outer, inner, rest);
    },
    maxAxis(x, out, indices, outer, inner, rest) {
      if (!f32(x) || !f32(out)) return jsBackend.maxAxis(x, out, indices, outer, inner, rest);
      n.maxAxis(x, out, indices, outer, inner, rest);
    },
    softmax(x, out, rows, cols, log) {
      if (!f32(x) || !f32(out)) return jsBackend.softmax(x, out, rows, cols, log);
      n.softmax(x, out, rows, cols, log);
    },
    softmaxBackward(y, g, out, rows, cols, log) {
      if (!f32(y) || !f32(g) || !f32(out)) return jsBackend.softmaxBackward(y, g, out, rows, cols, log);
      n.softmaxBackward(y, g, out, rows, cols, log);
    },
    norm(x, w, b, out, mean, rstd, rows, cols, eps, rms, wOff) {
      if (!f32(x) || !f32(out) || !f32(mean) || !f32(rstd) || (w && !f32(w)) || (b && !f32(b))) {
        return jsBackend.norm(x, w, b, out, mean, rstd, rows, cols, eps, rms, wOff);
      }
      n.norm(x, w as Float32Array | null, b as Float32Array | null, out, mean, rstd, rows, cols, eps, rms, wOff);
    },
    normBackward(x, w, g, mean, rstd, dx, dw, db, rows, cols, rms, wOff) {
      if (!f32(x) || !f32(g) || !f32(mean) || !f32(rstd) || !f32(dx) || (w && !f32(w)) || (dw && !f32(dw)) || (db && !f32(db))) {
        return jsBackend.normBackward(x, w, g, mean, rstd, dx, dw, db, rows, cols, rms, wOff);
      }
      n.normBackward(x, w as Float32Array | null, g, mean, rstd, dx, dw as Float32Array | null, db as Float32Array | null, rows, cols, rms, wOff);
    },
    permute(x, out, shape, perm) {
      if (shape.length > 16 || x.constructor !== out.constructor) return jsBackend.permute(x, out, shape, perm);
      n.permute(x, out, Float64Array.from(shape), Float64Array.from(perm));
    },
    embedding(table, ids, out, dim) {
      if (!f32(table) || !f32(out)) return jsBackend.embedding(table, ids, out, dim);
      n.embedding(table, ids, out, dim);
    },
    adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) {
      if (!f32(param) || !f32(grad) || !f32(m) || !f32(v)) return jsBackend.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
      n.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
    },
    dropoutMask(state, p, scale, out) {
      if (!f32(out)) throw new BackendError("native dropoutMask: out must be a Float32Array (f64 masks are drawn in TypeScript)");
      n.dropoutMask(state, p, scale, out);
    },
    dropoutBits(state, p, out, count) {
      n.dropoutBits(state, p, out, count);
    },
    attentionForward(x, s, out, stats) {
      n.attentionTrainForward(...attentionOperands(x, s), out, stats, ...attentionDims(s));
    },
    attentionBackward(x, s, out, stats, gOut, dq, dk, dv, dMask) {
      n.attentionTrainBackward(...attentionOperands(x, s), out, stats, gOut, dq, dk, dv, dMask, ...attentionDims(s));
    },
    attention(q, k, v, mask, maskStrides, out, batch, heads, kvHeads, queryLength, keyLength, headDim, scale, softcap, kvCapacity) {
      if (!f32(q) || !f32(k) || !f32(v) || !f32(out) || (mask && !f32(mask))) {
        throw new BackendError("native attention: q, k, v, mask and out must be Float32Array (f64 goes through the composed ops)");
      }
      n.attention(q, k, v, mask as Float32Array | null, maskStrides ? Float64Array.from(maskStrides) : null, out,
        batch, heads, kvHeads, queryLength, keyLength, headDim, scale, softcap, kvCapacity ?? keyLength);
    },
    preNormBlock(w, x, keyCache, valueCache, mask, maskStrides, s) {
      const arrays = [w.ln1Weight, w.ln1Bias, w.qkvWeight, w.qkvBias, w.projWeight, w.projBias, w.ln2Weight, w.ln2Bias, w.fcWeight, w.fcBias,
        w.fc2Weight, w.fc2Bias, x, keyCache, valueCache];
      if (!arrays.every(f32) || (mask && !f32(mask))) throw new BackendError("native preNormBlock: weights, x, caches and mask must be Float32Array");
      n.preNormBlock(...(arrays as Float32Array[]), mask as Float32Array | null, maskStrides ? Float64Array.from(maskStrides) : null,
        s.batch, s.queryLength, s.capacity, s.past, s.embed, s.heads, s.inner, s.eps, s.scale, UNARY[s.activation]);
    },
    llamaBlock(w, x, keyCache, valueCache, cos, sin, mask, maskStrides, s) {
      const weights = [w.inputLayernorm, w.qProj, w.qProjBias, w.kProj, w.kProjBias, w.vProj, w.vProjBias, w.oProj, w.oProjBias, w.qNorm,
        w.kNorm, w.postAttentionLayernorm, w.preFeedforwardLayernorm, w.postFeedforwardLayernorm, w.gateProj, w.gateProjBias, w.upProj,
        w.upProjBias, w.downProj, w.downProjBias];
      const arrays = [x, keyCache, valueCache, cos, sin];
      if (!weights.every((a) => a === null || f32(a)) || !arrays.every(f32) || (mask && !f32(mask))) {
        throw new BackendError("native llamaBlock: weights, x, caches, cos/sin and mask must be Float32Array");
      }
      const dims = Float64Array.of(s.batch, s.queryLength, s.capacity, s.past, s.cosBatch, s.hidden, s.heads, s.kvHeads, s.headDim, s.inner,
        s.eps, s.normOffset, s.scale, s.softcap, UNARY[s.activation]);
      n.llamaBlock(...(weights as (Float32Array | null)[]), ...(arrays as Float32Array[]), mask as Float32Array | null,
        maskStrides ? Float64Array.from(maskStrides) : null, dims);
    },
  };
}
