/**
 * Streaming detokenization: turn ids arriving one step at a time into text pieces that are safe to show.
 *
 * Decoding each new token alone is wrong twice over: a byte-level or byte-fallback token can hold part of a
 * multi-byte character (decoded alone it is U+FFFD), and SentencePiece-style decoders drop the leading space of
 * the first token they see. So the decoder keeps a window of ids: it decodes the window with and without the new
 * ids and emits the difference, holding text back while it ends in U+FFFD (an unfinished character). For
 * tokenizers whose decode of a sequence is the concatenation of its parts' decodes, the pieces concatenate to
 * `decode(allIds)` exactly.
 */
import { GenerationError } from "./errors.js";
import type { DetokenizeOptions, Detokenizer } from "./types.js";

const REPLACEMENT = "\uFFFD";

/** The core: push ids, get the new text (possibly ""), and `flush()` at the end for whatever was held back. */
export class IncrementalDecoder {
  private ids: number[] = [];
  /** Start of the window decoded for context (its text was already emitted). */
  private prefixOffset = 0;
  /** Start of the ids whose text has not been emitted yet. */
  private readOffset = 0;

  constructor(readonly tokenizer: Detokenizer, readonly decodeOptions: DetokenizeOptions = {}) {
    if (typeof tokenizer?.decode !== "function") {
      throw new GenerationError("IncrementalDecoder: the tokenizer must have a decode(ids) method");
    }
  }

  /** Adds ids and returns the text that became final. */
  push(ids: number | readonly number[]): string {
    for (const id of typeof ids === "number" ? [ids] : ids) {
      if (!Number.isInteger(id) || id < 0) throw new GenerationError(`IncrementalDecoder: invalid token id ${id}`);
      this.ids.push(id);
    }
    return this.emit(false);
  }

  /** Returns the held-back text (an unfinished character decodes to U+FFFD here, as in a full decode). */
  flush(): string {
    return this.emit(true);
  }

  private decode(ids: number[]): string {
    return this.tokenizer.decode(ids, this.decodeOptions);
  }

  private emit(final: boolean): string {
    if (this.readOffset >= this.ids.length) return "";
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const text = this.decode(this.ids.slice(this.prefixOffset));
    if (!final && (text.length <= prefixText.length || text.endsWith(REPLACEMENT))) return "";
    const piece = text.startsWith(prefixText) ? text.slice(prefixText.length) : text.slice(commonPrefix(text, prefixText));
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return piece;
  }
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export interface TextStreamerOptions extends DetokenizeOptions {
  /** Ignore the first `put` (the prompt), as transformers' `skip_prompt`. */
  skipPrompt?: boolean;
  /** Receives each finished piece; `streamEnd` is true for the last call, made by `end()`. */
  onText?: (text: string, streamEnd: boolean) => void;
}

/**
 * The streamer `generate` talks to, like transformers' TextStreamer: `put(ids)` after each step (the prompt
 * first), `end()` when generation finishes. Pieces go to `onText`; nothing is printed.
 */
export class TextStreamer {
  protected readonly decoder: IncrementalDecoder;
  private promptPending: boolean;
  private readonly onText: (text: string, streamEnd: boolean) => void;

  constructor(tokenizer: Detokenizer, options: TextStreamerOptions = {}) {
    const { skipPrompt = false, onText, ...decodeOptions } = options;
    this.decoder = new IncrementalDecoder(tokenizer, decodeOptions);
    this.promptPending = skipPrompt;
    this.onText = onText ?? (() => {});
  }

  put(ids: number | readonly number[]): void {
    if (this.promptPending) {
      this.promptPending = false;
      return;
    }
    const text = this.decoder.push(ids);
    if (text) this.onFinalizedText(text, false);
  }

  end(): void {
    this.onFinalizedText(this.decoder.flush(), true);
  }

  protected onFinalizedText(text: string, streamEnd: boolean): void {
    this.onText(text, streamEnd);
  }
}

/**
 * A TextStreamer that is also an async iterable of the pieces, like transformers' TextIteratorStreamer: hand it
 * to `generate` and `for await (const piece of streamer)` elsewhere.
 */
export class TextIteratorStreamer extends TextStreamer implements AsyncIterable<string> {
  private readonly queue: string[] = [];
  private finished = false;
  private failure: unknown = undefined;
  private wake: (() => void) | null = null;

  /** Ends the stream with an error: the iterator throws it after the pieces already queued. */
  fail(error: unknown): void {
    this.failure = error ?? new GenerationError("stream failed");
    this.finished = true;
    this.notify();
  }

  protected override onFinalizedText(text: string, streamEnd: boolean): void {
    super.onFinalizedText(text, streamEnd);
    if (text) this.queue.push(text);
    if (streamEnd) this.finished = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.queue.length > 0) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.finished) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * Adapter: text pieces from a (sync or async) stream of ids or id batches. The concatenated pieces equal
 * `tokenizer.decode(allIds, options)` for tokenizers whose decode concatenates.
 */
export async function* streamText(
  ids: AsyncIterable<number | readonly number[]> | Iterable<number | readonly number[]>,
  tokenizer: Detokenizer,
  options: DetokenizeOptions = {},
): AsyncGenerator<string> {
  const decoder = new IncrementalDecoder(tokenizer, options);
  for await (const step of ids) {
    const piece = decoder.push(step);
    if (piece) yield piece;
  }
  const rest = decoder.flush();
  if (rest) yield rest;
}
