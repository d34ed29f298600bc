import path from "node:path";
import { mkdir, open, rename, stat, symlink, unlink, copyFile, writeFile, readFile, truncate } from "node:fs/promises";
import { HubError } from "./errors.js";
import { writeAll } from "./atomic.js";
import { COMMIT_HASH, RepoCache, defaultHubCacheDir, isOfflineEnv, validateRepoId, validateRepoPath } from "./hub-cache.js";
import type { RepoType } from "./hub-cache.js";

export interface DownloadProgress {
  /** The repo-relative file name. */
  file: string;
  /** Bytes on disk so far, including any resumed part. */
  loaded: number;
  /** Expected size, when the hub announced one. */
  total: number | null;
}

export interface HubOptions {
  /** Branch, tag or commit hash; default "main". */
  revision?: string;
  repoType?: RepoType;
  /** Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token; default $HF_TOKEN. `false` sends none. */
  token?: string | false;
  /** Never touch the network, only the cache; default from $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Ask the hub even when the cache already holds the file for this revision. */
  forceDownload?: boolean;
  onProgress?: (progress: DownloadProgress) => void;
  /** How many times a download cut off mid-body is resumed within one call; default 3. */
  maxRetries?: number;
  /**
   * Longest wait, in ms, for the metadata answer or for the next piece of a download before giving up on that
   * connection (a download then resumes); default 10 000, as huggingface_hub's timeout.
   */
  timeoutMs?: number;
}

const DEFAULT_ENDPOINT = "https://huggingface.co";
const USER_AGENT = "lmforge/0.1.0";

interface Resolved {
  repoId: string;
  filename: string;
  revision: string;
  repoType: RepoType;
  cache: RepoCache;
  endpoint: string;
  token: string | null;
  offline: boolean;
  label: string;
}

function resolveOptions(repoId: string, filename: string, options: HubOptions): Resolved {
  validateRepoId(repoId);
  validateRepoPath("filename", filename);
  const revision = options.revision ?? "main";
  validateRepoPath("revision", revision);
  const repoType = options.repoType ?? "model";
  if (!["model", "dataset", "space"].includes(repoType)) {
    throw new HubError(`repoType ${JSON.stringify(repoType)}: expected "model", "dataset" or "space"`);
  }
  const env = process.env;
  const token = options.token === false ? null : (options.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? null);
  return {
    repoId,
    filename,
    revision,
    repoType,
    cache: new RepoCache(options.cacheDir ?? defaultHubCacheDir(env), repoId, repoType),
    endpoint: (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token: token || null,
    offline: options.offline ?? isOfflineEnv(env),
    label: `${repoId}/${filename}${revision === "main" ? "" : ` (revision ${revision})`}`,
  };
}

/** The hub URL of a file: `{endpoint}/[datasets/|spaces/]{repoId}/resolve/{revision}/{filename}`. */
export function hubFileUrl(repoId: string, filename: string, options: Pick<HubOptions, "revision" | "repoType" | "endpoint"> = {}): string {
  const r = resolveOptions(repoId, filename, { ...options, token: false });
  return resolveUrl(r);
}

function resolveUrl(r: Resolved): string {
  const prefix = r.repoType === "model" ? "" : `${r.repoType}s/`;
  const file = r.filename.split("/").map(encodeURIComponent).join("/");
  return `${r.endpoint}/${prefix}${r.repoId}/resolve/${encodeURIComponent(r.revision)}/${file}`;
}

function baseHeaders(token: string | null): Record<string, string> {
  const headers: Record<string, string> = { "user-agent": USER_AGENT, "accept-encoding": "identity" };
  if (token) headers.authorization = `Bearer ${token}`;
  return headers;
}

/** Turns a hub error response into an error that says what the user can do about it. */
function statusError(r: Resolved, response: Response): HubError {
  const status = response.status;
  const code = response.headers.get("x-error-code");
  const where = `${r.label} at ${r.endpoint}`;
  if (status === 401 || status === 403) {
    const hint = r.token
      ? "the repo may be gated or private and the token sent (HF_TOKEN or the token option) does not grant access: request access on its hub page or check the token"
      : "the repo may be gated or private: accept its terms on its hub page and set HF_TOKEN (or pass the token option)";
    return new HubError(`${where}: access denied (HTTP ${status}${code ? `, ${code}` : ""}); ${hint}`, status);
  }
  if (status === 404) {
    const what =
      code === "RepoNotFound"
        ? `repository ${r.repoId} not found`
        : code === "RevisionNotFound"
          ? `revision ${r.revision} not found in ${r.repoId}`
          : `file ${r.filename} not found in ${r.repoId} at revision ${r.revision}`;
    return new HubError(`${where}: ${what} (HTTP 404)`, 404);
  }
  return new HubError(`${where}: the hub answered HTTP ${status} ${response.statusText}`.trimEnd(), status);
}

function networkError(r: Resolved, err: unknown): HubError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
  return new HubError(`${r.label}: cannot reach ${r.endpoint} (${detail}) and the file is not in the cache at ${r.cache.root}`);
}

interface FileMetadata {
  commit: string;
  etag: string;
  size: number | null;
  /** Where to GET the bytes: the redirect target for LFS files, else the resolve URL. */
  location: string;
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/**
 * HEAD on the resolve URL without following absolute redirects, as huggingface_hub does: an LFS file answers
 * with a redirect to its storage, and the headers that matter (X-Repo-Commit, X-Linked-Etag, X-Linked-Size)
 * are on that redirect response. Relative redirects (renamed repos) are followed.
 */
async function fetchMetadata(r: Resolved, timeoutMs: number): Promise<{ response: Response; meta: FileMetadata | null }> {
  let url = resolveUrl(r);
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, { method: "HEAD", headers: baseHeaders(r.token), redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      const target = new URL(location, url);
      const relative = !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith("//");
      if (relative && hop < 10) {
        url = target.href;
        continue;
      }
      return { response, meta: readMetadata(r, response, target.href) };
    }
    if (!response.ok) return { response, meta: null };
    const meta = readMetadata(r, response, url);
    // Fetch the bytes at the commit the HEAD named, so a branch moving in between cannot swap the content.
    if (url === resolveUrl(r)) meta.location = resolveUrl({ ...r, revision: meta.commit });
    return { response, meta };
  }
}

function readMetadata(r: Resolved, response: Response, location: string): FileMetadata {
  const h = response.headers;
  const commit = h.get("x-repo-commit");
  if (!commit) {
    throw new HubError(`${r.label}: ${r.endpoint} gave no X-Repo-Commit header; it does not look like a Hugging Face hub (check HF_ENDPOINT)`);
  }
  const etagHeader = h.get("x-linked-etag") ?? h.get("etag");
  if (!etagHeader) throw new HubError(`${r.label}: the hub gave no ETag, so the download cannot be stored reproducibly`);
  const etag = normalizeEtag(etagHeader);
  // Commit and etag become folder and file names in the cache; anything path-like would escape it.
  const safeName = (v: string): boolean => /^[\w\-.]+$/.test(v) && v !== "." && v !== "..";
  if (!safeName(commit)) throw new HubError(`${r.label}: the hub gave an unusable X-Repo-Commit ${JSON.stringify(commit)}`);
  if (!safeName(etag)) throw new HubError(`${r.label}: the hub gave an unusable ETag ${JSON.stringify(etagHeader)}`);
  const sizeHeader = h.get("x-linked-size") ?? h.get("content-length");
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
  return { commit, etag, size, location };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

async function writeRef(r: Resolved, commit: string): Promise<void> {
  if (r.revision === commit) return;
  const refPath = r.cache.ref(r.revision);
  // Rewritten only when it changed, so a read-only shared cache still works for files already in it.
  if ((await readFile(refPath, "utf8").catch(() => null)) === commit) return;
  await mkdir(path.dirname(refPath), { recursive: true });
  await writeFile(refPath, commit);
}

/** A relative symlink from the snapshot to the blob, as huggingface_hub makes (a copy where links fail). */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(path.dirname(pointer), { recursive: true });
  await unlink(pointer).catch(() => undefined);
  try {
    await symlink(path.relative(path.dirname(pointer), blob), pointer);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code === "EPERM" || code === "ENOTSUP" || code === "EINVAL") await copyFile(blob, pointer);
    else throw err;
  }
}

// One download per blob at a time within this process, so two callers never append to the same .incomplete.
const inFlight = new Map<string, Promise<void>>();

async function withBlobLock(blob: string, task: () => Promise<void>): Promise<void> {
  while (inFlight.has(blob)) await inFlight.get(blob)!.catch(() => undefined);
  const run = task();
  inFlight.set(blob, run);
  try {
    await run;
  } finally {
    inFlight.delete(blob);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** GET following redirects by hand, so the token is dropped as soon as the request leaves the hub's origin. */
async function getFollowing(url: string, headers: Record<string, string>, origin: string, signal: AbortSignal): Promise<Response> {
  for (let hop = 0; hop < 10; hop++) {
    const h = { ...headers };
    if (!sameOrigin(url, origin)) delete h.authorization;
    const response = await fetch(url, { headers: h, redirect: "manual", signal });
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return response;
    await response.body?.cancel();
    url = new URL(location, url).href;
  }
  throw new HubError(`${url}: too many redirects`);
}

async function downloadBlob(r: Resolved, meta: FileMetadata, blob: string, options: HubOptions): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  const maxRetries = options.maxRetries ?? 3;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const report = (loaded: number): void => options.onProgress?.({ file: r.filename, loaded, total: meta.size });
  await mkdir(path.dirname(blob), { recursive: true });
  let failures = 0;
  for (;;) {
    let have = await stat(incomplete).then((s) => s.size, () => 0);
    if (meta.size !== null && have > meta.size) {
      await truncate(incomplete, 0);
      have = 0;
    }
    if (have > 0 && have === meta.size) break;
    const headers = baseHeaders(r.token);
    if (have > 0) headers.range = `bytes=${have}-`;
    // Aborts the connection when no bytes arrive for timeoutMs, so a stalled server turns into a resume.
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(), timeoutMs);
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), timeoutMs);
    };
    let response: Response;
    try {
      response = await getFollowing(meta.location, headers, resolveUrl(r), controller.signal);
    } catch (err) {
      clearTimeout(timer);
      if (err instanceof HubError) throw err;
      if (++failures > maxRetries) throw networkError(r, err);
      await sleep(200 * failures);
      continue;
    }
    touch();
    if (response.status === 416 && have > 0) {
      // The server has nothing past what we hold: either complete already (checked below) or a stale partial.
      clearTimeout(timer);
      await response.body?.cancel();
      if (meta.size === null) break;
      await truncate(incomplete, 0);
      continue;
    }
    if (!response.ok) {
      clearTimeout(timer);
      await response.body?.cancel();
      throw statusError(r, response);
    }
    // 200 to a range request means the server ignored the range: start over rather than append a second copy.
    const append = response.status === 206 && have > 0;
    if (!append) have = 0;
    const handle = await open(incomplete, append ? "a" : "w");
    let loaded = have;
    report(loaded);
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        touch();
        await writeAll(handle, chunk);
        loaded += chunk.byteLength;
        if (meta.size !== null && loaded > meta.size) break;
        report(loaded);
      }
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => undefined);
      if (++failures > maxRetries) {
        const why = controller.signal.aborted ? `no data for ${timeoutMs} ms` : (err as Error).message;
        throw new HubError(`${r.label}: download interrupted ${failures} times (${why}); ${loaded} bytes kept in ${incomplete}, run again to resume`);
      }
      await sleep(200 * failures);
      continue;
    } finally {
      clearTimeout(timer);
    }
    break;
  }
  const got = await stat(incomplete).then((s) => s.size, () => 0);
  if (meta.size !== null && got !== meta.size) {
    // Bytes that disagree with the announced size cannot be trusted, and resuming from them would not help.
    await unlink(incomplete).catch(() => undefined);
    throw new HubError(`${r.label}: downloaded ${got} bytes but the hub announced ${meta.size}; the partial file was discarded, try again`);
  }
  await rename(incomplete, blob);
}

/**
 * Downloads one file of a hub repo into the huggingface_hub cache (or finds it there) and returns its path
 * `…/models--org--name/snapshots/<commit>/<filename>`. Files already in the cache for this revision, including
 * ones downloaded by Python tools, are returned without any request. Downloads go to blobs/<etag>.incomplete
 * and resume with a Range request after an interruption; the size is checked before the file is put in place.
 */
export async function downloadFile(repoId: string, filename: string, options: HubOptions = {}): Promise<string> {
  const r = resolveOptions(repoId, filename, options);
  if (!options.forceDownload || r.offline) {
    const cached = await r.cache.lookup(r.revision, r.filename);
    if (cached === "absent") throw new HubError(`${r.label}: file ${r.filename} not found in ${r.repoId} at revision ${r.revision} (HTTP 404, cached)`, 404);
    if (cached) return cached;
  }
  if (r.offline) {
    throw new HubError(
      `${r.label}: not in the cache at ${r.cache.root} and offline mode is on (HF_HUB_OFFLINE or the offline option); download it once online first`,
    );
  }

  let fetched: { response: Response; meta: FileMetadata | null };
  try {
    fetched = await fetchMetadata(r, options.timeoutMs ?? 10_000);
  } catch (err) {
    if (err instanceof HubError) throw err;
    // Like huggingface_hub: with the hub unreachable, a cached copy of the revision is still good.
    const cached = await r.cache.lookup(r.revision, r.filename);
    if (cached && cached !== "absent") return cached;
    throw networkError(r, err);
  }
  const { response, meta } = fetched;
  if (!meta) {
    await rememberAbsent(r, response);
    throw statusError(r, response);
  }

  const blob = r.cache.blob(meta.etag);
  const pointer = r.cache.pointer(meta.commit, r.filename);
  await writeRef(r, meta.commit);
  if (!options.forceDownload && (await stat(pointer).then((s) => s.isFile(), () => false))) return pointer;
  await withBlobLock(blob, async () => {
    if (options.forceDownload || !(await exists(blob))) await downloadBlob(r, meta, blob, options);
  });
  await linkPointer(blob, pointer);
  return pointer;
}

/** Records a 404 for a file as huggingface_hub does (.no_exist/<commit>/<file>), so the next check asks nothing. */
async function rememberAbsent(r: Resolved, response: Response): Promise<void> {
  const commit = response.headers.get("x-repo-commit");
  if (response.status !== 404 || response.headers.get("x-error-code") !== "EntryNotFound" || !commit || !COMMIT_HASH.test(commit)) return;
  const marker = r.cache.noExist(commit, r.filename);
  await mkdir(path.dirname(marker), { recursive: true });
  await writeFile(marker, "");
  await writeRef(r, commit);
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/**
 * A file of a model given as a local folder or a hub repo id: the folder's file when `pathOrRepoId` is an
 * existing directory, else the cached or downloaded hub file. A missing file is a HubError with status 404.
 */
export async function resolveRepoFile(pathOrRepoId: string, filename: string, options: HubOptions = {}): Promise<string> {
  if (await isDirectory(pathOrRepoId)) {
    validateRepoPath("filename", filename);
    const file = path.join(pathOrRepoId, ...filename.split("/"));
    if (!(await stat(file).then((s) => s.isFile(), () => false))) {
      throw new HubError(`${pathOrRepoId}: the folder has no ${filename}`, 404);
    }
    return file;
  }
  return downloadFile(pathOrRepoId, filename, options);
}

/**
 * Whether an optional file (generation_config.json, a shard index) exists, without downloading it: answered
 * by the folder, the cache (including remembered absences), or a HEAD request. Offline and not cached → false.
 */
export async function fileExists(pathOrRepoId: string, filename: string, options: HubOptions = {}): Promise<boolean> {
  if (await isDirectory(pathOrRepoId)) {
    validateRepoPath("filename", filename);
    return stat(path.join(pathOrRepoId, ...filename.split("/"))).then((s) => s.isFile(), () => false);
  }
  const r = resolveOptions(pathOrRepoId, filename, options);
  const cached = await r.cache.lookup(r.revision, r.filename);
  if (cached === "absent") return false;
  if (cached) return true;
  if (r.offline) return false;
  let response: Response;
  let meta: FileMetadata | null;
  try {
    ({ response, meta } = await fetchMetadata(r, options.timeoutMs ?? 10_000));
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw networkError(r, err);
  }
  if (meta) return true;
  const code = response.headers.get("x-error-code");
  // A missing repo or revision is a mistake to report; only a missing file means "optional file absent".
  if (response.status === 404 && code !== "RepoNotFound" && code !== "RevisionNotFound") {
    await rememberAbsent(r, response);
    return false;
  }
  throw statusError(r, response);
}
