import type { Command } from "commander";
import { listModelFamilies } from "../models/index.js";

export interface FamilySummary {
  modelTypes: string[];
  architectures: string[];
  defaultArchitecture: string;
  description: string;
}

/** Every registered model family, in registration order. */
export function supportedModels(): FamilySummary[] {
  return listModelFamilies().map((f) => ({
    modelTypes: [...f.modelTypes],
    architectures: Object.keys(f.architectures),
    defaultArchitecture: f.defaultArchitecture,
    description: f.description,
  }));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")).join("\n");
}

export function register(program: Command): void {
  program
    .command("models")
    .description("List the supported model architectures (config.json model_type and architectures)")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const families = supportedModels();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(families, null, 2)}\n`);
        return;
      }
      const rows = [["MODEL TYPE", "ARCHITECTURES", "DESCRIPTION"]];
      for (const f of families) rows.push([f.modelTypes.join(", "), f.architectures.join(", "), f.description]);
      process.stdout.write(`${table(rows)}\n`);
    });
}
