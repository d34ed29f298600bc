/**
 * `npm run bench -- <name> [<name> ...]`: runs the exported `main(args)` of bench/<name>.ts for each name given.
 * Only the benchmarks asked for are imported, so one benchmark's dependencies never slow or break another.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();
const args = process.argv.slice(2).filter((a) => a !== "--");
const names = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));

if (names.length === 0) {
  process.stderr.write(`usage: npm run bench -- <name> [...]; available: ${available.join(", ")}\n`);
  process.exit(1);
}
for (const name of names) {
  if (!available.includes(name)) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}; available: ${available.join(", ")}\n`);
    process.exit(1);
  }
}
for (const name of names) {
  const mod = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as { main?: (flags: string[]) => unknown };
  if (typeof mod.main !== "function") {
    process.stderr.write(`bench/${name}.ts does not export a main() function\n`);
    process.exit(1);
  }
  await mod.main(flags);
}
