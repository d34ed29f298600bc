import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { inspectModel } from "../../src/cli/inspect.js";
import { startHubServer, type HubFile, type HubServer } from "../helpers/hub-server.js";
import { SafetensorsFile, saveSafetensors, type TensorData } from "../../src/io/index.js";
import { CheckpointError, loadModel, type PreTrainedModel } from "../../src/models/index.js";
import { ConfigError, LmforgeError } from "../../src/errors.js";
import { noGrad } from "../../src/tensor/index.js";

const COMMIT = "1111111111111111111111111111111111111111";
const SHARDED_COMMIT = "2222222222222222222222222222222222222222";
const gpt2Dir = path.join(fixturesDir, "gpt2");
const HF_VARS = ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"];
const inputs = { inputIds: [[5, 17, 99, 3, 250]] };

let server: HubServer;
let root: string;
let savedEnv: Record<string, string | undefined>;
let shardedDir: string;

/** Every file of a folder as a hub repo; safetensors are LFS files (served through the CDN redirect). */
async function repoFiles(dir: string): Promise<Record<string, HubFile>> {
  const files: Record<string, HubFile> = {};
  for (const name of await readdir(dir)) {
    if (name.startsWith("reference.")) continue;
    files[name] = { content: await readFile(path.join(dir, name)), lfs: name.endsWith(".safetensors") };
  }
  return files;
}

function logits(model: PreTrainedModel): number[] {
  return Array.from(noGrad(() => model.forward(inputs).logits).data as Float32Array);
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the promise to reject");
}

beforeAll(async () => {
  savedEnv = Object.fromEntries(HF_VARS.map((k) => [k, process.env[k]]));
  for (const k of HF_VARS) delete process.env[k];
  root = await mkdtemp(path.join(os.tmpdir(), "lmforge-hub-load-"));
  shardedDir = path.join(root, "sharded");
  // ~12 KB shards: the 40 KB embedding gets a shard of its own and the rest is split across several.
  await (await loadModel(gpt2Dir)).save(shardedDir, { maxShardSize: 12_000 });
  server = await startHubServer({
    "org/gpt2": { commit: COMMIT, files: await repoFiles(gpt2Dir) },
    "org/gpt2-sharded": { commit: SHARDED_COMMIT, files: await repoFiles(shardedDir) },
    "org/no-weights": { commit: COMMIT, files: { "config.json": { content: await readFile(path.join(gpt2Dir, "config.json")) } } },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("loadModel from the hub", () => {
  it("downloads into the cache and gives the logits of loading the folder; offline reuses the cache", async () => {
    const cacheDir = path.join(root, "cache-single");
    const fromFolder = await loadModel(gpt2Dir);
    const fromHub = await loadModel("org/gpt2", { endpoint: server.endpoint, cacheDir });
    expect(logits(fromHub)).toEqual(logits(fromFolder));
    expect(fromHub.generationConfig).toEqual(JSON.parse(await readFile(path.join(gpt2Dir, "generation_config.json"), "utf8")));
    const snapshot = path.join(cacheDir, "models--org--gpt2", "snapshots", COMMIT);
    expect((await readdir(snapshot)).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    expect(server.requests.some((r) => r.server === "cdn")).toBe(true);

    const before = server.requests.length;
    const offline = await loadModel("org/gpt2", { endpoint: server.endpoint, cacheDir, offline: true });
    expect(server.requests.length).toBe(before);
    expect(logits(offline)).toEqual(logits(fromFolder));
  });

  it("loads a sharded checkpoint (model.safetensors.index.json + shards) through the hub", async () => {
    const files = await readdir(shardedDir);
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(files).toContain("model.safetensors.index.json");
    expect(files).not.toContain("model.safetensors");
    expect(shards.length).toBeGreaterThan(2);

    const cacheDir = path.join(root, "cache-sharded");
    const model = await loadModel("org/gpt2-sharded", { endpoint: server.endpoint, cacheDir });
    expect(logits(model)).toEqual(logits(await loadModel(gpt2Dir)));
    const snapshot = await readdir(path.join(cacheDir, "models--org--gpt2-sharded", "snapshots", SHARDED_COMMIT));
    for (const shard of shards) expect(snapshot).toContain(shard);

    const offline = await loadModel("org/gpt2-sharded", { endpoint: server.endpoint, cacheDir, offline: true });
    expect(logits(offline)).toEqual(logits(model));
  });

  it("lmforge inspect reads only config.json of a hub repo", async () => {
    const cacheDir = path.join(root, "cache-inspect");
    const before = server.requests.length;
    const report = await inspectModel("org/gpt2", { endpoint: server.endpoint, cacheDir });
    const fromFolder = await loadModel(gpt2Dir);
    expect(report.architecture).toBe("GPT2LMHeadModel");
    expect(report.totalParameters).toBe(fromFolder.numParameters());
    const fetched = server.requests.slice(before).map((r) => r.path);
    expect(fetched.length).toBeGreaterThan(0);
    expect(fetched.every((p) => p.endsWith("/config.json"))).toBe(true);
  });

  it("a repo without safetensors weights, or not cached while offline, is an error that says so", async () => {
    const cacheDir = path.join(root, "cache-errors");
    const noWeights = await caught(loadModel("org/no-weights", { endpoint: server.endpoint, cacheDir }));
    expect(noWeights).toBeInstanceOf(CheckpointError);
    expect(noWeights.message).toMatch(/org\/no-weights: the repo has neither model\.safetensors nor model\.safetensors\.index\.json/);
    const offline = await caught(loadModel("org/gpt2", { endpoint: server.endpoint, cacheDir: path.join(root, "empty-cache"), offline: true }));
    expect(offline).toBeInstanceOf(LmforgeError);
    expect(offline.message).toMatch(/offline/);
  });
});

describe("loadModel error paths", () => {
  /** A copy of the gpt2 fixture folder with config edits and tensors renamed or dropped. */
  async function variant(name: string, edit: { config?: Record<string, unknown>; drop?: string }): Promise<string> {
    const dir = path.join(root, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const config = { ...JSON.parse(await readFile(path.join(gpt2Dir, "config.json"), "utf8")), ...edit.config };
    await writeFile(path.join(dir, "config.json"), JSON.stringify(config));
    if (edit.drop === undefined) {
      await copyFile(path.join(gpt2Dir, "model.safetensors"), path.join(dir, "model.safetensors"));
      return dir;
    }
    const file = await SafetensorsFile.open(path.join(gpt2Dir, "model.safetensors"));
    const tensors: [string, TensorData][] = [];
    try {
      for (const key of file.keys()) if (key !== edit.drop) tensors.push([key, { dtype: "F32", shape: file.info(key).shape, data: await file.read(key) }]);
    } finally {
      await file.close();
    }
    await saveSafetensors(path.join(dir, "model.safetensors"), tensors, { format: "pt" });
    return dir;
  }

  it("a missing folder", async () => {
    const err = await caught(loadModel(path.join(root, "does-not-exist")));
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain(`${path.join(root, "does-not-exist")}: no such folder`);
  });

  it("an unknown model_type lists the supported architectures", async () => {
    const dir = await variant("unknown-type", { config: { model_type: "mamba", architectures: undefined } });
    const err = await caught(loadModel(dir));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(path.join(dir, "config.json"));
    expect(err.message).toMatch(/model_type "mamba" is not supported; supported architectures: .*GPT2LMHeadModel.*BertForMaskedLM/);
  });

  it("a checkpoint missing a weight names it", async () => {
    const dir = await variant("missing-weight", { drop: "transformer.h.1.mlp.c_fc.weight" });
    const err = await caught(loadModel(dir));
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/missing weights for transformer\.h\.1\.mlp\.c_fc\.weight$/);
  });

  it("a shape mismatch names the tensor and both shapes", async () => {
    const dir = await variant("shape-mismatch", { config: { n_positions: 32 } });
    const err = await caught(loadModel(dir));
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/tensor "transformer\.wpe\.weight" has shape \[64, 32\], the model expects \[32, 32\]/);
  });
});
