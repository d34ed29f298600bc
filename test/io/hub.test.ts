import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from "vitest";
import { mkdtempSync, rmSync, readFileSync, readlinkSync, lstatSync, existsSync, readdirSync, mkdirSync, writeFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startHubServer, gitBlobSha1, sha256, type HubServer } from "../helpers/hub-server.js";
import { downloadFile, resolveRepoFile, fileExists, progressBar, HubError, hubFileUrl, defaultHubCacheDir, type DownloadProgress } from "../../src/io/index.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const V1_COMMIT = "fedcba9876543210fedcba9876543210fedcba98";
const config = Buffer.from('{"model_type": "gpt2"}\n');
const weights = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31 + 7) & 0xff));
const nested = Buffer.from("nested file");

let server: HubServer;
let root: string;
let cacheDir: string;
let caseNo = 0;
const HF_VARS = ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"];
let savedEnv: Record<string, string | undefined>;

beforeAll(async () => {
  server = await startHubServer({
    "org/tiny": {
      commit: COMMIT,
      revisions: { v1: V1_COMMIT },
      files: {
        "config.json": { content: config },
        "model.safetensors": { content: weights, lfs: true },
        "sub/dir/notes.txt": { content: nested },
      },
    },
    "org/gated": { commit: COMMIT, gatedToken: "hf_secret", files: { "model.safetensors": { content: weights, lfs: true } } },
  });
  root = mkdtempSync(path.join(tmpdir(), "lmforge-hub-"));
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  // Each test gets a fresh cache and a clean environment: no real token, cache or endpoint can leak in.
  savedEnv = Object.fromEntries(HF_VARS.map((k) => [k, process.env[k]]));
  for (const k of HF_VARS) delete process.env[k];
  cacheDir = path.join(root, `cache-${++caseNo}`);
  server.requests.length = 0;
});

afterEach(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const opts = () => ({ cacheDir, endpoint: server.endpoint });
const repoDir = () => path.join(cacheDir, "models--org--tiny");

async function hubError(promise: Promise<unknown>): Promise<HubError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  return err as HubError;
}

describe("cache layout", () => {
  it("lays out blobs, snapshots and refs exactly as huggingface_hub does", async () => {
    const cfg = await downloadFile("org/tiny", "config.json", opts());
    const st = await downloadFile("org/tiny", "model.safetensors", opts());
    const notes = await downloadFile("org/tiny", "sub/dir/notes.txt", opts());
    const snap = path.join(repoDir(), "snapshots", COMMIT);
    expect(cfg).toBe(path.join(snap, "config.json"));
    expect(st).toBe(path.join(snap, "model.safetensors"));
    expect(notes).toBe(path.join(snap, "sub", "dir", "notes.txt"));

    // Regular files are stored under their git blob sha1, LFS files under their sha256; pointers are relative links.
    const cfgBlob = gitBlobSha1(config);
    const stBlob = sha256(weights);
    expect(lstatSync(cfg).isSymbolicLink()).toBe(true);
    expect(readlinkSync(cfg)).toBe(`../../blobs/${cfgBlob}`);
    expect(readlinkSync(st)).toBe(`../../blobs/${stBlob}`);
    expect(readlinkSync(notes)).toBe(`../../../../blobs/${gitBlobSha1(nested)}`);
    expect(readdirSync(path.join(repoDir(), "blobs")).sort()).toEqual([cfgBlob, gitBlobSha1(nested), stBlob].sort());
    expect(readFileSync(cfg)).toEqual(config);
    expect(readFileSync(st)).toEqual(weights);
    expect(readFileSync(path.join(repoDir(), "refs", "main"), "utf8")).toBe(COMMIT);
    expect(readdirSync(repoDir()).sort()).toEqual(["blobs", "refs", "snapshots"]);

    // LFS bytes come from the CDN the HEAD redirect named; the hub itself only saw HEADs for them.
    expect(server.requests.filter((r) => r.server === "cdn").map((r) => r.method)).toEqual(["GET"]);
    expect(server.requests.filter((r) => r.server === "hub" && r.path.endsWith("model.safetensors")).map((r) => r.method)).toEqual(["HEAD"]);
  });

  it("answers a second call from the cache without any request", async () => {
    await downloadFile("org/tiny", "config.json", opts());
    await downloadFile("org/tiny", "model.safetensors", opts());
    const before = server.requests.length;
    expect(before).toBeGreaterThan(0);
    const again = await downloadFile("org/tiny", "model.safetensors", opts());
    expect(readFileSync(again)).toEqual(weights);
    expect(await fileExists("org/tiny", "config.json", opts())).toBe(true);
    expect(server.requests.length).toBe(before);
  });

  it("stores a branch under refs/<branch> and a commit revision without a ref", async () => {
    const v1 = await downloadFile("org/tiny", "config.json", { ...opts(), revision: "v1" });
    expect(v1).toBe(path.join(repoDir(), "snapshots", V1_COMMIT, "config.json"));
    expect(readFileSync(path.join(repoDir(), "refs", "v1"), "utf8")).toBe(V1_COMMIT);
    const pinned = await downloadFile("org/tiny", "config.json", { ...opts(), revision: COMMIT });
    expect(pinned).toBe(path.join(repoDir(), "snapshots", COMMIT, "config.json"));
    expect(readdirSync(path.join(repoDir(), "refs"))).toEqual(["v1"]);
    // Same content at both commits: one blob shared by two snapshots.
    expect(readdirSync(path.join(repoDir(), "blobs"))).toEqual([gitBlobSha1(config)]);
    // The bytes are fetched at the commit the HEAD named, so a branch moving in between cannot swap them.
    expect(server.requests.filter((r) => r.path.includes("/resolve/v1/")).map((r) => r.method)).toEqual(["HEAD"]);
    expect(server.requests.filter((r) => r.path === `/org/tiny/resolve/${V1_COMMIT}/config.json`).map((r) => r.method)).toEqual(["GET"]);
  });

  it("builds URLs the way hf_hub_url does", () => {
    expect(hubFileUrl("org/tiny", "sub/a b.json", { endpoint: "https://hub.example" })).toBe("https://hub.example/org/tiny/resolve/main/sub/a%20b.json");
    expect(hubFileUrl("org/data", "x.parquet", { endpoint: "https://hub.example", repoType: "dataset", revision: "refs/pr/1" })).toBe(
      "https://hub.example/datasets/org/data/resolve/refs%2Fpr%2F1/x.parquet",
    );
  });
});

describe("offline and cache locations", () => {
  /** The layout Python's hf_hub_download leaves behind, written by hand. */
  function pythonCache(dir: string): string {
    const repo = path.join(dir, "models--org--tiny");
    const blob = gitBlobSha1(config);
    mkdirSync(path.join(repo, "blobs"), { recursive: true });
    mkdirSync(path.join(repo, "refs"), { recursive: true });
    mkdirSync(path.join(repo, "snapshots", COMMIT), { recursive: true });
    writeFileSync(path.join(repo, "blobs", blob), config);
    writeFileSync(path.join(repo, "refs", "main"), COMMIT);
    symlinkSync(`../../blobs/${blob}`, path.join(repo, "snapshots", COMMIT, "config.json"));
    return path.join(repo, "snapshots", COMMIT, "config.json");
  }

  it("reuses files Python tools downloaded, with HF_HUB_OFFLINE=1 and no request", async () => {
    const expected = pythonCache(cacheDir);
    process.env.HF_HUB_OFFLINE = "1";
    expect(await downloadFile("org/tiny", "config.json", opts())).toBe(expected);
    expect(await resolveRepoFile("org/tiny", "config.json", opts())).toBe(expected);
    expect(await fileExists("org/tiny", "generation_config.json", opts())).toBe(false);
    expect(server.requests.length).toBe(0);
  });

  it("fails clearly when offline and the file is not cached", async () => {
    pythonCache(cacheDir);
    const e = await hubError(downloadFile("org/tiny", "model.safetensors", { ...opts(), offline: true }));
    expect(e.message).toMatch(/org\/tiny\/model\.safetensors: not in the cache at .*models--org--tiny and offline mode is on/);
    const e2 = await hubError(downloadFile("org/tiny", "config.json", { ...opts(), offline: true, revision: "v1" }));
    expect(e2.message).toMatch(/offline mode is on/);
    expect(server.requests.length).toBe(0);
  });

  it("uses HF_HUB_CACHE, then HF_HOME/hub, and HF_ENDPOINT", async () => {
    const hubCache = path.join(root, `env-hub-cache-${caseNo}`);
    process.env.HF_HUB_CACHE = hubCache;
    process.env.HF_HOME = path.join(root, "ignored-home");
    process.env.HF_ENDPOINT = server.endpoint;
    expect(defaultHubCacheDir()).toBe(hubCache);
    expect(await downloadFile("org/tiny", "config.json")).toBe(path.join(hubCache, "models--org--tiny", "snapshots", COMMIT, "config.json"));

    delete process.env.HF_HUB_CACHE;
    const home = path.join(root, `env-home-${caseNo}`);
    process.env.HF_HOME = home;
    expect(defaultHubCacheDir()).toBe(path.join(home, "hub"));
    expect(await downloadFile("org/tiny", "config.json")).toBe(path.join(home, "hub", "models--org--tiny", "snapshots", COMMIT, "config.json"));
    expect(existsSync(path.join(root, "ignored-home"))).toBe(false);
  });

  it("reports an unreachable endpoint when nothing is cached", async () => {
    const e = await hubError(downloadFile("org/tiny", "config.json", { cacheDir, endpoint: "http://127.0.0.1:9" }));
    expect(e.message).toMatch(/org\/tiny\/config\.json: cannot reach http:\/\/127\.0\.0\.1:9 .* not in the cache/);
  });
});

describe("interrupted and corrupt downloads", () => {
  it("resumes a download cut mid-body with a Range request and gets the right bytes", async () => {
    server.cutNextBody("model.safetensors", 20_000);
    const seen: DownloadProgress[] = [];
    const file = await downloadFile("org/tiny", "model.safetensors", { ...opts(), onProgress: (p) => seen.push(p) });
    expect(readFileSync(file)).toEqual(weights);
    const gets = server.requests.filter((r) => r.server === "cdn");
    expect(gets.length).toBe(2);
    expect(gets[0]!.range).toBeUndefined();
    expect(gets[1]!.range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/\d+/.exec(gets[1]!.range!)![0]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(20_000);
    expect(seen.at(-1)).toEqual({ file: "model.safetensors", loaded: weights.length, total: weights.length });
    expect(seen.every((p, i) => i === 0 || p.loaded >= seen[i - 1]!.loaded || p.loaded === resumedAt)).toBe(true);
    expect(readdirSync(path.join(repoDir(), "blobs"))).toEqual([sha256(weights)]);
  });

  it("gives up on a stalled connection after timeoutMs and resumes", async () => {
    server.cutNextBody("model.safetensors", 5_000, "stall");
    const started = Date.now();
    const file = await downloadFile("org/tiny", "model.safetensors", { ...opts(), timeoutMs: 300 });
    expect(readFileSync(file)).toEqual(weights);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const gets = server.requests.filter((r) => r.server === "cdn");
    expect(gets.map((r) => r.range)).toEqual([undefined, "bytes=5000-"]);
  });

  it("keeps the partial file when retries run out, and the next call resumes it", async () => {
    server.cutNextBody("model.safetensors", 10_000);
    const e = await hubError(downloadFile("org/tiny", "model.safetensors", { ...opts(), maxRetries: 0 }));
    expect(e.message).toMatch(/download interrupted 1 times .* run again to resume/);
    const incomplete = path.join(repoDir(), "blobs", `${sha256(weights)}.incomplete`);
    const partial = readFileSync(incomplete);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial).toEqual(weights.subarray(0, partial.length));
    expect(existsSync(path.join(repoDir(), "snapshots", COMMIT, "model.safetensors"))).toBe(false);

    server.requests.length = 0;
    const file = await downloadFile("org/tiny", "model.safetensors", opts());
    expect(readFileSync(file)).toEqual(weights);
    expect(server.requests.filter((r) => r.server === "cdn").map((r) => r.range)).toEqual([`bytes=${partial.length}-`]);
    expect(existsSync(incomplete)).toBe(false);
  });

  it("rejects a size that disagrees with the announced one and leaves no corrupt file in place", async () => {
    server.announceSize("config.json", config.length + 10);
    try {
      const e = await hubError(downloadFile("org/tiny", "config.json", opts()));
      expect(e.message).toMatch(new RegExp(`org/tiny/config\\.json: downloaded ${config.length} bytes but the hub announced ${config.length + 10}`));
      expect(readdirSync(path.join(repoDir(), "blobs"))).toEqual([]);
      expect(existsSync(path.join(repoDir(), "snapshots", COMMIT, "config.json"))).toBe(false);
    } finally {
      server.announceSize("config.json", config.length);
    }
  });
});

describe("auth and errors", () => {
  it("says a gated repo needs HF_TOKEN, and sends the token to the hub but not to the CDN", async () => {
    const denied = await hubError(downloadFile("org/gated", "model.safetensors", opts()));
    expect(denied.status).toBe(401);
    expect(denied.message).toMatch(/org\/gated\/model\.safetensors .*access denied \(HTTP 401, GatedRepo\); the repo may be gated or private: .*set HF_TOKEN/);

    const wrong = await hubError(downloadFile("org/gated", "model.safetensors", { ...opts(), token: "hf_wrong" }));
    expect(wrong.status).toBe(401);
    expect(wrong.message).toMatch(/the repo may be gated or private and the token sent \(HF_TOKEN or the token option\) does not grant access/);

    server.requests.length = 0;
    process.env.HF_TOKEN = "hf_secret";
    const file = await downloadFile("org/gated", "model.safetensors", opts());
    expect(readFileSync(file)).toEqual(weights);
    const hubReqs = server.requests.filter((r) => r.server === "hub");
    const cdnReqs = server.requests.filter((r) => r.server === "cdn");
    expect(hubReqs.map((r) => r.authorization)).toEqual(["Bearer hf_secret"]);
    expect(cdnReqs.length).toBe(1);
    expect(cdnReqs[0]!.authorization).toBeUndefined();
  });

  it("gives 404 errors that name the repo and file, and remembers absent files", async () => {
    const e = await hubError(downloadFile("org/tiny", "generation_config.json", opts()));
    expect(e.status).toBe(404);
    expect(e.message).toMatch(/org\/tiny\/generation_config\.json at http:.*: file generation_config\.json not found in org\/tiny at revision main \(HTTP 404\)/);
    expect(existsSync(path.join(repoDir(), ".no_exist", COMMIT, "generation_config.json"))).toBe(true);
    server.requests.length = 0;
    expect(await fileExists("org/tiny", "generation_config.json", opts())).toBe(false);
    expect(server.requests.length).toBe(0);

    const repo = await hubError(downloadFile("org/missing", "config.json", opts()));
    expect(repo.status).toBe(404);
    expect(repo.message).toMatch(/repository org\/missing not found/);
    const rev = await hubError(downloadFile("org/tiny", "config.json", { ...opts(), revision: "nope" }));
    expect(rev.message).toMatch(/revision nope not found in org\/tiny/);
    await expect(fileExists("org/missing", "config.json", opts())).rejects.toThrow(/repository org\/missing not found/);
  });

  it("checks optional files with one HEAD and no download", async () => {
    expect(await fileExists("org/tiny", "model.safetensors", opts())).toBe(true);
    expect(await fileExists("org/tiny", "model.safetensors.index.json", opts())).toBe(false);
    expect(server.requests.map((r) => r.method)).toEqual(["HEAD", "HEAD"]);
    expect(existsSync(path.join(repoDir(), "blobs"))).toBe(false);
  });

  it("refuses malformed repo ids and paths that would escape the cache", async () => {
    await expect(downloadFile("org/../etc", "x", opts())).rejects.toThrow(/repo id "org\/\.\.\/etc"/);
    await expect(downloadFile("a/b/c", "x", opts())).rejects.toThrow(HubError);
    await expect(downloadFile("org/tiny", "../../secret", opts())).rejects.toThrow(/filename "\.\.\/\.\.\/secret": expected a relative path/);
    expect(server.requests.length).toBe(0);
  });
});

describe("local folders", () => {
  it("resolves files of a local folder without the hub", async () => {
    const dir = path.join(root, `local-${caseNo}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.json"), config);
    expect(await resolveRepoFile(dir, "config.json", opts())).toBe(path.join(dir, "config.json"));
    expect(await fileExists(dir, "config.json")).toBe(true);
    expect(await fileExists(dir, "generation_config.json")).toBe(false);
    const e = await hubError(resolveRepoFile(dir, "tokenizer.json"));
    expect(e.status).toBe(404);
    expect(e.message).toContain("tokenizer.json");
    expect(server.requests.length).toBe(0);
  });
});

describe("progress bar", () => {
  it("draws only on a terminal", () => {
    const written: string[] = [];
    const stream = (isTTY: boolean) => ({ isTTY, columns: 100, write: (s: string) => (written.push(s), true) });
    const quiet = progressBar({ stream: stream(false) });
    quiet({ file: "model.safetensors", loaded: 10, total: 100 });
    expect(written).toEqual([]);
    const bar = progressBar({ stream: stream(true), intervalMs: 0 });
    bar({ file: "model.safetensors", loaded: 0, total: 2_000_000 });
    bar({ file: "model.safetensors", loaded: 2_000_000, total: 2_000_000 });
    expect(written[0]).toMatch(/^\rmodel\.safetensors {2}\[-+\] {3}0% {2}0 B \/ 2\.0 MB/);
    expect(written[1]).toMatch(/\[#+\] 100% {2}2\.0 MB \/ 2\.0 MB\x1b\[K\n$/);
  });
});
