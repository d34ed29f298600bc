/**
 * Beam search (and beam sampling) as transformers 5's `GenerationMixin._beam_search`: per batch item, the best
 * `numBeams * max(2, 1 + #eos)` continuations of all running beams are gathered; those hitting a stopping
 * criterion become finished candidates (only among the top `numBeams`), the best unfinished `numBeams` run on.
 * Scores are float32 sums of log-softmax scores (after the logits processors), and finished scores are divided by
 * (generated length) ** lengthPenalty. The ±1e9 offsets transformers uses to mask candidates are kept, in float32,
 * so ties and cut-offs fall the same way.
 */
import { getBackend } from "../backends/index.js";
import type { Generator } from "../utils/rng.js";
import type { LogitsProcessorList } from "./processors.js";
import type { FinishReason, StoppingCriteriaList } from "./stopping.js";
import type { TokenRows } from "./types.js";

const f32 = Math.fround;
const BIG = 1e9;

/** What beam search needs from the model: next-token logits per row, and moving cache rows between beams. */
export interface BeamStepper {
  next(rows: TokenRows): { scores: Float32Array; vocabSize: number };
  reorder(indices: readonly number[]): void;
}

export interface BeamSearchOptions {
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: boolean | "never";
  /** Total length (prompt included) at which every beam stops. */
  maxLength: number;
  eosTokenIds: readonly number[];
  padTokenId?: number;
  /** Beam sampling: draw the continuations (without replacement) instead of taking the best. */
  generator?: Generator;
}

export interface DecodedSequences {
  /** Full sequences (prompt included), filled to a common length as transformers returns them. */
  ids: number[][];
  /** Length of each sequence before the fill. */
  lengths: number[];
  finishReason: FinishReason[];
  /** Per generated token: its log-probability after the processors (the beam's score increment). */
  logprobs: number[][];
}

interface Hypothesis {
  ids: number[];
  logprobs: number[];
  reason: FinishReason;
}

/**
 * Runs beam search over `prompts` (one row per batch item; the stepper holds numBeams copies of each, in order
 * item 0 beam 0..K-1, item 1 ...). Returns numReturnSequences sequences per item, best first.
 */
export function beamSearch(
  stepper: BeamStepper,
  prompts: readonly (readonly number[])[],
  processors: LogitsProcessorList,
  criteria: StoppingCriteriaList,
  o: BeamSearchOptions,
): DecodedSequences {
  const K = o.numBeams;
  const B = prompts.length;
  const promptLength = prompts[0]!.length;
  const keep = Math.max(2, 1 + o.eosTokenIds.length) * K;
  const fill = o.eosTokenIds.length > 0 ? (o.padTokenId ? o.padTokenId : o.eosTokenIds[0]!) : -1;

  // Running beams: their ids, float32 scores (beam 0 starts at 0, the others at -1e9 so step one expands only
  // beam 0), and per-token logprobs.
  let running: Hypothesis[][] = prompts.map((p) => Array.from({ length: K }, () => ({ ids: [...p], logprobs: [], reason: "length" as FinishReason })));
  let runningScores: number[][] = prompts.map(() => Array.from({ length: K }, (_, k) => (k === 0 ? 0 : f32(-BIG))));
  // Finished hypotheses: K slots per item, -1e9 while empty.
  let finished: Hypothesis[][] = prompts.map((p) => Array.from({ length: K }, () => ({ ids: [...p], logprobs: [], reason: "length" as FinishReason })));
  let finishedScores: number[][] = prompts.map(() => Array(K).fill(f32(-BIG)));
  let isFinished: boolean[][] = prompts.map(() => Array(K).fill(false));
  const improvable: boolean[] = Array(B).fill(true);
  let curLength = promptLength;

  for (;;) {
    const flat = running.flat();
    const { scores, vocabSize: V } = stepper.next(flat.map((h) => h.ids));
    logSoftmaxInPlace(scores, V);
    processors.call(flat.map((h) => h.ids), scores, V);

    // c. The top `keep` continuations of every item, over all its beams.
    const candidates: { hyp: Hypothesis; score: number; beam: number }[][] = [];
    for (let b = 0; b < B; b++) {
      const acc = beamTotals(scores, b, K, V, runningScores[b]!);
      const picked = o.generator ? sampleWithoutReplacement(acc, keep, o.generator) : topK(acc, keep);
      candidates.push(
        picked.map((index) => {
          const beam = Math.floor(index / V);
          const token = index % V;
          const parent = running[b]![beam]!;
          const hyp: Hypothesis = { ids: [...parent.ids, token], logprobs: [...parent.logprobs, scores[(b * K + beam) * V + token]!], reason: "length" };
          return { hyp, score: acc[index]!, beam };
        }),
      );
    }

    // d. Which continuations hit a stopping criterion.
    const reasons = criteria.call(candidates.flat().map((c) => c.hyp.ids));
    const hits = candidates.map((_, b) => candidates[b]!.map((__, c) => reasons[b * keep + c] ?? null));

    // e. The best `K` continuations that did not stop run on.
    const nextRunning: Hypothesis[][] = [];
    const nextScores: number[][] = [];
    const parents: number[] = [];
    for (let b = 0; b < B; b++) {
      const masked = candidates[b]!.map((c, i) => (hits[b]![i] !== null ? f32(c.score - BIG) : c.score));
      const order = topK(Float32Array.from(masked), K);
      nextRunning.push(order.map((i) => candidates[b]![i]!.hyp));
      nextScores.push(order.map((i) => masked[i]!));
      for (const i of order) parents.push(b * K + candidates[b]![i]!.beam);
    }

    // f. Finished candidates among the top K enter the K finished slots if they beat what is there.
    const lengthFactor = f32((curLength + 1 - promptLength) ** o.lengthPenalty);
    for (let b = 0; b < B; b++) {
      const full = isFinished[b]!.every(Boolean) && o.earlyStopping === true;
      const merged: { hyp: Hypothesis; score: number; done: boolean }[] = finished[b]!.map((hyp, k) => ({ hyp, score: finishedScores[b]![k]!, done: isFinished[b]![k]! }));
      candidates[b]!.forEach((c, i) => {
        const justFinished = hits[b]![i] !== null && i < K;
        let s = f32(c.score / lengthFactor);
        if (full) s = f32(s - BIG);
        if (!improvable[b]) s = f32(s - BIG);
        if (!justFinished) s = f32(s - BIG);
        merged.push({ hyp: { ...c.hyp, reason: hits[b]![i] ?? "length" }, score: s, done: justFinished });
      });
      const best = topK(Float32Array.from(merged.map((m) => m.score)), K);
      finished[b] = best.map((i) => merged[i]!.hyp);
      finishedScores[b] = best.map((i) => merged[i]!.score);
      isFinished[b] = best.map((i) => merged[i]!.done);
    }

    running = nextRunning;
    runningScores = nextScores;
    stepper.reorder(parents);
    curLength++;

    // g. Can a running beam still beat the worst finished one? (transformers' _check_early_stop_heuristic)
    const hypotheticalLength = o.earlyStopping === "never" && o.lengthPenalty > 0 ? o.maxLength - promptLength : curLength - promptLength;
    const divisor = f32(hypotheticalLength ** o.lengthPenalty);
    for (let b = 0; b < B; b++) {
      const bestPossible = f32(runningScores[b]![0]! / divisor);
      const worst = Math.min(...finishedScores[b]!);
      improvable[b] = improvable[b]! && isFinished[b]!.some((done) => bestPossible > (done ? worst : f32(-BIG)));
    }
    const allFinished = isFinished.every((row) => row.every(Boolean));
    const allHit = hits.every((row) => row.every((r) => r !== null));
    if (!improvable.some(Boolean) || (allFinished && o.earlyStopping === true) || allHit) break;
  }

  const chosen = finished.flatMap((row) => row.slice(0, o.numReturnSequences));
  const width = Math.max(...chosen.map((h) => h.ids.length));
  return {
    ids: chosen.map((h) => [...h.ids, ...Array<number>(width - h.ids.length).fill(fill)]),
    lengths: chosen.map((h) => h.ids.length),
    finishReason: chosen.map((h) => h.reason),
    logprobs: chosen.map((h) => h.logprobs),
  };
}

/** log_softmax of every row, in place, in float32 as torch computes it: (x - max) - log(sum(exp(x - max))). */
function logSoftmaxInPlace(scores: Float32Array, V: number): void {
  // On the backend: with a vocabulary of tens of thousands, a JavaScript exp loop took longer per beam step than
  // the model's decode step.
  getBackend().softmax(scores, scores, scores.length / V, V, true);
}

/**
 * Item b's K beams' scores plus each beam's running score, [K * V] (float32). Its own function, not a loop inside
 * beamSearch: a loop over the vocabulary there had V8 compile all of beamSearch on the stack again and again (on
 * a background thread that took a core from the model's decode step, up to 1.8x as slow over the first 40 steps).
 */
function beamTotals(scores: Float32Array, b: number, K: number, V: number, running: readonly number[]): Float32Array {
  const acc = new Float32Array(K * V);
  for (let k = 0; k < K; k++) {
    const base = (b * K + k) * V;
    const add = running[k]!;
    for (let v = 0; v < V; v++) acc[k * V + v] = scores[base + v]! + add;
  }
  return acc;
}

/** Indices of the k largest values, largest first; equal values keep index order (as a stable sort would). */
export function topK(values: Float32Array, k: number): number[] {
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (idx.length === k && !(v > val[k - 1]!)) continue;
    let pos = idx.length === k ? k - 1 : idx.length;
    while (pos > 0 && v > val[pos - 1]!) pos--;
    idx.splice(pos, 0, i);
    val.splice(pos, 0, v);
    if (idx.length > k) {
      idx.pop();
      val.pop();
    }
  }
  return idx;
}

/** torch.multinomial(softmax(values), k) without replacement: k sequential draws, each from what is left. */
function sampleWithoutReplacement(values: Float32Array, k: number, generator: Generator): number[] {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  const weights = new Float64Array(values.length);
  let total = 0;
  for (let i = 0; i < values.length; i++) total += weights[i] = Math.exp(values[i]! - max);
  const out: number[] = [];
  for (let draw = 0; draw < k; draw++) {
    const target = generator.random() * total;
    let cumulative = 0;
    let pick = -1;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] === 0) continue;
      cumulative += weights[i]!;
      pick = i;
      if (cumulative > target) break;
    }
    if (pick < 0) pick = values.findIndex((_, i) => !out.includes(i));
    out.push(pick);
    total -= weights[pick]!;
    weights[pick] = 0;
  }
  return out;
}
