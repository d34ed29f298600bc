import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Tokenizer, loadTokenizer } from "../../src/tokenizers/index.js";
import { TokenizerTrainerError, saveTokenizerJson, trainTokenizer, type TrainedTokenizerJson } from "../../src/tokenizers/trainers/index.js";
import { brownLines } from "./trainers-corpus.js";
import { bertSplitter, byteLevelSplitter, metaspaceSplitter, type WordSplitter } from "../../src/tokenizers/trainers/words.js";

// Trained tokenizers loaded by lmforge's pipeline, checked against @huggingface/tokenizers loading the same JSON
// (for BPE and WordPiece; it has no Nmt normalizer, so it cannot load the SentencePiece-style Unigram file).

const corpus = [
  "The quick brown fox jumps over the lazy dog.\n",
  "Hugging Face tokenizers: byte-level BPE, WordPiece and Unigram!\n",
  "Numbers 12345 and 3.14, e-mail me@example.com; it's what we'd do.\n",
  "naïve café résumé — “quotes” and ‘apostrophes’\n",
  "日本語のテキストと中文文本。\n",
  "emoji 😀🎉👍🏽 and flags 🇫🇷\n",
  "tabs\tand  double  spaces   and\nnewlines\n",
].flatMap((line) => Array<string>(5).fill(line));

const samples = [
  "Hello world",
  "  leading and trailing spaces  ",
  "tabs\tand\nnewlines\r\n and   runs     of spaces",
  "emoji 😀 and ZWJ 👩‍👩‍👧 and skin tone 👍🏽",
  "日本語 中文 한국어",
  "unseen words: xylophone quizzically",
  "naïve café",
  "a",
  "",
  "\u00a0nbsp and \u2003em space",
  "<|endoftext|> in the middle",
];

const hf = (json: TrainedTokenizerJson): HfTokenizer => new HfTokenizer(json as never, {});

describe("trained byte-level BPE in lmforge's Tokenizer", () => {
  const json = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 400 });
  const tok = Tokenizer.fromJSON(json);

  it("round-trips any text, emoji, CJK and whitespace runs included", () => {
    for (const text of samples) {
      const { ids } = tok.encode(text, { addSpecialTokens: false });
      expect(tok.decode(ids), JSON.stringify(text)).toBe(text);
    }
  });

  it("gives the ids @huggingface/tokenizers gives for the same tokenizer.json", () => {
    const peer = hf(json);
    for (const text of samples) {
      expect(tok.encode(text, { addSpecialTokens: false }).ids, JSON.stringify(text)).toEqual(peer.encode(text, { add_special_tokens: false }).ids);
    }
  });

  it("has the asked vocabulary size and keeps the special token whole", () => {
    expect(tok.getVocab().size).toBe(400);
    expect(tok.tokenToId("<|endoftext|>")).toBe(0);
    expect(tok.encode("fox<|endoftext|>", { addSpecialTokens: false }).tokens.at(-1)).toBe("<|endoftext|>");
  });

  it("encodes corpus words whole once every merge is learned", () => {
    const full = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 5000 });
    const size = Object.keys(full.model.vocab as object).length;
    expect(size).toBeLessThan(5000);
    const t = Tokenizer.fromJSON(full);
    expect(t.getVocab().size).toBe(size);
    expect(t.encode("The quick brown fox", { addSpecialTokens: false }).tokens).toEqual(["The", "Ġquick", "Ġbrown", "Ġfox"]);
  });
});

describe("saveTokenizerJson", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-save-tokenizer-"));

  it("writes a folder that loadTokenizer reads back to the same tokenizer", async () => {
    const json = trainTokenizer({ type: "wordpiece", texts: corpus, vocabSize: 200 });
    const out = path.join(dir, "nested", "wordpiece");
    expect(saveTokenizerJson(json, out)).toBe(path.join(out, "tokenizer.json"));
    expect(readdirSync(out).sort()).toEqual(["tokenizer.json", "tokenizer_config.json"]);
    const loaded = await loadTokenizer(out);
    const text = "The quick brown fox, e-mail me!";
    expect(loaded.encode(text).ids).toEqual(Tokenizer.fromJSON(json).encode(text).ids);
    expect(loaded.config).toMatchObject({ unk_token: "[UNK]", pad_token: "[PAD]", cls_token: "[CLS]", sep_token: "[SEP]", mask_token: "[MASK]" });
  });

  it("names the folder it cannot create", () => {
    const file = path.join(dir, "a-file");
    writeFileSync(file, "");
    const json = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 300 });
    expect(() => saveTokenizerJson(json, path.join(file, "out"))).toThrow(TokenizerTrainerError);
    expect(() => saveTokenizerJson(json, path.join(file, "out"))).toThrow(`cannot create output folder ${path.join(file, "out")}`);
  });
});

describe("trained WordPiece in lmforge's Tokenizer", () => {
  const json = trainTokenizer({ type: "wordpiece", texts: corpus, vocabSize: 300 });
  const tok = Tokenizer.fromJSON(json);

  it("encodes known words whole, splits others into ##-pieces, adds [CLS]/[SEP]", () => {
    const e = tok.encode("The QUICK fox, quickly!");
    expect(e.tokens.slice(0, 4)).toEqual(["[CLS]", "the", "quick", "fox"]);
    expect(e.tokens.at(-1)).toBe("[SEP]");
    // "quickly" is not a corpus word: "quick" then continuation pieces.
    const i = e.tokens.indexOf(",");
    expect(e.tokens[i + 1]).toBe("quick");
    expect(e.tokens[i + 2]!.startsWith("##")).toBe(true);
    expect(e.tokens.at(-2)).toBe("!");
    expect(tok.encode("Ω", { addSpecialTokens: false }).tokens).toEqual(["[UNK]"]);
    expect(tok.decode(tok.encode("the quick brown fox").ids, { skipSpecialTokens: true })).toBe("the quick brown fox");
  });

  it("gives the ids @huggingface/tokenizers gives", () => {
    const peer = hf(json);
    for (const text of samples) expect(tok.encode(text).ids, JSON.stringify(text)).toEqual(peer.encode(text).ids);
  });
});

describe("trained Unigram in lmforge's Tokenizer", () => {
  const texts = corpus.concat(Array<string>(40).fill("the theme of the thesis is there\n"));
  const json = trainTokenizer({ type: "unigram", texts, vocabSize: 100 });
  const tok = Tokenizer.fromJSON(json);

  it("encodes frequent words as whole ▁-pieces and decodes back", () => {
    expect(tok.encode("the quick", { addSpecialTokens: false }).tokens[0]).toBe("\u2581the");
    for (const text of ["the quick brown fox", "Hugging Face tokenizers", "the theme of the thesis"]) {
      expect(tok.decode(tok.encode(text).ids)).toBe(text);
    }
    expect(tok.getVocab().size).toBe(100);
  });

  it("with byteFallback encodes unseen characters as bytes and decodes them back", () => {
    const fb = Tokenizer.fromJSON(trainTokenizer({ type: "unigram", texts, vocabSize: 400, byteFallback: true }));
    const e = fb.encode("the ☃", { addSpecialTokens: false });
    expect(e.tokens.slice(-3)).toEqual(["<0xE2>", "<0x98>", "<0x83>"]);
    expect(fb.decode(e.ids)).toBe("the ☃");
  });
});

describe("trainer word splitting agrees with the pipeline's normalizer and pre-tokenizer", () => {
  const brown = brownLines(["ca01", "cb01", "cj01", "cr01"]);
  const texts = [...samples, ...new Set(corpus), "ﬁ ligature ① and control\u0007chars\u200b", ...brown];
  const cases: Array<[string, WordSplitter, () => TrainedTokenizerJson]> = [
    ["bpe", byteLevelSplitter, () => trainTokenizer({ type: "bpe", texts: ["x"], vocabSize: 300 })],
    ["wordpiece", bertSplitter, () => trainTokenizer({ type: "wordpiece", texts: ["x"], vocabSize: 30 })],
    ["unigram", metaspaceSplitter, () => trainTokenizer({ type: "unigram", texts: ["x y"], vocabSize: 10 })],
  ];
  // The trained file's normalizer and pre-tokenizer in front of a model whose vocabulary is exactly the words the
  // trainer counted: the pipeline then gives those words back as tokens, and any word it cuts differently is [UNK].
  it.each(cases)("%s", (_, splitter, train) => {
    const wordsOf = (text: string): string[] => splitter.split(text).map((w) => (splitter.finish ? splitter.finish(w) : w));
    const vocab: Record<string, number> = { "[UNK]": 0 };
    for (const text of texts) for (const w of wordsOf(text)) vocab[w] ??= Object.keys(vocab).length;
    const json = {
      ...train(),
      added_tokens: [],
      post_processor: null,
      decoder: null,
      model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 1000, vocab },
    };
    const tok = Tokenizer.fromJSON(json);
    for (const text of texts) {
      expect(tok.encode(text, { addSpecialTokens: false }).tokens, JSON.stringify(text)).toEqual(wordsOf(text));
    }
  });
});
