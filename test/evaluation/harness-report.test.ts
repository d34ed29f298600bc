import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { escapeHtml, evaluate, formatTable, loadTask, renderHtmlReport, writeHtmlReport } from "../../src/evaluation/index.js";
import { fixtureModel } from "../helpers/parity.js";
import { tinyTokenizer } from "./harness-fixtures.js";

const records = [
  { dialogue: "A: <script>alert('x')</script> B: ok", summary: "Tom & Jerry \"agree\"" },
  { dialogue: "A: 1 < 2? B: yes > no", summary: "plain summary" },
];

async function result() {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-report-"));
  writeFileSync(path.join(dir, "d.jsonl"), records.map((r) => JSON.stringify(r)).join("\n"));
  writeFileSync(path.join(dir, "t.yaml"), `name: "<b>sum</b>"\ntype: generate\ndataset: d.jsonl\ntemplate: "{{dialogue}}\\nSummary:"\ntarget: summary\nmetrics: [rouge, bleu]\n`);
  const task = loadTask(path.join(dir, "t.yaml"));
  const model = await fixtureModel("gpt2");
  const tokenizer = tinyTokenizer();
  const outputs: Record<string, string[]> = { a: ["<i>one</i>", "x & y"], b: ["Tom & Jerry \"agree\"", "it's <fine>"] };
  const models = ["a", "b"].map((name) => ({ name, model, tokenizer }));
  let call = 0;
  const r = await evaluate({ models, task, generate: () => [...outputs.a!, ...outputs.b!][call++]! });
  return { dir, r, outputs };
}

describe("HTML report", () => {
  it("escapes &, <, >, quotes", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("holds every example's prompt, target and each model's prediction, escaped, and the summary table", async () => {
    const { dir, r, outputs } = await result();
    const file = path.join(dir, "report.html");
    await writeHtmlReport(r, file);
    const html = readFileSync(file, "utf8");
    expect(html).toBe(renderHtmlReport(r));
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    for (const rec of records) {
      expect(html).toContain(escapeHtml(`${rec.dialogue}\nSummary:`));
      expect(html).toContain(escapeHtml(rec.summary));
    }
    for (const p of [...outputs.a!, ...outputs.b!]) expect(html).toContain(`<pre>${escapeHtml(p)}</pre>`);
    // Nothing from the data or the models appears unescaped.
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<i>one</i>");
    expect(html).not.toContain("<fine>");
    expect(html).toContain("<title>&lt;b&gt;sum&lt;/b&gt; — lmforge eval</title>");
    expect(html).toContain("<th>a</th><th>b</th>");
    for (const metric of r.metricNames) expect(html).toContain(`<tr><th>${metric}</th>`);
    // Model b matches the first reference exactly, so it is best (bold) on rouge1.
    expect(r.models[1]!.metrics.rouge1!).toBeGreaterThan(r.models[0]!.metrics.rouge1!);
    expect(html).toMatch(/<tr><th>rouge1<\/th><td class="num">[\d.]+<\/td><td class="num best">/);
  });

  it("formats the side-by-side table with a column per model", async () => {
    const { r } = await result();
    const lines = formatTable(r).split("\n");
    expect(lines[0]).toMatch(/^metric\s+a\s+b$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).toEqual(r.metricNames);
    const bleuRow = lines.find((l) => l.startsWith("bleu"))!.split(/\s+/);
    expect(bleuRow.slice(1)).toEqual(r.models.map((m) => m.metrics.bleu!.toFixed(2)));
    expect(formatTable(r, { markdown: true }).split("\n")[1]).toBe("| --- | ---: | ---: |");
  });

  it("reports a write failure with the path", async () => {
    const { r } = await result();
    await expect(writeHtmlReport(r, "/nonexistent-dir/report.html")).rejects.toThrow(/cannot write report \/nonexistent-dir\/report\.html/);
  });
});
