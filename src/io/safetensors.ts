import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { readSync } from "node:fs";
import { SafetensorsError } from "./errors.js";
import { writeAll, writeFileAtomic } from "./atomic.js";
import type { TensorReader } from "./sharded.js";

/**
 * Element types of the safetensors format, in the order of the Rust library's `Dtype` enum (increasing
 * alignment). The order matters: the writer sorts tensors by it, exactly as the Python/Rust library does.
 */
const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

const DTYPE_RANK = new Map<string, number>(Object.keys(DTYPE_SIZES).map((name, i) => [name, i]));

/** The Rust library refuses headers over 100 MB; a larger length is a corrupt or hostile file. */
export const MAX_HEADER_SIZE = 100_000_000;

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZES[dtype];
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute position of the tensor's first byte in the file (8 + header length + data_offsets[0]). */
  byteOffset: number;
  byteLength: number;
}

export interface TensorData {
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView;
}

export type TensorsInput = Record<string, TensorData> | Array<[string, TensorData]>;

interface ParsedHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Reads the 8-byte little-endian header length, refusing lengths the file cannot hold. */
function readHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(`${source}: file is ${fileSize} bytes, too short to hold the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(`${source}: header length ${n} is over the 100 MB limit (corrupt or not a safetensors file)`);
  }
  const length = Number(n);
  if (8 + length > fileSize) {
    throw new SafetensorsError(`${source}: header length ${length} runs past the end of the file (${fileSize} bytes)`);
  }
  return length;
}

/**
 * Checks a header the way the Rust library does (every entry well formed, byte counts matching shape × dtype,
 * tensors covering the data buffer exactly, contiguous and in order) and resolves absolute byte offsets.
 */
function parseHeader(headerBytes: Uint8Array, dataLength: number, source: string): ParsedHeader {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw new SafetensorsError(`${source}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new SafetensorsError(`${source}: header must be a JSON object, got ${Array.isArray(json) ? "an array" : String(json)}`);
  }
  const dataStart = 8 + headerBytes.byteLength;
  const metadata: Record<string, string> = {};
  const entries: Array<{ info: TensorInfo; begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null) continue;
      if (typeof value !== "object" || Array.isArray(value)) {
        throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
      }
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new SafetensorsError(`${source}: __metadata__ value for "${key}" must be a string, got ${JSON.stringify(v)}`);
        }
        metadata[key] = v;
      }
      continue;
    }
    const where = `${source}: tensor "${name}"`;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new SafetensorsError(`${where}: entry must be an object with dtype, shape and data_offsets`);
    }
    const entry = value as Record<string, unknown>;
    for (const field of ["dtype", "shape", "data_offsets"]) {
      if (!(field in entry)) throw new SafetensorsError(`${where}: entry is missing "${field}"`);
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isSafetensorsDtype(dtype)) {
      throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_SIZES).join(", ")})`);
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      throw new SafetensorsError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] are out of range of the ${dataLength}-byte data buffer`);
    }
    const expected = numel(shape) * DTYPE_SIZES[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(", ")}] of ${dtype} needs ${expected}`,
      );
    }
    entries.push({ info: { name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: end - begin }, begin, end });
  }
  // The Python library requires the tensors to tile the data buffer exactly; anything else means a corrupt
  // file, and a reader that tolerated it would hand out overlapping or garbage tensors.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const { info, begin, end } of entries) {
    if (begin < cursor) {
      throw new SafetensorsError(`${source}: tensor "${info.name}": data_offsets [${begin}, ${end}] overlap the previous tensor (which ends at ${cursor})`);
    }
    if (begin > cursor) {
      throw new SafetensorsError(`${source}: tensor "${info.name}": data_offsets [${begin}, ${end}] leave a gap of ${begin - cursor} bytes after offset ${cursor}`);
    }
    cursor = end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(`${source}: the data buffer has ${dataLength - cursor} bytes after the last tensor (ends at ${cursor} of ${dataLength})`);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const { info } of entries) tensors.set(info.name, info);
  return { metadata, tensors };
}

/** Parses a whole safetensors file held in memory; each tensor's `data` is a view into `bytes`, not a copy. */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "<safetensors buffer>",
): { metadata: Record<string, string>; tensors: Map<string, TensorInfo & { data: Uint8Array }> } {
  const n = readHeaderLength(bytes, bytes.byteLength, source);
  const { metadata, tensors } = parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n, source);
  const out = new Map<string, TensorInfo & { data: Uint8Array }>();
  for (const [name, info] of tensors) {
    out.set(name, { ...info, data: bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength) });
  }
  return { metadata, tensors: out };
}

// Node cannot read more than 2 GiB in one call; tensors above that are read in pieces.
const READ_CHUNK = 1 << 30;

/**
 * A safetensors file opened for lazy reading: only the header is read on open, and each tensor's bytes are
 * read by offset when asked for, so a multi-GB checkpoint never has to fit in memory at once.
 */
export class SafetensorsFile implements TensorReader {
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly tensors: Map<string, TensorInfo>;
  private handle: FileHandle | null;

  private constructor(path: string, handle: FileHandle, header: ParsedHeader) {
    this.path = path;
    this.handle = handle;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      throw new SafetensorsError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      const { size } = await handle.stat();
      const prefix = new Uint8Array(8);
      if (size >= 8) await readFully(handle, prefix, 0, path);
      const n = readHeaderLength(prefix, size, path);
      const headerBytes = new Uint8Array(n);
      await readFully(handle, headerBytes, 8, path);
      return new SafetensorsFile(path, handle, parseHeader(headerBytes, size - 8 - n, path));
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Tensor names in file order (by offset). */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.path}: tensor "${name}": no such tensor in this file (${this.tensors.size} tensors)`);
    return info;
  }

  /** Exactly the tensor's bytes, in a fresh, 8-byte aligned buffer (so typedArrayFor never copies it). */
  async read(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    const out = new Uint8Array(info.byteLength);
    await readFully(this.openHandle(name), out, info.byteOffset, this.path, name);
    return out;
  }

  /**
   * Reads bytes [start, start + out.byteLength) of a tensor into `out`, so a loader can fill its own storage
   * directly or stream a large tensor in chunks without a second full-size copy.
   */
  async readInto(name: string, out: Uint8Array, start = 0): Promise<void> {
    const info = this.info(name);
    if (start < 0 || start + out.byteLength > info.byteLength) {
      throw new SafetensorsError(`${this.path}: tensor "${name}": bytes [${start}, ${start + out.byteLength}) are outside its ${info.byteLength} bytes`);
    }
    await readFully(this.openHandle(name), out, info.byteOffset + start, this.path, name);
  }

  readSync(name: string): Uint8Array {
    const info = this.info(name);
    const fd = this.openHandle(name).fd;
    const out = new Uint8Array(info.byteLength);
    for (let done = 0; done < out.byteLength; ) {
      const got = readSync(fd, out, done, Math.min(READ_CHUNK, out.byteLength - done), info.byteOffset + done);
      if (got === 0) throw truncated(this.path, name, info.byteOffset + done);
      done += got;
    }
    return out;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  private openHandle(name: string): FileHandle {
    if (!this.handle) throw new SafetensorsError(`${this.path}: tensor "${name}": file was closed`);
    return this.handle;
  }
}

function truncated(path: string, name: string | undefined, at: number): SafetensorsError {
  const what = name === undefined ? "" : ` tensor "${name}":`;
  return new SafetensorsError(`${path}:${what} file ended at byte ${at}, before the data its header promises (truncated?)`);
}

async function readFully(handle: FileHandle, out: Uint8Array, position: number, path: string, name?: string): Promise<void> {
  for (let done = 0; done < out.byteLength; ) {
    const { bytesRead } = await handle.read(out, done, Math.min(READ_CHUNK, out.byteLength - done), position + done);
    if (bytesRead === 0) throw truncated(path, name, position + done);
    done += bytesRead;
  }
}

interface PreparedTensor {
  name: string;
  data: Uint8Array;
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

const utf8Bytes = (s: string): Buffer => Buffer.from(s, "utf8");

/**
 * Orders tensors and builds the header exactly as the Rust `prepare` does: sorted by descending dtype
 * alignment, then by name (byte order), data laid out in that order, header JSON (metadata first) padded
 * with spaces to a multiple of 8 bytes so every tensor stays aligned.
 */
function prepare(tensors: TensorsInput, metadata: Record<string, string> | undefined): { header: Uint8Array; order: PreparedTensor[] } {
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const seen = new Set<string>();
  const checked = list.map(([name, t]) => {
    const where = `tensor "${name}"`;
    if (name === "__metadata__") throw new SafetensorsError(`${where}: the name __metadata__ is reserved by the format`);
    if (seen.has(name)) throw new SafetensorsError(`${where}: given twice`);
    seen.add(name);
    if (!isSafetensorsDtype(t.dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
      throw new SafetensorsError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    if (!ArrayBuffer.isView(t.data)) throw new SafetensorsError(`${where}: data must be a typed array or DataView`);
    const data = asBytes(t.data);
    const expected = numel(t.shape) * DTYPE_SIZES[t.dtype];
    if (data.byteLength !== expected) {
      throw new SafetensorsError(`${where}: data has ${data.byteLength} bytes but shape [${t.shape.join(", ")}] of ${t.dtype} needs ${expected}`);
    }
    return { name, dtype: t.dtype, shape: t.shape, data, key: utf8Bytes(name) };
  });
  checked.sort((a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || Buffer.compare(a.key, b.key));

  // Built by hand rather than with JSON.stringify(object) because JS objects move integer-like keys
  // ("0", "1") to the front, which would break the required order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const fields = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== "string") throw new SafetensorsError(`metadata "${k}": value must be a string, got ${JSON.stringify(v)}`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  let offset = 0;
  for (const t of checked) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = utf8Bytes(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, order: checked.map(({ name, data }) => ({ name, data })) };
}

/** The bytes of a safetensors file holding `tensors`, identical to what the Python library writes. */
export function serializeSafetensors(tensors: TensorsInput, metadata?: Record<string, string>): Uint8Array {
  const { header, order } = prepare(tensors, metadata);
  const total = header.byteLength + order.reduce((sum, t) => sum + t.data.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let offset = header.byteLength;
  for (const t of order) {
    out.set(t.data, offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file tensor by tensor (no whole-file buffer), via a temporary file and a rename. */
export async function saveSafetensors(path: string, tensors: TensorsInput, metadata?: Record<string, string>): Promise<void> {
  const { header, order } = prepare(tensors, metadata);
  await writeFileAtomic(path, async (handle) => {
    await writeAll(handle, header);
    for (const t of order) await writeAll(handle, t.data);
  });
}

export type SafetensorsTypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array;

/**
 * A typed view of a tensor's bytes: F16 and BF16 come back as their raw Uint16 bits (conversion belongs to the
 * tensor engine), FP8 as raw bytes. Copies only when `bytes` is not aligned for the element type.
 * Assumes a little-endian host, as the format does (every platform Node runs on in practice).
 */
export function typedArrayFor(dtype: "F64", bytes: Uint8Array): Float64Array;
export function typedArrayFor(dtype: "F32", bytes: Uint8Array): Float32Array;
export function typedArrayFor(dtype: "F16" | "BF16" | "U16", bytes: Uint8Array): Uint16Array;
export function typedArrayFor(dtype: "I64", bytes: Uint8Array): BigInt64Array;
export function typedArrayFor(dtype: "U64", bytes: Uint8Array): BigUint64Array;
export function typedArrayFor(dtype: "I32", bytes: Uint8Array): Int32Array;
export function typedArrayFor(dtype: "U32", bytes: Uint8Array): Uint32Array;
export function typedArrayFor(dtype: "I16", bytes: Uint8Array): Int16Array;
export function typedArrayFor(dtype: "I8", bytes: Uint8Array): Int8Array;
export function typedArrayFor(dtype: "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2", bytes: Uint8Array): Uint8Array;
export function typedArrayFor(dtype: SafetensorsDtype, bytes: Uint8Array): SafetensorsTypedArray;
export function typedArrayFor(dtype: SafetensorsDtype, bytes: Uint8Array): SafetensorsTypedArray {
  if (!isSafetensorsDtype(dtype)) throw new SafetensorsError(`unknown dtype ${JSON.stringify(dtype)}`);
  const size = DTYPE_SIZES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new SafetensorsError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
  }
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const length = src.byteLength / size;
  switch (dtype) {
    case "F64":
      return new Float64Array(src.buffer, src.byteOffset, length);
    case "F32":
      return new Float32Array(src.buffer, src.byteOffset, length);
    case "F16":
    case "BF16":
    case "U16":
      return new Uint16Array(src.buffer, src.byteOffset, length);
    case "I16":
      return new Int16Array(src.buffer, src.byteOffset, length);
    case "I64":
      return new BigInt64Array(src.buffer, src.byteOffset, length);
    case "U64":
      return new BigUint64Array(src.buffer, src.byteOffset, length);
    case "I32":
      return new Int32Array(src.buffer, src.byteOffset, length);
    case "U32":
      return new Uint32Array(src.buffer, src.byteOffset, length);
    case "I8":
      return new Int8Array(src.buffer, src.byteOffset, length);
    case "U8":
    case "BOOL":
    case "F8_E4M3":
    case "F8_E5M2":
      return new Uint8Array(src.buffer, src.byteOffset, length);
  }
}
