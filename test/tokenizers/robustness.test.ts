import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/tokenizers/index.js";
import { tokenizerSources } from "./helpers.js";

const gpt2Json = JSON.parse(readFileSync(tokenizerSources.gpt2!, "utf8")) as Record<string, unknown>;
const gpt2 = Tokenizer.fromJSON(gpt2Json);

/** ~`size` UTF-16 units on one line, mixing ASCII, accents, CJK and emoji. */
function bigLine(size: number): string {
  const words = ["the", "quick", "brown", "fox", "jumps", "über", "lazy", "dogs", "1234", "naïve", "😀", "东京"];
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const w = words[(i * 7919) % words.length]!;
    parts.push(w);
    n += w.length + 1;
  }
  return parts.join(" ");
}

describe("odd input neither crashes nor hangs", () => {
  it("lone surrogates are read as U+FFFD, keeping offsets on the input", async () => {
    const unigram = await Tokenizer.fromFile(tokenizerSources["unigram-brown"]!);
    const wordpiece = await Tokenizer.fromFile(tokenizerSources["wordpiece-brown"]!);
    for (const tok of [gpt2, unigram, wordpiece]) {
      for (const text of ["a\ud800b", "\udfff", "x\ud83d", "\ude00y\ud83d\ude00"]) {
        const enc = tok.encode(text);
        expect(enc.ids).toEqual(tok.encode(text.replace(/[\ud800-\udfff]/gu, "\ufffd")).ids);
        for (const [s, e] of enc.offsets) expect(0 <= s && s <= e && e <= text.length).toBe(true);
      }
    }
    expect(gpt2.decode(gpt2.encode("a\ud800b").ids)).toBe("a\ufffdb");
  });

  it("NUL bytes: byte-level BPE round-trips them, BERT normalization drops them", async () => {
    const text = "a\u0000b\u0000\u0000c";
    expect(gpt2.decode(gpt2.encode(text).ids)).toBe(text);
    const wordpiece = await Tokenizer.fromFile(tokenizerSources["wordpiece-brown"]!);
    expect(wordpiece.encode(text).ids).toEqual(wordpiece.encode("abc").ids);
  });

  it("a 10 MB line through GPT-2's regex pre-tokenizer", () => {
    const text = bigLine(10_000_000);
    const start = performance.now();
    const enc = gpt2.encode(text);
    const seconds = (performance.now() - start) / 1000;
    // Generous for a shared 2-core machine; a quadratic loop would take hours.
    expect(seconds).toBeLessThan(60);
    expect(enc.ids.length).toBeGreaterThan(text.length / 4);
    const sample = text.slice(0, 200_000);
    expect(gpt2.decode(gpt2.encode(sample).ids)).toBe(sample);
  });

  it("a 10 MB line as one word (no regex split): the merge queue is not quadratic", () => {
    const whole = Tokenizer.fromJSON({ ...gpt2Json, pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: false } });
    const text = bigLine(10_000_000);
    const start = performance.now();
    const enc = whole.encode(text);
    const seconds = (performance.now() - start) / 1000;
    expect(seconds).toBeLessThan(60);
    expect(enc.ids.length).toBeGreaterThan(text.length / 4);
    // Offsets tile the text: each token starts where the previous ended or inside the same character.
    const last = enc.offsets.at(-1)!;
    expect(last[1]).toBe(text.length);
  });
});
