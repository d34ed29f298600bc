import { LmforgeError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { convert, isFloat } from "../tensor/dtype.js";

/** A tensor that a Module owns and trains (requiresGrad on by default), like torch.nn.Parameter. */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(data.data, data.shape, data.dtype, false);
    if (requiresGrad && isFloat(data.dtype)) this.requiresGrad = true;
  }
}

export class StateDictError extends LmforgeError {
  constructor(
    message: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly mismatchedKeys: { key: string; expected: number[]; got: number[] }[],
  ) {
    super(message);
  }
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  mismatchedKeys: { key: string; expected: number[]; got: number[] }[];
}

/**
 * Base class of every layer and model. Parameters and sub-modules are found from the object's own fields
 * (as torch.nn.Module registers attributes), so a field named `c_attn` holding a Linear yields parameter
 * names like `h.0.attn.c_attn.weight` — the same names as Hugging Face checkpoints.
 * Fields starting with "_" are private state and are skipped.
 */
export class Module {
  training = true;

  /** Direct children: (name, Module) pairs in field order. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [key, value] of Object.entries(this)) {
      if (key.startsWith("_")) continue;
      if (value instanceof Module) yield [key, value];
    }
  }

  *namedModules(prefix = ""): Generator<[string, Module]> {
    const seen = new Set<Module>();
    const walk = function* (m: Module, p: string): Generator<[string, Module]> {
      if (seen.has(m)) return;
      seen.add(m);
      yield [p, m];
      for (const [name, child] of m.namedChildren()) yield* walk(child, p ? `${p}.${name}` : name);
    };
    yield* walk(this, prefix);
  }

  /**
   * [name, Parameter] for every parameter, each shared parameter once under its first name (as PyTorch's
   * named_parameters()). An array, so it can be iterated, mapped or spread.
   */
  namedParameters(options: { removeDuplicate?: boolean } = {}): [string, Parameter][] {
    const dedupe = options.removeDuplicate ?? true;
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const seenModules = new Set<Module>();
    const walk = (m: Module, prefix: string): void => {
      if (dedupe && seenModules.has(m)) return;
      seenModules.add(m);
      for (const [key, value] of Object.entries(m)) {
        if (key.startsWith("_")) continue;
        const name = prefix ? `${prefix}.${key}` : key;
        if (value instanceof Parameter) {
          if (dedupe && seen.has(value)) continue;
          seen.add(value);
          out.push([name, value]);
        } else if (value instanceof Module) {
          walk(value, name);
        }
      }
    };
    walk(this, "");
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter elements (shared parameters counted once). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** name -> tensor for every parameter, including every name of a shared (tied) parameter. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters({ removeDuplicate: false })) out.set(name, p);
    return out;
  }

  /**
   * Copies tensors into the parameters with the same names, converting dtype. Reports missing keys,
   * unexpected keys and shape mismatches; with strict (default) any of them is an error listing all three.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadStateDictResult {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys: string[] = [];
    const mismatchedKeys: { key: string; expected: number[]; got: number[] }[] = [];
    for (const [name, p] of own) {
      const src = entries.get(name);
      if (src === undefined) {
        missingKeys.push(name);
        continue;
      }
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i])) {
        mismatchedKeys.push({ key: name, expected: [...p.shape], got: [...src.shape] });
      }
    }
    const unexpectedKeys = [...entries.keys()].filter((k) => !own.has(k));
    const res = { missingKeys, unexpectedKeys, mismatchedKeys };
    const strict = options.strict ?? true;
    if (mismatchedKeys.length > 0 || (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0))) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(", ")}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(", ")}`);
      for (const m of mismatchedKeys) parts.push(`size mismatch for ${m.key}: checkpoint has [${m.got.join(", ")}], model has [${m.expected.join(", ")}]`);
      throw new StateDictError(`loadStateDict: ${parts.join("; ")}`, missingKeys, unexpectedKeys, mismatchedKeys);
    }
    for (const [name, p] of own) {
      const src = entries.get(name);
      if (src === undefined || src === p) continue;
      p.data = src.dtype === p.dtype ? src.data.slice() : convert(src.data, src.dtype, p.dtype);
    }
    return res;
  }
}

/** An indexed list of sub-modules named "0", "1", … (torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly _items: M[];

  constructor(items: M[] = []) {
    super();
    this._items = [];
    for (const m of items) this.push(m);
  }

  push(m: M): void {
    (this as unknown as Record<string, M>)[String(this._items.length)] = m;
    this._items.push(m);
  }

  get length(): number {
    return this._items.length;
  }

  get(i: number): M {
    const m = this._items[i];
    if (m === undefined) throw new RangeError(`ModuleList: index ${i} out of range (length ${this._items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this._items[Symbol.iterator]();
  }
}
