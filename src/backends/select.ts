import type { Backend } from "./backend.js";
import { jsBackend } from "./js/index.js";
import { BackendError } from "./native/errors.js";
import { loadAddon } from "./native/loader.js";
import { nativeBackend } from "./native/index.js";

let warned = false;

/**
 * The backend lmforge starts with: LMFORGE_BACKEND=js|native picks one explicitly (native requested but not
 * built is an error); otherwise native when its library loaded, else the TypeScript kernels with one warning.
 */
export function selectBackend(env: NodeJS.ProcessEnv = process.env): Backend {
  const want = env.LMFORGE_BACKEND?.trim().toLowerCase();
  if (want === "js") return jsBackend;
  if (want === "native") return nativeBackend();
  if (want !== undefined && want !== "") {
    throw new BackendError(`LMFORGE_BACKEND must be "js" or "native", got "${env.LMFORGE_BACKEND}"`);
  }
  const load = loadAddon();
  if (load.addon) return nativeBackend();
  if (!warned) {
    warned = true;
    process.emitWarning(`lmforge: native kernels unavailable (${load.reason}); falling back to the TypeScript kernels, which are much slower`, {
      code: "LMFORGE_NO_NATIVE",
    });
  }
  return jsBackend;
}
