import type { PreTrainedModel } from "../models/model.js";
import { corpusBleu, referencesFromLists, sentenceBleu } from "./bleu.js";
import { corpusChrf, sentenceChrf } from "./chrf.js";
import { classificationReport, exactMatchScore, tokenF1Score } from "./classification.js";
import { EvaluationError } from "./errors.js";
import { perplexity } from "./perplexity.js";
import { rouge, DEFAULT_ROUGE_TYPES } from "./rouge.js";
import { generateText, loglikelihood, type EvalTokenizer, type GenerationTaskOptions } from "./scoring.js";
import { buildTaskPrompt, choicesOf, referencesOf, renderTemplate, resolveTarget, type Task } from "./task.js";

export interface EvalModel {
  /** Column name in tables and reports. */
  name: string;
  model: PreTrainedModel;
  tokenizer: EvalTokenizer;
}

/** Produces a prediction for a generation task; the default is greedy decoding (`generateText`). */
export type GenerateFn = (
  model: PreTrainedModel,
  tokenizer: EvalTokenizer,
  prompt: string,
  options: GenerationTaskOptions,
) => string | Promise<string>;

export interface EvaluateOptions {
  models: readonly EvalModel[];
  task: Task;
  generate?: GenerateFn;
  /** Called after each example of each model (progress display). */
  onExample?: (model: string, done: number, total: number) => void;
}

export interface ChoiceScore {
  text: string;
  loglikelihood: number;
  /** Continuation tokens scored. */
  tokens: number;
}

export interface ExampleRecord {
  /** Position in the evaluated examples (0-based). */
  index: number;
  prompt: string;
  /** The reference (generation: the first of its references; multiple choice: the right option). */
  target: string;
  /** Generated text, or the option with the highest log-likelihood. */
  prediction: string;
  /** Multiple choice: the option chosen after length normalization (acc_norm). */
  predictionNorm?: string;
  choices?: ChoiceScore[];
  scores: Record<string, number>;
}

export interface ModelEvaluation {
  name: string;
  metrics: Record<string, number>;
  examples: ExampleRecord[];
  warnings: string[];
}

export interface EvaluationResult {
  task: { name: string; type: Task["type"]; examples: number; fewshot: number; source: string };
  /** Aggregate metric names in display order (the rows of a side-by-side table). */
  metricNames: string[];
  models: ModelEvaluation[];
}

/**
 * Runs a task on each model and returns per-model aggregate metrics plus every example's prompt, prediction,
 * target and scores, so models can be compared side by side.
 *
 * - multiple_choice (as lm-evaluation-harness): each option, prefixed by the target delimiter, is scored as
 *   the continuation of the prompt; `acc` takes the option with the highest summed log-likelihood, `acc_norm`
 *   the highest log-likelihood divided by the option's length in characters (Unicode code points) — lm-eval's
 *   `acc_norm`, `completion_len = len(choice)`; the first option wins ties (numpy argmax).
 * - loglikelihood: `perplexity` = exp(-mean log-likelihood of the targets) and `acc` = share of targets greedy
 *   decoding reproduces, as lm-eval's loglikelihood output type.
 * - generate: greedy predictions scored with ROUGE (F-measure), corpus BLEU, corpus chrF, SQuAD exact match / F1.
 * - perplexity: token perplexity of each rendered record with the sliding-window method (`perplexity`).
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { task, models } = options;
  if (!Array.isArray(models) || models.length === 0) throw new EvaluationError("evaluate: models is empty; expected at least one { name, model, tokenizer }");
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new EvaluationError(`evaluate: two models are named ${JSON.stringify(m.name)}; names label the columns and must differ`);
    names.add(m.name);
  }
  const where = (i: number): string => `${task.dataset}: example ${i + 1}`;
  const prompts = task.examples.map((r, i) => (task.type === "perplexity" ? renderTemplate(task.template, r, where(i)) : buildTaskPrompt(task, r, where(i))));
  const results: ModelEvaluation[] = [];
  for (const m of models) {
    const tick = (done: number): void => options.onExample?.(m.name, done, prompts.length);
    switch (task.type) {
      case "multiple_choice":
        results.push(multipleChoice(task, m, prompts, tick));
        break;
      case "loglikelihood":
        results.push(loglikelihoodTask(task, m, prompts, tick));
        break;
      case "generate":
        results.push(await generationTask(task, m, prompts, options.generate ?? generateText, tick));
        break;
      case "perplexity":
        results.push(perplexityTask(m, prompts, tick));
    }
  }
  return {
    task: { name: task.name, type: task.type, examples: prompts.length, fewshot: task.fewshot.length, source: task.source },
    metricNames: Object.keys(results[0]!.metrics),
    models: results,
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Index of the largest value, the first among ties (numpy's argmax). */
const argmax = (xs: readonly number[]): number => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

function multipleChoice(task: Task, m: EvalModel, prompts: string[], tick: (done: number) => void): ModelEvaluation {
  const examples: ExampleRecord[] = [];
  const golds: number[] = [];
  const preds: number[] = [];
  task.examples.forEach((record, i) => {
    const { options, gold } = choicesOf(task, record, `${task.dataset}: example ${i + 1}`);
    const choices = options.map((text) => {
      const r = loglikelihood(m.model, m.tokenizer, prompts[i]!, task.targetDelimiter + text);
      return { text, loglikelihood: r.loglikelihood, tokens: r.tokens };
    });
    const lls = choices.map((c) => c.loglikelihood);
    const pred = argmax(lls);
    const predNorm = argmax(choices.map((c) => c.loglikelihood / [...c.text].length));
    golds.push(gold);
    preds.push(pred);
    examples.push({
      index: i,
      prompt: prompts[i]!,
      target: options[gold]!,
      prediction: options[pred]!,
      predictionNorm: options[predNorm]!,
      choices,
      scores: { acc: pred === gold ? 1 : 0, acc_norm: predNorm === gold ? 1 : 0 },
    });
    tick(i + 1);
  });
  const metrics: Record<string, number> = {};
  if (task.metrics.includes("accuracy")) {
    metrics.acc = mean(examples.map((e) => e.scores.acc!));
    metrics.acc_norm = mean(examples.map((e) => e.scores.acc_norm!));
  }
  if (task.metrics.includes("f1")) {
    const labels = [...new Set([...golds, ...preds])].sort((a, b) => a - b);
    metrics.f1 = classificationReport(preds, golds, { labels }).macro.f1;
  }
  return { name: m.name, metrics, examples, warnings: [] };
}

function loglikelihoodTask(task: Task, m: EvalModel, prompts: string[], tick: (done: number) => void): ModelEvaluation {
  const examples = task.examples.map((record, i): ExampleRecord => {
    const target = String(resolveTarget(task.target!, record, `${task.dataset}: example ${i + 1}`));
    const r = loglikelihood(m.model, m.tokenizer, prompts[i]!, task.targetDelimiter + target);
    tick(i + 1);
    return {
      index: i,
      prompt: prompts[i]!,
      target,
      prediction: r.isGreedy ? "greedy" : "not greedy",
      scores: { loglikelihood: r.loglikelihood, tokens: r.tokens, acc: r.isGreedy ? 1 : 0 },
    };
  });
  const metrics: Record<string, number> = {};
  if (task.metrics.includes("perplexity")) metrics.perplexity = Math.exp(-mean(examples.map((e) => e.scores.loglikelihood!)));
  if (task.metrics.includes("accuracy")) metrics.acc = mean(examples.map((e) => e.scores.acc!));
  return { name: m.name, metrics, examples, warnings: [] };
}

async function generationTask(
  task: Task,
  m: EvalModel,
  prompts: string[],
  generate: GenerateFn,
  tick: (done: number) => void,
): Promise<ModelEvaluation> {
  const refs = task.examples.map((r, i) => referencesOf(task, r, `${task.dataset}: example ${i + 1}`));
  const predictions: string[] = [];
  for (const [i, p] of prompts.entries()) {
    const text = await generate(m.model, m.tokenizer, p, task.generation);
    if (typeof text !== "string") throw new EvaluationError(`${m.name}: generation for example ${i + 1} returned ${typeof text}, expected a string`);
    predictions.push(text);
    tick(i + 1);
  }
  const scores = predictions.map(() => ({}) as Record<string, number>);
  const metrics: Record<string, number> = {};
  for (const metric of task.metrics) {
    if (metric === "rouge") {
      const r = rouge(predictions, refs, { rougeTypes: DEFAULT_ROUGE_TYPES });
      for (const t of DEFAULT_ROUGE_TYPES) {
        metrics[t] = r.mean[t]!.fmeasure;
        r.scores[t]!.forEach((s, i) => (scores[i]![t] = s.fmeasure));
      }
    } else if (metric === "bleu") {
      metrics.bleu = corpusBleu(predictions, referencesFromLists(refs)).score;
      predictions.forEach((p, i) => (scores[i]!.bleu = sentenceBleu(p, refs[i]!).score));
    } else if (metric === "chrf") {
      metrics.chrf = corpusChrf(predictions, referencesFromLists(refs)).score;
      predictions.forEach((p, i) => (scores[i]!.chrf = sentenceChrf(p, refs[i]!).score));
    } else {
      const fn = metric === "exact_match" ? exactMatchScore : tokenF1Score;
      predictions.forEach((p, i) => (scores[i]![metric] = Math.max(...refs[i]!.map((r) => fn(p, r)))));
      metrics[metric] = mean(scores.map((s) => s[metric]!));
    }
  }
  const empty = predictions.filter((p) => p.trim() === "").length;
  const warnings = empty > 0 ? [`${m.name}: ${empty} of ${predictions.length} predictions are empty`] : [];
  const examples = predictions.map((prediction, i): ExampleRecord => ({ index: i, prompt: prompts[i]!, target: refs[i]![0]!, prediction, scores: scores[i]! }));
  return { name: m.name, metrics, examples, warnings };
}

function perplexityTask(m: EvalModel, texts: string[], tick: (done: number) => void): ModelEvaluation {
  if (m.model.isEncoderDecoder) throw new EvaluationError(`${m.name}: perplexity tasks need a causal LM; this model is an encoder-decoder`);
  let nll = 0;
  let tokens = 0;
  const examples = texts.map((text, i): ExampleRecord => {
    const ids = m.tokenizer.encode(text, { addSpecialTokens: true }).ids;
    if (ids.some((id) => id >= m.model.config.vocabSize)) {
      throw new EvaluationError(`${m.name}: the tokenizer gives ids beyond the model's vocabulary of ${m.model.config.vocabSize}; use the model's own tokenizer`);
    }
    if (ids.length < 2) throw new EvaluationError(`${m.name}: example ${i + 1} encodes to ${ids.length} token(s); perplexity needs at least 2`);
    const r = perplexity(m.model, ids);
    nll += r.nll;
    tokens += r.tokens;
    tick(i + 1);
    return { index: i, prompt: text, target: "", prediction: "", scores: { perplexity: r.perplexity, tokens: r.tokens } };
  });
  return { name: m.name, metrics: { perplexity: Math.exp(nll / tokens) }, examples, warnings: [] };
}
