import { existsSync } from "node:fs";
import { HubError } from "../io/errors.js";
import { downloadFile, type HubOptions } from "../io/hub.js";
import { TokenizerError } from "./errors.js";
import { Tokenizer } from "./tokenizer.js";

/** Hub options (revision, cacheDir, endpoint, token, offline, ...) used when loading by hub id. */
export type LoadTokenizerOptions = HubOptions;

/**
 * Loads a tokenizer from a folder, a tokenizer.json file, or a Hugging Face hub id such as "Qwen/Qwen3-0.6B"
 * (tokenizer.json plus tokenizer_config.json and special_tokens_map.json when the repo has them).
 */
export async function loadTokenizer(pathOrHubId: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  if (existsSync(pathOrHubId)) return Tokenizer.fromFile(pathOrHubId);
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(pathOrHubId) || pathOrHubId.startsWith(".")) {
    throw new TokenizerError(`${pathOrHubId}: no such file or folder, and not a hub id like "owner/name"`);
  }
  let tokenizerJson: string;
  try {
    tokenizerJson = await downloadFile(pathOrHubId, "tokenizer.json", options);
  } catch (err) {
    if (err instanceof HubError && err.status === 404) {
      throw new TokenizerError(`${pathOrHubId}: no such local path, and the hub repo has no tokenizer.json`);
    }
    throw err;
  }
  // Optional files land beside tokenizer.json in the same snapshot folder, where fromFile looks for them.
  for (const extra of ["tokenizer_config.json", "special_tokens_map.json"]) {
    try {
      await downloadFile(pathOrHubId, extra, options);
    } catch (err) {
      if (!(err instanceof HubError && err.status === 404)) throw err;
    }
  }
  return Tokenizer.fromFile(tokenizerJson);
}
