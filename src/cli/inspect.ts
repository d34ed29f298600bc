import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { resolveRepoFile, type HubOptions } from "../io/index.js";
import { withoutInit } from "../nn/init.js";
import { Parameter } from "../nn/module.js";
import { CheckpointError, modelFromConfig, resolveArchitecture, type RawConfig } from "../models/index.js";

/** config.json fields worth showing, under the names the families use for them. */
const KEY_FIELDS = [
  "model_type", "vocab_size",
  "hidden_size", "n_embd", "d_model",
  "num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers",
  "num_attention_heads", "n_head", "num_heads", "num_key_value_heads", "head_dim",
  "intermediate_size", "n_inner", "d_ff",
  "hidden_act", "activation_function", "feed_forward_proj",
  "max_position_embeddings", "n_positions",
  "type_vocab_size", "num_labels", "tie_word_embeddings", "rope_theta", "rope_parameters", "rope_scaling", "sliding_window",
  "dtype", "torch_dtype",
];

/** Bits per weight of each storage format (int8/int4 count the weights alone, not quantization scales). */
const DTYPE_BITS = { f32: 32, f16: 16, bf16: 16, int8: 8, int4: 4 } as const;

export interface ModelInspection {
  source: string;
  architecture: string;
  config: Record<string, unknown>;
  totalParameters: number;
  /** Parameters per top-level module (one level below the base model, e.g. bert.embeddings, bert.encoder, cls). */
  parametersByModule: Record<string, number>;
  /** Parameters per layer class that owns them (Linear, Embedding, LayerNorm, …). */
  parametersByLayerType: Record<string, number>;
  /** Bytes the weights take in each dtype. */
  memoryBytes: Record<keyof typeof DTYPE_BITS, number>;
}

async function readConfig(pathOrHubId: string, options: HubOptions): Promise<{ file: string; config: RawConfig }> {
  const isDir = await stat(pathOrHubId).then((s) => s.isDirectory(), () => false);
  if (!isDir && (pathOrHubId.startsWith(".") || pathOrHubId.startsWith("/") || pathOrHubId.split("/").length > 2)) {
    throw new CheckpointError(`${pathOrHubId}: no such folder (and not a hub id of the form org/name)`);
  }
  const file = await resolveRepoFile(pathOrHubId, "config.json", options);
  let config: unknown;
  try {
    config = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw new ConfigError(`${file}: expected a JSON object`);
  return { file, config: config as RawConfig };
}

const add = (rec: Record<string, number>, key: string, n: number): void => {
  rec[key] = (rec[key] ?? 0) + n;
};

/**
 * Counts a model's parameters from its config.json alone (no weights are read or downloaded): the model is
 * built with zero-filled storage that is never written, so the operating system does not commit its pages.
 */
export async function inspectModel(pathOrHubId: string, options: HubOptions = {}): Promise<ModelInspection> {
  const { file, config } = await readConfig(pathOrHubId, options);
  const { architecture } = resolveArchitecture(config, file);
  const model = withoutInit(() => modelFromConfig(config, file));

  const prefix = model.baseModelPrefix;
  const parametersByModule: Record<string, number> = {};
  let total = 0;
  for (const [name, p] of model.namedParameters()) {
    const parts = name.split(".");
    const depth = prefix && parts[0] === prefix && parts.length > 2 ? 2 : 1;
    add(parametersByModule, parts.slice(0, depth).join("."), p.size);
    total += p.size;
  }
  // Shared (tied) parameters count once, for the first module that holds them, as namedParameters() does.
  const parametersByLayerType: Record<string, number> = {};
  const seen = new Set<Parameter>();
  for (const [, m] of model.namedModules()) {
    for (const [key, value] of Object.entries(m)) {
      if (key.startsWith("_") || !(value instanceof Parameter) || seen.has(value)) continue;
      seen.add(value);
      add(parametersByLayerType, m.constructor.name, value.size);
    }
  }

  const shown: Record<string, unknown> = {};
  for (const k of KEY_FIELDS) if (config[k] !== undefined && config[k] !== null) shown[k] = config[k];
  const memoryBytes = Object.fromEntries(Object.entries(DTYPE_BITS).map(([d, bits]) => [d, Math.ceil((total * bits) / 8)])) as ModelInspection["memoryBytes"];
  return { source: pathOrHubId, architecture, config: shown, totalParameters: total, parametersByModule, parametersByLayerType, memoryBytes };
}

function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)}K`;
  return String(n);
}

function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]}`;
}

function render(r: ModelInspection): string {
  const lines: string[] = [`${r.source}: ${r.architecture}`, "", "config:"];
  const keyWidth = Math.max(...Object.keys(r.config).map((k) => k.length));
  for (const [k, v] of Object.entries(r.config)) lines.push(`  ${k.padEnd(keyWidth)}  ${typeof v === "string" ? v : JSON.stringify(v)}`);
  const section = (title: string, rec: Record<string, number>): void => {
    lines.push("", title);
    const w = Math.max(...Object.keys(rec).map((k) => k.length));
    const nw = Math.max(...Object.values(rec).map((n) => n.toLocaleString("en-US").length));
    for (const [k, n] of Object.entries(rec)) lines.push(`  ${k.padEnd(w)}  ${n.toLocaleString("en-US").padStart(nw)}  (${(100 * n / r.totalParameters).toFixed(1)}%)`);
  };
  section("parameters by module:", r.parametersByModule);
  section("parameters by layer type:", r.parametersByLayerType);
  lines.push("", `total parameters: ${r.totalParameters.toLocaleString("en-US")} (${humanCount(r.totalParameters)})`, "", "weights memory:");
  for (const [d, bytes] of Object.entries(r.memoryBytes)) lines.push(`  ${d.padEnd(4)}  ${humanBytes(bytes)}`);
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("inspect")
    .description("Show a model's config, parameter counts (per module, per layer type, total) and weight memory per dtype")
    .argument("<model>", "model folder or hub id (org/name); only config.json is read")
    .option("--revision <rev>", "hub branch, tag or commit", "main")
    .option("--offline", "use the hub cache only")
    .option("--json", "print JSON")
    .action(async (model: string, opts: { revision: string; offline?: boolean; json?: boolean }) => {
      const r = await inspectModel(model, { revision: opts.revision, offline: opts.offline });
      process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : `${render(r)}\n`);
    });
}
