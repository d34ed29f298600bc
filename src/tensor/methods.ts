/**
 * Method-style access to the ops (x.add(y).relu()), as in PyTorch. The ops themselves live in ops.ts;
 * this file only attaches them to Tensor.prototype.
 */
import type { DType } from "./dtype.js";
import * as ops from "./ops.js";
import { Tensor } from "./tensor.js";

type TensorLike = ops.TensorLike;

declare module "./tensor.js" {
  interface Tensor {
    add(other: TensorLike): Tensor;
    sub(other: TensorLike): Tensor;
    mul(other: TensorLike): Tensor;
    div(other: TensorLike): Tensor;
    pow(exponent: TensorLike): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    tanh(): Tensor;
    abs(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    sigmoid(): Tensor;
    gelu(approximate?: "none" | "tanh"): Tensor;
    matmul(other: Tensor): Tensor;
    sum(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    mean(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    max(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    var(dims?: number | readonly number[], options?: { keepdim?: boolean; correction?: number }): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
    reshape(...shape: number[]): Tensor;
    view(...shape: number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    squeeze(dim?: number): Tensor;
    permute(...dims: number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    expand(...shape: number[]): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    split(sizes: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    gather(dim: number, index: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    to(dtype: DType): Tensor;
    float(): Tensor;
    contiguous(): Tensor;
  }
}

const proto = Tensor.prototype;
proto.add = function (o) { return ops.add(this, o); };
proto.sub = function (o) { return ops.sub(this, o); };
proto.mul = function (o) { return ops.mul(this, o); };
proto.div = function (o) { return ops.div(this, o); };
proto.pow = function (e) { return ops.pow(this, e); };
proto.neg = function () { return ops.neg(this); };
proto.exp = function () { return ops.exp(this); };
proto.log = function () { return ops.log(this); };
proto.sqrt = function () { return ops.sqrt(this); };
proto.rsqrt = function () { return ops.rsqrt(this); };
proto.tanh = function () { return ops.tanh(this); };
proto.abs = function () { return ops.abs(this); };
proto.relu = function () { return ops.relu(this); };
proto.silu = function () { return ops.silu(this); };
proto.sigmoid = function () { return ops.sigmoid(this); };
proto.gelu = function (approximate) { return ops.gelu(this, approximate); };
proto.matmul = function (o) { return ops.matmul(this, o); };
proto.sum = function (dims, keepdim) { return ops.sum(this, dims, keepdim); };
proto.mean = function (dims, keepdim) { return ops.mean(this, dims, keepdim); };
proto.max = function (dims, keepdim) { return ops.max(this, dims, keepdim); };
proto.var = function (dims, options) { return ops.variance(this, dims, options); };
proto.argmax = function (dim, keepdim) { return ops.argmax(this, dim, keepdim); };
proto.softmax = function (dim) { return ops.softmax(this, dim); };
proto.logSoftmax = function (dim) { return ops.logSoftmax(this, dim); };
proto.reshape = function (...shape) { return ops.reshape(this, shape); };
proto.view = function (...shape) { return ops.reshape(this, shape); };
proto.flatten = function (s, e) { return ops.flatten(this, s, e); };
proto.unsqueeze = function (d) { return ops.unsqueeze(this, d); };
proto.squeeze = function (d) { return ops.squeeze(this, d); };
proto.permute = function (...dims) { return ops.permute(this, dims); };
proto.transpose = function (a, b) { return ops.transpose(this, a, b); };
proto.expand = function (...shape) { return ops.expand(this, shape); };
proto.slice = function (dim, start, end, step) { return ops.slice(this, dim, start, end, step); };
proto.narrow = function (dim, start, length) { return ops.narrow(this, dim, start, length); };
proto.split = function (sizes, dim) { return ops.split(this, sizes, dim); };
proto.chunk = function (chunks, dim) { return ops.chunk(this, chunks, dim); };
proto.gather = function (dim, index) { return ops.gather(this, dim, index); };
proto.indexSelect = function (dim, index) { return ops.indexSelect(this, dim, index); };
proto.maskedFill = function (mask, value) { return ops.maskedFill(this, mask, value); };
proto.to = function (dtype) { return ops.toDtype(this, dtype); };
proto.float = function () { return ops.toDtype(this, "f32"); };
proto.contiguous = function () { return this; };
