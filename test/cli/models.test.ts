import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturesDir, runCli } from "../helpers/cli.js";

/** name -> element count of every tensor in a fixture's model.safetensors, read from its header here. */
function checkpointSizes(fixture: string): Map<string, number> {
  const bytes = readFileSync(path.join(fixturesDir, fixture, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<string, { shape: number[] }>;
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(header)) if (k !== "__metadata__") out.set(k, v.shape.reduce((a, b) => a * b, 1));
  return out;
}

function sumWhere(sizes: Map<string, number>, keep: (name: string) => boolean): number {
  let s = 0;
  for (const [k, n] of sizes) if (keep(k)) s += n;
  return s;
}

interface Inspection {
  architecture: string;
  config: Record<string, unknown>;
  totalParameters: number;
  parametersByModule: Record<string, number>;
  parametersByLayerType: Record<string, number>;
  memoryBytes: Record<string, number>;
}

function inspectJson(fixture: string): Inspection {
  const r = runCli(["inspect", path.join(fixturesDir, fixture), "--json"]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Inspection;
}

describe("lmforge models", () => {
  it("--json lists the registered families with model types, architectures and a description", () => {
    const r = runCli(["models", "--json"]);
    expect(r.status).toBe(0);
    const families = JSON.parse(r.stdout) as { modelTypes: string[]; architectures: string[]; defaultArchitecture: string; description: string }[];
    const bert = families.find((f) => f.modelTypes.includes("bert"))!;
    expect(bert.architectures).toEqual(["BertForMaskedLM", "BertForSequenceClassification"]);
    expect(bert.defaultArchitecture).toBe("BertForMaskedLM");
    expect(bert.description.length).toBeGreaterThan(10);
    const gpt2 = families.find((f) => f.modelTypes.includes("gpt2"))!;
    expect(gpt2.architectures).toEqual(["GPT2LMHeadModel"]);
    for (const f of families) expect(f.description, f.modelTypes.join()).not.toContain("\n");
  });

  it("prints a table with one row per family", () => {
    const r = runCli(["models"]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^MODEL TYPE\s+ARCHITECTURES\s+DESCRIPTION$/);
    expect(lines.find((l) => l.startsWith("bert "))).toContain("BertForMaskedLM, BertForSequenceClassification");
    expect(lines.find((l) => l.startsWith("gpt2 "))).toContain("GPT2LMHeadModel");
    const json = JSON.parse(runCli(["models", "--json"]).stdout) as unknown[];
    expect(lines).toHaveLength(json.length + 1);
  });
});

describe("lmforge inspect", () => {
  it("BERT MLM: counts match the checkpoint (the tied decoder stored once), per module and per layer type", () => {
    const sizes = checkpointSizes("bert");
    const r = inspectJson("bert");
    expect(r.architecture).toBe("BertForMaskedLM");
    expect(r.config).toMatchObject({ model_type: "bert", hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 320 });
    const total = sumWhere(sizes, () => true);
    expect(r.totalParameters).toBe(total);
    expect(r.parametersByModule).toEqual({
      "bert.embeddings": sumWhere(sizes, (k) => k.startsWith("bert.embeddings.")),
      "bert.encoder": sumWhere(sizes, (k) => k.startsWith("bert.encoder.")),
      cls: sumWhere(sizes, (k) => k.startsWith("cls.")),
    });
    const embeddings = sumWhere(sizes, (k) => k.endsWith("_embeddings.weight"));
    const norms = sumWhere(sizes, (k) => k.includes("LayerNorm."));
    expect(r.parametersByLayerType).toEqual({
      Embedding: embeddings,
      LayerNorm: norms,
      Linear: total - embeddings - norms - 320,
      BertLMPredictionHead: 320,
    });
    expect(r.memoryBytes).toEqual({ f32: 4 * total, f16: 2 * total, bf16: 2 * total, int8: total, int4: total / 2 });
  });

  it("BERT classifier and GPT-2 from the same formulas", () => {
    const cls = inspectJson("bert-cls");
    const clsSizes = checkpointSizes("bert-cls");
    expect(cls.architecture).toBe("BertForSequenceClassification");
    expect(cls.config.num_labels).toBeUndefined();
    expect(cls.totalParameters).toBe(sumWhere(clsSizes, () => true));
    expect(cls.parametersByModule["bert.pooler"]).toBe(32 * 32 + 32);
    expect(cls.parametersByModule.classifier).toBe(3 * 32 + 3);

    const gpt2 = inspectJson("gpt2");
    const sizes = checkpointSizes("gpt2");
    expect(gpt2.totalParameters).toBe(sumWhere(sizes, () => true));
    expect(gpt2.parametersByModule).toEqual({
      "transformer.wte": sizes.get("transformer.wte.weight"),
      "transformer.wpe": sizes.get("transformer.wpe.weight"),
      "transformer.h": sumWhere(sizes, (k) => k.startsWith("transformer.h.")),
      "transformer.ln_f": sumWhere(sizes, (k) => k.startsWith("transformer.ln_f.")),
    });
    expect(gpt2.parametersByLayerType.Conv1D).toBe(sumWhere(sizes, (k) => /\.(c_attn|c_proj|c_fc)\./.test(k)));
  });

  it("prints a readable report", () => {
    const r = runCli(["inspect", path.join(fixturesDir, "bert")]);
    expect(r.status).toBe(0);
    const total = sumWhere(checkpointSizes("bert"), () => true);
    expect(r.stdout).toContain("BertForMaskedLM");
    expect(r.stdout).toMatch(/parameters by module:\n\s+bert\.embeddings\s+[\d,]+/);
    expect(r.stdout).toContain(`total parameters: ${total.toLocaleString("en-US")}`);
    expect(r.stdout).toMatch(new RegExp(`f32\\s+${(4 * total / 1024).toFixed(2)} KiB`));
  });

  it("bad input: a missing folder, a folder without config.json, an unknown model_type", () => {
    const missing = runCli(["inspect", "./no/such/model"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no\/such\/model: no such folder/);
    const noConfig = runCli(["inspect", path.join(fixturesDir, "tokenizers")]);
    expect(noConfig.status).toBe(1);
    expect(noConfig.stderr).toMatch(/has no config\.json/);
    const dir = mkdtempSync(path.join(os.tmpdir(), "lmforge-inspect-"));
    try {
      writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "mamba", vocab_size: 10 }));
      const unknown = runCli(["inspect", dir]);
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toMatch(/model_type "mamba" is not supported; supported architectures: .*BertForMaskedLM/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
