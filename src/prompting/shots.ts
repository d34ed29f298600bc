import { readFile } from "node:fs/promises";
import { PromptError } from "./errors.js";
import type { FewShotExample } from "./templates.js";

/** Parses JSONL shots: one `{ "input": ..., "output": ... }` object per line; blank lines are skipped. */
export function parseShots(text: string, source = "<shots>"): FewShotExample[] {
  const examples: FewShotExample[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `${source}:${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new PromptError(`${where}: invalid JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new PromptError(`${where}: expected an object with "input" and "output" strings`);
    }
    const record = value as Record<string, unknown>;
    for (const field of ["input", "output"]) {
      if (typeof record[field] !== "string") {
        throw new PromptError(
          `${where}: field "${field}" must be a string, got ${record[field] === undefined ? "nothing" : JSON.stringify(record[field])}`,
        );
      }
    }
    examples.push({ input: record.input as string, output: record.output as string });
  });
  return examples;
}

/** Reads a JSONL shots file into examples; errors name the file and line. */
export async function loadShots(file: string): Promise<FewShotExample[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PromptError(`cannot read shots file ${file}: ${(error as Error).message}`);
  }
  return parseShots(text, file);
}
