import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("lmforge train-tokenizer", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-train-tokenizer-"));
  const corpus = path.join(dir, "corpus.txt");
  writeFileSync(corpus, "hug pug pun bun hugs\n".repeat(20) + "the quick brown fox\n".repeat(10));

  it("trains, writes tokenizer.json and tokenizer_config.json, and prints a one-line summary", () => {
    const out = path.join(dir, "bpe");
    const r = runCli(["train-tokenizer", "--type", "bpe", "--vocab-size", "270", "--special-tokens", "<|endoftext|>,<pad>", corpus, "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toMatch(/^trained bpe tokenizer: vocab 270 from 1 file \(0\.00 MB\) in [\d.]+ s -> .*tokenizer\.json\n$/);
    const tok = JSON.parse(readFileSync(path.join(out, "tokenizer.json"), "utf8"));
    expect(Object.keys(tok.model.vocab)).toHaveLength(270);
    expect(tok.model.merges).toHaveLength(270 - 2 - 256);
    expect(tok.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id])).toEqual([["<|endoftext|>", 0], ["<pad>", 1]]);
    const config = JSON.parse(readFileSync(path.join(out, "tokenizer_config.json"), "utf8"));
    expect(config).toMatchObject({ tokenizer_class: "PreTrainedTokenizerFast", eos_token: "<|endoftext|>", pad_token: "<pad>" });
    expect(existsSync(path.join(out, "tokenizer.json.tmp"))).toBe(false);
  });

  it("trains wordpiece and unigram with --json summaries", () => {
    for (const [type, size] of [["wordpiece", "60"], ["unigram", "40"]] as const) {
      const out = path.join(dir, type);
      const extra = type === "wordpiece" ? ["--min-frequency", "2"] : [];
      const r = runCli(["train-tokenizer", "--type", type, "--vocab-size", size, ...extra, corpus, "--out", out, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary).toMatchObject({ type, files: 1, path: path.join(out, "tokenizer.json") });
      const tok = JSON.parse(readFileSync(summary.path, "utf8"));
      expect(tok.model.type).toBe(type === "wordpiece" ? "WordPiece" : "Unigram");
      const n = Array.isArray(tok.model.vocab) ? tok.model.vocab.length : Object.keys(tok.model.vocab).length;
      expect(summary.vocabSize).toBe(n);
    }
  });

  it.each([
    [["--type", "sentencepiece", "--vocab-size", "300"], /--type must be one of bpe, wordpiece, unigram, got "sentencepiece"/],
    [["--type", "bpe", "--vocab-size", "lots"], /--vocab-size must be an integer >= 1, got "lots"/],
    [["--type", "bpe", "--vocab-size", "300", "--min-frequency", "-2"], /--min-frequency must be an integer >= 0/],
    [["--type", "bpe", "--vocab-size", "100"], /vocabSize 100 is smaller than the 257/],
    [["--type", "bpe", "--vocab-size", "300", "--special-tokens", "a,,b"], /--special-tokens has an empty entry/],
    [["--type", "bpe", "--vocab-size", "300", "--byte-fallback"], /--byte-fallback applies to --type unigram only/],
    [["--type", "unigram", "--vocab-size", "300", "--min-frequency", "2"], /--min-frequency applies to --type bpe or wordpiece only/],
  ])("rejects %j", (args, message) => {
    const r = runCli(["train-tokenizer", ...args, corpus, "--out", path.join(dir, "bad")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lmforge: TokenizerTrainerError: /);
    expect(r.stderr).toMatch(message);
    expect(existsSync(path.join(dir, "bad"))).toBe(false);
  });

  it("names a missing training file", () => {
    const r = runCli(["train-tokenizer", "--type", "bpe", "--vocab-size", "300", path.join(dir, "missing.txt"), "--out", path.join(dir, "x")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`training file ${path.join(dir, "missing.txt")} does not exist`);
  });

  it("requires --out", () => {
    const r = runCli(["train-tokenizer", "--type", "bpe", "--vocab-size", "300", corpus]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("--out");
  });
});
