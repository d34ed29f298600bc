import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fixturesDir, runCli } from "../helpers/cli.js";

interface MetricsFixture {
  hyps: string[];
  refs: string[];
  corpus_bleu: number;
  sentence_bleu: number[];
  rouge_per_pair: Record<string, number>[];
}
interface RougeJson {
  fmeasure: number;
  precision: number;
  recall: number;
}

const fixture = JSON.parse(readFileSync(path.join(fixturesDir, "metrics.json"), "utf8")) as MetricsFixture;
const dir = mkdtempSync(path.join(tmpdir(), "lmforge-eval-"));
const hypsFile = path.join(dir, "hyps.txt");
const refsFile = path.join(dir, "refs.txt");
writeFileSync(hypsFile, fixture.hyps.join("\n") + "\n");
writeFileSync(refsFile, fixture.refs.join("\n") + "\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lmforge eval-metrics", () => {
  it("--json reproduces the sacrebleu and rouge-score fixture values", () => {
    const r = runCli(["eval-metrics", "--metric", "bleu,rouge", "--hyps", hypsFile, "--refs", refsFile, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Math.abs((out.bleu as number) - fixture.corpus_bleu)).toBeLessThan(1e-6);
    const sentence = out.sentence_bleu as number[];
    expect(sentence).toHaveLength(fixture.hyps.length);
    sentence.forEach((s, i) => expect(Math.abs(s - fixture.sentence_bleu[i]!), `pair ${i}`).toBeLessThan(1e-6));
    for (const t of ["rouge1", "rouge2", "rougeL"]) {
      const rows = out[t] as RougeJson[];
      expect(rows).toHaveLength(fixture.hyps.length);
      rows.forEach((row, i) => {
        expect(Object.keys(row)).toEqual(["fmeasure", "precision", "recall"]);
        for (const f of ["fmeasure", "precision", "recall"] as const) {
          expect(Math.abs(row[f] - fixture.rouge_per_pair[i]![`${t}_${f}`]!), `${t} ${f} ${i}`).toBeLessThan(1e-6);
        }
      });
    }
    // single-line examples: Lsum equals ROUGE-L
    expect((out.rougeLsum as RougeJson[]).map((x) => x.fmeasure)).toEqual((out.rougeL as RougeJson[]).map((x) => x.fmeasure));
    const mean = out.rouge_mean as Record<string, RougeJson>;
    const expectedMean = fixture.rouge_per_pair.reduce((s, e) => s + e.rouge2_fmeasure!, 0) / fixture.hyps.length;
    expect(Math.abs(mean.rouge2!.fmeasure - expectedMean)).toBeLessThan(1e-6);
  });

  it("accepts repeated --metric and --refs and prints a table without --json", () => {
    const r = runCli(["eval-metrics", "-m", "bleu", "-m", "chrf", "--hyps", hypsFile, "--refs", refsFile, "--refs", refsFile]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`BLEU = ${fixture.corpus_bleu.toFixed(2)}`);
    expect(r.stdout).toMatch(/chrF2 = \d+\.\d\d/);
    expect(r.stdout).not.toContain("rouge1");
  });

  it("adds seeded bootstrap confidence intervals with --bootstrap", () => {
    const args = ["eval-metrics", "--metric", "rouge", "--hyps", hypsFile, "--refs", refsFile, "--json", "--bootstrap", "--seed", "3"];
    const out = JSON.parse(runCli(args).stdout) as { rouge_ci: Record<string, Record<"low" | "mid" | "high", RougeJson>>; rouge_mean: Record<string, RougeJson> };
    const ci = out.rouge_ci.rouge1!;
    expect(ci.low.fmeasure).toBeLessThan(out.rouge_mean.rouge1!.fmeasure);
    expect(ci.high.fmeasure).toBeGreaterThan(out.rouge_mean.rouge1!.fmeasure);
    expect(ci.low.fmeasure).toBeLessThanOrEqual(ci.mid.fmeasure);
    expect(ci.mid.fmeasure).toBeLessThanOrEqual(ci.high.fmeasure);
  });

  it("names both files when the line counts differ", () => {
    const short = path.join(dir, "short.txt");
    writeFileSync(short, "one line\n");
    const r = runCli(["eval-metrics", "--metric", "bleu", "--hyps", hypsFile, "--refs", short, "--json"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("EvaluationError");
    expect(r.stderr).toContain(hypsFile);
    expect(r.stderr).toContain(short);
    expect(r.stderr).toContain(`has ${fixture.hyps.length} lines`);
    expect(r.stdout).toBe("");
  });

  it("rejects unknown metrics, missing and empty files", () => {
    const unknown = runCli(["eval-metrics", "--metric", "bleu,meteor", "--hyps", hypsFile, "--refs", refsFile]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown --metric "meteor"; expected one or more of bleu, chrf, rouge/);

    const missing = runCli(["eval-metrics", "--metric", "rouge", "--hyps", path.join(dir, "nope.txt"), "--refs", refsFile]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read --hyps file .*nope\.txt/);

    const emptyFile = path.join(dir, "empty.txt");
    writeFileSync(emptyFile, "");
    const empty = runCli(["eval-metrics", "--metric", "rouge", "--hyps", emptyFile, "--refs", refsFile]);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/--hyps file .*empty\.txt is empty/);
  });
});
