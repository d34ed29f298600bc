import { writeFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { EvaluationError } from "./errors.js";
import type { EvaluationResult, ExampleRecord } from "./harness.js";

/** Scores are shown with 4 decimals; BLEU, chrF and perplexity are on larger scales and get 2. */
export function formatScore(metric: string, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return ["bleu", "chrf", "perplexity", "loglikelihood"].includes(metric) ? value.toFixed(2) : value.toFixed(4);
}

/**
 * The side-by-side table: one row per metric, one column per model. `markdown: true` gives a Markdown table,
 * otherwise columns are padded for a terminal.
 */
export function formatTable(result: EvaluationResult, options: { markdown?: boolean } = {}): string {
  const header = ["metric", ...result.models.map((m) => m.name)];
  const rows = result.metricNames.map((metric) => [metric, ...result.models.map((m) => formatScore(metric, m.metrics[metric]!))]);
  if (options.markdown) {
    const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:bold}
pre{white-space:pre-wrap;margin:0;font-family:ui-monospace,monospace;font-size:.9em}.scores{color:#555;font-size:.85em}
ol.choices{margin:.3em 0 0 1.2em;padding:0;font-size:.85em}`;

/** Metrics where a lower value is better (for highlighting the best model). */
const LOWER_IS_BETTER = new Set(["perplexity"]);

function choicesHtml(e: ExampleRecord): string {
  if (!e.choices) return "";
  const items = e.choices.map((c) => `<li>${escapeHtml(c.text)} <span class="scores">(ll ${c.loglikelihood.toFixed(3)}, ${c.tokens} tok)</span></li>`);
  return `<ol class="choices" start="0">${items.join("")}</ol>`;
}

/**
 * A self-contained HTML page: the summary table (best model per metric in bold) and every example with each
 * model's output side by side. All text from the data and the models is HTML-escaped.
 */
export function renderHtmlReport(result: EvaluationResult): string {
  const { task, models, metricNames } = result;
  const summaryRows = metricNames.map((metric) => {
    const values = models.map((m) => m.metrics[metric]!);
    const best = LOWER_IS_BETTER.has(metric) ? Math.min(...values) : Math.max(...values);
    const cells = values.map((v) => `<td class="num${models.length > 1 && v === best ? " best" : ""}">${escapeHtml(formatScore(metric, v))}</td>`);
    return `<tr><th>${escapeHtml(metric)}</th>${cells.join("")}</tr>`;
  });
  const exampleRows = models[0]!.examples.map((_, i) => {
    const first = models[0]!.examples[i]!;
    const cells = models.map((m) => {
      const e = m.examples[i]!;
      const scores = Object.entries(e.scores).map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(formatScore(k, v))}`).join(", ");
      const norm = e.predictionNorm !== undefined && e.predictionNorm !== e.prediction ? `<div class="scores">acc_norm pick: ${escapeHtml(e.predictionNorm)}</div>` : "";
      return `<td><pre>${escapeHtml(e.prediction)}</pre>${norm}<div class="scores">${scores}</div>${choicesHtml(e)}</td>`;
    });
    return `<tr><td class="num">${i + 1}</td><td><pre>${escapeHtml(first.prompt)}</pre></td><td><pre>${escapeHtml(first.target)}</pre></td>${cells.join("")}</tr>`;
  });
  const warnings = models.flatMap((m) => m.warnings);
  const modelHeads = models.map((m) => `<th>${escapeHtml(m.name)}</th>`).join("");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(task.name)} — lmforge eval</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(task.name)}</h1>
<p>Task type ${escapeHtml(task.type)}, ${task.examples} examples, ${task.fewshot}-shot, from ${escapeHtml(task.source)}.</p>
${warnings.length > 0 ? `<ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>` : ""}
<h2>Summary</h2>
<table><thead><tr><th>metric</th>${modelHeads}</tr></thead><tbody>
${summaryRows.join("\n")}
</tbody></table>
<h2>Examples</h2>
<table><thead><tr><th>#</th><th>prompt</th><th>target</th>${modelHeads}</tr></thead><tbody>
${exampleRows.join("\n")}
</tbody></table>
</body></html>
`;
}

/** Writes the HTML report through a temporary file in the same folder, renamed into place. */
export async function writeHtmlReport(result: EvaluationResult, file: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, renderHtmlReport(result), "utf8");
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new EvaluationError(`cannot write report ${file}: ${(err as Error).message}`);
  }
}
