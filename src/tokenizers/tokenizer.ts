import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { asObject, TokenizerError } from "./errors.js";
import { type AddedToken, AddedTokenMatcher, readAddedTokens } from "./added-vocabulary.js";
import { type ChatMessage, renderChatTemplate, selectChatTemplate } from "./chat-template.js";
import { decoderFromJSON, type Decoder } from "./decoders/index.js";
import { type Encoding, emptyEncoding, padEncoding, SequenceEncoder, truncateEncoding } from "./encoding.js";
import { modelFromJSON, type Model } from "./models/index.js";
import { NormalizedString } from "./normalized-string.js";
import { normalizerFromJSON, type Normalizer } from "./normalizers/index.js";
import { postProcess, postProcessorFromJSON, type PostProcessor } from "./post-processors/index.js";
import { preTokenizerFromJSON, type PreTokenizer } from "./pre-tokenizers/index.js";

/** tokenizer_config.json (merged with special_tokens_map.json), as loaded; fields keep their snake_case names. */
export type TokenizerConfig = Record<string, unknown>;

export interface EncodeOptions {
  /** Add the post-processor's special tokens (BOS, [CLS], ...); default true, as in transformers. */
  addSpecialTokens?: boolean;
  /** Second sequence of a pair. */
  pair?: string;
}

export interface EncodeBatchOptions {
  addSpecialTokens?: boolean;
  /** true or "longest": pad to the longest encoding; "max_length": pad to maxLength. */
  padding?: boolean | "longest" | "max_length";
  maxLength?: number;
  /** Cut encodings to maxLength tokens (special tokens included). */
  truncation?: boolean;
  paddingSide?: "left" | "right";
  truncationSide?: "left" | "right";
  padToMultipleOf?: number;
}

export interface TokenizerDecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** Return token ids (the default, as in transformers) or the rendered string. */
  tokenize?: boolean;
  /** A template string, or the name of one of several templates in tokenizer_config.json. */
  chatTemplate?: string;
  /** Any other variable the template reads (tools, documents, enable_thinking, ...). */
  [variable: string]: unknown;
}

const LONE_SURROGATE = /[\ud800-\udfff]/gu;

/**
 * A Hugging Face tokenizer.json pipeline: added tokens, normalizer, pre-tokenizer, model, post-processor and
 * decoder, giving the ids `tokenizers` gives. Offsets are UTF-16 code units of the input (see Encoding).
 */
export class Tokenizer {
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private cachedVocabSize: number | undefined;

  private constructor(
    private readonly json: Record<string, unknown>,
    readonly config: TokenizerConfig,
    private readonly normalizer: Normalizer | null,
    private readonly preTokenizer: PreTokenizer | null,
    private readonly model: Model,
    private readonly postProcessor: PostProcessor | null,
    private readonly decoder: Decoder | null,
    addedTokens: AddedToken[],
  ) {
    for (const t of addedTokens) {
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    const normalizeContent = (content: string): string =>
      normalizer ? normalizer.normalize(NormalizedString.fromText(content)).normalized : content;
    this.rawMatcher = new AddedTokenMatcher(addedTokens.filter((t) => !t.normalized).map((t) => ({ pattern: t.content, token: t })));
    this.normalizedMatcher = new AddedTokenMatcher(
      addedTokens.filter((t) => t.normalized).map((t) => ({ pattern: normalizeContent(t.content), token: t })),
    );
  }

  /** Builds a tokenizer from the parsed contents of tokenizer.json (and optionally tokenizer_config.json). */
  static fromJSON(json: unknown, config: TokenizerConfig = {}): Tokenizer {
    const o = asObject(json, "the top level");
    if (o.model === undefined) throw new TokenizerError('tokenizer.json: missing "model"');
    return new Tokenizer(
      o,
      config,
      normalizerFromJSON(o.normalizer),
      preTokenizerFromJSON(o.pre_tokenizer),
      modelFromJSON(o.model),
      postProcessorFromJSON(o.post_processor),
      decoderFromJSON(o.decoder),
      readAddedTokens(o.added_tokens),
    );
  }

  /**
   * Loads a folder holding tokenizer.json, or a tokenizer.json file; tokenizer_config.json and
   * special_tokens_map.json beside it are read when present.
   */
  static async fromFile(file: string): Promise<Tokenizer> {
    let info;
    try {
      info = await stat(file);
    } catch {
      throw new TokenizerError(`${file}: no such file or folder`);
    }
    const dir = info.isDirectory() ? file : path.dirname(file);
    const jsonPath = info.isDirectory() ? path.join(file, "tokenizer.json") : file;
    const json = await readJson(jsonPath, true);
    const config = { ...((await readJson(path.join(dir, "special_tokens_map.json"), false)) ?? {}) };
    Object.assign(config, (await readJson(path.join(dir, "tokenizer_config.json"), false)) ?? {});
    return Tokenizer.fromJSON(json, config);
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    if (typeof text !== "string") throw new TokenizerError(`encode: text must be a string, got ${typeof text}`);
    const a = this.encodeSequence(text, 0);
    const b = options.pair === undefined ? null : this.encodeSequence(options.pair, 1);
    return postProcess(this.postProcessor, a, b, options.addSpecialTokens ?? true);
  }

  encodeBatch(texts: string[], options: EncodeBatchOptions = {}): Encoding[] {
    const add = options.addSpecialTokens ?? true;
    const { maxLength } = options;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new TokenizerError(`encodeBatch: maxLength must be a non-negative integer, got ${maxLength}`);
    }
    let out: Encoding[];
    if (options.truncation) {
      if (maxLength === undefined) throw new TokenizerError("encodeBatch: truncation needs maxLength");
      const added = postProcess(this.postProcessor, emptyEncoding(), null, add).ids.length;
      const side = options.truncationSide ?? "right";
      out = texts.map((t) =>
        postProcess(this.postProcessor, truncateEncoding(this.encodeSequence(t, 0), Math.max(0, maxLength - added), side), null, add),
      );
    } else {
      out = texts.map((t) => this.encode(t, { addSpecialTokens: add }));
    }
    const padding = options.padding === true ? "longest" : options.padding;
    if (padding) {
      let length: number;
      if (padding === "max_length") {
        if (maxLength === undefined) throw new TokenizerError('encodeBatch: padding "max_length" needs maxLength');
        length = maxLength;
      } else {
        length = Math.max(0, ...out.map((e) => e.ids.length));
      }
      const multiple = options.padToMultipleOf;
      if (multiple !== undefined) {
        if (!Number.isInteger(multiple) || multiple <= 0) {
          throw new TokenizerError(`encodeBatch: padToMultipleOf must be a positive integer, got ${multiple}`);
        }
        length = Math.ceil(length / multiple) * multiple;
      }
      const pad = this.padding();
      out = out.map((e) => padEncoding(e, length, pad, options.paddingSide ?? this.defaultPaddingSide()));
    }
    return out;
  }

  decode(ids: ArrayLike<number>, options: TokenizerDecodeOptions = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const added = this.addedById.get(id);
      if (added) {
        if (!(options.skipSpecialTokens && added.special)) tokens.push(added.content);
        continue;
      }
      const token = this.model.idToToken(id);
      if (token !== undefined) tokens.push(token);
    }
    return this.decoder ? this.decoder.decodeChain(tokens).join("") : tokens.join(" ");
  }

  decodeBatch(batch: ArrayLike<number>[], options: TokenizerDecodeOptions = {}): string[] {
    return Array.from(batch, (ids) => this.decode(ids, options));
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.idToToken(id);
  }

  /** Every token with its id, added tokens included. */
  getVocab(): Map<string, number> {
    const vocab = this.model.vocab();
    for (const t of this.addedById.values()) vocab.set(t.content, t.id);
    return vocab;
  }

  /** Number of distinct tokens, added tokens included (len(tokenizer) in transformers). */
  get vocabSize(): number {
    return (this.cachedVocabSize ??= this.getVocab().size);
  }

  /** Special added tokens and the special tokens tokenizer_config.json names. */
  get specialTokens(): string[] {
    const set = new Set<string>();
    for (const t of this.addedById.values()) if (t.special) set.add(t.content);
    for (const key of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
      const t = this.configToken(key);
      if (t !== undefined) set.add(t);
    }
    const extra = this.config.additional_special_tokens;
    if (Array.isArray(extra)) for (const t of extra) if (tokenContent(t) !== undefined) set.add(tokenContent(t)!);
    return [...set];
  }

  get allSpecialIds(): number[] {
    return this.specialTokens.map((t) => this.tokenToId(t)).filter((id): id is number => id !== undefined);
  }

  get bosToken(): string | undefined {
    return this.configToken("bos_token");
  }
  get eosToken(): string | undefined {
    return this.configToken("eos_token");
  }
  get padToken(): string | undefined {
    const fromFile = this.json.padding && typeof this.json.padding === "object" ? (this.json.padding as Record<string, unknown>).pad_token : undefined;
    return this.configToken("pad_token") ?? (typeof fromFile === "string" ? fromFile : undefined);
  }
  get unkToken(): string | undefined {
    return this.configToken("unk_token");
  }
  get bosTokenId(): number | undefined {
    return this.idOf(this.bosToken);
  }
  get eosTokenId(): number | undefined {
    return this.idOf(this.eosToken);
  }
  get padTokenId(): number | undefined {
    return this.idOf(this.padToken);
  }
  get unkTokenId(): number | undefined {
    return this.idOf(this.unkToken);
  }

  /** Renders tokenizer_config.json's chat template; returns ids unless `tokenize: false`. */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string | number[];
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string | number[] {
    const { addGenerationPrompt, tokenize, chatTemplate, ...extra } = options;
    // A template source always has {{ or {%; anything else names one of the config's templates.
    const source = chatTemplate?.includes("{") ? chatTemplate : selectChatTemplate(this.config.chat_template, chatTemplate);
    const specials: Record<string, unknown> = {};
    for (const key of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
      const t = this.configToken(key);
      if (t !== undefined) specials[key] = t;
    }
    if (Array.isArray(this.config.additional_special_tokens)) {
      specials.additional_special_tokens = this.config.additional_special_tokens.map(tokenContent);
    }
    const text = renderChatTemplate(source, {
      ...specials,
      ...extra,
      messages,
      add_generation_prompt: addGenerationPrompt ?? false,
    });
    if (tokenize === false) return text;
    // The template already wrote the special tokens, so none are added again (as transformers does).
    return this.encode(text, { addSpecialTokens: false }).ids;
  }

  /** The tokenizer.json this tokenizer was built from. */
  toJSON(): Record<string, unknown> {
    return structuredClone(this.json);
  }

  private encodeSequence(text: string, typeId: number): Encoding {
    const input = text.replace(LONE_SURROGATE, "\ufffd");
    const e = new SequenceEncoder(typeId);
    const model = this.model;
    const tokenizeWord = (word: NormalizedString): void => {
      for (const t of model.tokenize(word.normalized)) e.push(t.id, t.value, word.alignStart(t.start), word.alignEnd(t.end - 1));
    };
    for (const seg of this.rawMatcher.split(input)) {
      if (seg.token) {
        e.push(seg.token.id, seg.token.content, seg.start, seg.end);
        continue;
      }
      let ns = NormalizedString.fromText(input.slice(seg.start, seg.end), seg.start);
      if (this.normalizer) ns = this.normalizer.normalize(ns);
      for (const sub of this.normalizedMatcher.split(ns.normalized)) {
        if (sub.token) {
          const [start, end] = ns.originalRange(sub.start, sub.end);
          e.push(sub.token.id, sub.token.content, start, end);
          continue;
        }
        const piece = ns.slice(sub.start, sub.end);
        if (this.preTokenizer) this.preTokenizer.preTokenize(piece, tokenizeWord);
        else tokenizeWord(piece);
      }
    }
    return e.build();
  }

  private configToken(key: string): string | undefined {
    return tokenContent(this.config[key]);
  }

  private idOf(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokenToId(token);
  }

  private padding(): { id: number; token: string; typeId: number } {
    const token = this.padToken;
    const id = token === undefined ? undefined : this.tokenToId(token);
    if (token === undefined || id === undefined) {
      throw new TokenizerError("encodeBatch: padding needs a pad token, but tokenizer_config.json sets no pad_token in the vocabulary");
    }
    return { id, token, typeId: 0 };
  }

  private defaultPaddingSide(): "left" | "right" {
    return this.config.padding_side === "left" ? "left" : "right";
  }
}

/** A special token from a config: a string, or an AddedToken object with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

async function readJson(file: string, required: true): Promise<unknown>;
async function readJson(file: string, required: false): Promise<Record<string, unknown> | undefined>;
async function readJson(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    if (required) throw new TokenizerError(`${file}: cannot read the file`);
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return required ? parsed : asObject(parsed, path.basename(file));
  } catch (err) {
    if (err instanceof TokenizerError) throw err;
    throw new TokenizerError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}
