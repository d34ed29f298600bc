import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, ftruncateSync, closeSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import {
  SafetensorsFile,
  SafetensorsError,
  parseSafetensors,
  serializeSafetensors,
  saveSafetensors,
  typedArrayFor,
  ShardedSafetensors,
  openCheckpoint,
  saveShardedSafetensors,
  type SafetensorsDtype,
  type TensorData,
} from "../../src/io/index.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "lmforge-st-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Header parsed independently of lmforge: u64 LE length, then JSON. */
function rawHeader(bytes: Uint8Array): { n: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8"));
  return { n, header };
}

function fixtureFiles(): string[] {
  return (readdirSync(fixturesDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".safetensors"))
    .map((f) => path.join(fixturesDir, f))
    .sort();
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// Float16 / bfloat16 bit patterns for 1, -2, NaN, +Inf, -Inf, -0, 0 and the largest finite value.
const F16_BITS = [0x3c00, 0xc000, 0x7e00, 0x7c00, 0xfc00, 0x8000, 0x0000, 0x7bff];
const BF16_BITS = [0x3f80, 0xc000, 0x7fc0, 0x7f80, 0xff80, 0x8000, 0x0000, 0x7f7f];
const FLOATS = [1.5, -2.25, NaN, Infinity, -Infinity, -0, 0, 3.4e38];

const samples: Record<string, TensorData> = {
  f64: { dtype: "F64", shape: [2, 4], data: new Float64Array([...FLOATS.slice(0, 7), Number.MAX_VALUE]) },
  f32: { dtype: "F32", shape: [4, 2], data: new Float32Array(FLOATS) },
  f16: { dtype: "F16", shape: [8], data: new Uint16Array(F16_BITS) },
  bf16: { dtype: "BF16", shape: [2, 2, 2], data: new Uint16Array(BF16_BITS) },
  i64: { dtype: "I64", shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]) },
  i32: { dtype: "I32", shape: [3], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0]) },
  i16: { dtype: "I16", shape: [3], data: new Int16Array([-32768, 32767, -1]) },
  i8: { dtype: "I8", shape: [3], data: new Int8Array([-128, 127, 0]) },
  u8: { dtype: "U8", shape: [3], data: new Uint8Array([0, 255, 7]) },
  bool: { dtype: "BOOL", shape: [1, 3], data: new Uint8Array([1, 0, 1]) },
  scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
  empty: { dtype: "F32", shape: [0, 5], data: new Float32Array(0) },
};

function expectSameValues(dtype: SafetensorsDtype, got: Uint8Array, want: ArrayBufferView): void {
  const a = Array.from(typedArrayFor(dtype, got) as ArrayLike<number | bigint>);
  const b = Array.from(want as unknown as ArrayLike<number | bigint>);
  expect(a.length).toBe(b.length);
  // Object.is tells -0 from 0 and NaN equals NaN.
  a.forEach((v, i) => expect(Object.is(v, b[i]), `${dtype}[${i}]: ${String(v)} vs ${String(b[i])}`).toBe(true));
}

describe("round trip", () => {
  it("keeps every dtype's bytes and values, in memory and through a file", async () => {
    const bytes = serializeSafetensors(samples, { format: "pt", note: "ü" });
    const parsed = parseSafetensors(bytes);
    expect(parsed.metadata).toEqual({ format: "pt", note: "ü" });
    const file = path.join(dir, "all-dtypes.safetensors");
    await saveSafetensors(file, samples, { format: "pt", note: "ü" });
    expect(new Uint8Array(readFileSync(file))).toEqual(bytes);
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.keys().sort()).toEqual(Object.keys(samples).sort());
      for (const [name, t] of Object.entries(samples)) {
        const p = parsed.tensors.get(name)!;
        expect([p.dtype, p.shape]).toEqual([t.dtype, t.shape]);
        expect(p.data).toEqual(bytesOf(t.data));
        expectSameValues(t.dtype, p.data, t.data);
        expectSameValues(t.dtype, await st.read(name), t.data);
        expectSameValues(t.dtype, st.readSync(name), t.data);
        expect(st.info(name).byteOffset).toBe(p.data.byteOffset);
      }
    } finally {
      await st.close();
    }
  });

  it("writes the exact bytes of the Rust library's own serialization tests", () => {
    const six = new Float32Array([0, 1, 2, 3, 4, 5]);
    const header = (json: string): number[] => [...Buffer.from(json)];
    const le = (n: number): number[] => [n, 0, 0, 0, 0, 0, 0, 0];
    const data = [...bytesOf(six)];
    const h1 = header('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
    expect([...serializeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data: six } })]).toEqual([...le(64), ...h1, ...data]);
    // A shorter name forces 7 spaces of padding so the data starts 8-byte aligned.
    const h2 = header('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');
    expect([...serializeSafetensors({ attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: six } })]).toEqual([...le(72), ...h2, ...data]);
    expect([...serializeSafetensors({})]).toEqual([...le(8), ...header("{}      ")]);
    expect([...serializeSafetensors({}, { framework: "pt" })]).toEqual([...le(40), ...header('{"__metadata__":{"framework":"pt"}}     ')]);
  });

  it("orders tensors by descending dtype alignment, then name, as the Python library does", () => {
    const one = (dtype: SafetensorsDtype, data: ArrayBufferView): TensorData => ({ dtype, shape: [1], data });
    const bytes = serializeSafetensors([
      ["b", one("U8", new Uint8Array(1))],
      ["a", one("I64", new BigInt64Array(1))],
      ["z", one("F32", new Float32Array(1))],
      ["c", one("F64", new Float64Array(1))],
      ["10", one("F32", new Float32Array(1))],
      ["y", one("BF16", new Uint16Array(1))],
      ["x", one("F16", new Uint16Array(1))],
    ]);
    // Rust's Dtype enum order: ... F16 < BF16 < I32 < U32 < F32 < F64 < I64 < U64, sorted descending.
    // Read the key order from the text: JSON.parse would move the integer-like key "10" to the front.
    const text = Buffer.from(bytes.subarray(8, 8 + rawHeader(bytes).n)).toString("utf8");
    expect([...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1])).toEqual(["a", "c", "10", "z", "y", "x", "b"]);
  });

  it("re-serializes every fixture written by Python's safetensors to identical bytes", async () => {
    for (const file of fixtureFiles()) {
      const original = new Uint8Array(readFileSync(file));
      const { metadata, tensors } = parseSafetensors(original, file);
      const input = [...tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: t.data }] as [string, TensorData]);
      const hasMeta = "__metadata__" in rawHeader(original).header;
      const again = serializeSafetensors(input, hasMeta ? metadata : undefined);
      expect(Buffer.compare(Buffer.from(again), Buffer.from(original)), file).toBe(0);
    }
  });

  it("rejects tensors whose data does not match shape and dtype, naming the tensor", () => {
    expect(() => serializeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } })).toThrow(
      /tensor "w": data has 20 bytes but shape \[2, 3\] of F32 needs 24/,
    );
    expect(() => serializeSafetensors({ w: { dtype: "F33" as SafetensorsDtype, shape: [1], data: new Float32Array(1) } })).toThrow(/unknown dtype "F33"/);
  });
});

describe("fixtures", () => {
  it("reads every fixture's names, dtypes and shapes as its header states", async () => {
    const files = fixtureFiles();
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file));
      const { n, header } = rawHeader(bytes);
      const st = await SafetensorsFile.open(file);
      try {
        const names = Object.keys(header).filter((k) => k !== "__metadata__");
        expect(st.keys().sort(), file).toEqual(names.sort());
        for (const name of names) {
          const h = header[name]!;
          const info = st.info(name);
          expect({ dtype: info.dtype, shape: info.shape }).toEqual({ dtype: h.dtype, shape: h.shape });
          expect(info.byteOffset).toBe(8 + n + h.data_offsets[0]);
          const data = await st.read(name);
          expect(Buffer.compare(Buffer.from(data), Buffer.from(bytes.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1])))).toBe(0);
        }
      } finally {
        await st.close();
      }
    }
  });

  it("gives the logits reference.json quotes for a quick look", async () => {
    let checked = 0;
    for (const model of readdirSync(fixturesDir)) {
      const refPath = path.join(fixturesDir, model, "reference.json");
      if (!existsSync(refPath)) continue;
      const forward = JSON.parse(readFileSync(refPath, "utf8")).cases?.forward as { logits_shape?: number[]; logits_last_first8?: number[][] } | undefined;
      if (!forward?.logits_last_first8 || !forward.logits_shape) continue;
      const st = await SafetensorsFile.open(path.join(fixturesDir, model, "reference.safetensors"));
      const info = st.info("logits");
      expect(info.dtype).toBe("F32");
      expect(info.shape).toEqual(forward.logits_shape);
      const logits = typedArrayFor("F32", await st.read("logits"));
      await st.close();
      const [batch, seq, vocab] = forward.logits_shape as [number, number, number];
      for (let b = 0; b < batch; b++) {
        const row = (seq - 1) * vocab + b * seq * vocab;
        // JSON holds the float32 values printed as doubles, so rounding them back to float32 must be exact.
        expect(Array.from(logits.subarray(row, row + 8))).toEqual(forward.logits_last_first8[b]!.map(Math.fround));
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});

describe("typedArrayFor", () => {
  it("views aligned bytes without copying and copies misaligned ones", () => {
    const buf = new Uint8Array(16);
    new DataView(buf.buffer).setFloat32(4, 2.5, true);
    const aligned = typedArrayFor("F32", buf.subarray(4, 8));
    expect(aligned).toBeInstanceOf(Float32Array);
    expect(aligned.buffer).toBe(buf.buffer);
    expect(aligned[0]).toBe(2.5);
    const odd = new Uint8Array(17);
    odd.set(buf.subarray(4, 8), 1);
    const copied = typedArrayFor("F32", odd.subarray(1, 5));
    expect(copied.buffer).not.toBe(odd.buffer);
    expect(copied[0]).toBe(2.5);
    expect(typedArrayFor("I64", new Uint8Array(8))).toBeInstanceOf(BigInt64Array);
    expect(typedArrayFor("BF16", new Uint8Array(2))).toBeInstanceOf(Uint16Array);
    expect(() => typedArrayFor("F32", new Uint8Array(6))).toThrow(SafetensorsError);
  });
});

describe("sharded checkpoints", () => {
  const tensors: Array<[string, TensorData]> = Array.from({ length: 5 }, (_, i) => [
    `layers.${i}.weight`,
    { dtype: "F32", shape: [10, 10], data: Float32Array.from({ length: 100 }, (_, j) => i * 1000 + j) },
  ]);

  it("splits as save_pretrained does, writes the index, and reads back through one API", async () => {
    const out = path.join(dir, "sharded");
    // 400-byte tensors, 1000-byte shards: two per shard, as huggingface_hub's splitter packs them.
    const saved = await saveShardedSafetensors(out, tensors, { maxShardSize: 1000 });
    expect(saved.files).toEqual(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]);
    const index = JSON.parse(readFileSync(path.join(out, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata).toEqual({ total_size: 2000 });
    expect(index.weight_map).toEqual({
      "layers.0.weight": "model-00001-of-00003.safetensors",
      "layers.1.weight": "model-00001-of-00003.safetensors",
      "layers.2.weight": "model-00002-of-00003.safetensors",
      "layers.3.weight": "model-00002-of-00003.safetensors",
      "layers.4.weight": "model-00003-of-00003.safetensors",
    });
    expect(rawHeader(new Uint8Array(readFileSync(path.join(out, saved.files[0]!)))).header.__metadata__).toEqual({ format: "pt" });
    const ckpt = await openCheckpoint(out);
    expect(ckpt).toBeInstanceOf(ShardedSafetensors);
    expect(ckpt.keys().sort()).toEqual(tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      expect(ckpt.info(name).shape).toEqual([10, 10]);
      expect(Array.from(typedArrayFor("F32", await ckpt.read(name)))).toEqual(Array.from(t.data as Float32Array));
      expect(Array.from(typedArrayFor("F32", ckpt.readSync(name)))).toEqual(Array.from(t.data as Float32Array));
    }
    expect(() => ckpt.info("nope")).toThrow(/tensor "nope": not in the index's weight_map/);
    await ckpt.close();

    // Saving again as one file removes the old shards and index, so the folder holds one checkpoint.
    const single = await saveShardedSafetensors(out, tensors);
    expect(single).toMatchObject({ files: ["model.safetensors"], indexPath: null, totalSize: 2000 });
    expect(readdirSync(out).sort()).toEqual(["model.safetensors"]);
    const one = await openCheckpoint(out);
    expect(one).toBeInstanceOf(SafetensorsFile);
    expect(one.keys().length).toBe(5);
    await one.close();
  });

  it("packs shards like huggingface_hub's own splitter test (sizes 6, 10, 30, 2, 2 under a limit of 10)", async () => {
    const out = path.join(dir, "sharded-hf-case");
    const sizes = [6, 10, 30, 2, 2];
    const layers = sizes.map((n, i): [string, TensorData] => [`layer_${i + 1}`, { dtype: "U8", shape: [n], data: new Uint8Array(n) }]);
    const saved = await saveShardedSafetensors(out, layers, { maxShardSize: 10 });
    expect(saved.totalSize).toBe(50);
    const index = JSON.parse(readFileSync(path.join(out, "model.safetensors.index.json"), "utf8"));
    // Expected assignment from huggingface_hub tests/test_serialization.py::test_multiple_shards.
    expect(index).toEqual({
      metadata: { total_size: 50 },
      weight_map: {
        layer_1: "model-00001-of-00004.safetensors",
        layer_3: "model-00002-of-00004.safetensors",
        layer_2: "model-00003-of-00004.safetensors",
        layer_4: "model-00004-of-00004.safetensors",
        layer_5: "model-00004-of-00004.safetensors",
      },
    });
  });

  it("names the index and tensor when the index points at the wrong shard", async () => {
    const out = path.join(dir, "sharded-bad");
    await saveShardedSafetensors(out, tensors, { maxShardSize: 1000 });
    const indexPath = path.join(out, "model.safetensors.index.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8"));
    index.weight_map["layers.4.weight"] = "model-00001-of-00003.safetensors";
    writeFileSync(indexPath, JSON.stringify(index));
    await expect(ShardedSafetensors.open(indexPath)).rejects.toThrow(/model\.safetensors\.index\.json: tensor "layers\.4\.weight": the index puts it in model-00001-of-00003/);
    index.weight_map["layers.4.weight"] = "../../etc/passwd";
    writeFileSync(indexPath, JSON.stringify(index));
    await expect(ShardedSafetensors.open(indexPath)).rejects.toThrow(/must be a shard file name in the same folder/);
  });
});

describe("lazy reading", () => {
  it("reads one tensor by offset from a 3 GB file without reading the rest", async () => {
    // The middle tensor is a hole in a sparse file: nothing is written, and reading the whole file would
    // need 3 GB of memory, so only by-offset reads can pass this test.
    const bigLength = 3 * 2 ** 30;
    const header = {
      head: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      middle: { dtype: "U8", shape: [bigLength], data_offsets: [8, 8 + bigLength] },
      tail: { dtype: "I32", shape: [3], data_offsets: [8 + bigLength, 20 + bigLength] },
    };
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const file = path.join(dir, "sparse.safetensors");
    const fd = openSync(file, "w");
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, prefix, 0, 8, 0);
    writeSync(fd, Buffer.from(json), 0, json.length, 8);
    const dataStart = 8 + json.length;
    writeSync(fd, Buffer.from(new Float32Array([1.5, -3]).buffer), 0, 8, dataStart);
    ftruncateSync(fd, dataStart + 20 + bigLength);
    writeSync(fd, Buffer.from(new Int32Array([7, -8, 2 ** 31 - 1]).buffer), 0, 12, dataStart + 8 + bigLength);
    closeSync(fd);

    const rssBefore = process.memoryUsage().rss;
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.info("middle").byteLength).toBe(bigLength);
      expect(Array.from(typedArrayFor("I32", await st.read("tail")))).toEqual([7, -8, 2 ** 31 - 1]);
      expect(Array.from(typedArrayFor("I32", st.readSync("tail")))).toEqual([7, -8, 2 ** 31 - 1]);
      expect(Array.from(typedArrayFor("F32", await st.read("head")))).toEqual([1.5, -3]);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 2 ** 20);
    } finally {
      await st.close();
    }
    await expect(st.read("tail")).rejects.toThrow(/tensor "tail": file was closed/);
    rmSync(file);
  });
});

describe("malformed files", () => {
  let count = 0;
  /** Writes a file from raw header text and data bytes, bypassing the writer's own checks. */
  function rawFile(header: unknown, dataLength: number, lengthOverride?: bigint): string {
    const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
    const file = path.join(dir, `bad-${++count}.safetensors`);
    writeFileSync(file, Buffer.concat([prefix, json, Buffer.alloc(dataLength)]));
    return file;
  }

  async function openError(file: string): Promise<SafetensorsError> {
    const err = await SafetensorsFile.open(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SafetensorsError);
    const e = err as SafetensorsError;
    expect(e.message).toContain(file);
    // The in-memory parser must agree with the file reader.
    expect(() => parseSafetensors(new Uint8Array(readFileSync(file)))).toThrow(SafetensorsError);
    return e;
  }

  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  it("header length past the end of the file", async () => {
    const e = await openError(rawFile({ w: ok }, 8, 5000n));
    expect(e.message).toMatch(/header length 5000 runs past the end of the file \(\d+ bytes\)/);
  });

  it("header length over 100 MB", async () => {
    const e = await openError(rawFile({ w: ok }, 8, 2n ** 40n));
    expect(e.message).toMatch(/header length 1099511627776 is over the 100 MB limit/);
  });

  it("file shorter than the length prefix", async () => {
    const file = path.join(dir, "tiny.safetensors");
    writeFileSync(file, Buffer.from([1, 2, 3]));
    expect((await openError(file)).message).toMatch(/file is 3 bytes, too short/);
  });

  it("header not JSON", async () => {
    expect((await openError(rawFile('{"w": {dtype', 0))).message).toMatch(/header is not valid JSON/);
  });

  it("header not an object", async () => {
    expect((await openError(rawFile("[1,2]", 0))).message).toMatch(/header must be a JSON object, got an array/);
  });

  for (const field of ["dtype", "shape", "data_offsets"]) {
    it(`tensor entry missing ${field}`, async () => {
      const entry: Record<string, unknown> = { ...ok };
      delete entry[field];
      expect((await openError(rawFile({ "w.0": entry }, 8))).message).toMatch(new RegExp(`tensor "w\\.0": entry is missing "${field}"`));
    });
  }

  it("unknown dtype", async () => {
    expect((await openError(rawFile({ w: { ...ok, dtype: "F128" } }, 8))).message).toMatch(/tensor "w": unknown dtype "F128"/);
  });

  it("negative shape", async () => {
    expect((await openError(rawFile({ w: { ...ok, shape: [-2] } }, 8))).message).toMatch(/tensor "w": shape must be an array of non-negative integers, got \[-2\]/);
  });

  it("non-integer shape", async () => {
    expect((await openError(rawFile({ w: { ...ok, shape: [2.5] } }, 8))).message).toMatch(/tensor "w": shape must be an array of non-negative integers, got \[2\.5\]/);
  });

  it("offsets out of range of the data buffer", async () => {
    expect((await openError(rawFile({ w: { ...ok, shape: [4], data_offsets: [0, 16] } }, 8))).message).toMatch(
      /tensor "w": data_offsets \[0, 16\] are out of range of the 8-byte data buffer/,
    );
  });

  it("overlapping offsets", async () => {
    const e = await openError(rawFile({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, 12));
    expect(e.message).toMatch(/tensor "b": data_offsets \[4, 12\] overlap the previous tensor \(which ends at 8\)/);
  });

  it("gap between tensors", async () => {
    const e = await openError(rawFile({ a: ok, b: { ...ok, data_offsets: [12, 20] } }, 20));
    expect(e.message).toMatch(/tensor "b": data_offsets \[12, 20\] leave a gap of 4 bytes after offset 8/);
  });

  it("bytes after the last tensor", async () => {
    expect((await openError(rawFile({ a: ok }, 12))).message).toMatch(/the data buffer has 4 bytes after the last tensor/);
  });

  it("byte count disagreeing with shape × dtype", async () => {
    const e = await openError(rawFile({ w: { dtype: "F16", shape: [3], data_offsets: [0, 8] } }, 8));
    expect(e.message).toMatch(/tensor "w": data_offsets \[0, 8\] hold 8 bytes but shape \[3\] of F16 needs 6/);
  });

  it("non-string metadata value", async () => {
    const e = await openError(rawFile({ __metadata__: { format: "pt", step: 3 }, w: ok }, 8));
    expect(e.message).toMatch(/__metadata__ value for "step" must be a string, got 3/);
  });

  it("unknown tensor name", async () => {
    const st = await SafetensorsFile.open(rawFile({ w: ok }, 8));
    expect(() => st.info("v")).toThrow(/tensor "v": no such tensor in this file/);
    await st.close();
  });
});
