// Second pass of `npm test`: the first pass ran everything on the default backend (native when it was built),
// this one runs the op tests and the model parity tests on the TypeScript kernels, so both backends are held
// to the same contract. Without a native build both passes would be the same backend: skip.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const addon = process.env.LMFORGE_NATIVE_ADDON || path.join(root, "build", "Release", "lmforge_native.node");
if (!existsSync(addon) || process.env.LMFORGE_BACKEND) {
  console.log(`test-native: ${existsSync(addon) ? "LMFORGE_BACKEND is set" : "native kernels not built"}; skipping the second-backend pass`);
  process.exit(0);
}
const vitest = path.join(root, "node_modules", "vitest", "vitest.mjs");
const run = spawnSync(process.execPath, [vitest, "run", "test/tensor", "test/models"], {
  cwd: root, stdio: "inherit", env: { ...process.env, LMFORGE_BACKEND: "js" },
});
process.exit(run.status ?? 1);
