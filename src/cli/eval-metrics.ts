import { readFileSync } from "node:fs";
import type { Command } from "commander";
import {
  EvaluationError,
  bootstrapAggregate,
  corpusBleu,
  corpusChrf,
  rouge,
  sentenceBleu,
  sentenceChrf,
  type BleuTokenizer,
  type RougeScore,
} from "../evaluation/index.js";
import { Generator } from "../utils/rng.js";

const METRICS = ["bleu", "chrf", "rouge"] as const;
type MetricName = (typeof METRICS)[number];
const ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"] as const;

interface Options {
  metric: string[];
  hyps: string;
  refs: string[];
  json?: boolean;
  useStemmer?: boolean;
  tokenize: string;
  lowercase?: boolean;
  bootstrap?: boolean;
  seed: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** One example per line; a final newline does not start another example. */
function readLines(file: string, option: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new EvaluationError(`cannot read ${option} file ${file}: ${(err as Error).message}`);
  }
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new EvaluationError(`${option} file ${file} is empty; expected one example per line`);
  return lines;
}

function parseMetrics(values: string[]): MetricName[] {
  const names = values.flatMap((v) => v.split(",")).map((v) => v.trim().toLowerCase()).filter((v) => v.length > 0);
  if (names.length === 0) throw new EvaluationError(`--metric is empty; expected one or more of ${METRICS.join(", ")}`);
  for (const n of names) {
    if (!(METRICS as readonly string[]).includes(n)) {
      throw new EvaluationError(`unknown --metric ${JSON.stringify(n)}; expected one or more of ${METRICS.join(", ")}`);
    }
  }
  return [...new Set(names)] as MetricName[];
}

const ordered = (s: RougeScore): RougeScore => ({ fmeasure: s.fmeasure, precision: s.precision, recall: s.recall });
const fmt = (x: number, digits = 4): string => x.toFixed(digits);

export function register(program: Command): void {
  program
    .command("eval-metrics")
    .description("Score hypotheses against references with BLEU, chrF and ROUGE (one example per line)")
    .requiredOption("-m, --metric <names>", "bleu, chrf or rouge; repeat or give a comma list", collect, [])
    .requiredOption("--hyps <file>", "hypotheses, one per line")
    .requiredOption("--refs <file>", "references, one per line; repeat for more reference sets", collect, [])
    .option("--json", "print JSON")
    .option("--use-stemmer", "Porter-stem tokens for ROUGE (rouge-score's use_stemmer)")
    .option("--tokenize <name>", "BLEU tokenizer: 13a, intl or none", "13a")
    .option("--lowercase", "lowercase BLEU and chrF")
    .option("--bootstrap", "add bootstrap 95% confidence intervals of the mean ROUGE (1000 resamples)")
    .option("--seed <n>", "seed of the bootstrap resampling", "0")
    .action((opts: Options) => {
      const metrics = parseMetrics(opts.metric);
      const hyps = readLines(opts.hyps, "--hyps");
      const refSets = opts.refs.map((file) => {
        const lines = readLines(file, "--refs");
        if (lines.length !== hyps.length) {
          throw new EvaluationError(
            `--hyps file ${opts.hyps} has ${hyps.length} lines but --refs file ${file} has ${lines.length}; expected the same count`,
          );
        }
        return lines;
      });
      const refsOf = (i: number): string[] => refSets.map((set) => set[i]!);
      const out: Record<string, unknown> = {};
      const table: string[] = [];

      if (metrics.includes("bleu")) {
        const options = { tokenize: opts.tokenize as BleuTokenizer, lowercase: opts.lowercase ?? false };
        const corpus = corpusBleu(hyps, refSets, options);
        out.bleu = corpus.score;
        out.bleu_detail = {
          counts: corpus.counts,
          totals: corpus.totals,
          precisions: corpus.precisions,
          bp: corpus.bp,
          sys_len: corpus.sysLen,
          ref_len: corpus.refLen,
        };
        out.sentence_bleu = hyps.map((h, i) => sentenceBleu(h, refsOf(i), options).score);
        table.push(
          `BLEU = ${fmt(corpus.score, 2)} ${corpus.precisions.map((p) => p.toFixed(1)).join("/")} ` +
            `(BP = ${fmt(corpus.bp, 3)} hyp_len = ${corpus.sysLen} ref_len = ${corpus.refLen})`,
        );
      }
      if (metrics.includes("chrf")) {
        const options = { lowercase: opts.lowercase ?? false };
        out.chrf = corpusChrf(hyps, refSets, options).score;
        out.sentence_chrf = hyps.map((h, i) => sentenceChrf(h, refsOf(i), options).score);
        table.push(`chrF2 = ${fmt(out.chrf as number, 2)}`);
      }
      if (metrics.includes("rouge")) {
        const references = hyps.map((_, i) => (refSets.length === 1 ? refSets[0]![i]! : refsOf(i)));
        const result = rouge(hyps, references, { rougeTypes: ROUGE_TYPES, useStemmer: opts.useStemmer ?? false });
        const mean: Record<string, RougeScore> = {};
        for (const t of ROUGE_TYPES) {
          out[t] = result.scores[t]!.map(ordered);
          mean[t] = ordered(result.mean[t]!);
        }
        out.rouge_mean = mean;
        table.push("", `${"ROUGE".padEnd(10)} ${"precision".padStart(10)} ${"recall".padStart(10)} ${"fmeasure".padStart(10)}`);
        for (const t of ROUGE_TYPES) {
          const s = mean[t]!;
          table.push(`${t.padEnd(10)} ${fmt(s.precision).padStart(10)} ${fmt(s.recall).padStart(10)} ${fmt(s.fmeasure).padStart(10)}`);
        }
        if (opts.bootstrap) {
          const seed = Number(opts.seed);
          if (!Number.isInteger(seed)) throw new EvaluationError(`--seed must be an integer, got ${JSON.stringify(opts.seed)}`);
          const ci = bootstrapAggregate(result.scores, { generator: new Generator(seed) });
          out.rouge_ci = ci;
          table.push("", "95% CI of the mean F-measure (bootstrap, 1000 resamples):");
          for (const t of ROUGE_TYPES) {
            const c = ci[t]!;
            table.push(`${t.padEnd(10)} ${fmt(c.low.fmeasure)} .. ${fmt(c.high.fmeasure)} (mid ${fmt(c.mid.fmeasure)})`);
          }
        }
      }
      process.stdout.write(opts.json ? `${JSON.stringify(out, null, 2)}\n` : `${table.join("\n")}\n`);
    });
}
