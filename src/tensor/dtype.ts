/**
 * Tensor dtypes. f32 is the compute type, f64 exists for exact gradient checks and numerics, i32 holds ids,
 * and f16 / bf16 are storage types (converted exactly, round-to-nearest-even, to and from f32).
 */
export type DType = "f32" | "f64" | "i32" | "f16" | "bf16";
export type FloatDType = "f32" | "f64";
export type FloatArray = Float32Array | Float64Array;
export type StorageArray = Float32Array | Float64Array | Int32Array | Uint16Array;

export const DTYPES: readonly DType[] = ["f32", "f64", "i32", "f16", "bf16"];

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case "f64":
      return 8;
    case "f32":
    case "i32":
      return 4;
    case "f16":
    case "bf16":
      return 2;
  }
}

// Buffers allocated while a backward pass records them (see recordAllocations).
let recorded: WeakSet<ArrayBufferLike> | null = null;

/**
 * Until the returned function is called, every buffer that allocate / allocateUninitialized make goes into `into`
 * (the backward pass uses it to know which gradient arrays no one else can hold). Calls nest.
 */
export function recordAllocations(into: WeakSet<ArrayBufferLike>): () => void {
  const prev = recorded;
  recorded = into;
  return () => {
    recorded = prev;
  };
}

export function allocate(dtype: DType, size: number): StorageArray {
  const a = zeroed(dtype, size);
  recorded?.add(a.buffer);
  return a;
}

function zeroed(dtype: DType, size: number): StorageArray {
  switch (dtype) {
    case "f32":
      return new Float32Array(size);
    case "f64":
      return new Float64Array(size);
    case "i32":
      return new Int32Array(size);
    case "f16":
    case "bf16":
      return new Uint16Array(size);
  }
}

// Below this size the zero fill costs less than a separate allocation.
const UNINITIALIZED_MIN_BYTES = 1 << 16;

/**
 * Storage for a caller that writes every element before anything reads it (torch.empty): large arrays skip the
 * zero fill. On a GPT-2-124M training step, zeroing arrays that kernels then overwrote was 8% of the time.
 */
export function allocateUninitialized(dtype: DType, size: number): StorageArray {
  const bytes = size * bytesPerElement(dtype);
  if (bytes < UNINITIALIZED_MIN_BYTES) return allocate(dtype, size);
  const { buffer, byteOffset } = Buffer.allocUnsafeSlow(bytes);  // a buffer of its own (not Buffer's pool)
  recorded?.add(buffer);
  switch (dtype) {
    case "f32":
      return new Float32Array(buffer, byteOffset, size);
    case "f64":
      return new Float64Array(buffer, byteOffset, size);
    case "i32":
      return new Int32Array(buffer, byteOffset, size);
    case "f16":
    case "bf16":
      return new Uint16Array(buffer, byteOffset, size);
  }
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === "f32" || dtype === "f64";
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 -> bf16 bits, round-to-nearest-even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** f32 -> IEEE half bits, round-to-nearest-even, with subnormals, overflow to infinity and NaN kept. */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // may carry into the exponent: still correct
  return sign | h;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts storage from one dtype to another (a new array; float -> i32 truncates toward zero like torch). */
export function convert(src: StorageArray, from: DType, to: DType): StorageArray {
  const n = src.length;
  const out = allocate(to, n);
  if (from === to) {
    out.set(src as never);
    return out;
  }
  if (from === "f16" || from === "bf16") {
    const decode = from === "f16" ? f16BitsToF32 : bf16BitsToF32;
    const tmp = new Float32Array(n);
    for (let i = 0; i < n; i++) tmp[i] = decode(src[i]!);
    return convert(tmp, "f32", to);
  }
  if (to === "f16" || to === "bf16") {
    const encode = to === "f16" ? f32ToF16Bits : f32ToBf16Bits;
    for (let i = 0; i < n; i++) out[i] = encode(src[i]!);
    return out;
  }
  if (to === "i32") {
    for (let i = 0; i < n; i++) out[i] = Math.trunc(src[i]!);
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}
