import { EvaluationError, collectSegments } from "./errors.js";
import { pyRstrip, pySplit } from "./text.js";

/**
 * BLEU as sacrebleu 2.x computes it (same tokenizers, brevity penalty, smoothing and effective order), so
 * scores can be compared with published sacrebleu numbers.
 */

export type BleuTokenizer = "13a" | "intl" | "none";
/** Smoothing of zero n-gram counts (Chen & Cherry 2014): exp = NIST method 3, floor = method 1, add-k = method 2. */
export type SmoothMethod = "exp" | "floor" | "add-k" | "none";

export interface BleuOptions {
  /** Tokenizer applied to hypotheses and references; default "13a" (mteval-v13a). */
  tokenize?: BleuTokenizer;
  /** Lowercase before tokenizing; default false. */
  lowercase?: boolean;
  /** Default "exp" (sacrebleu's default for both corpus and sentence BLEU). */
  smoothMethod?: SmoothMethod;
  /** Value for floor (default 0.1) and add-k (default 1); ignored by exp and none. */
  smoothValue?: number;
  /** Highest n-gram order; default 4. */
  maxNgramOrder?: number;
  /** Average only over orders that have n-grams in the hypothesis; default false for corpus, true for sentence BLEU. */
  effectiveOrder?: boolean;
}

export interface BleuScore {
  /** BLEU on a 0–100 scale. */
  score: number;
  /** Clipped n-gram matches per order (with add-k's k added for orders above 1, as sacrebleu reports them). */
  counts: number[];
  /** Hypothesis n-grams per order (same add-k note). */
  totals: number[];
  /** n-gram precisions on a 0–100 scale, after smoothing. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis length in tokens. */
  sysLen: number;
  /** Effective reference length (closest reference length per segment, ties to the shorter). */
  refLen: number;
}

const SMOOTH_DEFAULTS: Record<SmoothMethod, number | null> = { none: null, floor: 0.1, "add-k": 1, exp: null };
const TOKENIZERS = ["13a", "intl", "none"] as const;

/** mteval-v13a's tokenizer as sacrebleu's `Tokenizer13a`. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (s.includes("&")) {
    s = s.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  s = ` ${s} `;
  s = s.replace(/([\x7b-\x7e\x5b-\x60\x20-\x26\x28-\x2b\x3a-\x40\x2f])/gu, " $1 ");
  // Periods and commas split off unless they sit between digits.
  s = s.replace(/([^0-9])([.,])/gu, "$1 $2 ");
  s = s.replace(/([.,])([^0-9])/gu, " $1 $2");
  s = s.replace(/([0-9])(-)/gu, "$1 $2 ");
  return pySplit(s).join(" ");
}

/** mteval-v14's international tokenizer as sacrebleu's `TokenizerV14International`. */
export function tokenizeIntl(line: string): string {
  let s = line.replace(/(\P{N})(\p{P})/gu, "$1 $2 ");
  s = s.replace(/(\p{P})(\P{N})/gu, " $1 $2");
  s = s.replace(/(\p{S})/gu, " $1 ");
  return pySplit(s).join(" ");
}

function resolveOptions(fn: string, options: BleuOptions, effectiveDefault: boolean) {
  const tokenize = options.tokenize ?? "13a";
  if (!(TOKENIZERS as readonly string[]).includes(tokenize)) {
    throw new EvaluationError(`${fn}: unknown tokenize ${JSON.stringify(tokenize)}; expected one of ${TOKENIZERS.join(", ")}`);
  }
  const smoothMethod = options.smoothMethod ?? "exp";
  if (!Object.hasOwn(SMOOTH_DEFAULTS, smoothMethod)) {
    throw new EvaluationError(
      `${fn}: unknown smoothMethod ${JSON.stringify(smoothMethod)}; expected one of ${Object.keys(SMOOTH_DEFAULTS).join(", ")}`,
    );
  }
  const maxNgramOrder = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new EvaluationError(`${fn}: option maxNgramOrder must be a positive integer, got ${maxNgramOrder}`);
  }
  if (options.smoothValue !== undefined && !Number.isFinite(options.smoothValue)) {
    throw new EvaluationError(`${fn}: option smoothValue must be a finite number, got ${options.smoothValue}`);
  }
  return {
    tokenize,
    lowercase: options.lowercase ?? false,
    smoothMethod,
    smoothValue: options.smoothValue ?? SMOOTH_DEFAULTS[smoothMethod] ?? 0,
    maxNgramOrder,
    effectiveOrder: options.effectiveOrder ?? effectiveDefault,
  };
}

type Resolved = ReturnType<typeof resolveOptions>;

function preprocess(sentence: string, o: Resolved): string[] {
  const s = o.lowercase ? sentence.toLowerCase() : sentence;
  const stripped = pyRstrip(s);
  const tokenized = o.tokenize === "13a" ? tokenize13a(stripped) : o.tokenize === "intl" ? tokenizeIntl(stripped) : stripped;
  return pySplit(tokenized);
}

function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let bestDiff = -1;
  let best = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (bestDiff === -1 || diff < bestDiff) {
      bestDiff = diff;
      best = len;
    } else if (diff === bestDiff && len < best) {
      best = len;
    }
  }
  return best;
}

/** [sysLen, refLen, correct_1..N, total_1..N] of one segment against its references. */
function segmentStats(hypothesis: string, references: readonly string[], o: Resolved): number[] {
  const N = o.maxNgramOrder;
  const refMax = new Map<string, number>();
  const refLens: number[] = [];
  for (const ref of references) {
    const tokens = preprocess(ref, o);
    refLens.push(tokens.length);
    for (const [ngram, count] of ngramCounts(tokens, N)) refMax.set(ngram, Math.max(refMax.get(ngram) ?? 0, count));
  }
  const hypTokens = preprocess(hypothesis, o);
  const correct = new Array<number>(N).fill(0);
  const total = new Array<number>(N).fill(0);
  for (const [ngram, count] of ngramCounts(hypTokens, N)) {
    const n = ngram.split(" ").length - 1;
    total[n]! += count;
    correct[n]! += Math.min(count, refMax.get(ngram) ?? 0);
  }
  return [hypTokens.length, closestRefLen(hypTokens.length, refLens), ...correct, ...total];
}

/** sacrebleu's floored log: log(0) is a very negative number instead of -Infinity. */
function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/**
 * BLEU from sufficient statistics (sacrebleu's `BLEU.compute_bleu`): `correct[n-1]` clipped matches and
 * `total[n-1]` hypothesis n-grams of order n, summed over the corpus.
 */
export function computeBleu(
  correct: readonly number[],
  total: readonly number[],
  sysLen: number,
  refLen: number,
  options: BleuOptions = {},
): BleuScore {
  const o = resolveOptions("computeBleu", options, false);
  const N = o.maxNgramOrder;
  if (correct.length !== N || total.length !== N) {
    throw new EvaluationError(
      `computeBleu: correct and total must have maxNgramOrder (${N}) entries, got ${correct.length} and ${total.length}`,
    );
  }
  const counts = [...correct];
  const totals = [...total];
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(N).fill(0);
  if (!counts.some((c) => c !== 0)) return { score: 0, counts, totals, precisions, bp, sysLen, refLen };

  let smoothMteval = 1;
  let effOrder = N;
  for (let n = 1; n <= N; n++) {
    if (o.smoothMethod === "add-k" && n > 1) {
      counts[n - 1]! += o.smoothValue;
      totals[n - 1]! += o.smoothValue;
    }
    if (totals[n - 1] === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (counts[n - 1] === 0) {
      if (o.smoothMethod === "exp") {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * totals[n - 1]!);
      } else if (o.smoothMethod === "floor") {
        precisions[n - 1] = (100 * o.smoothValue) / totals[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * counts[n - 1]!) / totals[n - 1]!;
    }
  }
  let logSum = 0;
  for (let i = 0; i < effOrder; i++) logSum += myLog(precisions[i]!);
  const score = bp * Math.exp(logSum / effOrder);
  return { score, counts, totals, precisions, bp, sysLen, refLen };
}

/**
 * Corpus BLEU. `references` are streams as in sacrebleu: `references[k][i]` is the k-th reference of
 * hypothesis i, so one reference per hypothesis is `[refs]`. A `null` entry means hypothesis i has no k-th
 * reference (for a varying number of references; see `referencesFromLists`).
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  options: BleuOptions = {},
): BleuScore {
  const o = resolveOptions("corpusBleu", options, false);
  const perSegment = collectSegments("corpusBleu", hypotheses, references);
  const N = o.maxNgramOrder;
  const sums = new Array<number>(2 + 2 * N).fill(0);
  for (const [hyp, refs] of perSegment) segmentStats(hyp, refs, o).forEach((v, i) => (sums[i]! += v));
  return computeBleu(sums.slice(2, 2 + N), sums.slice(2 + N), sums[0]!, sums[1]!, o);
}

/** Sentence BLEU of one hypothesis against its references (effective order on by default, as sacrebleu). */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuScore {
  const o = resolveOptions("sentenceBleu", options, true);
  if (typeof hypothesis !== "string") throw new EvaluationError("sentenceBleu: hypothesis must be a string");
  checkReferenceList("sentenceBleu", references);
  const stats = segmentStats(hypothesis, references, o);
  const N = o.maxNgramOrder;
  return computeBleu(stats.slice(2, 2 + N), stats.slice(2 + N), stats[0]!, stats[1]!, o);
}

/** Turns per-hypothesis reference lists (`lists[i]` = references of hypothesis i) into sacrebleu streams. */
export function referencesFromLists(lists: readonly (readonly string[])[]): (string | null)[][] {
  const k = lists.reduce((m, refs) => Math.max(m, refs.length), 0);
  return Array.from({ length: k }, (_, j) => lists.map((refs) => refs[j] ?? null));
}

function checkReferenceList(fn: string, references: readonly string[]): void {
  if (!Array.isArray(references) || references.length === 0) {
    throw new EvaluationError(`${fn}: references is empty; expected at least one reference string`);
  }
  if (references.some((r) => typeof r !== "string")) throw new EvaluationError(`${fn}: every reference must be a string`);
}
