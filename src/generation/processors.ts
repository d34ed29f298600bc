/**
 * Logits processors and warpers with the semantics of transformers' generation/logits_process.py.
 *
 * Every processor works in place on a flat Float32Array of scores, shape [batch, vocab] row-major, with the ids so
 * far (`TokenRows`, prompt included) for the same rows. Filtered tokens get -Infinity, as in transformers.
 * `buildLogitsProcessors` assembles them in the order of `GenerationMixin._get_logits_processor`: the processors
 * first, then (only when `doSample`) the warpers temperature → top-k → top-p → min-p → typical-p → epsilon → eta,
 * then log-softmax renormalization.
 */
import { GenerationError } from "./errors.js";
import {
  GENERATION_DEFAULTS,
  eosTokenIds,
  mergeGenerationOptions,
  resolveMaxLength,
  validateGenerationOptions,
  type GenerationOptions,
} from "./options.js";
import { logSumExpRow, softmaxRow } from "./sampling.js";
import type { TokenRows } from "./types.js";

export interface LogitsProcessor {
  /** Modifies `scores` ([inputIds.length, vocabSize], row-major) in place. */
  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void;
}

/** Applies its processors in order; it is itself a processor, so lists compose. */
export class LogitsProcessorList implements LogitsProcessor {
  readonly processors: LogitsProcessor[];

  constructor(processors: LogitsProcessor[] = []) {
    this.processors = processors;
  }

  push(...processors: LogitsProcessor[]): this {
    this.processors.push(...processors);
    return this;
  }

  get length(): number {
    return this.processors.length;
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    checkShape(inputIds, scores, vocabSize);
    for (const processor of this.processors) processor.call(inputIds, scores, vocabSize);
  }
}

function checkShape(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new GenerationError(`logits processor: vocabSize must be a positive integer, got ${vocabSize}`);
  }
  if (scores.length !== inputIds.length * vocabSize) {
    throw new GenerationError(
      `logits processor: scores have ${scores.length} values, expected ${inputIds.length} rows x ${vocabSize} vocab`,
    );
  }
}

/** Runs `fn` on each row's view of the scores. */
function forEachRow(
  inputIds: TokenRows,
  scores: Float32Array,
  vocabSize: number,
  fn: (row: Float32Array, ids: readonly number[], index: number) => void,
): void {
  checkShape(inputIds, scores, vocabSize);
  for (let b = 0; b < inputIds.length; b++) fn(scores.subarray(b * vocabSize, (b + 1) * vocabSize), inputIds[b]!, b);
}

function checkIds(ids: readonly number[], vocabSize: number, what: string): void {
  for (const id of ids) {
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) {
      throw new GenerationError(`${what}: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

function positiveInt(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new GenerationError(`${name} must be an integer >= 1, got ${value}`);
}

const INDEX_SPAN = 2 ** 21;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Indices ordered by value: ascending, ties by index (as a stable torch.sort), compared as float32 like torch.
 * Each (value, index) pair is packed into one exactly representable float64 — the float32 bits made sortable
 * (32 bits) times 2^21 plus the index (21 bits) — so a native typed-array sort does the work.
 */
function argsort(values: ArrayLike<number>, indices?: ArrayLike<number>): Uint32Array {
  const n = indices ? indices.length : values.length;
  if (values.length > INDEX_SPAN) {
    const order = Array.from({ length: n }, (_, j) => (indices ? indices[j]! : j));
    return Uint32Array.from(order.sort((a, b) => Math.fround(values[a]!) - Math.fround(values[b]!) || a - b));
  }
  const packed = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices ? indices[j]! : j;
    f32[0] = values[i]!;
    const bits = u32[0]!;
    // Negative floats sort in reverse bit order: flip all their bits; set the sign bit of the others.
    const key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    packed[j] = key * INDEX_SPAN + i;
  }
  packed.sort();
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[j] = packed[j]! % INDEX_SPAN;
  return out;
}

function finiteIndices(row: Float32Array): Uint32Array {
  let count = 0;
  for (let i = 0; i < row.length; i++) if (row[i]! > -Infinity) count++;
  const out = new Uint32Array(count);
  for (let i = 0, j = 0; i < row.length; i++) if (row[i]! > -Infinity) out[j++] = i;
  return out;
}

/** The k-th largest value of a row (k >= 1), with a min-heap of size k: O(vocab log k). */
function kthLargest(row: Float32Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && heap[l]! < heap[m]!) m = l;
      if (r < size && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  };
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (size < k) {
      let j = size++;
      heap[j] = v;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (heap[p]! <= heap[j]!) break;
        const t = heap[p]!;
        heap[p] = heap[j]!;
        heap[j] = t;
        j = p;
      }
    } else if (v > heap[0]!) {
      heap[0] = v;
      siftDown(0);
    }
  }
  return heap[0]!;
}

/** Unmarks the `count` highest-scoring tokens in `remove`, whatever the filter decided (min_tokens_to_keep). */
function protectTop(row: Float32Array, remove: Uint8Array, count: number): void {
  if (count === 1) {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
    remove[best] = 0;
    return;
  }
  const order = argsort(row);
  for (let j = order.length - 1; j >= Math.max(0, order.length - count); j--) remove[order[j]!] = 0;
}

function applyMask(row: Float32Array, remove: Uint8Array): void {
  for (let i = 0; i < row.length; i++) if (remove[i]) row[i] = -Infinity;
}

/** scores / temperature. */
export class TemperatureLogitsWarper implements LogitsProcessor {
  constructor(readonly temperature: number) {
    if (!(temperature > 0 && Number.isFinite(temperature))) {
      throw new GenerationError(`temperature must be a finite number > 0, got ${temperature}`);
    }
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    checkShape(inputIds, scores, vocabSize);
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! / this.temperature;
  }
}

/** Keeps the top-k scores (and every token tied with the k-th), max(topK, minTokensToKeep) of them. */
export class TopKLogitsWarper implements LogitsProcessor {
  readonly topK: number;

  constructor(topK: number, readonly minTokensToKeep = 1) {
    positiveInt(topK, "topK");
    positiveInt(minTokensToKeep, "minTokensToKeep");
    this.topK = Math.max(topK, minTokensToKeep);
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    const k = Math.min(this.topK, vocabSize);
    forEachRow(inputIds, scores, vocabSize, (row) => {
      const threshold = kthLargest(row, k);
      for (let i = 0; i < row.length; i++) if (row[i]! < threshold) row[i] = -Infinity;
    });
  }
}

/**
 * Nucleus filtering as transformers does it: sort ascending, and remove the tokens whose cumulative probability
 * is <= 1 - topP, so the kept top tokens are the smallest set whose mass reaches topP.
 */
export class TopPLogitsWarper implements LogitsProcessor {
  constructor(readonly topP: number, readonly minTokensToKeep = 1) {
    if (!(topP >= 0 && topP <= 1)) throw new GenerationError(`topP must be in [0, 1], got ${topP}`);
    positiveInt(minTokensToKeep, "minTokensToKeep");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    const cutoff = 1 - this.topP;
    forEachRow(inputIds, scores, vocabSize, (row) => {
      const lse = logSumExpRow(row);
      const { candidates, lowMass } = this.candidates(row, lse, cutoff);
      const order = argsort(row, candidates);
      const keepFrom = order.length - this.minTokensToKeep;
      let cumulative = lowMass;
      for (let j = 0; j < order.length; j++) {
        cumulative += Math.exp(row[order[j]!]! - lse);
        if (cumulative > cutoff || j >= keepFrom) break;
        row[order[j]!] = -Infinity;
      }
    });
  }

  /**
   * The tokens that need sorting. Tokens below a probability threshold whose total mass is <= 1 - topP come first
   * in the ascending order and all have a cumulative sum <= 1 - topP, so they are removed without sorting; the
   * threshold is found on a histogram of log-probabilities (unit buckets). Filtered tokens (probability 0) are
   * removed alike, so the full vocabulary is sorted only when no threshold works.
   */
  private candidates(row: Float32Array, lse: number, cutoff: number): { candidates: Uint32Array; lowMass: number } {
    const buckets = 64;
    const mass = new Float64Array(buckets);
    for (let i = 0; i < row.length; i++) {
      const logp = row[i]! - lse;
      if (logp > -Infinity) mass[Math.max(0, Math.min(buckets - 1, Math.floor(-logp)))]! += Math.exp(logp);
    }
    let top = 0;
    let last = buckets - 1;
    for (let b = 0; b < buckets; b++) {
      top += mass[b]!;
      if (top >= 1 - cutoff + 1e-6) {
        last = b;
        break;
      }
    }
    const threshold = last === buckets - 1 ? -Infinity : -(last + 1);
    let count = 0;
    let lowMass = 0;
    for (let i = 0; i < row.length; i++) {
      const logp = row[i]! - lse;
      if (logp >= threshold && logp > -Infinity) count++;
      else if (logp > -Infinity) lowMass += Math.exp(logp);
    }
    if ((lowMass > cutoff || count < this.minTokensToKeep) && threshold !== -Infinity) {
      return { candidates: finiteIndices(row), lowMass: 0 };
    }
    const candidates = new Uint32Array(count);
    for (let i = 0, j = 0; i < row.length; i++) {
      const logp = row[i]! - lse;
      if (logp >= threshold && logp > -Infinity) candidates[j++] = i;
      else row[i] = -Infinity;
    }
    return { candidates, lowMass };
  }
}

/** Removes tokens whose probability is below minP times the top token's probability. */
export class MinPLogitsWarper implements LogitsProcessor {
  constructor(readonly minP: number, readonly minTokensToKeep = 1) {
    if (!(minP >= 0 && minP <= 1)) throw new GenerationError(`minP must be in [0, 1], got ${minP}`);
    positiveInt(minTokensToKeep, "minTokensToKeep");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row) => {
      const probs = softmaxRow(row);
      let top = 0;
      for (let i = 0; i < probs.length; i++) if (probs[i]! > top) top = probs[i]!;
      const threshold = this.minP * top;
      const remove = new Uint8Array(row.length);
      for (let i = 0; i < row.length; i++) remove[i] = probs[i]! < threshold ? 1 : 0;
      protectTop(row, remove, this.minTokensToKeep);
      applyMask(row, remove);
    });
  }
}

/**
 * Locally typical sampling: ranks tokens by |-log p - H| and keeps the closest ones until their mass reaches
 * typicalP (the token that crosses it included).
 */
export class TypicalLogitsWarper implements LogitsProcessor {
  constructor(readonly mass = 0.9, readonly minTokensToKeep = 1) {
    if (!(mass > 0 && mass < 1)) throw new GenerationError(`typicalP must be in (0, 1), got ${mass}`);
    positiveInt(minTokensToKeep, "minTokensToKeep");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row) => {
      const lse = logSumExpRow(row);
      let entropy = 0;
      for (let i = 0; i < row.length; i++) {
        const logp = row[i]! - lse;
        if (logp > -Infinity) entropy -= logp * Math.exp(logp);
      }
      const shifted = new Float64Array(row.length);
      for (let i = 0; i < row.length; i++) shifted[i] = Math.abs(-(row[i]! - lse) - entropy);
      const order = argsort(shifted);
      let cumulative = 0;
      let lastIndex = 0;
      for (const i of order) {
        cumulative += Math.exp(row[i]! - lse);
        if (cumulative < this.mass) lastIndex++;
        else break;
      }
      lastIndex = Math.min(lastIndex, row.length - 1);
      const limit = shifted[order[lastIndex]!]!;
      for (let j = this.minTokensToKeep; j < order.length; j++) {
        if (shifted[order[j]!]! > limit) row[order[j]!] = -Infinity;
      }
    });
  }
}

/** Removes tokens with probability below epsilon (keeping the minTokensToKeep best). */
export class EpsilonLogitsWarper implements LogitsProcessor {
  constructor(readonly epsilon: number, readonly minTokensToKeep = 1) {
    if (!(epsilon > 0 && epsilon < 1)) throw new GenerationError(`epsilonCutoff must be in (0, 1), got ${epsilon}`);
    positiveInt(minTokensToKeep, "minTokensToKeep");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row) => cutBelow(row, () => this.epsilon, this.minTokensToKeep));
  }
}

/** Eta sampling: removes tokens with probability below min(eta, sqrt(eta) * exp(-entropy)). */
export class EtaLogitsWarper implements LogitsProcessor {
  constructor(readonly epsilon: number, readonly minTokensToKeep = 1) {
    if (!(epsilon > 0 && epsilon < 1)) throw new GenerationError(`etaCutoff must be in (0, 1), got ${epsilon}`);
    positiveInt(minTokensToKeep, "minTokensToKeep");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row) =>
      cutBelow(
        row,
        (probs) => {
          let entropy = 0;
          for (const p of probs) if (p > 0) entropy -= p * Math.log(p);
          return Math.min(this.epsilon, Math.sqrt(this.epsilon) * Math.exp(-entropy));
        },
        this.minTokensToKeep,
      ),
    );
  }
}

function cutBelow(row: Float32Array, threshold: (probs: Float64Array) => number, minTokensToKeep: number): void {
  const probs = softmaxRow(row);
  const cut = threshold(probs);
  const kth = kthLargest(row, Math.min(minTokensToKeep, row.length));
  for (let i = 0; i < row.length; i++) if (probs[i]! < cut && row[i]! < kth) row[i] = -Infinity;
}

/**
 * Penalizes every token present in the row's ids (prompt included) once: positive scores are divided by the
 * penalty, negative ones multiplied, so a penalty > 1 always makes the token less likely.
 */
export class RepetitionPenaltyLogitsProcessor implements LogitsProcessor {
  constructor(readonly penalty: number) {
    if (!(penalty > 0 && Number.isFinite(penalty))) {
      throw new GenerationError(`repetitionPenalty must be a finite number > 0, got ${penalty}`);
    }
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      checkIds(ids, vocabSize, "repetitionPenalty");
      for (const id of new Set(ids)) {
        const s = row[id]!;
        row[id] = s < 0 ? s * this.penalty : s / this.penalty;
      }
    });
  }
}

/** Bans every token that would complete an n-gram already present in the row (prompt included). */
export class NoRepeatNGramLogitsProcessor implements LogitsProcessor {
  constructor(readonly ngramSize: number) {
    positiveInt(ngramSize, "noRepeatNgramSize");
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    const n = this.ngramSize;
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      const len = ids.length;
      if (len < n) return;
      const prefixStart = len - n + 1;
      // A window starting at `prefixStart` would need one more token, so a prefix never bans its own successor.
      for (let s = 0; s + n <= len; s++) {
        let match = true;
        for (let j = 0; j < n - 1 && match; j++) match = ids[s + j] === ids[prefixStart + j];
        if (match) {
          const banned = ids[s + n - 1]!;
          if (banned >= 0 && banned < vocabSize) row[banned] = -Infinity;
        }
      }
    });
  }
}

/**
 * Never lets a bad word be completed: single-token words are always banned, a longer word bans its last token
 * when the row ends with the rest of it. Words that are exactly one EOS id are dropped (EOS must stay possible).
 */
export class NoBadWordsLogitsProcessor implements LogitsProcessor {
  readonly badWordsIds: number[][];

  constructor(badWordsIds: number[][], eosTokenId?: number | number[]) {
    if (badWordsIds.length === 0 || badWordsIds.some((w) => w.length === 0)) {
      throw new GenerationError("badWordsIds must be a non-empty list of non-empty token id lists");
    }
    const eos = eosTokenId === undefined ? [] : Array.isArray(eosTokenId) ? eosTokenId : [eosTokenId];
    this.badWordsIds = badWordsIds.filter((w) => !(w.length === 1 && eos.includes(w[0]!)));
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      for (const word of this.badWordsIds) {
        checkIds(word, vocabSize, "badWordsIds");
        if (word.length > ids.length) continue;
        const prefix = word.length - 1;
        let match = true;
        for (let j = 0; j < prefix && match; j++) match = ids[ids.length - prefix + j] === word[j];
        if (match) row[word[prefix]!] = -Infinity;
      }
    });
  }
}

function suppress(row: Float32Array, ids: readonly number[]): void {
  for (const id of ids) row[id] = -Infinity;
}

/** EOS gets -Infinity while the row (prompt included) is shorter than minLength. */
export class MinLengthLogitsProcessor implements LogitsProcessor {
  readonly eosTokenIds: number[];

  constructor(readonly minLength: number, eosTokenId: number | number[]) {
    this.eosTokenIds = Array.isArray(eosTokenId) ? [...eosTokenId] : [eosTokenId];
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      checkIds(this.eosTokenIds, vocabSize, "eosTokenId");
      if (ids.length < this.minLength) suppress(row, this.eosTokenIds);
    });
  }
}

/** EOS gets -Infinity until minNewTokens tokens follow the prompt (promptLength tokens). */
export class MinNewTokensLengthLogitsProcessor implements LogitsProcessor {
  readonly eosTokenIds: number[];

  constructor(readonly promptLength: number, readonly minNewTokens: number, eosTokenId: number | number[]) {
    this.eosTokenIds = Array.isArray(eosTokenId) ? [...eosTokenId] : [eosTokenId];
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      checkIds(this.eosTokenIds, vocabSize, "eosTokenId");
      if (ids.length - this.promptLength < this.minNewTokens) suppress(row, this.eosTokenIds);
    });
  }
}

/** Makes `bosTokenId` the only possible token when the row holds exactly one token (encoder-decoder start). */
export class ForcedBOSTokenLogitsProcessor implements LogitsProcessor {
  constructor(readonly bosTokenId: number) {}

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      if (ids.length !== 1) return;
      checkIds([this.bosTokenId], vocabSize, "forcedBosTokenId");
      row.fill(-Infinity);
      row[this.bosTokenId] = 0;
    });
  }
}

/** Makes EOS the only possible token(s) when the next token is the last one allowed (length maxLength - 1). */
export class ForcedEOSTokenLogitsProcessor implements LogitsProcessor {
  readonly eosTokenIds: number[];

  constructor(readonly maxLength: number, eosTokenId: number | number[]) {
    this.eosTokenIds = Array.isArray(eosTokenId) ? [...eosTokenId] : [eosTokenId];
  }

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      if (ids.length !== this.maxLength - 1) return;
      checkIds(this.eosTokenIds, vocabSize, "forcedEosTokenId");
      row.fill(-Infinity);
      for (const id of this.eosTokenIds) row[id] = 0;
    });
  }
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** NaN → 0, +Infinity → largest float32, -Infinity → lowest float32 (so nothing downstream sees them). */
export class InfNanRemoveLogitsProcessor implements LogitsProcessor {
  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    checkShape(inputIds, scores, vocabSize);
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i]!;
      if (Number.isNaN(v)) scores[i] = 0;
      else if (v === Infinity) scores[i] = FLOAT32_MAX;
      else if (v === -Infinity) scores[i] = -FLOAT32_MAX;
    }
  }
}

/** These tokens can never be generated. */
export class SuppressTokensLogitsProcessor implements LogitsProcessor {
  constructor(readonly suppressTokens: readonly number[]) {}

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    checkIds(this.suppressTokens, vocabSize, "suppressTokens");
    forEachRow(inputIds, scores, vocabSize, (row) => suppress(row, this.suppressTokens));
  }
}

/** These tokens cannot be the first generated one (the step where the row length equals beginIndex). */
export class SuppressTokensAtBeginLogitsProcessor implements LogitsProcessor {
  constructor(readonly beginSuppressTokens: readonly number[], readonly beginIndex: number) {}

  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    checkIds(this.beginSuppressTokens, vocabSize, "beginSuppressTokens");
    forEachRow(inputIds, scores, vocabSize, (row, ids) => {
      if (ids.length === this.beginIndex) suppress(row, this.beginSuppressTokens);
    });
  }
}

/** log_softmax of the scores (transformers' `renormalize_logits`). */
export class LogitNormalization implements LogitsProcessor {
  call(inputIds: TokenRows, scores: Float32Array, vocabSize: number): void {
    forEachRow(inputIds, scores, vocabSize, (row) => {
      const lse = logSumExpRow(row);
      for (let i = 0; i < row.length; i++) row[i] = row[i]! - lse;
    });
  }
}

export interface LogitsProcessorContext {
  /**
   * Length of the ids the model was given before the first new token (for encoder-decoder models, the decoder
   * input: usually 1). Decides when min-new-tokens, forced EOS (via maxNewTokens) and begin-suppress apply.
   */
  promptLength: number;
  /** Extra processors, placed where transformers puts a user's `logits_processor`: after the built-in processors
   * and before the sampling warpers. */
  custom?: LogitsProcessor[];
}

/**
 * The processors transformers' `generate` would build for these options, in its order. Unset options take
 * `GENERATION_DEFAULTS`; warpers (temperature, top-k, top-p, min-p, typical-p, epsilon, eta) only when doSample.
 */
export function buildLogitsProcessors(options: GenerationOptions, context: LogitsProcessorContext): LogitsProcessorList {
  validateGenerationOptions(options);
  if (!Number.isInteger(context.promptLength) || context.promptLength < 0) {
    throw new GenerationError(`promptLength must be an integer >= 0, got ${context.promptLength}`);
  }
  const o = mergeGenerationOptions(GENERATION_DEFAULTS, options);
  const eos = eosTokenIds(o);
  const list = new LogitsProcessorList();

  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1) {
    list.push(new RepetitionPenaltyLogitsProcessor(o.repetitionPenalty));
  }
  if (o.noRepeatNgramSize) list.push(new NoRepeatNGramLogitsProcessor(o.noRepeatNgramSize));
  if (o.badWordsIds) list.push(new NoBadWordsLogitsProcessor(o.badWordsIds, eos));
  if (o.minLength && eos.length > 0) list.push(new MinLengthLogitsProcessor(o.minLength, eos));
  if (o.minNewTokens && eos.length > 0) {
    list.push(new MinNewTokensLengthLogitsProcessor(context.promptLength, o.minNewTokens, eos));
  }
  if (o.forcedBosTokenId !== undefined) list.push(new ForcedBOSTokenLogitsProcessor(o.forcedBosTokenId));
  if (o.forcedEosTokenId !== undefined) {
    list.push(new ForcedEOSTokenLogitsProcessor(resolveMaxLength(o, context.promptLength), o.forcedEosTokenId));
  }
  if (o.removeInvalidValues) list.push(new InfNanRemoveLogitsProcessor());
  if (o.suppressTokens) list.push(new SuppressTokensLogitsProcessor(o.suppressTokens));
  if (o.beginSuppressTokens) {
    const beginIndex =
      context.promptLength > 1 || o.forcedBosTokenId === undefined ? context.promptLength : context.promptLength + 1;
    list.push(new SuppressTokensAtBeginLogitsProcessor(o.beginSuppressTokens, beginIndex));
  }
  if (context.custom) list.push(...context.custom);

  if (o.doSample) {
    // Beam sampling keeps one more token than there are EOS ids, so a beam can always continue.
    const keep = (o.numBeams ?? 1) > 1 ? (eos.length > 0 ? eos.length + 1 : 2) : 1;
    if (o.temperature !== undefined && o.temperature !== 1) list.push(new TemperatureLogitsWarper(o.temperature));
    if (o.topK) list.push(new TopKLogitsWarper(o.topK, keep));
    if (o.topP !== undefined && o.topP < 1) list.push(new TopPLogitsWarper(o.topP, keep));
    if (o.minP !== undefined) list.push(new MinPLogitsWarper(o.minP, keep));
    if (o.typicalP !== undefined && o.typicalP < 1) list.push(new TypicalLogitsWarper(o.typicalP, keep));
    if (o.epsilonCutoff) list.push(new EpsilonLogitsWarper(o.epsilonCutoff, keep));
    if (o.etaCutoff) list.push(new EtaLogitsWarper(o.etaCutoff, keep));
  }
  if (o.renormalizeLogits) list.push(new LogitNormalization());
  return list;
}
