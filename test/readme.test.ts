import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers/cli.js";

/** Every ```ts block of the README runs as written (importing "lmforge" from the sources). */
const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("README examples", () => {
  it("has examples", () => expect(blocks.length).toBeGreaterThan(5));
  blocks.forEach((code, i) => {
    const title = code.split("\n").find((l) => l.includes("from \"lmforge\"")) ?? `block ${i}`;
    it(`block ${i + 1}: ${title}`, () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "lmforge-readme-"));
      try {
        const file = path.join(dir, "example.mts");
        const source = code.replaceAll('from "lmforge"', `from ${JSON.stringify(path.join(repoRoot, "src/index.ts"))}`);
        writeFileSync(file, source);
        const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: repoRoot, encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
