/**
 * Stopping criteria, as transformers' generation/stopping_criteria.py, each with the finish reason it reports.
 * Criteria look at the ids so far (prompt included) after a token was appended to every row.
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
import type { Detokenizer, TokenRows } from "./types.js";

/** Why a sequence ended: an EOS token, a stop string, or the length (or time) budget ran out. */
export type FinishReason = "length" | "eos" | "stop";

export interface StoppingCriterion {
  readonly reason: FinishReason;
  /** One flag per row: should this row stop now? */
  call(inputIds: TokenRows): boolean[];
}

/** Stops rows that reached maxLength tokens (prompt included). */
export class MaxLengthCriteria implements StoppingCriterion {
  readonly reason = "length";

  constructor(readonly maxLength: number) {
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new GenerationError(`maxLength must be an integer >= 1, got ${maxLength}`);
    }
  }

  call(inputIds: TokenRows): boolean[] {
    return inputIds.map((ids) => ids.length >= this.maxLength);
  }
}

/** Stops every row once `maxTime` seconds passed since construction (or `startTime`, in ms since the epoch). */
export class MaxTimeCriteria implements StoppingCriterion {
  readonly reason = "length";

  constructor(readonly maxTime: number, readonly startTime = Date.now()) {}

  call(inputIds: TokenRows): boolean[] {
    const done = (Date.now() - this.startTime) / 1000 > this.maxTime;
    return inputIds.map(() => done);
  }
}

/** Stops rows whose last token is one of the EOS ids. */
export class EosTokenCriteria implements StoppingCriterion {
  readonly reason = "eos";
  readonly eosTokenIds: ReadonlySet<number>;

  constructor(eosTokenId: number | readonly number[]) {
    this.eosTokenIds = new Set(typeof eosTokenId === "number" ? [eosTokenId] : eosTokenId);
  }

  call(inputIds: TokenRows): boolean[] {
    return inputIds.map((ids) => ids.length > 0 && this.eosTokenIds.has(ids[ids.length - 1]!));
  }
}

/**
 * Stops a row when a stop string ends inside the text of its last token, as transformers' StopStringCriteria:
 * the string may span several tokens, and the last token may run past its end (stop string "end" matches a final
 * token "ending"). The text comes from `decode` of the row's tail, so byte-level and SentencePiece tokens are
 * compared as the characters they spell.
 */
export class StopStringCriteria implements StoppingCriterion {
  readonly reason = "stop";
  readonly stopStrings: readonly string[];
  private readonly longest: number;

  constructor(stopStrings: string | readonly string[], readonly tokenizer: Detokenizer) {
    this.stopStrings = typeof stopStrings === "string" ? [stopStrings] : [...stopStrings];
    if (this.stopStrings.length === 0 || this.stopStrings.some((s) => typeof s !== "string" || s.length === 0)) {
      throw new GenerationError("stopStrings must be non-empty strings");
    }
    if (typeof tokenizer?.decode !== "function") {
      throw new GenerationError("stopStrings need a tokenizer with decode(ids) to read the generated text");
    }
    this.longest = Math.max(...this.stopStrings.map((s) => s.length));
  }

  call(inputIds: TokenRows): boolean[] {
    return inputIds.map((ids) => this.match(ids) !== null);
  }

  /** The stop string that ends in the row's last token, or null. */
  match(ids: readonly number[]): string | null {
    if (ids.length === 0) return null;
    // Decode a tail window wide enough that the text settled before the last token holds a whole stop string,
    // plus a few characters of margin for what a window start can distort (a stripped leading space, a cut UTF-8
    // sequence). "Settled" is the common prefix of the texts without and with the last token: a byte-level token
    // can complete a character that decoded to U+FFFD before it.
    const needed = this.longest - 1 + 4;
    let width = Math.min(ids.length, this.longest + 1);
    let text: string;
    let settled: number;
    for (;;) {
      const tail = ids.slice(ids.length - width);
      text = this.tokenizer.decode(tail);
      settled = commonPrefixLength(this.tokenizer.decode(tail.slice(0, -1)), text);
      if (settled >= needed || width === ids.length) break;
      width = Math.min(ids.length, width * 2);
    }
    for (const stop of this.stopStrings) {
      if (text.indexOf(stop, Math.max(0, settled - stop.length + 1)) !== -1) return stop;
    }
    return null;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Runs every criterion; a row stops when any does, reporting eos before stop before length. */
export class StoppingCriteriaList {
  readonly criteria: StoppingCriterion[];

  constructor(criteria: StoppingCriterion[] = []) {
    this.criteria = criteria;
  }

  push(...criteria: StoppingCriterion[]): this {
    this.criteria.push(...criteria);
    return this;
  }

  /** Per row: the finish reason, or null while the row goes on. */
  call(inputIds: TokenRows): (FinishReason | null)[] {
    const reasons: (FinishReason | null)[] = inputIds.map(() => null);
    const rank: Record<FinishReason, number> = { eos: 3, stop: 2, length: 1 };
    for (const criterion of this.criteria) {
      const done = criterion.call(inputIds);
      done.forEach((stop, i) => {
        const current = reasons[i];
        if (stop && (current === null || current === undefined || rank[criterion.reason] > rank[current])) {
          reasons[i] = criterion.reason;
        }
      });
    }
    return reasons;
  }
}

export interface StoppingContext {
  /** Length of the ids before the first new token (for maxNewTokens). */
  promptLength: number;
  /** Needed when stopStrings are set. */
  tokenizer?: Detokenizer;
  custom?: StoppingCriterion[];
}

/** The criteria transformers' `generate` would build: max length, max time, stop strings, EOS. */
export function buildStoppingCriteria(options: GenerationOptions, context: StoppingContext): StoppingCriteriaList {
  const o = mergeGenerationOptions(GENERATION_DEFAULTS, validateGenerationOptions(options));
  const list = new StoppingCriteriaList([new MaxLengthCriteria(resolveMaxLength(o, context.promptLength))]);
  if (o.maxTime !== undefined) list.push(new MaxTimeCriteria(o.maxTime));
  if (o.stopStrings !== undefined) {
    if (!context.tokenizer) {
      throw new GenerationError("option stopStrings is set, but no tokenizer was given to decode the generated text");
    }
    list.push(new StopStringCriteria(o.stopStrings, context.tokenizer));
  }
  const eos = eosTokenIds(o);
  if (eos.length > 0) list.push(new EosTokenCriteria(eos));
  if (context.custom) list.push(...context.custom);
  return list;
}
