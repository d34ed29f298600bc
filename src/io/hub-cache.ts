import { homedir } from "node:os";
import path from "node:path";
import { readFile, stat } from "node:fs/promises";
import { HubError } from "./errors.js";

/**
 * The on-disk layout of huggingface_hub's cache, shared with Python tools: a folder per repo
 * (`models--org--name`) holding `blobs/<etag>`, `snapshots/<commit>/<file>` (relative symlinks to the blobs),
 * `refs/<revision>` (the commit a branch or tag pointed at) and `.no_exist/<commit>/<file>` (files known to be
 * absent).
 */

export type RepoType = "model" | "dataset" | "space";

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function defaultHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "huggingface");
  return path.join(home, "hub");
}

/** Same rules as huggingface_hub's validate_repo_id, so a bad id fails here rather than as an odd 404. */
export function validateRepoId(repoId: string): void {
  if (typeof repoId !== "string" || !/^(?:[\w\-.]+\/)?[\w\-.]+$/.test(repoId) || repoId.includes("--") || repoId.includes("..") || repoId.length > 96) {
    throw new HubError(`repo id ${JSON.stringify(repoId)}: expected "name" or "namespace/name" (letters, digits, - _ ., no "--" or "..", at most 96 chars)`);
  }
}

/** A repo-relative path must stay inside the snapshot folder once joined onto it. */
export function validateRepoPath(what: string, value: string): string[] {
  const parts = typeof value === "string" ? value.split("/") : [];
  if (parts.length === 0 || value.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new HubError(`${what} ${JSON.stringify(value)}: expected a relative path inside the repo (no empty, "." or ".." parts)`);
  }
  return parts;
}

export function repoFolderName(repoId: string, repoType: RepoType = "model"): string {
  return [`${repoType}s`, ...repoId.split("/")].join("--");
}

export function isOfflineEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return ["1", "ON", "YES", "TRUE"].includes((env.HF_HUB_OFFLINE ?? "").toUpperCase());
}

/** Paths inside one repo's cache folder. */
export class RepoCache {
  readonly root: string;

  constructor(cacheDir: string, repoId: string, repoType: RepoType) {
    this.root = path.join(cacheDir, repoFolderName(repoId, repoType));
  }

  blob(etag: string): string {
    return path.join(this.root, "blobs", etag);
  }

  pointer(commit: string, filename: string): string {
    return path.join(this.root, "snapshots", commit, ...filename.split("/"));
  }

  ref(revision: string): string {
    return path.join(this.root, "refs", ...revision.split("/"));
  }

  noExist(commit: string, filename: string): string {
    return path.join(this.root, ".no_exist", commit, ...filename.split("/"));
  }

  /** The commit a revision resolves to from the cache alone: itself if a commit hash, else refs/<revision>. */
  async commitFor(revision: string): Promise<string | null> {
    if (COMMIT_HASH.test(revision)) return revision;
    const text = await readFile(this.ref(revision), "utf8").catch(() => null);
    const commit = text?.trim();
    return commit && COMMIT_HASH.test(commit) ? commit : null;
  }

  /**
   * What the cache knows about a file without asking the hub: its path, "absent" when the hub said it does not
   * exist at that commit, or null when the cache cannot tell.
   */
  async lookup(revision: string, filename: string): Promise<string | "absent" | null> {
    const commit = await this.commitFor(revision);
    if (!commit) return null;
    const pointer = this.pointer(commit, filename);
    // stat follows the symlink, so a snapshot entry whose blob was deleted does not count as cached.
    if (await stat(pointer).then((s) => s.isFile(), () => false)) return pointer;
    if (await stat(this.noExist(commit, filename)).then(() => true, () => false)) return "absent";
    return null;
  }
}
