import { statSync } from "node:fs";
import type { Command } from "commander";
import {
  TOKENIZER_MODEL_TYPES,
  TokenizerTrainerError,
  saveTokenizerJson,
  trainTokenizer,
  type TokenizerModelType,
} from "../tokenizers/trainers/index.js";

interface Options {
  type: string;
  vocabSize: string;
  out: string;
  minFrequency?: string;
  specialTokens?: string;
  unkToken?: string;
  limitAlphabet?: string;
  byteFallback?: boolean;
  json?: boolean;
}

function integer(value: string | undefined, option: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new TokenizerTrainerError(`${option} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function register(program: Command): void {
  program
    .command("train-tokenizer")
    .description("Train a BPE (GPT-2 byte-level), WordPiece (BERT) or Unigram (SentencePiece) tokenizer on text files")
    .argument("<files...>", "training text files, read line by line")
    .requiredOption("--type <type>", `tokenizer model: ${TOKENIZER_MODEL_TYPES.join(", ")}`)
    .requiredOption("--vocab-size <n>", "vocabulary size, special tokens included")
    .requiredOption("--out <dir>", "folder to write tokenizer.json and tokenizer_config.json into")
    .option("--min-frequency <n>", "bpe/wordpiece: least count of a pair to merge it")
    .option("--special-tokens <list>", "comma-separated special tokens, placed first in the vocabulary")
    .option("--unk-token <token>", "wordpiece/unigram: the unknown token")
    .option("--limit-alphabet <n>", "wordpiece: keep at most this many initial characters")
    .option("--byte-fallback", "unigram: add byte pieces so unseen characters encode as bytes")
    .option("--json", "print the summary as JSON")
    .action((files: string[], opts: Options) => {
      if (!(TOKENIZER_MODEL_TYPES as readonly string[]).includes(opts.type)) {
        throw new TokenizerTrainerError(`--type must be one of ${TOKENIZER_MODEL_TYPES.join(", ")}, got ${JSON.stringify(opts.type)}`);
      }
      const type = opts.type as TokenizerModelType;
      const vocabSize = integer(opts.vocabSize, "--vocab-size", 1)!;
      const minFrequency = integer(opts.minFrequency, "--min-frequency", 0);
      const limitAlphabet = integer(opts.limitAlphabet, "--limit-alphabet", 1);
      let specialTokens: string[] | undefined;
      if (opts.specialTokens !== undefined) {
        specialTokens = opts.specialTokens.split(",").map((t) => t.trim());
        if (specialTokens.some((t) => t.length === 0)) {
          throw new TokenizerTrainerError(`--special-tokens has an empty entry: ${JSON.stringify(opts.specialTokens)}`);
        }
      }
      const only = (flag: string, given: unknown, types: TokenizerModelType[]): void => {
        if (given !== undefined && !types.includes(type)) {
          throw new TokenizerTrainerError(`${flag} applies to --type ${types.join(" or ")} only`);
        }
      };
      only("--min-frequency", minFrequency, ["bpe", "wordpiece"]);
      only("--limit-alphabet", limitAlphabet, ["wordpiece"]);
      only("--unk-token", opts.unkToken, ["wordpiece", "unigram"]);
      only("--byte-fallback", opts.byteFallback, ["unigram"]);
      let bytes = 0;
      for (const file of files) {
        let size: number;
        try {
          size = statSync(file).size;
        } catch {
          throw new TokenizerTrainerError(`training file ${file} does not exist or cannot be read`);
        }
        bytes += size;
      }

      const start = performance.now();
      const tokenizer = trainTokenizer({
        type,
        files,
        vocabSize,
        minFrequency,
        specialTokens,
        unkToken: opts.unkToken,
        limitAlphabet,
        byteFallback: opts.byteFallback,
      });
      const seconds = (performance.now() - start) / 1000;
      const path = saveTokenizerJson(tokenizer, opts.out);
      const vocab = tokenizer.model.vocab as object;
      const size = Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length;
      const summary = { type, vocabSize: size, specialTokens: tokenizer.added_tokens.length, files: files.length, bytes, seconds, path };
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary) + "\n");
      } else {
        process.stdout.write(
          `trained ${type} tokenizer: vocab ${size}` +
            `${size < vocabSize ? ` (corpus exhausted before ${vocabSize})` : ""}` +
            ` from ${files.length} file${files.length === 1 ? "" : "s"} (${(bytes / 1e6).toFixed(2)} MB)` +
            ` in ${seconds.toFixed(1)} s -> ${path}\n`,
        );
      }
    });
}
