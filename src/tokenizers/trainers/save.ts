import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { TokenizerTrainerError } from "./errors.js";
import type { JsonObject, TrainedTokenizerJson } from "./tokenizer-json.js";

// Special-token roles transformers reads from tokenizer_config.json, by the usual token spellings.
const ROLES: Record<string, string[]> = {
  "[UNK]": ["unk_token"],
  "<unk>": ["unk_token"],
  "[PAD]": ["pad_token"],
  "<pad>": ["pad_token"],
  "[CLS]": ["cls_token"],
  "[SEP]": ["sep_token"],
  "[MASK]": ["mask_token"],
  "<mask>": ["mask_token"],
  "<s>": ["bos_token"],
  "</s>": ["eos_token"],
  "<|endoftext|>": ["bos_token", "eos_token", "unk_token"],
};

/**
 * Writes `dir/tokenizer.json` and a minimal `dir/tokenizer_config.json` (so transformers' AutoTokenizer loads the
 * folder), each through a temporary file and a rename, so an interrupted save never leaves a half-written file.
 * Returns the path of tokenizer.json.
 */
export function saveTokenizerJson(tokenizer: TrainedTokenizerJson, dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new TokenizerTrainerError(`cannot create output folder ${dir}: ${(err as Error).message}`);
  }
  const config: JsonObject = { tokenizer_class: "PreTrainedTokenizerFast", clean_up_tokenization_spaces: false };
  for (const { content } of tokenizer.added_tokens) {
    for (const role of ROLES[content] ?? []) config[role] ??= content;
  }
  const file = path.join(dir, "tokenizer.json");
  // Indented like tokenizers' save(pretty=True), its default.
  writeAtomically(file, JSON.stringify(tokenizer, null, 2));
  writeAtomically(path.join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
  return file;
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new TokenizerTrainerError(`cannot write ${file}: ${(err as Error).message}`);
  }
}
