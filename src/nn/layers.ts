import { Tensor, zeros, ones } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import { Generator, getDefaultGenerator } from "../utils/rng.js";
import { Module, Parameter } from "./module.js";
import * as init from "./init.js";

export interface LayerOptions {
  dtype?: "f32" | "f64";
  generator?: Generator;
}

/** y = x·Wᵀ + b with W [out, in], initialized as torch.nn.Linear (kaiming-uniform, bound 1/sqrt(in)). */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    const g = options.generator ?? getDefaultGenerator();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = new Parameter(init.uniform([outFeatures, inFeatures], -bound, bound, g, options.dtype));
    this.bias = options.bias ?? true ? new Parameter(init.uniform([outFeatures], -bound, bound, g, options.dtype)) : null;
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** A lookup table of num × dim vectors; the row at paddingIdx starts at zero and gets no gradient. */
export class Embedding extends Module {
  weight: Parameter;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly paddingIdx: number | null = null, options: LayerOptions = {}) {
    super();
    const w = init.normal([numEmbeddings, embeddingDim], 0, 1, options.generator ?? getDefaultGenerator(), options.dtype);
    if (paddingIdx !== null) w.floatData.fill(0, paddingIdx * embeddingDim, (paddingIdx + 1) * embeddingDim);
    this.weight = new Parameter(w);
  }

  forward(ids: Tensor): Tensor {
    return F.embedding(ids, this.weight, this.paddingIdx);
  }
}

export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(readonly normalizedShape: number, readonly eps = 1e-5, options: LayerOptions & { elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones([normalizedShape], { dtype: options.dtype })) : null;
    this.bias = affine && (options.bias ?? true) ? new Parameter(zeros([normalizedShape], { dtype: options.dtype })) : null;
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** RMS norm; weightOffset 1 gives Gemma's (1 + weight) scaling with weights initialized at zero. */
export class RMSNorm extends Module {
  weight: Parameter;

  constructor(readonly normalizedShape: number, readonly eps = 1e-6, readonly weightOffset = 0, options: LayerOptions = {}) {
    super();
    this.weight = new Parameter(weightOffset === 0 ? ones([normalizedShape], { dtype: options.dtype }) : zeros([normalizedShape], { dtype: options.dtype }));
  }

  forward(x: Tensor): Tensor {
    return F.rmsNorm(x, this.weight, this.eps, this.weightOffset);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5, private readonly _generator?: Generator) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training, this._generator);
  }
}
