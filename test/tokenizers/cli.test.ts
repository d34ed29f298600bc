import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { codePointToUtf16, type EncodingsFixture, readFixture, tokenizerSources } from "./helpers.js";

const fixture = readFixture<EncodingsFixture>("encodings.json");

describe("lmforge tokenize", () => {
  it("--json prints exactly ids, tokens and offsets, with special tokens", () => {
    const i = fixture.texts.indexOf("👋🏽 hello 🌍! 👨\u200d👩\u200d👧\u200d👦 family");
    const text = fixture.texts[i]!;
    const want = fixture.tokenizers.gemma3!.cases[i]!;
    const r = runCli(["tokenize", "--tokenizer", tokenizerSources.gemma3!, "--json", text]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // default offsets are code points, as Python's tokenizers reports them
    expect(r.stdout).toBe(`${JSON.stringify({ ids: want.ids, tokens: want.tokens, offsets: want.offsets })}\n`);

    const utf16 = runCli(["tokenize", "-t", tokenizerSources.gemma3!, "--json", "--utf16", "--no-special-tokens", text]);
    const parsed = JSON.parse(utf16.stdout) as { ids: number[]; offsets: number[][] };
    expect(parsed.ids).toEqual(want.ids_no_special);
    expect(parsed.offsets).toEqual(codePointToUtf16(text, want.offsets).slice(1));
  });

  it("prints a table of tokens, ids, offsets and source text", () => {
    const want = fixture.tokenizers.gpt2!.cases[0]!;
    const r = runCli(["tokenize", "--tokenizer", tokenizerSources.gpt2!, fixture.texts[0]!]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["#", "id", "token", "offsets", "text"]);
    want.ids.forEach((id, k) => {
      const [s, e] = want.offsets[k]!;
      expect(lines[k + 1]!.split(/\s{2,}/)).toEqual([
        String(k), String(id), JSON.stringify(want.tokens[k]), `${s}-${e}`, JSON.stringify(fixture.texts[0]!.slice(s, e)),
      ]);
    });
    expect(lines.at(-1)).toBe(`${want.ids.length} tokens`);
  });

  it("reads stdin when no text is given", () => {
    const r = runCli(["tokenize", "-t", tokenizerSources["wordpiece-brown"]!, "--json"], { input: fixture.texts[0] });
    expect(JSON.parse(r.stdout).ids).toEqual(fixture.tokenizers["wordpiece-brown"]!.cases[0]!.ids);
  });

  it("a missing tokenizer is an error naming it, not a stack trace", () => {
    const r = runCli(["tokenize", "--tokenizer", "/nonexistent/tok.json", "x"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/TokenizerError: .*\/nonexistent\/tok\.json/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
