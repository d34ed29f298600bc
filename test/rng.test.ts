import { describe, expect, it } from "vitest";
import { Generator } from "../src/utils/rng.js";

describe("Generator", () => {
  it("same seed gives the same bits; different seeds differ", () => {
    const a = new Generator(42), b = new Generator(42), c = new Generator(43);
    const xa = Array.from({ length: 8 }, () => a.nextUint32());
    const xb = Array.from({ length: 8 }, () => b.nextUint32());
    const xc = Array.from({ length: 8 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });
  it("uniform and normal draws have the right moments", () => {
    const g = new Generator(1);
    const n = 100_000;
    let su = 0, sn = 0, sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = g.random();
      expect(u >= 0 && u < 1).toBe(true);
      su += u;
      const z = g.normal();
      sn += z;
      sn2 += z * z;
    }
    // standard errors: uniform mean 1/sqrt(12n) ~ 0.0009, normal mean 1/sqrt(n) ~ 0.003
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sn / n)).toBeLessThan(0.015);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(0.03);
  });
  it("state round-trips", () => {
    const g = new Generator(7);
    g.nextUint32();
    const s = g.getState();
    const x = g.nextUint32();
    expect(new Generator(0).setState(s).nextUint32()).toBe(x);
  });
});
