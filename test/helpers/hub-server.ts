import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";

/**
 * A local stand-in for the Hugging Face hub, on 127.0.0.1 with ephemeral ports, serving what the real hub
 * serves for `/{repo}/resolve/{revision}/{file}`:
 * - regular files: 200 with X-Repo-Commit, ETag "<git blob sha1>", Content-Length;
 * - "LFS" files: 302 to a second server (the CDN, another origin) with X-Linked-Etag "<sha256>",
 *   X-Linked-Size and X-Repo-Commit; the CDN serves the bytes at /blobs/<sha256>;
 * - Range requests (206 / 416), 401 for gated repos without the right bearer token, 404s with X-Error-Code.
 * Every request is recorded, and faults can be injected: cut a body mid-way, announce a wrong size.
 */

export interface HubFile {
  content: Uint8Array;
  lfs?: boolean;
}

export interface HubRepo {
  /** Commit that "main" (and any other listed revision) points at. */
  commit: string;
  files: Record<string, HubFile>;
  /** Token the repo requires; requests without `Authorization: Bearer <token>` get a 401. */
  gatedToken?: string;
  /** Extra branch/tag names → commit. */
  revisions?: Record<string, string>;
}

export interface RecordedRequest {
  server: "hub" | "cdn";
  method: string;
  path: string;
  authorization: string | undefined;
  range: string | undefined;
}

export interface HubServer {
  endpoint: string;
  cdnOrigin: string;
  requests: RecordedRequest[];
  /**
   * The next GET of this file's bytes sends the full Content-Length, then only `bytes` bytes, then drops the
   * connection ("drop") or keeps it open sending nothing more ("stall").
   */
  cutNextBody(file: string, bytes: number, mode?: "drop" | "stall"): void;
  /** Announce `size` instead of the true size in HEAD answers for this file. */
  announceSize(file: string, size: number): void;
  close(): Promise<void>;
}

export function gitBlobSha1(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
}

export function sha256(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: RecordedRequest[] = [];
  const cuts = new Map<string, { bytes: number; mode: "drop" | "stall" }>();
  const announced = new Map<string, number>();
  const blobsBySha = new Map<string, { name: string; content: Uint8Array }>();
  for (const repo of Object.values(repos)) {
    for (const [name, file] of Object.entries(repo.files)) if (file.lfs) blobsBySha.set(sha256(file.content), { name, content: file.content });
  }

  const record = (server: "hub" | "cdn", req: IncomingMessage): void => {
    requests.push({ server, method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization, range: req.headers.range });
  };

  /** Sends bytes honouring Range, or applies an injected cut. */
  const sendBytes = (req: IncomingMessage, res: ServerResponse, name: string, content: Uint8Array, headers: Record<string, string>): void => {
    const total = content.byteLength;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) {
      start = Number(range[1]);
      if (start >= total) {
        res.writeHead(416, { "content-range": `bytes */${total}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, "content-length": String(total - start), "content-range": `bytes ${start}-${total - 1}/${total}` });
    } else {
      res.writeHead(200, { ...headers, "content-length": String(total) });
    }
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const body = content.subarray(start);
    const cut = cuts.get(name);
    if (cut !== undefined && req.method === "GET") {
      cuts.delete(name);
      res.write(body.subarray(0, cut.bytes), () => {
        // Give the client time to receive the bytes, then drop the connection mid-body.
        if (cut.mode === "drop") setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(body);
  };

  const hub = createServer((req, res) => {
    record("hub", req);
    const url = new URL(req.url ?? "/", "http://hub");
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const [, repoId, revision, file] = m.map((s) => decodeURIComponent(s ?? "")) as [string, string, string, string];
    const repo = repos[repoId];
    if (!repo) return void res.writeHead(404, { "x-error-code": "RepoNotFound" }).end();
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      return void res.writeHead(401, { "x-error-code": "GatedRepo" }).end();
    }
    const known = [repo.commit, ...Object.values(repo.revisions ?? {})];
    const commit = revision === "main" ? repo.commit : known.includes(revision) ? revision : repo.revisions?.[revision];
    if (!commit) return void res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
    const entry = repo.files[file];
    if (!entry) return void res.writeHead(404, { "x-error-code": "EntryNotFound", "x-repo-commit": commit }).end();
    const size = announced.get(file) ?? entry.content.byteLength;
    if (entry.lfs) {
      const oid = sha256(entry.content);
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${entry.content.byteLength}\n`;
      return void res
        .writeHead(302, {
          location: `${cdnOrigin}/blobs/${oid}`,
          "x-repo-commit": commit,
          "x-linked-etag": `"${oid}"`,
          "x-linked-size": String(size),
          etag: `"${gitBlobSha1(Buffer.from(pointer))}"`,
          "content-length": "0",
        })
        .end();
    }
    const headers = { "x-repo-commit": commit, etag: `"${gitBlobSha1(entry.content)}"` };
    if (req.method === "HEAD") return void res.writeHead(200, { ...headers, "content-length": String(size) }).end();
    sendBytes(req, res, file, entry.content, headers);
  });

  const cdn = createServer((req, res) => {
    record("cdn", req);
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(req.url ?? "");
    const blob = m ? blobsBySha.get(m[1]!) : undefined;
    if (!blob) return void res.writeHead(404).end();
    sendBytes(req, res, blob.name, blob.content, {});
  });

  const endpoint = await listen(hub);
  const cdnOrigin = await listen(cdn);
  const close = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    endpoint,
    cdnOrigin,
    requests,
    cutNextBody: (file, bytes, mode = "drop") => void cuts.set(file, { bytes, mode }),
    announceSize: (file, size) => void announced.set(file, size),
    close: async () => {
      await Promise.all([close(hub), close(cdn)]);
    },
  };
}
