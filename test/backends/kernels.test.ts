// Native kernels against the TypeScript reference kernels (and, for GEMM, a float64 triple loop) on random
// shapes with odd sizes, transposes, accumulation and broadcast batches.
import { afterAll, describe, expect, it } from "vitest";
import { jsBackend, type BinaryOp, type LlamaBlockWeights, type UnaryOp } from "../../src/backends/index.js";
import { isNativeAvailable, measurePeakGflops, nativeBackend, nativeInfo, setNativeIsa } from "../../src/backends/native/index.js";
import { Generator } from "../../src/utils/rng.js";
import { nativeIsas } from "../helpers/native-isas.js";

const available = isNativeAvailable();
const g = new Generator(7);
const randArray = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (g.random() * 2 - 1) * scale);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (a === e) continue;
    if (Number.isNaN(e) ? !Number.isNaN(a) : !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      const err = Number.isNaN(a - e) ? Infinity : Math.abs(a - e);
      if (err >= worst) (worst = err), (at = i);
    }
  }
  expect(at, `${what}: index ${at} got ${actual[at]} expected ${expected[at]}`).toBe(-1);
}

/** float64 reference: C[b] (+)= op(A[b]) · op(B[b]) with the same offsets contract as Backend.gemm. */
function refGemm(a: Float32Array, b: Float32Array, c: Float64Array, m: number, n: number, k: number, ta: boolean, tb: boolean, acc: boolean,
  ao: number[], bo: number[], co: number[]): void {
  for (let batch = 0; batch < co.length; batch++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ao[batch]! + (ta ? p * m + i : i * k + p)]! * b[bo[batch]! + (tb ? j * k + p : p * n + j)]!;
        const idx = co[batch]! + i * n + j;
        c[idx] = (acc || batch > 0 && co.indexOf(co[batch]!) < batch ? c[idx]! : 0) + s;
      }
    }
  }
}

const isas = nativeIsas();

describe.skipIf(!available)("native GEMM", () => {
  afterAll(() => { if (available) setNativeIsa(nativeInfo().bestIsa); });
  const shapes: [number, number, number][] = [[1, 1, 1], [1, 7, 33], [7, 1, 65], [33, 65, 7], [65, 33, 257], [130, 257, 300], [257, 65, 513], [1, 300, 257], [300, 1, 129],
    // wide (column-split path, two K blocks of 768, one of 1024, three of either) and deep (by set-up the shared B
    // panel, the column split or B packed a K block at a time, two or three K blocks), ragged edges
    [40, 200, 900], [40, 200, 2100], [130, 70, 1100], [520, 40, 300],
    // one output row (vector GEMV): K with a 16-wide step and a masked tail; W [K, N] read as eight streams of
    // rows with rows left over, its columns 64 at a time, then 16 (AVX2: 8) and a tail, in one K chunk and in
    // several, rows of a 4 KiB multiple among them
    [1, 50, 90], [50, 1, 90], [1, 33, 100], [1, 1030, 70],
    [1, 3072, 13], [1, 2048, 21], [1, 2048, 300],
    // 2-8 output rows (beam search, batched decoding: W streamed once for all rows, not packed): the rows of A four,
    // two and one at a time; W [K, N] with K chunks, rows left over, N past one column block and ragged; W [N, K]
    // in parallel chunks and sub-chunks, rows left over, K with a tail
    [2, 90, 50], [3, 2100, 70], [4, 300, 1030], [5, 65, 513], [6, 129, 300], [7, 33, 257], [8, 100, 770], [3, 1000, 67]];

  // AVX-512 three times: the Intel, the AMD and the Zen 4 blocking (micro-kernel height, B packing, K depth)
  // whatever this CPU is
  const setups = isas.flatMap((isa) => (isa === "avx512" ? (["intel", "amd", "zen4"] as const).map((tuning) => ({ isa, tuning })) : [{ isa, tuning: undefined }]));
  for (const { isa, tuning } of setups) {
    it(`${isa}${tuning ? ` (${tuning} tuning)` : ""}: every transpose, with and without accumulate, odd sizes`, () => {
      setNativeIsa(isa, tuning);
      const be = nativeBackend();
      for (const [m, n, k] of shapes) {
        for (const ta of [false, true]) for (const tb of [false, true]) for (const acc of [false, true]) {
          const a = randArray(m * k), b = randArray(k * n), c0 = randArray(m * n);
          const c = c0.slice();
          be.gemm(a, b, c, m, n, k, ta, tb, acc, [0], [0], [0]);
          const ref = Float64Array.from(c0);
          refGemm(a, b, ref, m, n, k, ta, tb, acc, [0], [0], [0]);
          expectClose(c, ref, 1e-4, 1e-5 * Math.sqrt(k), `${isa} ${m}x${n}x${k} ta=${ta} tb=${tb} acc=${acc}`);
        }
      }
    });
  }

  it("batched offsets with disjoint outputs (many small products run side by side)", () => {
    const be = nativeBackend();
    const [m, n, k, nb] = [17, 9, 33, 12];
    const a = randArray(nb * m * k), b = randArray(k * n); // b broadcast over the batch
    const ao = Array.from({ length: nb }, (_, i) => i * m * k), bo = new Array(nb).fill(0), co = Array.from({ length: nb }, (_, i) => (nb - 1 - i) * m * n);
    const c = new Float32Array(nb * m * n);
    be.gemm(a, b, c, m, n, k, false, false, false, ao, bo, co);
    const ref = new Float64Array(nb * m * n);
    refGemm(a, b, ref, m, n, k, false, false, false, ao, bo, co);
    expectClose(c, ref, 1e-4, 1e-4, "batched");
  });

  it("accumulates batches that share one output without racing (broadcast batch in matmul backward)", () => {
    const be = nativeBackend();
    for (const [m, n, k] of [[64, 48, 40], [300, 200, 100], [1, 70, 90]] as const) {
      const nb = 6;
      const a = randArray(nb * k * m), g2 = randArray(nb * m * n);
      // gb = sum over batches of A[b]ᵀ · G[b], all into offset 0
      const ao = Array.from({ length: nb }, (_, i) => i * m * k), go = Array.from({ length: nb }, (_, i) => i * m * n), co = new Array(nb).fill(0);
      for (let rep = 0; rep < 3; rep++) {
        const c = new Float32Array(k * n);
        be.gemm(a, g2, c, k, n, m, true, false, true, ao, go, co);
        const ref = new Float64Array(k * n);
        refGemm(a, g2, ref, k, n, m, true, false, true, ao, go, co);
        expectClose(c, ref, 1e-4, 1e-4, `shared output ${m}x${n}x${k}`);
      }
    }
  });

  it("f64 inputs go to the reference kernels unchanged", () => {
    const a = Float64Array.from(randArray(6)), b = Float64Array.from(randArray(6));
    const c1 = new Float64Array(4), c2 = new Float64Array(4);
    nativeBackend().gemm(a, b, c1, 2, 2, 3, false, false, false, [0], [0], [0]);
    jsBackend.gemm(a, b, c2, 2, 2, 3, false, false, false, [0], [0], [0]);
    expect(Array.from(c1)).toEqual(Array.from(c2));
  });
});

describe.skipIf(!available)("native elementwise, reduction and layout kernels match the TypeScript kernels", () => {
  const be = available ? nativeBackend() : jsBackend;
  const sizes = [1, 7, 33, 65, 257, 40000];
  afterAll(() => { if (available) setNativeIsa(nativeInfo().bestIsa); });

  // exp, tanh and erf run at each ISA's vector width (4, 8 or 16 lanes), and so does what uses them
  it.each(isas)("unary and unaryBackward for every op (%s)", (isa) => {
    setNativeIsa(isa);
    const ops: UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "abs", "relu", "silu", "gelu", "gelu_tanh", "sigmoid", "sin", "cos", "square", "reciprocal"];
    const positive = new Set<UnaryOp>(["log", "sqrt", "rsqrt", "reciprocal"]);
    for (const op of ops) {
      for (const n of sizes) {
        const x = positive.has(op) ? Float32Array.from(randArray(n, 4), (v) => Math.abs(v) + 0.05) : randArray(n, 12);
        if (!positive.has(op) && n > 7) x.set([0, -0, 1e-6, -1e-6, 100, -100, 88.5], 0);
        const y1 = new Float32Array(n), y2 = new Float32Array(n);
        be.unary(op, x, y1);
        jsBackend.unary(op, x, y2);
        expectClose(y1, y2, 2e-6, 2e-7, `${op} n=${n}`);
        const gr = randArray(n), d1 = new Float32Array(n), d2 = new Float32Array(n);
        be.unaryBackward(op, x, y2, gr, d1);
        jsBackend.unaryBackward(op, x, y2, gr, d2);
        expectClose(d1, d2, 1e-5, 1e-6, `${op}' n=${n}`);
      }
    }
  });

  it.each(isas)("exp, tanh and sigmoid keep NaN, infinities and extremes (%s)", (isa) => {
    setNativeIsa(isa);
    const x = Float32Array.from([NaN, Infinity, -Infinity, 89, -89, -104, 1e-30, -3.4e38]);
    for (const op of ["exp", "tanh", "sigmoid", "silu", "gelu", "gelu_tanh"] as const) {
      const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
      be.unary(op, x, y1);
      jsBackend.unary(op, x, y2);
      expectClose(y1, y2, 1e-6, 1e-30, op);
    }
  });

  it("powScalar and affine", () => {
    for (const n of sizes) {
      const x = Float32Array.from(randArray(n, 3), (v) => Math.abs(v) + 0.1);
      for (const p of [2, 0.5, -1.5, 3]) {
        const y1 = new Float32Array(n), y2 = new Float32Array(n);
        be.powScalar(x, p, y1);
        jsBackend.powScalar(x, p, y2);
        expectClose(y1, y2, 1e-6, 0, `pow ${p}`);
      }
      const y1 = new Float32Array(n), y2 = new Float32Array(n);
      be.affine(x, -1.75, 0.3, y1);
      jsBackend.affine(x, -1.75, 0.3, y2);
      expectClose(y1, y2, 1e-6, 1e-7, "affine");
    }
  });

  it("broadcast binary ops over merged, broadcast and scalar strides, in place too", () => {
    const contiguous = (shape: number[]): number[] => {
      const s = new Array<number>(shape.length);
      let acc = 1;
      for (let i = shape.length - 1; i >= 0; i--) (s[i] = shape[i] === 1 ? 0 : acc), (acc *= shape[i]!);
      return s;
    };
    const cases: [number[], number[], number[]][] = [
      [[257], [257], [257]], [[65, 33], [1, 33], [65, 33]], [[65, 1], [65, 33], [65, 33]], [[1], [7, 33], [7, 33]],
      [[2, 3, 1, 65], [1, 1, 7, 65], [2, 3, 7, 65]], [[1, 1, 33, 33], [2, 4, 33, 33], [2, 4, 33, 33]], [[300, 257], [257], [300, 257]],
    ];
    const ops: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min", "eq", "gt", "lt"];
    for (const [as, bs, os] of cases) {
      const size = (s: number[]): number => s.reduce((p, d) => p * d, 1);
      const a = Float32Array.from(randArray(size(as), 3), (v) => (Math.abs(v) < 0.3 ? 1 : v));
      const b = Float32Array.from(randArray(size(bs), 3), (v) => (Math.abs(v) < 0.3 ? 1 : v));
      if (a.length > 3) a[1] = NaN;
      const pad = (s: number[]): number[] => [...new Array(os.length - s.length).fill(1), ...s];
      const sa = contiguous(pad(as)), sb = contiguous(pad(bs));
      for (const op of ops) {
        const pa = op === "pow" ? a.map(Math.abs) : a;
        const o1 = new Float32Array(size(os)), o2 = new Float32Array(size(os));
        be.binary(op, pa, sa, b, sb, o1, os);
        jsBackend.binary(op, pa, sa, b, sb, o2, os);
        expectClose(o1, o2, 1e-6, 1e-7, `${op} [${as}] [${bs}]`);
      }
    }
    // in place: out aliases a (the bias add in linear)
    const x = randArray(33 * 65), bias = randArray(65), want = new Float32Array(x.length);
    jsBackend.binary("add", x, [65, 1], bias, [0, 1], want, [33, 65]);
    be.binary("add", x, [65, 1], bias, [0, 1], x, [33, 65]);
    expectClose(x, want, 0, 0, "in-place bias add");
  });

  it("sumAxis and maxAxis (with NaN and argmax ties)", () => {
    for (const [outer, inner, rest] of [[1, 1, 1], [7, 33, 1], [1, 257, 65], [3, 65, 7], [1, 40000, 1], [33, 7, 300], [20, 1000, 1]] as const) {
      const x = randArray(outer * inner * rest);
      if (x.length > 20) (x[5] = NaN), (x[9] = x[10]!);
      const s1 = new Float32Array(outer * rest), s2 = new Float32Array(outer * rest);
      be.sumAxis(x, s1, outer, inner, rest);
      jsBackend.sumAxis(x, s2, outer, inner, rest);
      expectClose(s1, s2, 1e-5, 1e-5, "sumAxis");
      const m1 = new Float32Array(outer * rest), m2 = new Float32Array(outer * rest);
      const i1 = new Int32Array(outer * rest), i2 = new Int32Array(outer * rest);
      be.maxAxis(x, m1, i1, outer, inner, rest);
      jsBackend.maxAxis(x, m2, i2, outer, inner, rest);
      expectClose(m1, m2, 0, 0, "maxAxis");
      expect(Array.from(i1)).toEqual(Array.from(i2));
    }
  });

  it.each(isas)("softmax / log-softmax and their backward, including masked rows (%s)", (isa) => {
    setNativeIsa(isa);
    for (const [rows, cols] of [[1, 1], [7, 33], [65, 257], [3, 50257], [300, 7]] as const) {
      for (const log of [false, true]) {
        const x = randArray(rows * cols, 8);
        x[0] = -Infinity;
        if (cols > 2) x[cols + 1] = -3.4028234663852886e38;
        const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
        be.softmax(x, y1, rows, cols, log);
        jsBackend.softmax(x, y2, rows, cols, log);
        expectClose(y1, y2, 2e-6, 3e-7, `softmax log=${log} ${rows}x${cols}`);
        const gr = randArray(x.length), d1 = new Float32Array(x.length), d2 = new Float32Array(x.length);
        const yFinite = y2.map((v) => (Number.isFinite(v) ? v : -80));
        be.softmaxBackward(yFinite, gr, d1, rows, cols, log);
        jsBackend.softmaxBackward(yFinite, gr, d2, rows, cols, log);
        expectClose(d1, d2, 1e-5, 1e-6, `softmaxBackward log=${log}`);
      }
    }
  });

  it("layer norm and RMS norm with and without affine parameters, forward and backward", () => {
    for (const [rows, cols] of [[1, 1], [7, 33], [65, 257], [300, 768]] as const) {
      for (const rms of [false, true]) for (const affine of [false, true]) {
        const x = randArray(rows * cols, 3), w = affine ? randArray(cols) : null, b = affine && !rms ? randArray(cols) : null;
        const off = rms && affine ? 1 : 0;
        const o1 = new Float32Array(x.length), o2 = new Float32Array(x.length);
        const mu1 = new Float32Array(rows), mu2 = new Float32Array(rows), r1 = new Float32Array(rows), r2 = new Float32Array(rows);
        be.norm(x, w, b, o1, mu1, r1, rows, cols, 1e-5, rms, off);
        jsBackend.norm(x, w, b, o2, mu2, r2, rows, cols, 1e-5, rms, off);
        expectClose(o1, o2, 1e-4, 1e-5, `norm rms=${rms} affine=${affine}`);
        expectClose(r1, r2, 1e-5, 0, "rstd");
        const gr = randArray(x.length);
        const dx1 = new Float32Array(x.length), dx2 = new Float32Array(x.length);
        const dw1 = w && new Float32Array(cols), dw2 = w && new Float32Array(cols), db1 = b && new Float32Array(cols), db2 = b && new Float32Array(cols);
        be.normBackward(x, w, gr, mu2, r2, dx1, dw1, db1, rows, cols, rms, off);
        jsBackend.normBackward(x, w, gr, mu2, r2, dx2, dw2, db2, rows, cols, rms, off);
        expectClose(dx1, dx2, 1e-4, 1e-4, "dx");
        if (dw1 && dw2) expectClose(dw1, dw2, 1e-4, 1e-4, "dWeight");
        if (db1 && db2) expectClose(db1, db2, 1e-4, 1e-4, "dBias");
      }
    }
  });

  it("permute for f32, i32, u16 and f64 storage", () => {
    const cases: [number[], number[]][] = [[[7], [0]], [[33, 65], [1, 0]], [[2, 7, 3, 5], [0, 2, 1, 3]], [[3, 1, 65, 7], [3, 2, 0, 1]], [[4, 5, 6, 7, 3], [4, 0, 3, 1, 2]], [[2, 257, 12, 64], [0, 2, 1, 3]]];
    for (const [shape, perm] of cases) {
      const n = shape.reduce((p, d) => p * d, 1);
      for (const make of [(k: number) => new Float32Array(k), (k: number) => new Int32Array(k), (k: number) => new Uint16Array(k), (k: number) => new Float64Array(k)]) {
        const x = make(n);
        for (let i = 0; i < n; i++) x[i] = i % 60000;
        const o1 = make(n), o2 = make(n);
        be.permute(x, o1, shape, perm);
        jsBackend.permute(x, o2, shape, perm);
        expect(Array.from(o1)).toEqual(Array.from(o2));
      }
    }
  });

  it("embedding gather and AdamW step", () => {
    const table = randArray(257 * 33), ids = Int32Array.from([0, 256, 7, 7, 100]);
    const e1 = new Float32Array(ids.length * 33), e2 = new Float32Array(ids.length * 33);
    be.embedding(table, ids, e1, 33);
    jsBackend.embedding(table, ids, e2, 33);
    expectClose(e1, e2, 0, 0, "embedding");
    for (const n of sizes) {
      const p1 = randArray(n), gr = randArray(n), m1 = randArray(n, 0.1), v1 = Float32Array.from(randArray(n, 0.01), Math.abs);
      const p2 = p1.slice(), m2 = m1.slice(), v2 = v1.slice();
      for (let step = 1; step <= 3; step++) {
        be.adamw(p1, gr, m1, v1, 1e-3, 0.9, 0.999, 1e-8, 0.01, step);
        jsBackend.adamw(p2, gr, m2, v2, 1e-3, 0.9, 0.999, 1e-8, 0.01, step);
      }
      expectClose(p1, p2, 1e-5, 1e-6, "adamw param");
      expectClose(m1, m2, 1e-5, 1e-7, "adamw m");
      expectClose(v1, v2, 1e-5, 1e-9, "adamw v");
    }
  });
});

describe.skipIf(!available)("native dropout mask", () => {
  it("draws the bits Generator.random() draws, advances the state as it does, and keeps a pending normal", () => {
    const g = new Generator(77), ref = new Generator(77);
    g.normal();
    ref.normal();
    const mask = new Float32Array(10007);
    g.advance((state) => nativeBackend().dropoutMask!(state, 0.1, 2.5, mask));
    const want = Array.from({ length: mask.length }, () => (ref.random() >= 0.1 ? 2.5 : 0));
    expect(Array.from(mask)).toEqual(want);
    expect(g.getState()).toEqual(ref.getState());
    expect(g.normal()).toBe(ref.normal());
  });
  it("draws the same decisions as bits (LSB first), over a length that is not a multiple of 32", () => {
    const g = new Generator(78), ref = new Generator(78);
    const n = 1000, bits = new Uint32Array(Math.ceil(n / 32)).fill(0xffffffff);
    g.advance((state) => nativeBackend().dropoutBits!(state, 0.3, bits, n));
    for (let i = 0; i < n; i++) expect([i, (bits[i >>> 5]! >>> (i & 31)) & 1]).toEqual([i, ref.random() >= 0.3 ? 1 : 0]);
    expect(bits[bits.length - 1]! >>> (n & 31)).toBe(0);  // the last word's unused bits are cleared
    expect(g.getState()).toEqual(ref.getState());
  });
  it.each(nativeIsas())("draws long masks across threads (each from a jumped-ahead state) as one sequence would (%s)", async (isa) => {
    const { setNumThreads } = await import("../../src/backends/native/index.js");
    const threads = nativeInfo().threads;
    setNativeIsa(isa);
    try {
      for (const t of [1, 2, 3]) {
        setNumThreads(t);
        const g = new Generator(79), ref = new Generator(79);
        const n = 200_003, mask = new Float32Array(n), bits = new Uint32Array(Math.ceil(n / 32));
        g.advance((state) => nativeBackend().dropoutMask!(state, 0.25, 4 / 3, mask));
        g.advance((state) => nativeBackend().dropoutBits!(state, 0.25, bits, n));
        let wrong = 0;
        for (let i = 0; i < n; i++) if (mask[i] !== (ref.random() >= 0.25 ? Math.fround(4 / 3) : 0)) wrong++;
        for (let i = 0; i < n; i++) if (((bits[i >>> 5]! >>> (i & 31)) & 1) !== (ref.random() >= 0.25 ? 1 : 0)) wrong++;
        expect([t, wrong]).toEqual([t, 0]);
        expect(g.getState()).toEqual(ref.getState());
      }
    } finally {
      setNumThreads(threads);
      setNativeIsa(nativeInfo().bestIsa);
    }
  });
  it("keeps everything at p = 0 and nothing at p = 1, drawing either way", () => {
    for (const [p, want] of [[0, 1], [1, 0]] as const) {
      const g = new Generator(80), ref = new Generator(80);
      const mask = new Float32Array(100);
      g.advance((state) => nativeBackend().dropoutMask!(state, p, 1, mask));
      for (let i = 0; i < 100; i++) ref.random();
      expect(new Set(mask)).toEqual(new Set([want]));
      expect(g.getState()).toEqual(ref.getState());
    }
  });
  it("rejects a state that is not four integers", () => {
    expect(() => nativeBackend().dropoutMask!(new Uint32Array(3), 0.1, 1, new Float32Array(4))).toThrow(/state must hold 4 integers/);
    expect(() => nativeBackend().dropoutBits!(new Uint32Array(4), 0.1, new Uint32Array(1), 33)).toThrow(/n exceeds the bits of out/);
  });
});

describe.skipIf(!available)("native thread pool", () => {
  it("gives the same products with 1, 2 and 5 threads and rejects a bad count", async () => {
    const { setNumThreads } = await import("../../src/backends/native/index.js");
    const be = nativeBackend();
    const before = nativeInfo().threads;
    const [m, n, k] = [150, 130, 270];
    const a = randArray(m * k), b = randArray(k * n);
    const results = [1, 2, 5].map((threads) => {
      setNumThreads(threads);
      expect(nativeInfo().threads).toBe(threads);
      const c = new Float32Array(m * n);
      be.gemm(a, b, c, m, n, k, false, true, false, [0], [0], [0]);
      const s = new Float32Array(40000);
      be.unary("gelu", randArray(40000), s);
      return c;
    });
    setNumThreads(before);
    // Each output element is computed by exactly one thread in the same order, so the bits agree.
    expect(Array.from(results[1]!)).toEqual(Array.from(results[0]!));
    expect(Array.from(results[2]!)).toEqual(Array.from(results[0]!));
    expect(() => setNumThreads(0)).toThrow(/positive integer/);
  });
});

describe.skipIf(!available)("native preNormBlock argument checks", () => {
  const [E, H, F, T, cap] = [8, 2, 16, 1, 4];
  const weights = () => ({
    ln1Weight: randArray(E), ln1Bias: randArray(E), qkvWeight: randArray(E * 3 * E), qkvBias: randArray(3 * E), projWeight: randArray(E * E),
    projBias: randArray(E), ln2Weight: randArray(E), ln2Bias: randArray(E), fcWeight: randArray(E * F), fcBias: randArray(F),
    fc2Weight: randArray(F * E), fc2Bias: randArray(E),
  });
  const shape = { batch: 1, queryLength: T, past: 0, capacity: cap, embed: E, heads: H, inner: F, eps: 1e-5, scale: 0.5, activation: "gelu_tanh" as const };
  const run = (w = weights(), s = shape, kc = new Float32Array(cap * E)) =>
    nativeBackend().preNormBlock!(w, randArray(T * E), kc, new Float32Array(cap * E), null, null, s);

  it("names the array or size that does not match", () => {
    expect(() => run()).not.toThrow();
    expect(() => run({ ...weights(), qkvWeight: randArray(E * E) })).toThrow(/preNormBlock: weight 2 has 64 values, expected 192/);
    expect(() => run(weights(), { ...shape, past: 4 })).toThrow(/past \+ T <= cap/);
    expect(() => run(weights(), shape, new Float32Array(E))).toThrow(/caches must hold/);
    expect(() => run(weights(), { ...shape, heads: 3 })).toThrow(/multiple of heads/);
  });

  it("checks the mask's strides against the mask (shared with the attention entry)", () => {
    const be = nativeBackend();
    const block = (mask: Float32Array, strides: number[]) =>
      be.preNormBlock!(weights(), randArray(T * E), new Float32Array(cap * E), new Float32Array(cap * E), mask, strides, shape);
    // scores [1, H, 1, 1]: past 0, one new position
    expect(() => block(new Float32Array(1), [0, 0, 0, 1])).not.toThrow();
    expect(() => block(new Float32Array(1), [0, 1, 0, 1])).toThrow(/preNormBlock: mask strides reach past the mask/);
    expect(() => block(new Float32Array(1), [0, 0, 1])).toThrow(/preNormBlock: mask strides must have 4 entries/);
    const q = randArray(H * 4), kv = randArray(H * 3 * 4), out = new Float32Array(H * 4);
    const attend = (strides: number[]) => be.attention!(q, kv, kv, new Float32Array(3), strides, out, 1, H, H, 1, 3, 4, 0.5, 0);
    expect(() => attend([0, 0, 0, 1])).not.toThrow();
    expect(() => attend([0, 3, 0, 1])).toThrow(/attention: mask strides reach past the mask/);
  });
});

describe.skipIf(!available)("native llamaBlock argument checks", () => {
  const [E, H, KV, D, F, T, cap] = [8, 4, 2, 2, 16, 1, 4];
  const weights = () => ({
    inputLayernorm: randArray(E), qProj: randArray(H * D * E), qProjBias: null, kProj: randArray(KV * D * E), kProjBias: null,
    vProj: randArray(KV * D * E), vProjBias: null, oProj: randArray(E * H * D), oProjBias: null, qNorm: null, kNorm: null,
    postAttentionLayernorm: randArray(E), preFeedforwardLayernorm: null, postFeedforwardLayernorm: null, gateProj: randArray(F * E),
    gateProjBias: null, upProj: randArray(F * E), upProjBias: null, downProj: randArray(E * F), downProjBias: null,
  } as LlamaBlockWeights);
  const shape = { batch: 1, queryLength: T, past: 0, capacity: cap, cosBatch: 1, hidden: E, heads: H, kvHeads: KV, headDim: D, inner: F,
    eps: 1e-6, normOffset: 0, scale: 0.5, softcap: 0, activation: "silu" as const };
  const run = (w = weights(), s = shape, cos = randArray(T * D)) =>
    nativeBackend().llamaBlock!(w, randArray(T * E), new Float32Array(KV * cap * D), new Float32Array(KV * cap * D), cos, cos, null, null, s);

  it("names the weight, option or size that does not match", () => {
    expect(() => run()).not.toThrow();
    expect(() => run({ ...weights(), kProj: randArray(H * D * E) })).toThrow(/llamaBlock: k_proj weight has 64 values, expected 32/);
    expect(() => run({ ...weights(), qProjBias: randArray(3) })).toThrow(/llamaBlock: q_proj bias has 3 values, expected 8/);
    expect(() => run({ ...weights(), qNorm: randArray(D) })).toThrow(/q_norm and k_norm go together/);
    expect(() => run({ ...weights(), preFeedforwardLayernorm: randArray(E) })).toThrow(/pre_ and post_feedforward_layernorm go together/);
    expect(() => run(weights(), { ...shape, kvHeads: 3 })).toThrow(/kvHeads \(dividing heads\)/);
    expect(() => run(weights(), { ...shape, past: 4 })).toThrow(/past \+ T <= cap/);
    expect(() => run(weights(), shape, randArray(D + 1))).toThrow(/cos\/sin must hold/);
    expect(() => run(weights(), { ...shape, cosBatch: 2 })).toThrow(/cosBatch 1 or B/);
  });
});

describe.skipIf(!available || nativeInfo().bestIsa === "generic")("measurePeakGflops", () => {
  it("measures one core's burst times the threads, and all threads together over a given window", () => {
    const threads = nativeInfo().threads;
    const burst = measurePeakGflops(0.05), window = measurePeakGflops(0.05, 0.002);
    // 16 FLOP/cycle per core (AVX2) at 0.5 GHz is far below any real CPU; 64 FLOP/cycle at 10 GHz far above.
    for (const v of [burst, window]) {
      expect(v).toBeGreaterThan(8 * threads);
      expect(v).toBeLessThan(640 * threads);
    }
  });
});
