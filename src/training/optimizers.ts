import { LmforgeError } from "../errors.js";
import { getBackend } from "../backends/index.js";
import { allocate, type FloatArray } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";

export class OptimizerError extends LmforgeError {}

function checkHyper(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok || Number.isNaN(value)) throw new OptimizerError(`invalid ${name}: ${value} (expected ${expected})`);
}

/** Shared bookkeeping: the parameter list, per-parameter state and zeroing gradients. */
export abstract class Optimizer {
  readonly params: Tensor[];

  constructor(params: Iterable<Tensor>) {
    this.params = [...params].filter((p) => p.requiresGrad);
    if (this.params.length === 0) throw new OptimizerError("optimizer got an empty parameter list (no parameter requires grad)");
  }

  /** Sets every gradient to null (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  abstract step(): void;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD: g += wd·p; buf = μ·buf + (1-τ)·g (buf = g on the first step); p -= lr·(nesterov ? g + μ·buf : buf). */
export class SGD extends Optimizer {
  private readonly buffers = new Map<Tensor, FloatArray>();
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params);
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    checkHyper("lr", this.lr, this.lr >= 0, ">= 0");
    checkHyper("momentum", this.momentum, this.momentum >= 0, ">= 0");
    checkHyper("weightDecay", this.weightDecay, this.weightDecay >= 0, ">= 0");
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new OptimizerError("nesterov momentum requires momentum > 0 and dampening = 0");
  }

  step(): void {
    for (const p of this.params) {
      if (p.grad === null) continue;
      const w = p.floatData, g0 = p.grad.floatData;
      let buf = this.buffers.get(p);
      const first = buf === undefined;
      if (this.momentum !== 0 && buf === undefined) {
        buf = allocate(p.dtype, w.length) as FloatArray;
        this.buffers.set(p, buf);
      }
      for (let i = 0; i < w.length; i++) {
        let g = g0[i]! + this.weightDecay * w[i]!;
        if (buf) {
          buf[i] = first ? g : this.momentum * buf[i]! + (1 - this.dampening) * g;
          g = this.nesterov ? g + this.momentum * buf[i]! : buf[i]!;
        }
        w[i] = w[i]! - this.lr * g;
      }
    }
  }
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * torch.optim.AdamW: p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
 * p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
 */
export class AdamW extends Optimizer {
  private readonly state = new Map<Tensor, { m: FloatArray; v: FloatArray; step: number }>();
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Iterable<Tensor>, options: AdamWOptions = {}) {
    super(params);
    this.lr = options.lr ?? 1e-3;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    checkHyper("lr", this.lr, this.lr >= 0, ">= 0");
    checkHyper("betas[0]", this.betas[0], this.betas[0] >= 0 && this.betas[0] < 1, "in [0, 1)");
    checkHyper("betas[1]", this.betas[1], this.betas[1] >= 0 && this.betas[1] < 1, "in [0, 1)");
    checkHyper("eps", this.eps, this.eps >= 0, ">= 0");
    checkHyper("weightDecay", this.weightDecay, this.weightDecay >= 0, ">= 0");
  }

  step(): void {
    const be = getBackend();
    for (const p of this.params) {
      if (p.grad === null) continue;
      let s = this.state.get(p);
      if (!s) {
        s = { m: allocate(p.dtype, p.size) as FloatArray, v: allocate(p.dtype, p.size) as FloatArray, step: 0 };
        this.state.set(p, s);
      }
      s.step += 1;
      be.adamw(p.floatData, p.grad.floatData, s.m, s.v, this.lr, this.betas[0], this.betas[1], this.eps, this.weightDecay, s.step);
    }
  }
}

/**
 * Scales all gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = [...params].filter((p) => p.grad !== null);
  let sq = 0;
  for (const p of list) for (const v of p.grad!.floatData) sq += v * v;
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of list) {
      const g = p.grad!.floatData;
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  }
  return norm;
}
