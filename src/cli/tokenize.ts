import { cliHubOptions } from "./hub-options.js";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { loadTokenizer, toCodePointOffsets, TokenizerError, type Encoding } from "../tokenizers/index.js";

interface Options {
  tokenizer: string;
  json?: boolean;
  specialTokens: boolean;
  pair?: string;
  utf16?: boolean;
  revision?: string;
}

export function register(program: Command): void {
  program
    .command("tokenize")
    .description("Tokenize text with a Hugging Face tokenizer.json; prints tokens, ids and offsets")
    .argument("[text]", "text to tokenize (read from stdin when left out)")
    .requiredOption("-t, --tokenizer <dir|file|hub id>", "folder with tokenizer.json, a tokenizer.json file, or a hub id")
    .option("--json", 'print {"ids": [...], "tokens": [...], "offsets": [[start, end], ...]}')
    .option("--no-special-tokens", "do not add the special tokens the post-processor adds (BOS, [CLS], ...)")
    .option("--pair <text>", "second sequence of a pair")
    .option("--utf16", "offsets in UTF-16 units (JS string indices) instead of code points (Python string indices, as Hugging Face tokenizers reports them)")
    .option("--revision <rev>", "hub revision when --tokenizer is a hub id")
    .action(async (text: string | undefined, options: Options) => {
      const input = text ?? readStdin();
      const tok = await loadTokenizer(options.tokenizer, cliHubOptions(options.revision));
      const enc = tok.encode(input, { addSpecialTokens: options.specialTokens, pair: options.pair });
      // Code points by default, so the output compares directly with Hugging Face tokenizers' (Python) offsets.
      const offsets = options.utf16 ? enc.offsets : codePointOffsets(input, options.pair, enc);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ids: enc.ids, tokens: enc.tokens, offsets })}\n`);
      } else {
        process.stdout.write(table(input, options.pair, enc, offsets));
      }
    });
}

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch (err) {
    throw new TokenizerError(`tokenize: no text given and stdin cannot be read: ${(err as Error).message}`);
  }
}

/** Offsets index the text their token came from: type id 0 is the first text, 1 the pair. */
function sourceOf(input: string, pair: string | undefined, enc: Encoding, i: number): string {
  return enc.typeIds[i] === 1 && pair !== undefined ? pair : input;
}

function codePointOffsets(input: string, pair: string | undefined, enc: Encoding): [number, number][] {
  return enc.offsets.map((o, i) => toCodePointOffsets(sourceOf(input, pair, enc, i), [o])[0]!);
}

function table(input: string, pair: string | undefined, enc: Encoding, offsets: [number, number][]): string {
  const rows = enc.ids.map((id, i) => {
    const [s, e] = enc.offsets[i]!;
    const source = enc.specialTokensMask[i] ? "" : JSON.stringify(sourceOf(input, pair, enc, i).slice(s, e));
    return [String(i), String(id), JSON.stringify(enc.tokens[i]), `${offsets[i]![0]}-${offsets[i]![1]}`, source];
  });
  const header = ["#", "id", "token", "offsets", "text"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n${enc.ids.length} tokens\n`;
}
