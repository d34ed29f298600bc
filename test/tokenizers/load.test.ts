import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, TokenizerError } from "../../src/tokenizers/index.js";
import { type HubServer, startHubServer } from "../helpers/hub-server.js";
import { tokenizerSources } from "./helpers.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const encoder = new TextEncoder();
const gpt2Bytes = new Uint8Array(readFileSync(tokenizerSources.gpt2!));
const config = { bos_token: "<|endoftext|>", eos_token: { content: "<|endoftext|>", special: true }, pad_token: "<|endoftext|>" };

let server: HubServer;
let root: string;

beforeAll(async () => {
  server = await startHubServer({
    "org/gpt2-tok": {
      commit: COMMIT,
      files: {
        "tokenizer.json": { content: gpt2Bytes, lfs: true },
        "tokenizer_config.json": { content: encoder.encode(JSON.stringify(config)) },
      },
    },
    "org/no-tokenizer": { commit: COMMIT, files: { "config.json": { content: encoder.encode("{}") } } },
  });
  root = mkdtempSync(path.join(tmpdir(), "lmforge-tok-hub-"));
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe("loadTokenizer", () => {
  it("loads a hub repo's tokenizer.json and tokenizer_config.json (a missing special_tokens_map.json is fine)", async () => {
    const tok = await loadTokenizer("org/gpt2-tok", { endpoint: server.endpoint, cacheDir: path.join(root, "a"), token: false });
    expect(tok.encode("Hello world").ids).toEqual([15496, 995]);
    expect(tok.eosToken).toBe("<|endoftext|>");
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.padTokenId).toBe(50256);
  });

  it("a repo without tokenizer.json is a TokenizerError", async () => {
    const load = loadTokenizer("org/no-tokenizer", { endpoint: server.endpoint, cacheDir: path.join(root, "b"), token: false });
    await expect(load).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer("org/no-tokenizer", { endpoint: server.endpoint, cacheDir: path.join(root, "b"), token: false })).rejects.toThrow(
      /org\/no-tokenizer.*no tokenizer\.json/,
    );
  });

  it("a folder or a file works without the hub; config tokens come from tokenizer_config.json", async () => {
    const folder = await loadTokenizer(tokenizerSources.gemma3!);
    expect(folder.bosToken).toBe("<bos>");
    expect(folder.bosTokenId).toBe(2);
    expect(folder.padTokenId).toBe(0);
    const file = await loadTokenizer(tokenizerSources["wordpiece-brown"]!);
    expect(file.tokenToId("[CLS]")).toBe(2);
    await expect(loadTokenizer("./no/such/dir")).rejects.toThrow(/no such file or folder/);
  });
});
