import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturesDir, repoRoot, runCli } from "../helpers/cli.js";
import { writeTinyTokenizer } from "../evaluation/harness-fixtures.js";

const gpt2 = path.join(fixturesDir, "gpt2");
const llama = path.join(fixturesDir, "llama");
const choicesTask = path.join(repoRoot, "examples/compare-models/choices.yaml");
const summaryTask = path.join(repoRoot, "examples/compare-models/summarize.yaml");
let tokenizer: string;

beforeAll(() => {
  tokenizer = writeTinyTokenizer();
});

describe("lmforge eval", () => {
  it("prints a table with a column per model, and --json the same numbers", () => {
    const args = ["eval", "--model", gpt2, "--model", llama, "--tokenizer", tokenizer, "--task", choicesTask];
    const table = runCli(args);
    expect(table.stderr).toBe("");
    expect(table.status).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[0]).toBe("everyday-facts (multiple_choice, 6 examples, 0-shot)");
    expect(lines[2]).toMatch(/^metric\s+gpt2\s+llama$/);
    const json = runCli([...args, "--json"]);
    expect(json.status).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result.models.map((m: { name: string }) => m.name)).toEqual(["gpt2", "llama"]);
    expect(result.metricNames).toEqual(["acc", "acc_norm"]);
    for (const metric of ["acc", "acc_norm"]) {
      const row = lines.find((l) => l.startsWith(metric + " "))!.trim().split(/\s+/);
      expect(row.slice(1)).toEqual(result.models.map((m: { metrics: Record<string, number> }) => m.metrics[metric]!.toFixed(4)));
    }
    // Every example carries each option's log-likelihood; acc is the share of examples whose best option is right.
    for (const m of result.models) {
      expect(m.examples).toHaveLength(6);
      const hits = m.examples.filter((e: { prediction: string; target: string }) => e.prediction === e.target).length;
      expect(m.metrics.acc).toBe(hits / 6);
    }
  }, 60_000);

  it("writes an HTML report with --report and honours --limit", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lmforge-cli-eval-"));
    const report = path.join(dir, "report.html");
    const r = runCli(["eval", "-m", gpt2, "-m", llama, "--tokenizer", tokenizer, "-t", summaryTask, "--limit", "2", "--report", report]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("dialogue-summary (generate, 2 examples, 0-shot)");
    expect(r.stdout).toContain(`report: ${report}`);
    const html = readFileSync(report, "utf8");
    expect(html).toContain("<th>gpt2</th><th>llama</th>");
    expect(html).toContain("Dialogue: A: Lunch at noon? B: Yes, the cafe.\nSummary:");
    expect(html).toContain("Dialogue: A: Is the report done? B: Tomorrow.\nSummary:");
    expect(html).not.toContain("Can you feed the cat");
  }, 60_000);

  it("fails with clear errors on bad input", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lmforge-cli-eval-"));
    const missing = path.join(dir, "missing.yaml");
    writeFileSync(missing, "name: x\ntype: generate\ndataset: none.jsonl\ntemplate: '{{a}}'\ntarget: b\n");
    const unknown = path.join(dir, "unknown.yaml");
    writeFileSync(path.join(dir, "d.jsonl"), '{"a": "x", "b": "y"}\n');
    writeFileSync(unknown, "name: x\ntype: generate\ndataset: d.jsonl\ntemplate: '{{a}}'\ntarget: b\nmetrics: [meteor]\n");
    const cases: [string[], RegExp][] = [
      [["--task", missing], /EvaluationError: task file .*missing\.yaml: field "dataset": cannot read .*none\.jsonl \(ENOENT\)/],
      [["--task", unknown], /field "metrics" has unknown metric "meteor"/],
      [["--task", choicesTask], /--model .*gpt2 has no tokenizer\.json; give --tokenizer/],
      [["--task", choicesTask, "--limit", "0"], /--limit must be a positive integer, got "0"/],
      [["--task", choicesTask, "--tokenizer", tokenizer, "--tokenizer", tokenizer, "--tokenizer", tokenizer], /--tokenizer is given 3 times for 1 models/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(["eval", "--model", gpt2, ...args]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  }, 60_000);
});
