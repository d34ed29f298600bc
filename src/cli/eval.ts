import { cliHubOptions } from "./hub-options.js";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { EvaluationError, evaluate, formatTable, loadTask, writeHtmlReport, type EvalModel } from "../evaluation/index.js";
import { loadModel } from "../models/index.js";
import { loadTokenizer } from "../tokenizers/index.js";

interface Options {
  model: string[];
  tokenizer: string[];
  task: string;
  limit?: string;
  json?: boolean;
  report?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Column labels: folder names, or the paths as given when two folders share a name. */
function columnNames(sources: string[]): string[] {
  const base = sources.map((s) => path.basename(path.resolve(s)));
  return new Set(base).size === base.length ? base : sources;
}

export function register(program: Command): void {
  program
    .command("eval")
    .description("Evaluate one or more models on a task file and compare them side by side")
    .requiredOption("-m, --model <dir>", "model folder or hub id; repeat to compare models", collect, [])
    .option("--tokenizer <path>", "tokenizer folder or file (default: each model's folder); give once for all models or once per model", collect, [])
    .requiredOption("-t, --task <file>", "task file (YAML or JSON)")
    .option("--limit <n>", "evaluate only the first n examples")
    .option("--json", "print the full result (metrics and every example) as JSON")
    .option("--report <file>", "write a self-contained HTML report")
    .action(async (opts: Options) => {
      if (opts.model.length === 0) throw new EvaluationError("--model is required; give it once per model to compare");
      if (opts.tokenizer.length > 1 && opts.tokenizer.length !== opts.model.length) {
        throw new EvaluationError(`--tokenizer is given ${opts.tokenizer.length} times for ${opts.model.length} models; give it once for all, or once per --model`);
      }
      let limit: number | undefined;
      if (opts.limit !== undefined) {
        limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new EvaluationError(`--limit must be a positive integer, got ${JSON.stringify(opts.limit)}`);
      }
      // The task is read first: a bad task file fails before any model is loaded.
      const task = loadTask(opts.task, { limit });
      const names = columnNames(opts.model);
      const models: EvalModel[] = [];
      for (const [i, source] of opts.model.entries()) {
        const tokenizerSource = opts.tokenizer[opts.tokenizer.length === 1 ? 0 : i] ?? source;
        if (tokenizerSource === source && existsSync(source) && !existsSync(path.join(source, "tokenizer.json"))) {
          throw new EvaluationError(`--model ${source} has no tokenizer.json; give --tokenizer <folder or file>`);
        }
        models.push({ name: names[i]!, model: await loadModel(source, cliHubOptions()), tokenizer: await loadTokenizer(tokenizerSource, cliHubOptions()) });
      }
      const progress = process.stderr.isTTY
        ? (name: string, done: number, total: number): void => void process.stderr.write(`\r${name}: ${done}/${total}${done === total ? "\n" : ""}`)
        : undefined;
      const result = await evaluate({ models, task, onExample: progress });
      for (const m of result.models) for (const w of m.warnings) process.stderr.write(`warning: ${w}\n`);
      if (opts.report) await writeHtmlReport(result, opts.report);
      if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
      else {
        process.stdout.write(`${task.name} (${task.type}, ${result.task.examples} examples, ${result.task.fewshot}-shot)\n\n`);
        process.stdout.write(formatTable(result) + "\n");
        if (opts.report) process.stdout.write(`\nreport: ${opts.report}\n`);
      }
    });
}
