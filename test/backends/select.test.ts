import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { jsBackend } from "../../src/backends/index.js";
import { BackendError, isNativeAvailable } from "../../src/backends/native/index.js";
import { selectBackend } from "../../src/backends/select.js";
import { repoRoot } from "../helpers/cli.js";

/** Runs a snippet against lmforge's sources in a fresh process (backend selection happens at import). */
function runSnippet(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: repoRoot, env: { ...process.env, LMFORGE_BACKEND: "", ...env }, encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const entry = JSON.stringify(path.join(repoRoot, "src/index.ts"));
const snippet = `const L = await import(${entry});
const a = L.randn([4, 4]); L.matmul(a, a); L.softmax(a); L.matmul(a, a);
console.log(L.getBackend().name);`;

describe("backend selection", () => {
  it("LMFORGE_BACKEND=js picks the TypeScript kernels; an unknown value is an error naming the variable", () => {
    expect(selectBackend({ LMFORGE_BACKEND: "js" })).toBe(jsBackend);
    expect(() => selectBackend({ LMFORGE_BACKEND: "cuda" })).toThrow(BackendError);
    expect(() => selectBackend({ LMFORGE_BACKEND: "cuda" })).toThrow(/LMFORGE_BACKEND/);
  });

  it.skipIf(!isNativeAvailable())("defaults to native when the library loaded", () => {
    expect(selectBackend({}).name).toBe("native");
    expect(selectBackend({ LMFORGE_BACKEND: "native" }).name).toBe("native");
    const r = runSnippet(snippet, {});
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("native");
    expect(r.stderr).not.toMatch(/falling back/);
  });

  it.skipIf(!isNativeAvailable())("LMFORGE_NUM_THREADS sizes the native thread pool", () => {
    const r = runSnippet(`const L = await import(${entry}); console.log(L.nativeInfo().threads);`, { LMFORGE_NUM_THREADS: "3" });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("3");
  });

  it("without the library: warns once on stderr and runs on the TypeScript kernels", () => {
    const r = runSnippet(snippet, { LMFORGE_NATIVE_ADDON: path.join(repoRoot, "no-such-dir/lmforge_native.node") });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("js");
    expect(r.stderr.match(/falling back to the TypeScript kernels/g)?.length).toBe(1);
  });

  it("LMFORGE_BACKEND=native without the library fails with a clear error", () => {
    const r = runSnippet(snippet, { LMFORGE_BACKEND: "native", LMFORGE_NATIVE_ADDON: path.join(repoRoot, "no-such-dir/lmforge_native.node") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/BackendError: native backend unavailable: .*no-such-dir.*LMFORGE_BACKEND=js/);
  });
});
