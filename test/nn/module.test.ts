import { describe, expect, it } from "vitest";
import { Module, ModuleList, Parameter, Linear, Embedding, LayerNorm, RMSNorm, Dropout, StateDictError } from "../../src/nn/index.js";
import { tensor, zeros, Tensor } from "../../src/tensor/index.js";
import { Generator } from "../../src/utils/rng.js";

class Block extends Module {
  attn = new Linear(4, 4, { generator: new Generator(1) });
  ln = new LayerNorm(4);
  drop = new Dropout(0.5, new Generator(2));
  _private = new Linear(2, 2);
}

class Net extends Module {
  wte = new Embedding(10, 4, 0, { generator: new Generator(3) });
  h = new ModuleList([new Block(), new Block()]);
  norm = new RMSNorm(4);
  head: Module & { weight: Parameter };
  constructor() {
    super();
    const head = new Module() as Module & { weight: Parameter };
    head.weight = this.wte.weight; // tied
    this.head = head;
  }
}

describe("Module", () => {
  it("names parameters by field path, joined with dots, shared parameters once", () => {
    const names = [...new Net().namedParameters()].map(([n]) => n);
    expect(names).toEqual([
      "wte.weight",
      "h.0.attn.weight", "h.0.attn.bias", "h.0.ln.weight", "h.0.ln.bias",
      "h.1.attn.weight", "h.1.attn.bias", "h.1.ln.weight", "h.1.ln.bias",
      "norm.weight",
    ]);
    expect([...new Net().stateDict().keys()]).toContain("head.weight");
  });
  it("counts parameters and switches train/eval for every sub-module", () => {
    const net = new Net();
    expect(net.numParameters()).toBe(40 + 2 * (20 + 8) + 4);
    net.eval();
    expect([...net.namedModules()].every(([, m]) => !m.training)).toBe(true);
    const x = tensor([[1, 2, 3, 4]]);
    expect(net.h.get(0).drop.forward(x)).toBe(x);
    net.train();
    expect(net.h.get(0).drop.training).toBe(true);
  });
  it("Embedding zeroes the padding row; Linear uses kaiming-uniform bounds", () => {
    const e = new Embedding(5, 3, 2, { generator: new Generator(1) });
    expect((e.weight.toArray() as number[][])[2]).toEqual([0, 0, 0]);
    const l = new Linear(16, 8, { generator: new Generator(1) });
    expect(Array.from(l.weight.data as Float32Array).every((v) => Math.abs(v) <= 0.25)).toBe(true);
  });
  it("loadStateDict copies values and reports missing, unexpected and mismatched keys", () => {
    const a = new Net(), b = new Net();
    b.loadStateDict(a.stateDict());
    expect(Array.from(b.h.get(1).attn.weight.data)).toEqual(Array.from(a.h.get(1).attn.weight.data));
    const state = new Map<string, Tensor>(a.stateDict());
    state.delete("norm.weight");
    state.set("extra.weight", zeros([1]));
    let err: unknown;
    try {
      b.loadStateDict(state);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect((err as StateDictError).missingKeys).toEqual(["norm.weight"]);
    expect((err as StateDictError).unexpectedKeys).toEqual(["extra.weight"]);
    const lax = b.loadStateDict(state, { strict: false });
    expect(lax.missingKeys).toEqual(["norm.weight"]);
    state.set("norm.weight", zeros([5]));
    expect(() => b.loadStateDict(state, { strict: false })).toThrow(/size mismatch for norm.weight: checkpoint has \[5\], model has \[4\]/);
  });
  it("gradients flow to every parameter of a small network", () => {
    const net = new Net();
    let x = net.wte.forward(tensor([[1, 2, 3]], { dtype: "i32" }));
    for (const block of net.h) x = block.ln.forward(block.attn.forward(x));
    net.norm.forward(x).sum().backward();
    for (const [name, p] of net.namedParameters()) expect(p.grad, name).not.toBeNull();
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });
});
