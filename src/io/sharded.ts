import { readFile, readdir, stat, unlink, mkdir } from "node:fs/promises";
import path from "node:path";
import { SafetensorsError } from "./errors.js";
import { writeFileAtomic, writeAll } from "./atomic.js";
import { SafetensorsFile, saveSafetensors } from "./safetensors.js";
import type { TensorData, TensorInfo, TensorsInput } from "./safetensors.js";

export const SAFE_WEIGHTS_NAME = "model.safetensors";
export const SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json";

/** What a loader needs from a checkpoint, whether it is one file or many shards. */
export interface TensorReader {
  readonly metadata: Record<string, string>;
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  read(name: string): Promise<Uint8Array>;
  /** Bytes [start, start + out.byteLength) of a tensor, read into `out`. */
  readInto(name: string, out: Uint8Array, start?: number): Promise<void>;
  readSync(name: string): Uint8Array;
  close(): Promise<void>;
}

interface ShardIndex {
  metadata: Record<string, unknown>;
  weightMap: Map<string, string>;
}

async function readIndex(indexPath: string): Promise<ShardIndex> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (err) {
    throw new SafetensorsError(`${indexPath}: cannot read the shard index (${(err as Error).message})`);
  }
  const obj = json as { metadata?: unknown; weight_map?: unknown } | null;
  if (obj === null || typeof obj !== "object" || typeof obj.weight_map !== "object" || obj.weight_map === null || Array.isArray(obj.weight_map)) {
    throw new SafetensorsError(`${indexPath}: expected an object with "weight_map": { tensor name: shard file }`);
  }
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(obj.weight_map as Record<string, unknown>)) {
    // Shards must sit next to the index; a path elsewhere would let an index read arbitrary files.
    if (typeof file !== "string" || file === "" || file !== path.basename(file) || file === "." || file === "..") {
      throw new SafetensorsError(`${indexPath}: weight_map["${name}"] must be a shard file name in the same folder, got ${JSON.stringify(file)}`);
    }
    weightMap.set(name, file);
  }
  const metadata = typeof obj.metadata === "object" && obj.metadata !== null ? (obj.metadata as Record<string, unknown>) : {};
  return { metadata, weightMap };
}

/**
 * A checkpoint split over several safetensors files by a `model.safetensors.index.json`, read through the
 * same API as one file. Every shard is opened (headers only) up front so a missing tensor is reported at once.
 */
export class ShardedSafetensors implements TensorReader {
  readonly indexPath: string;
  /** The index's "metadata" (total_size, ...); the shards' own __metadata__ is on each shard. */
  readonly indexMetadata: Record<string, unknown>;
  readonly metadata: Record<string, string>;
  readonly shards: Map<string, SafetensorsFile>;
  private readonly weightMap: Map<string, string>;

  private constructor(indexPath: string, index: ShardIndex, shards: Map<string, SafetensorsFile>) {
    this.indexPath = indexPath;
    this.indexMetadata = index.metadata;
    this.weightMap = index.weightMap;
    this.shards = shards;
    const first = shards.values().next().value;
    this.metadata = first ? first.metadata : {};
  }

  static async open(indexPath: string): Promise<ShardedSafetensors> {
    const index = await readIndex(indexPath);
    const dir = path.dirname(indexPath);
    const shards = new Map<string, SafetensorsFile>();
    try {
      for (const file of new Set(index.weightMap.values())) {
        shards.set(file, await SafetensorsFile.open(path.join(dir, file)));
      }
      for (const [name, file] of index.weightMap) {
        if (!shards.get(file)!.has(name)) {
          throw new SafetensorsError(`${indexPath}: tensor "${name}": the index puts it in ${file}, which does not contain it`);
        }
      }
    } catch (err) {
      await Promise.all([...shards.values()].map((s) => s.close()));
      throw err;
    }
    return new ShardedSafetensors(indexPath, index, shards);
  }

  keys(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard file holding a tensor. */
  fileOf(name: string): string {
    return this.shard(name).path;
  }

  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }

  read(name: string): Promise<Uint8Array> {
    return this.shard(name).read(name);
  }

  readInto(name: string, out: Uint8Array, start = 0): Promise<void> {
    return this.shard(name).readInto(name, out, start);
  }

  readSync(name: string): Uint8Array {
    return this.shard(name).readSync(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }

  private shard(name: string): SafetensorsFile {
    const file = this.weightMap.get(name);
    if (file === undefined) throw new SafetensorsError(`${this.indexPath}: tensor "${name}": not in the index's weight_map`);
    return this.shards.get(file)!;
  }
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/**
 * Opens a checkpoint given a .safetensors file, a shard index, or a folder holding either (the sharded index
 * wins, as in transformers).
 */
export async function openCheckpoint(dirOrFile: string): Promise<TensorReader> {
  const s = await stat(dirOrFile).catch(() => null);
  if (!s) throw new SafetensorsError(`${dirOrFile}: no such file or folder`);
  if (s.isFile()) {
    return dirOrFile.endsWith(".json") ? ShardedSafetensors.open(dirOrFile) : SafetensorsFile.open(dirOrFile);
  }
  const index = path.join(dirOrFile, SAFE_WEIGHTS_INDEX_NAME);
  if (await isFile(index)) return ShardedSafetensors.open(index);
  const single = path.join(dirOrFile, SAFE_WEIGHTS_NAME);
  if (await isFile(single)) return SafetensorsFile.open(single);
  throw new SafetensorsError(`${dirOrFile}: holds neither ${SAFE_WEIGHTS_NAME} nor ${SAFE_WEIGHTS_INDEX_NAME}`);
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** "5GB" → 5e9, "500MiB" → 500 × 2^20, numbers pass through; HF's decimal/binary unit meanings. */
export function parseSize(size: number | string): number {
  if (typeof size === "number") {
    if (Number.isFinite(size) && size > 0) return Math.floor(size);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$/i.exec(size);
    if (m) return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? "B").toUpperCase()]!);
  }
  throw new SafetensorsError(`maxShardSize: expected a positive byte count or a size like "5GB" or "500MiB", got ${JSON.stringify(size)}`);
}

export interface SaveShardedOptions {
  /** Largest shard in bytes, or a size string; a single tensor larger than this gets a shard of its own. */
  maxShardSize?: number | string;
  /** __metadata__ written into every shard; transformers writes { format: "pt" }. */
  metadata?: Record<string, string>;
}

export interface SavedCheckpoint {
  /** Shard file names in order (one "model.safetensors" when everything fits). */
  files: string[];
  /** The index file's path, when the checkpoint was sharded. */
  indexPath: string | null;
  totalSize: number;
}

const SHARD_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

/**
 * Saves tensors as transformers' save_pretrained does: tensors fill shards in the given order, a new shard
 * starts when the next tensor would push the current one over `maxShardSize`, and the files are named
 * model-00001-of-0000N.safetensors with a model.safetensors.index.json (sorted keys, indent 2), or a single
 * model.safetensors when one shard suffices. Shard files of an earlier save that this one does not reuse
 * are removed, so the folder never mixes two checkpoints.
 */
export async function saveShardedSafetensors(dir: string, tensors: TensorsInput, options: SaveShardedOptions = {}): Promise<SavedCheckpoint> {
  const maxShardSize = parseSize(options.maxShardSize ?? "5GB");
  const metadata = options.metadata ?? { format: "pt" };
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const shards: Array<Array<[string, TensorData]>> = [];
  let current: Array<[string, TensorData]> = [];
  let currentSize = 0;
  let totalSize = 0;
  for (const entry of list) {
    const size = entry[1].data.byteLength;
    totalSize += size;
    if (size > maxShardSize) {
      shards.push([entry]);
      continue;
    }
    if (currentSize + size > maxShardSize && current.length > 0) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(entry);
    currentSize += size;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);

  await mkdir(dir, { recursive: true });
  const n = shards.length;
  const files = shards.map((_, i) => (n === 1 ? SAFE_WEIGHTS_NAME : `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`));
  for (let i = 0; i < n; i++) await saveSafetensors(path.join(dir, files[i]!), shards[i]!, metadata);

  const indexPath = path.join(dir, SAFE_WEIGHTS_INDEX_NAME);
  if (n > 1) {
    const weightMap: Record<string, string> = {};
    const entries = shards.flatMap((shard, i) => shard.map(([name]) => [name, files[i]!] as const));
    for (const [name, file] of entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) weightMap[name] = file;
    const text = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`;
    await writeFileAtomic(indexPath, (handle) => writeAll(handle, Buffer.from(text, "utf8")));
  }
  const keep = new Set(files);
  for (const entry of await readdir(dir)) {
    const stale = (SHARD_PATTERN.test(entry) || entry === SAFE_WEIGHTS_NAME || (entry === SAFE_WEIGHTS_INDEX_NAME && n === 1)) && !keep.has(entry);
    if (stale) await unlink(path.join(dir, entry));
  }
  return { files, indexPath: n > 1 ? indexPath : null, totalSize };
}

