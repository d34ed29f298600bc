import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { EvaluationError } from "./errors.js";

/**
 * Evaluation task files (YAML or JSON), in the spirit of lm-evaluation-harness task configs: a JSONL dataset,
 * a prompt template over its records, what to compare against, and which metrics to compute.
 */

export const TASK_TYPES = ["generate", "multiple_choice", "loglikelihood", "perplexity"] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const TASK_METRICS = ["rouge", "bleu", "chrf", "exact_match", "f1", "accuracy", "perplexity"] as const;
export type TaskMetric = (typeof TASK_METRICS)[number];

/** Which metrics each task type can compute, and its default when `metrics` is left out. */
export const METRICS_BY_TYPE: Record<TaskType, { allowed: readonly TaskMetric[]; default: readonly TaskMetric[] }> = {
  generate: { allowed: ["rouge", "bleu", "chrf", "exact_match", "f1"], default: ["rouge"] },
  multiple_choice: { allowed: ["accuracy", "f1"], default: ["accuracy"] },
  loglikelihood: { allowed: ["perplexity", "accuracy"], default: ["perplexity", "accuracy"] },
  perplexity: { allowed: ["perplexity"], default: ["perplexity"] },
};

export type DatasetRecord = Record<string, unknown>;

export interface GenerationSettings {
  maxNewTokens: number;
  /** Generation ends at the first of these strings, which is cut from the prediction (lm-eval's `until`). */
  stop: string[];
}

export interface Task {
  name: string;
  type: TaskType;
  /** The task file, for error messages. */
  source: string;
  /** Absolute path of the JSONL dataset. */
  dataset: string;
  template: string;
  /** A field name, or a template when it contains `{{`. Unused by perplexity tasks. */
  target: string | null;
  /** Multiple choice: the field holding the list of options. */
  choices: string | null;
  metrics: TaskMetric[];
  /** Demonstrations placed before every prompt. */
  fewshot: DatasetRecord[];
  fewshotSeparator: string;
  /** Between a prompt and its target in demonstrations and likelihood requests (lm-eval's target_delimiter). */
  targetDelimiter: string;
  generation: GenerationSettings;
  /** The records evaluated (after removing shots taken from the dataset, and after `limit`). */
  examples: DatasetRecord[];
}

const TOP_LEVEL_FIELDS = [
  "name", "type", "dataset", "template", "target", "choices", "metrics", "fewshot", "fewshot_dataset",
  "fewshot_separator", "target_delimiter", "generation", "limit",
];
const GENERATION_FIELDS = ["max_new_tokens", "stop"];

/** Reads a JSONL file: one JSON object per non-blank line. */
function readJsonl(file: string, what: string): DatasetRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new EvaluationError(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const records: DatasetRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new EvaluationError(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new EvaluationError(`${file}:${i + 1}: expected a JSON object per line`);
    }
    records.push(value as DatasetRecord);
  });
  return records;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Fills `{{field}}` placeholders from a record; strings and numbers only, a missing field is an error. */
export function renderTemplate(template: string, record: DatasetRecord, where: string): string {
  return template.replace(PLACEHOLDER, (_, field: string) => {
    const value = record[field];
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (value === undefined) throw new EvaluationError(`${where}: the template uses {{${field}}} but the record has no field "${field}"`);
    throw new EvaluationError(`${where}: field "${field}" must be a string or number to fill {{${field}}}, got ${JSON.stringify(value)}`);
  });
}

/** The value a `target` (a field name, or a template when it contains `{{`) gives for a record. */
export function resolveTarget(target: string, record: DatasetRecord, where: string): unknown {
  if (target.includes("{{")) return renderTemplate(target, record, where);
  if (!(target in record)) throw new EvaluationError(`${where}: the record has no target field "${target}"`);
  return record[target];
}

/** Loads and validates a task file (`.yaml`, `.yml` or `.json`); the dataset path is relative to the file. */
export function loadTask(file: string, options: { limit?: number } = {}): Task {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new EvaluationError(`task file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new EvaluationError(`task file ${file}: not valid ${file.endsWith(".json") ? "JSON" : "YAML"} (${(err as Error).message})`);
  }
  return parseTask(raw, file, options);
}

/** Validates a parsed task object; `source` names the file in errors and anchors relative dataset paths. */
export function parseTask(raw: unknown, source: string, options: { limit?: number } = {}): Task {
  const fail = (field: string, expected: string, got?: unknown): never => {
    const shown = got === undefined ? "" : `, got ${JSON.stringify(got)}`;
    throw new EvaluationError(`task file ${source}: field "${field}" ${expected}${shown}`);
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new EvaluationError(`task file ${source}: expected a mapping of fields (name, type, dataset, template, …)`);
  }
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!TOP_LEVEL_FIELDS.includes(key)) fail(key, `is not a task field; expected one of ${TOP_LEVEL_FIELDS.join(", ")}`);
  }
  const str = (field: string, required: boolean): string | null => {
    const v = o[field];
    if (v === undefined || v === null) return required ? fail(field, "is required (a string)") : null;
    if (typeof v !== "string" || (required && v.length === 0)) return fail(field, "must be a non-empty string", v);
    return v;
  };
  const count = (v: unknown, field: string): number | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return fail(field, "must be a non-negative integer", v);
    return v;
  };

  const name = str("name", true)!;
  const type = str("type", true) as TaskType;
  if (!TASK_TYPES.includes(type)) fail("type", `must be one of ${TASK_TYPES.join(", ")}`, type);
  const baseDir = path.dirname(path.resolve(source));
  const dataset = path.resolve(baseDir, str("dataset", true)!);
  const template = str("template", true)!;
  const target = str("target", type !== "perplexity");
  const choices = str("choices", type === "multiple_choice");
  if (choices !== null && type !== "multiple_choice") fail("choices", `is only for type multiple_choice (this task is ${type})`);

  const { allowed } = METRICS_BY_TYPE[type];
  let metrics: TaskMetric[];
  if (o.metrics === undefined) metrics = [...METRICS_BY_TYPE[type].default];
  else {
    if (!Array.isArray(o.metrics) || o.metrics.length === 0) fail("metrics", "must be a non-empty list", o.metrics);
    metrics = (o.metrics as unknown[]).map((m) => {
      if (typeof m !== "string" || !(TASK_METRICS as readonly string[]).includes(m)) {
        return fail("metrics", `has unknown metric ${JSON.stringify(m)}; expected some of ${TASK_METRICS.join(", ")}`);
      }
      if (!allowed.includes(m as TaskMetric)) {
        return fail("metrics", `has ${m}, which a ${type} task cannot compute; expected some of ${allowed.join(", ")}`);
      }
      return m as TaskMetric;
    });
    metrics = [...new Set(metrics)];
  }

  const fewshotSeparator = str("fewshot_separator", false) ?? "\n\n";
  const targetDelimiter = o.target_delimiter === undefined ? " " : (o.target_delimiter as string);
  if (typeof targetDelimiter !== "string") fail("target_delimiter", "must be a string", o.target_delimiter);

  const generation: GenerationSettings = { maxNewTokens: 32, stop: [] };
  if (o.generation !== undefined) {
    const g = o.generation;
    if (type !== "generate") fail("generation", `is only for type generate (this task is ${type})`);
    if (g === null || typeof g !== "object" || Array.isArray(g)) fail("generation", "must be a mapping (max_new_tokens, stop)", g);
    const gen = g as Record<string, unknown>;
    for (const key of Object.keys(gen)) {
      if (!GENERATION_FIELDS.includes(key)) fail(`generation.${key}`, `is not a generation field; expected one of ${GENERATION_FIELDS.join(", ")}`);
    }
    if (gen.max_new_tokens !== undefined) {
      const n = gen.max_new_tokens;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) fail("generation.max_new_tokens", "must be a positive integer", n);
      generation.maxNewTokens = n as number;
    }
    if (gen.stop !== undefined) {
      const stop = typeof gen.stop === "string" ? [gen.stop] : gen.stop;
      if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string" || s.length === 0)) {
        fail("generation.stop", "must be a non-empty string or a list of them", gen.stop);
      }
      generation.stop = stop as string[];
    }
  }

  const limit = options.limit ?? count(o.limit, "limit");
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) {
    throw new EvaluationError(`limit must be a positive integer, got ${options.limit}`);
  }
  const nShots = count(o.fewshot, "fewshot") ?? 0;
  const fewshotDataset = str("fewshot_dataset", false);
  if (fewshotDataset !== null && nShots === 0) fail("fewshot_dataset", 'is set but "fewshot" is 0 or missing; give the number of examples');
  if (nShots > 0 && type === "perplexity") fail("fewshot", "does not apply to perplexity tasks");

  let records = readJsonl(dataset, `task file ${source}: field "dataset"`);
  let fewshot: DatasetRecord[] = [];
  if (nShots > 0) {
    const pool = fewshotDataset === null ? records : readJsonl(path.resolve(baseDir, fewshotDataset), `task file ${source}: field "fewshot_dataset"`);
    if (pool.length < nShots) fail("fewshot", `asks for ${nShots} examples but ${fewshotDataset ?? "the dataset"} has ${pool.length}`);
    fewshot = pool.slice(0, nShots);
    // Shots taken from the evaluation data are not evaluated too: the model would see their answers.
    if (fewshotDataset === null) records = records.slice(nShots);
  }
  if (limit !== null) records = records.slice(0, limit);
  if (records.length === 0) {
    throw new EvaluationError(`task file ${source}: no examples to evaluate in ${dataset}${nShots > 0 && fewshotDataset === null ? ` after taking ${nShots} few-shot examples from it` : ""}`);
  }

  const task: Task = {
    name, type, source, dataset, template, target, choices, metrics, fewshot, fewshotSeparator, targetDelimiter, generation,
    examples: records,
  };
  // Check every record up front, so a bad line fails before any model runs.
  task.examples.forEach((r, i) => checkRecord(task, r, `${dataset}: example ${i + 1}`));
  task.fewshot.forEach((r, i) => checkRecord(task, r, `${fewshotDataset ?? dataset}: few-shot example ${i + 1}`));
  return task;
}

/** A multiple-choice record's options and the index of the right one. */
export function choicesOf(task: Task, record: DatasetRecord, where: string): { options: string[]; gold: number } {
  const options = record[task.choices!];
  if (!Array.isArray(options) || options.length < 2 || options.some((c) => typeof c !== "string" || c.length === 0)) {
    throw new EvaluationError(`${where}: field "${task.choices}" must be a list of at least 2 non-empty strings, got ${JSON.stringify(options)}`);
  }
  const t = resolveTarget(task.target!, record, where);
  let gold = -1;
  if (typeof t === "number") gold = Number.isInteger(t) ? t : -1;
  else if (typeof t === "string") gold = options.includes(t) ? options.indexOf(t) : /^\d+$/.test(t) ? Number(t) : -1;
  if (gold < 0 || gold >= options.length) {
    throw new EvaluationError(
      `${where}: target ${JSON.stringify(t)} must be an index into "${task.choices}" (0..${options.length - 1}) or one of its strings`,
    );
  }
  return { options: options as string[], gold };
}

/** A generation record's references: a string, or a non-empty list of acceptable strings. */
export function referencesOf(task: Task, record: DatasetRecord, where: string): string[] {
  const t = resolveTarget(task.target!, record, where);
  if (typeof t === "string") return [t];
  if (Array.isArray(t) && t.length > 0 && t.every((r) => typeof r === "string")) return t as string[];
  throw new EvaluationError(`${where}: target "${task.target}" must be a string or a non-empty list of strings, got ${JSON.stringify(t)}`);
}

function checkRecord(task: Task, record: DatasetRecord, where: string): void {
  renderTemplate(task.template, record, where);
  if (task.type === "multiple_choice") choicesOf(task, record, where);
  else if (task.type === "generate") referencesOf(task, record, where);
  else if (task.type === "loglikelihood") {
    const t = resolveTarget(task.target!, record, where);
    if (typeof t !== "string" || t.length === 0) throw new EvaluationError(`${where}: target "${task.target}" must be a non-empty string, got ${JSON.stringify(t)}`);
  }
}

/** The prompt for a record: the demonstrations (prompt + delimiter + target each), then the record's prompt. */
export function buildTaskPrompt(task: Task, record: DatasetRecord, where: string): string {
  const shots = task.fewshot.map((shot, i) => {
    const w = `few-shot example ${i + 1}`;
    const text = renderTemplate(task.template, shot, w);
    let answer: string;
    if (task.type === "multiple_choice") {
      const { options, gold } = choicesOf(task, shot, w);
      answer = options[gold]!;
    } else answer = task.type === "generate" ? referencesOf(task, shot, w)[0]! : String(resolveTarget(task.target!, shot, w));
    return text + task.targetDelimiter + answer;
  });
  return [...shots, renderTemplate(task.template, record, where)].join(task.fewshotSeparator);
}
