// `npm install` hook: builds the native kernels with node-gyp against the headers of the Node that runs
// it, never downloading anything; any failure leaves lmforge on its TypeScript kernels instead of failing
// the install.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

function warn(why) {
  console.warn(`lmforge: native kernels not built (${why}); lmforge will use its TypeScript kernels.`);
}

if (process.env.LMFORGE_SKIP_NATIVE) {
  warn("LMFORGE_SKIP_NATIVE is set");
  process.exit(0);
}

// Node's own headers ship with every release (<prefix>/include/node); npm may also point at them.
const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), "..")].filter(Boolean);
const nodedir = candidates.find((dir) => existsSync(path.join(dir, "include", "node", "node_api.h")));
if (!nodedir) {
  warn("Node's C headers (include/node/node_api.h) were not found next to this Node");
  process.exit(0);
}

const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && existsSync(gyp) ? [process.execPath, [gyp]] : ["node-gyp", []];
const run = spawnSync(cmd, [...args, "rebuild", `--nodedir=${nodedir}`], { stdio: "inherit", shell: process.platform === "win32" });
if (run.error || run.status !== 0) warn(run.error ? run.error.message : `node-gyp exited with ${run.status}`);
