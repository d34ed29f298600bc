import { trainBpe } from "./bpe.js";
import { readLines } from "./corpus.js";
import { TokenizerTrainerError } from "./errors.js";
import { byteLevelBpeJson, unigramJson, wordPieceJson, type TrainedTokenizerJson } from "./tokenizer-json.js";
import { trainUnigram } from "./unigram.js";
import { BYTE_TO_CHAR } from "../byte-level.js";
import { bertSplitter, byteLevelSplitter, countWords, metaspaceSplitter } from "./words.js";

export type TokenizerModelType = "bpe" | "wordpiece" | "unigram";
export const TOKENIZER_MODEL_TYPES: readonly TokenizerModelType[] = ["bpe", "wordpiece", "unigram"];

export interface TrainTokenizerOptions {
  /** bpe: GPT-2 style byte-level BPE; wordpiece: BERT style (lowercased); unigram: SentencePiece style. */
  type: TokenizerModelType;
  /** Text files, read line by line with line endings kept (as `tokenizers` reads them). */
  files?: readonly string[];
  /** Or the training sequences themselves. */
  texts?: Iterable<string>;
  vocabSize: number;
  /** bpe/wordpiece: stop merging when the best pair occurs fewer times than this (default 0). */
  minFrequency?: number;
  /** Tokens placed first in the vocabulary, in this order. Defaults: `<|endoftext|>`; BERT's five; `<unk>`. */
  specialTokens?: readonly string[];
  /** wordpiece/unigram: the unknown token (default `[UNK]` / `<unk>`), added to the special tokens if missing. */
  unkToken?: string;
  /** wordpiece: keep at most this many initial characters, dropping the rarest (byte-level BPE always has 256). */
  limitAlphabet?: number;
  /** wordpiece/unigram: characters always in the vocabulary, seen in the corpus or not. */
  initialAlphabet?: readonly string[];
  /** wordpiece: prefix of word-continuing pieces (default `##`). */
  continuingSubwordPrefix?: string;
  /** unigram: longest piece in characters (default 16). */
  maxPieceLength?: number;
  /** unigram: fraction of pieces each pruning round keeps (default 0.75). */
  shrinkingFactor?: number;
  /** unigram: EM iterations between prunings (default 2). */
  nSubIterations?: number;
  /** unigram: most seed pieces (default 1,000,000). */
  seedSize?: number;
  /** unigram: add the 256 `<0xXX>` byte pieces, so unseen characters encode as bytes instead of `<unk>`. */
  byteFallback?: boolean;
}

const DEFAULT_SPECIAL_TOKENS: Record<TokenizerModelType, readonly string[]> = {
  bpe: ["<|endoftext|>"],
  wordpiece: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
  unigram: ["<unk>"],
};

/** Trains a tokenizer and returns its tokenizer.json object, in the format Hugging Face tokenizers loads. */
export function trainTokenizer(options: TrainTokenizerOptions): TrainedTokenizerJson {
  const o = validate(options);
  const sequences = o.files !== undefined ? readLines(o.files) : o.texts!;
  let specialTokens = [...(o.specialTokens ?? DEFAULT_SPECIAL_TOKENS[o.type])];

  if (o.type === "bpe") {
    const words = nonEmpty(countWords(sequences, byteLevelSplitter));
    const { vocab, merges } = trainBpe(words, {
      vocabSize: o.vocabSize,
      minFrequency: o.minFrequency ?? 0,
      specialTokens,
      initialAlphabet: BYTE_TO_CHAR,
    });
    checkFits(vocab.length, o.vocabSize);
    return byteLevelBpeJson(vocab, merges, specialTokens);
  }

  if (o.type === "wordpiece") {
    const unkToken = o.unkToken ?? "[UNK]";
    if (!specialTokens.includes(unkToken)) specialTokens = [unkToken, ...specialTokens];
    const prefix = o.continuingSubwordPrefix ?? "##";
    const words = nonEmpty(countWords(sequences, bertSplitter));
    const { vocab } = trainBpe(words, {
      vocabSize: o.vocabSize,
      minFrequency: o.minFrequency ?? 0,
      specialTokens,
      initialAlphabet: o.initialAlphabet,
      limitAlphabet: o.limitAlphabet,
      continuingSubwordPrefix: prefix,
    });
    checkFits(vocab.length, o.vocabSize);
    return wordPieceJson(vocab, specialTokens, unkToken, prefix);
  }

  const unkToken = o.unkToken ?? "<unk>";
  if (!specialTokens.includes(unkToken)) specialTokens = [unkToken, ...specialTokens];
  const bytePieces = o.byteFallback ? BYTE_PIECES : [];
  const words = nonEmpty(countWords(sequences, metaspaceSplitter));
  const pieces = trainUnigram(words, {
    vocabSize: o.vocabSize,
    specialTokens: [...specialTokens, ...bytePieces],
    initialAlphabet: o.initialAlphabet,
    maxPieceLength: o.maxPieceLength,
    shrinkingFactor: o.shrinkingFactor,
    nSubIterations: o.nSubIterations,
    seedSize: o.seedSize,
  });
  return unigramJson(pieces, specialTokens, unkToken, o.byteFallback ?? false);
}

const BYTE_PIECES = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);

function nonEmpty(words: Map<string, number>): Map<string, number> {
  if (words.size === 0) throw new TokenizerTrainerError("the training files/texts hold no words to train on");
  return words;
}

function checkFits(actual: number, vocabSize: number): void {
  if (actual > vocabSize) {
    throw new TokenizerTrainerError(
      `vocabSize ${vocabSize} is smaller than the ${actual} special tokens and initial characters; ` +
        `expected vocabSize >= ${actual}`,
    );
  }
}

const TYPE_SPECIFIC: Partial<Record<keyof TrainTokenizerOptions, readonly TokenizerModelType[]>> = {
  minFrequency: ["bpe", "wordpiece"],
  limitAlphabet: ["wordpiece"],
  initialAlphabet: ["wordpiece", "unigram"],
  unkToken: ["wordpiece", "unigram"],
  continuingSubwordPrefix: ["wordpiece"],
  maxPieceLength: ["unigram"],
  shrinkingFactor: ["unigram"],
  nSubIterations: ["unigram"],
  seedSize: ["unigram"],
  byteFallback: ["unigram"],
};

function validate(options: TrainTokenizerOptions): TrainTokenizerOptions {
  const fail = (message: string): never => {
    throw new TokenizerTrainerError(message);
  };
  if (!TOKENIZER_MODEL_TYPES.includes(options.type)) {
    fail(`type must be one of ${TOKENIZER_MODEL_TYPES.join(", ")}, got ${JSON.stringify(options.type)}`);
  }
  if ((options.files === undefined) === (options.texts === undefined)) {
    fail("give exactly one of files (paths of text files) or texts (an iterable of strings)");
  }
  if (options.files !== undefined && (!Array.isArray(options.files) || options.files.length === 0)) {
    fail("files must be a non-empty array of paths");
  }
  if (typeof options.texts === "string") fail("texts must be an iterable of strings, not one string; wrap it in an array");
  for (const key of Object.keys(options) as Array<keyof TrainTokenizerOptions>) {
    const types = TYPE_SPECIFIC[key];
    if (types && options[key] !== undefined && !types.includes(options.type)) {
      fail(`${key} applies to type ${types.join(" or ")}, not ${options.type}`);
    }
  }
  const positiveInt = (name: string, value: number | undefined, min: number): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min)) {
      fail(`${name} must be an integer >= ${min}, got ${value}`);
    }
  };
  if (options.vocabSize === undefined) fail("vocabSize is required");
  positiveInt("vocabSize", options.vocabSize, 1);
  positiveInt("minFrequency", options.minFrequency, 0);
  positiveInt("limitAlphabet", options.limitAlphabet, 1);
  positiveInt("maxPieceLength", options.maxPieceLength, 1);
  positiveInt("nSubIterations", options.nSubIterations, 1);
  positiveInt("seedSize", options.seedSize, 1);
  const s = options.shrinkingFactor;
  if (s !== undefined && !(s > 0 && s < 1)) fail(`shrinkingFactor must be in (0, 1), got ${s}`);
  const special = options.specialTokens;
  if (special !== undefined) {
    if (special.some((t) => typeof t !== "string" || t.length === 0)) fail("specialTokens must be non-empty strings");
    if (new Set(special).size !== special.length) fail(`specialTokens has duplicates: ${special.join(", ")}`);
  }
  for (const c of options.initialAlphabet ?? []) {
    if ([...c].length !== 1) fail(`initialAlphabet entries must be single characters, got ${JSON.stringify(c)}`);
  }
  if (options.continuingSubwordPrefix === "") fail("continuingSubwordPrefix must not be empty");
  return options;
}
