import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturesDir } from "../helpers/cli.js";
import { trainTokenizer } from "../../src/tokenizers/trainers/index.js";
import { Tokenizer } from "../../src/tokenizers/index.js";

/**
 * A byte-level BPE tokenizer whose 320 ids fit the fixture models' vocabulary: <pad>, <s>, </s> at 0, 1, 2
 * (the fixtures' pad/bos/eos ids), the 256 bytes, then merges learned from the example data.
 */
export function tinyTokenizerJson(): Record<string, unknown> {
  const texts = ["examples/compare-models/data/dialogues.jsonl", "examples/compare-models/data/choices.jsonl"].map((f) =>
    readFileSync(path.join(fixturesDir, "../../..", f), "utf8"),
  );
  return trainTokenizer({ type: "bpe", texts, vocabSize: 320, specialTokens: ["<pad>", "<s>", "</s>"] }) as unknown as Record<string, unknown>;
}

export const tinyTokenizer = (): Tokenizer => Tokenizer.fromJSON(tinyTokenizerJson());

/** Writes the tiny tokenizer.json into a fresh temporary folder and returns the file's path. */
export function writeTinyTokenizer(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-eval-"));
  const file = path.join(dir, "tokenizer.json");
  writeFileSync(file, JSON.stringify(tinyTokenizerJson()));
  return file;
}
