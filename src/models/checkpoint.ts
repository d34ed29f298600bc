import { readFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, LmforgeError } from "../errors.js";
import { openCheckpoint, saveShardedSafetensors, type TensorReader, type TensorData } from "../io/index.js";
import { writeFileAtomic, writeAll } from "../io/atomic.js";
import { downloadFile, fileExists, type HubOptions } from "../io/hub.js";
import { HubError } from "../io/errors.js";
import { bf16BitsToF32, f16BitsToF32, type FloatArray } from "../tensor/dtype.js";
import { withoutInit } from "../nn/init.js";
import { Generator } from "../utils/rng.js";
import type { RawConfig } from "./config.js";
import type { PreTrainedModel } from "./model.js";
import { resolveArchitecture } from "./registry.js";
import { stat } from "node:fs/promises";

export class CheckpointError extends LmforgeError {}

export interface LoadModelOptions extends HubOptions {
  /** Compute dtype of the parameters; checkpoints in F32, F16, BF16 or F64 are converted. Default f32. */
  dtype?: "f32" | "f64";
}

export interface CreateModelOptions {
  seed?: number;
  dtype?: "f32" | "f64";
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Local folder, or the hub snapshot folder holding config, weights (single or sharded) and generation config. */
async function resolveCheckpointDir(pathOrHubId: string, options: HubOptions): Promise<string> {
  if (await isDirectory(pathOrHubId)) return pathOrHubId;
  if (pathOrHubId.startsWith(".") || pathOrHubId.startsWith("/") || pathOrHubId.split("/").length > 2) {
    throw new CheckpointError(`${pathOrHubId}: no such folder (and not a hub id of the form org/name)`);
  }
  const configPath = await downloadFile(pathOrHubId, "config.json", options);
  const dir = path.dirname(configPath);
  if (await fileExists(pathOrHubId, "model.safetensors", options)) {
    await downloadFile(pathOrHubId, "model.safetensors", options);
  } else {
    const indexPath = await downloadFile(pathOrHubId, "model.safetensors.index.json", options).catch((err: unknown) => {
      if (err instanceof HubError && err.status === 404) {
        throw new CheckpointError(`${pathOrHubId}: the repo has neither model.safetensors nor model.safetensors.index.json (lmforge reads safetensors only)`);
      }
      throw err;
    });
    const index = JSON.parse(await readFile(indexPath, "utf8")) as { weight_map?: Record<string, string> };
    for (const shard of new Set(Object.values(index.weight_map ?? {}))) await downloadFile(pathOrHubId, shard, options);
  }
  if (await fileExists(pathOrHubId, "generation_config.json", options)) await downloadFile(pathOrHubId, "generation_config.json", options);
  return dir;
}

async function readJson(file: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CheckpointError(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text) as RawConfig;
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** Builds the model class named by a config.json object. */
export function modelFromConfig(config: RawConfig, source = "config.json"): PreTrainedModel {
  const { family, architecture } = resolveArchitecture(config, source);
  return family.architectures[architecture]!(config);
}

/**
 * Makes a model from a config with random weights initialized as transformers does for that family
 * (normal(0, initializer_range), zeroed padding rows, …), in training mode as a fresh PyTorch module is.
 */
export function createModel(config: RawConfig, options: CreateModelOptions = {}): PreTrainedModel {
  const model = withoutInit(() => modelFromConfig(config));
  if (options.dtype === "f64") toF64(model);
  model.initWeights(new Generator(options.seed ?? 0));
  return model.train();
}

function toF64(model: PreTrainedModel): void {
  for (const [, p] of model.namedParameters()) {
    (p as { dtype: string }).dtype = "f64";
    p.data = Float64Array.from(p.data as FloatArray);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Fills a parameter's storage from a checkpoint tensor. Same-dtype tensors are read straight into the
 * storage; others are converted in chunks, so loading never holds a second full copy of a large tensor.
 */
async function readInto(reader: TensorReader, key: string, dtype: string, out: FloatArray, source: string): Promise<void> {
  const n = out.length;
  if (LITTLE_ENDIAN && ((dtype === "F32" && out instanceof Float32Array) || (dtype === "F64" && out instanceof Float64Array))) {
    await reader.readInto(key, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    return;
  }
  const size = dtype === "F64" ? 8 : dtype === "F32" ? 4 : dtype === "F16" || dtype === "BF16" ? 2 : 0;
  if (size === 0) throw new CheckpointError(`${source}: tensor "${key}" has dtype ${dtype}; model weights must be F32, F16, BF16 or F64`);
  const chunk = new Uint8Array(Math.min(n, CHUNK_ELEMENTS) * size);
  for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
    const count = Math.min(CHUNK_ELEMENTS, n - start);
    const bytes = chunk.subarray(0, count * size);
    await reader.readInto(key, bytes, start * size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dtype === "F32") for (let i = 0; i < count; i++) out[start + i] = view.getFloat32(i * 4, true);
    else if (dtype === "F64") for (let i = 0; i < count; i++) out[start + i] = view.getFloat64(i * 8, true);
    else if (dtype === "F16") for (let i = 0; i < count; i++) out[start + i] = f16BitsToF32(view.getUint16(i * 2, true));
    else for (let i = 0; i < count; i++) out[start + i] = bf16BitsToF32(view.getUint16(i * 2, true));
  }
}

/**
 * Copies checkpoint tensors into the model's parameters in place, one tensor at a time (so peak memory is
 * the model plus one tensor's bytes). Names may carry or lack the base-model prefix, as checkpoints vary.
 */
export async function loadWeights(model: PreTrainedModel, reader: TensorReader, source: string): Promise<{ unexpectedKeys: string[] }> {
  const keys = new Set(reader.keys());
  model.adaptToCheckpoint(keys);
  const used = new Set<string>();
  const prefix = model.baseModelPrefix;
  const loaded = new Set<unknown>();
  const missing: string[] = [];
  const candidates = (name: string): string[] => {
    const out = [name];
    if (prefix && name.startsWith(prefix + ".")) out.push(name.slice(prefix.length + 1));
    if (prefix && !name.startsWith(prefix + ".")) out.push(`${prefix}.${name}`);
    // Old TensorFlow-era checkpoints name layer-norm parameters gamma/beta (transformers renames them on load).
    for (const n of [...out]) {
      if (n.endsWith("LayerNorm.weight")) out.push(n.slice(0, -"weight".length) + "gamma");
      else if (n.endsWith("LayerNorm.bias")) out.push(n.slice(0, -"bias".length) + "beta");
    }
    return out;
  };
  const entries = [...model.stateDict()];
  const buffers = model.namedBuffers();
  for (const [name, p] of [...entries, ...buffers]) {
    const key = candidates(name).find((k) => keys.has(k));
    if (key === undefined) continue;
    if (loaded.has(p)) {
      // A tied parameter stored under a second name (e.g. lm_head.weight): the first name wins, as in transformers.
      used.add(key);
      continue;
    }
    const info = reader.info(key);
    if (info.shape.length !== p.shape.length || info.shape.some((d, i) => d !== p.shape[i])) {
      throw new CheckpointError(`${source}: tensor "${key}" has shape [${info.shape.join(", ")}], the model expects [${p.shape.join(", ")}] for ${name}`);
    }
    await readInto(reader, key, info.dtype, p.data as FloatArray, source);
    used.add(key);
    loaded.add(p);
  }
  // A tied parameter (e.g. lm_head.weight = embeddings) is loaded once under any of its names; buffers the
  // checkpoint lacks keep their initial values, as in transformers.
  for (const [name, p] of entries) if (!loaded.has(p)) missing.push(name);
  if (missing.length > 0) throw new CheckpointError(`${source}: missing weights for ${missing.join(", ")}`);
  const ignored = model.ignoredCheckpointKeys;
  const unexpectedKeys = [...keys].filter((k) => !used.has(k) && !ignored.some((r) => r.test(k)));
  return { unexpectedKeys };
}

/**
 * Loads a model from a folder (config.json + model.safetensors or a sharded index) or a hub id
 * (through huggingface_hub's cache). The model is returned in eval mode, as from_pretrained does.
 */
export async function loadModel(pathOrHubId: string, options: LoadModelOptions = {}): Promise<PreTrainedModel> {
  const dir = await resolveCheckpointDir(pathOrHubId, options);
  const configPath = path.join(dir, "config.json");
  const config = await readJson(configPath);
  const model = withoutInit(() => modelFromConfig(config, configPath));
  if (options.dtype === "f64") toF64(model);
  let reader: TensorReader;
  try {
    reader = await openCheckpoint(dir);
  } catch (err) {
    if (err instanceof LmforgeError) throw err;
    throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json (${(err as Error).message})`);
  }
  try {
    await loadWeights(model, reader, dir);
  } finally {
    await reader.close();
  }
  const genPath = path.join(dir, "generation_config.json");
  if (await stat(genPath).then(() => true, () => false)) model.generationConfig = await readJson(genPath);
  return model.eval();
}

export interface SaveModelOptions {
  /** Largest shard (bytes or "5GB"); larger checkpoints are split with an index, as save_pretrained does. */
  maxShardSize?: number | string;
}

/** Writes config.json, model.safetensors (sharded above maxShardSize) and generation_config.json. */
export async function saveModel(model: PreTrainedModel, dir: string, options: SaveModelOptions = {}): Promise<void> {
  const tensors: [string, TensorData][] = [];
  for (const [name, p] of model.namedParameters()) {
    tensors.push([name, { dtype: p.dtype === "f64" ? "F64" : "F32", shape: [...p.shape], data: p.data }]);
  }
  for (const [name, b] of model.namedBuffers()) {
    tensors.push([name, { dtype: b.dtype === "f64" ? "F64" : "F32", shape: [...b.shape], data: b.data }]);
  }
  tensors.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  await saveShardedSafetensors(dir, tensors, { maxShardSize: options.maxShardSize ?? "5GB", metadata: { format: "pt" } });
  const config = { ...model.config.raw, dtype: model.parameters()[0]?.dtype === "f64" ? "float64" : "float32" };
  await writeJson(path.join(dir, "config.json"), config);
  if (model.generationConfig) await writeJson(path.join(dir, "generation_config.json"), model.generationConfig);
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
  await writeFileAtomic(file, (h) => writeAll(h, bytes));
}
