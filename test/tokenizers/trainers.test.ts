import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Generator } from "../../src/utils/rng.js";
import { TokenizerTrainerError, trainTokenizer, type TrainedTokenizerJson } from "../../src/tokenizers/trainers/index.js";
import { fixturesDir } from "../helpers/cli.js";
import { readLines } from "../../src/tokenizers/trainers/corpus.js";
import { digamma } from "../../src/tokenizers/trainers/unigram.js";
import { brownLines } from "./trainers-corpus.js";

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(fixturesDir, "tokenizers", `${name}.tokenizer.json`), "utf8")) as Record<string, unknown>;

const repeat = (counts: Record<string, number>): string[] =>
  Object.entries(counts).flatMap(([word, n]) => Array<string>(n).fill(word));

// GPT-2's byte-to-unicode table, rebuilt here from its definition to derive token ids by hand.
const byteChars = (() => {
  const printable: number[] = [];
  for (let b = 0; b < 256; b++) if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) printable.push(b);
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable.includes(b) ? b : 256 + n++));
  return chars;
})();

/**
 * Plain BPE written from its definition: recount every pair each step, merge the most frequent, break ties by the
 * smaller (left id, right id). Independent of the trainer's incremental bookkeeping.
 */
function referenceBpe(words: Map<string[], number>, initialVocab: string[], vocabSize: number, minFrequency = 0): string[][] {
  const vocab = [...initialVocab];
  const id = (t: string): number => vocab.indexOf(t);
  let segmented = [...words].map(([symbols, count]) => ({ symbols: [...symbols], count }));
  const merges: string[][] = [];
  while (vocab.length < vocabSize) {
    const counts = new Map<string, number>();
    for (const { symbols, count } of segmented) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const k = JSON.stringify([symbols[i], symbols[i + 1]]);
        counts.set(k, (counts.get(k) ?? 0) + count);
      }
    }
    let best: [string, string] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const pair = JSON.parse(k) as [string, string];
      const better =
        c > bestCount ||
        (c === bestCount && best !== null && (id(pair[0]) < id(best[0]) || (id(pair[0]) === id(best[0]) && id(pair[1]) < id(best[1]))));
      if (better) {
        best = pair;
        bestCount = c;
      }
    }
    if (best === null || bestCount < minFrequency) break;
    const [a, b] = best;
    merges.push([a, b]);
    if (!vocab.includes(a + b)) vocab.push(a + b);
    segmented = segmented.map(({ symbols, count }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === a && symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(symbols[i]!);
      }
      return { symbols: out, count };
    });
  }
  return merges;
}

const modelOf = (tok: TrainedTokenizerJson): Record<string, unknown> => tok.model as Record<string, unknown>;

describe("byte-level BPE trainer", () => {
  // hug 10, pug 5, pun 12, bun 4, hugs 5: pair counts u g 20, u n 16, h u 15 ... derived step by step in the test.
  const corpus = repeat({ hug: 10, pug: 5, pun: 12, bun: 4, hugs: 5 });

  it("learns the merges derived by hand, ties going to the smaller pair of ids", () => {
    const tok = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 1000 });
    // 1. u g (20)  2. u n (16)  3. h ug (15)  4. p un (12)
    // 5. tie at 5 between p ug and hug s: id(p) = 1 + 'p' - '!' = 80 < id(hug) = 259, so p ug first
    // 6. hug s (5)  7. b un (4); then every word is one token.
    expect(modelOf(tok).merges).toEqual([
      ["u", "g"], ["u", "n"], ["h", "ug"], ["p", "un"], ["p", "ug"], ["hug", "s"], ["b", "un"],
    ]);
    const vocab = modelOf(tok).vocab as Record<string, number>;
    expect(vocab["<|endoftext|>"]).toBe(0);
    expect(vocab["!"]).toBe(1);
    expect(vocab["p"]).toBe(80);
    expect(vocab["ug"]).toBe(257);
    expect(vocab["hug"]).toBe(259);
    expect(vocab["bun"]).toBe(263);
    expect(Object.keys(vocab)).toHaveLength(264);
  });

  it("stops at vocabSize and at minFrequency", () => {
    const small = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 261 });
    expect(Object.keys(modelOf(small).vocab as object)).toHaveLength(261);
    expect(modelOf(small).merges).toEqual([["u", "g"], ["u", "n"], ["h", "ug"], ["p", "un"]]);
    const frequent = trainTokenizer({ type: "bpe", texts: corpus, vocabSize: 1000, minFrequency: 6 });
    expect(modelOf(frequent).merges).toEqual([["u", "g"], ["u", "n"], ["h", "ug"], ["p", "un"]]);
  });

  it("matches plain full-recount BPE on a random corpus", () => {
    const rng = new Generator(7);
    const letters = "abcde";
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      let word = "";
      const len = 1 + rng.randint(0, 7);
      for (let j = 0; j < len; j++) word += letters[Math.min(rng.randint(0, 5), rng.randint(0, 5))];
      texts.push(word);
    }
    const tok = trainTokenizer({ type: "bpe", texts, vocabSize: 257 + 60, specialTokens: [] });
    const counts = new Map<string, number>();
    for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
    const words = new Map([...counts].map(([w, c]) => [[...w], c] as [string[], number]));
    const alphabet = [...byteChars].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
    expect(modelOf(tok).merges).toEqual(referenceBpe(words, alphabet, 257 + 60));
    expect(Object.keys(modelOf(tok).vocab as object)).toHaveLength(317);
  });

  it("splits words with GPT-2's regex and learns bytes of multi-byte characters", () => {
    const tok = trainTokenizer({ type: "bpe", texts: ["héllo héllo héllo 日本 日本"], vocabSize: 400 });
    const vocab = modelOf(tok).vocab as Record<string, number>;
    // é is C3 A9 -> "Ã" "©"; the space belongs to the next word -> "Ġ".
    expect(vocab["ĠhÃ©llo"]).toBeDefined();
    const nihon = [...new TextEncoder().encode("日本")].map((b) => byteChars[b]).join("");
    expect(vocab["Ġ" + nihon]).toBeDefined();
  });
});

describe("tokenizer.json structure", () => {
  const texts = repeat({ "the quick brown fox jumps over the lazy dog\n": 5, "Hello, world! The END.\n": 3 });

  const keyTree = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.length > 0 ? [keyTree(value[0])] : [];
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "vocab" ? typeof v : keyTree(v)]));
    }
    return value === null ? null : typeof value;
  };

  it("byte-level BPE has GPT-2's keys, in order, and its component settings", () => {
    const tok = trainTokenizer({ type: "bpe", texts, vocabSize: 300 });
    const gpt2 = fixture("gpt2");
    expect(Object.keys(tok)).toEqual(Object.keys(gpt2));
    expect(keyTree(tok)).toEqual(keyTree(gpt2));
    for (const key of ["version", "truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder"]) {
      expect(tok[key as keyof TrainedTokenizerJson]).toEqual(gpt2[key]);
    }
    expect(Object.keys(tok.model)).toEqual(Object.keys(gpt2.model as object));
    expect(tok.added_tokens).toEqual([{ ...(gpt2.added_tokens as object[])[0], id: 0 }]);
  });

  it("WordPiece has the keys and components of the BERT-style fixture, plus [CLS]/[SEP] templates", () => {
    const tok = trainTokenizer({ type: "wordpiece", texts, vocabSize: 120 });
    const wp = fixture("wordpiece-brown");
    expect(Object.keys(tok)).toEqual(Object.keys(wp));
    expect(Object.keys(tok.model)).toEqual(Object.keys(wp.model as object));
    for (const key of ["version", "truncation", "padding", "normalizer", "pre_tokenizer", "decoder", "added_tokens"]) {
      expect(tok[key as keyof TrainedTokenizerJson]).toEqual(wp[key]);
    }
    expect(tok.model).toMatchObject({ type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100 });
    const vocab = tok.model.vocab as Record<string, number>;
    expect(tok.post_processor).toEqual({
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
      },
    });
  });

  it("Unigram has the keys and components of the SentencePiece-style fixture", () => {
    const tok = trainTokenizer({ type: "unigram", texts, vocabSize: 60, specialTokens: ["<pad>", "</s>", "<unk>"] });
    const uni = fixture("unigram-brown");
    expect(Object.keys(tok)).toEqual(Object.keys(uni));
    expect(keyTree(tok)).toEqual(keyTree(uni));
    for (const key of ["version", "truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"]) {
      expect(tok[key as keyof TrainedTokenizerJson]).toEqual(uni[key]);
    }
    expect(Object.keys(tok.model)).toEqual(Object.keys(uni.model as object));
    expect(tok.model.unk_id).toBe(2);
  });
});

describe("WordPiece trainer", () => {
  it("lowercases, splits punctuation, and learns ##-continuations from the merges", () => {
    // Words: hugs x12, "," x6, hugging x6, "!" x6, the x2, hug x2.
    const texts = repeat({ "Hugs, hugging HUGS!\n": 6, "the hug\n": 2 });
    const tok = trainTokenizer({ type: "wordpiece", texts, vocabSize: 26 });
    const tokens = Object.keys(modelOf(tok).vocab as object);
    // Specials, the alphabet by code point, then ##-prefixed characters in order of first appearance.
    expect(tokens.slice(0, 22)).toEqual([
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "e", "g", "h", "i", "n", "s", "t", "u",
      "##u", "##g", "##s", "##i", "##n", "##h", "##e",
    ]);
    // h ##u and ##u ##g both occur 20 times; (id 9, id 15) < (15, 16) so h ##u goes first. Then hu ##g (20),
    // hug ##s (12), and among the pairs seen 6 times the smallest ids: ##g ##i (16, 18).
    expect(tokens.slice(22)).toEqual(["hu", "hug", "hugs", "##gi"]);
  });

  it("keeps the limitAlphabet most frequent characters and drops the others from words", () => {
    const tok = trainTokenizer({ type: "wordpiece", texts: ["aaaa bbb cc d ab ba\n"], vocabSize: 100, limitAlphabet: 2, specialTokens: ["[UNK]"] });
    // a: 6, b: 5, c: 2, d: 1 -> alphabet a b; "cc" and "d" become empty words. ##a ##a occurs twice (in aaaa),
    // then every pair once, so ids decide: a ##b (1,4), a ##aa (1,5), b ##a (2,3), b ##b (2,4), aaa ##a, bb ##b.
    expect(Object.keys(modelOf(tok).vocab as object)).toEqual([
      "[UNK]", "a", "b", "##a", "##b", "##aa", "ab", "aaa", "ba", "bb", "aaaa", "bbb",
    ]);
  });
});

describe("WordPiece trainer on the Brown corpus", () => {
  it("learns exactly the vocabulary tokenizers learned (wordpiece-brown fixture)", { timeout: 120_000 }, () => {
    const expected = Object.keys((fixture("wordpiece-brown").model as { vocab: Record<string, number> }).vocab);
    const tok = trainTokenizer({ type: "wordpiece", texts: brownLines(), vocabSize: 6000 });
    const learned = Object.keys(modelOf(tok).vocab as object);
    expect(learned).toHaveLength(6000);
    expect(new Set(learned)).toEqual(new Set(expected));
    // Ids agree until the first tie between pairs whose ##-character ids tokenizers assigned in hash-map order.
    const ordered = (tokens: string[]): string[] => tokens.filter((t) => !/^##.$/u.test(t));
    expect(ordered(learned).slice(0, 400)).toEqual(ordered(expected).slice(0, 400));
  });
});

describe("Unigram trainer", () => {
  const brownSample = brownLines(["ca01", "ca02", "ca03"]);

  it("keeps every character, puts frequent words in whole, and returns the asked size", () => {
    const tok = trainTokenizer({ type: "unigram", texts: brownSample, vocabSize: 300 });
    const vocab = modelOf(tok).vocab as Array<[string, number]>;
    const pieces = vocab.map(([p]) => p);
    expect(pieces).toHaveLength(300);
    expect(new Set(pieces).size).toBe(300);
    expect(pieces[0]).toBe("<unk>");
    expect(modelOf(tok).unk_id).toBe(0);
    const chars = new Set(brownSample.join("").replace(/\s+/g, "").replace(/^/, "\u2581"));
    for (const c of chars) expect(pieces).toContain(c);
    // Frequent words that also occur inside other words (so they seed) come out whole.
    for (const word of ["\u2581the", "\u2581of", "\u2581to", "\u2581in", "\u2581for", "\u2581said"]) expect(pieces).toContain(word);
    const scores = vocab.slice(1).map(([, s]) => s);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    expect(scores.every((s) => s < 0)).toBe(true);
  });

  it("adds the 256 byte pieces and a ByteFallback decoder with byteFallback", () => {
    const tok = trainTokenizer({ type: "unigram", texts: brownSample, vocabSize: 400, byteFallback: true });
    const pieces = (modelOf(tok).vocab as Array<[string, number]>).map(([p]) => p);
    expect(pieces).toHaveLength(400);
    expect(pieces.slice(0, 3)).toEqual(["<unk>", "<0x00>", "<0x01>"]);
    expect(pieces[256]).toBe("<0xFF>");
    expect(modelOf(tok).byte_fallback).toBe(true);
    expect(tok.decoder).toMatchObject({ type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Metaspace" }] });
  });
});

describe("digamma (the Unigram M step)", () => {
  it("matches known values: psi(1) = -Euler's gamma, psi(1/2) = -gamma - 2 ln 2, psi(x + 1) = psi(x) + 1/x", () => {
    const gamma = 0.5772156649015329;
    // The asymptotic series tokenizers uses (after SentencePiece) is good to about 1e-10.
    expect(digamma(1)).toBeCloseTo(-gamma, 9);
    expect(digamma(0.5)).toBeCloseTo(-gamma - 2 * Math.LN2, 9);
    for (const x of [0.3, 2.5, 6.9, 7.1, 40, 1e4]) expect(digamma(x + 1)).toBeCloseTo(digamma(x) + 1 / x, 9);
    // psi(n) = H(n-1) - gamma for integers.
    let harmonic = 0;
    for (let n = 1; n < 30; n++) harmonic += 1 / n;
    expect(digamma(30)).toBeCloseTo(harmonic - gamma, 9);
  });
});

describe("reading training files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-trainer-files-"));

  it("yields lines with their endings, across 1 MiB chunks that split multi-byte characters", () => {
    // 3-byte and 4-byte characters make chunk boundaries fall inside characters; CRLF and a last line without \n.
    const lines = Array.from({ length: 40000 }, (_, i) => `línea ${i} 日本語 😀 ${"x".repeat(i % 50)}${i % 7 === 0 ? "\r\n" : "\n"}`);
    lines.push("last line without newline");
    const file = path.join(dir, "big.txt");
    writeFileSync(file, lines.join(""));
    expect(statSync(file).size).toBeGreaterThan(2 * 1024 * 1024);
    expect([...readLines([file, file])]).toEqual([...lines, ...lines]);
  });

  it("rejects invalid UTF-8 and folders, naming the file", () => {
    const bad = path.join(dir, "latin1.txt");
    writeFileSync(bad, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(() => [...readLines([bad])]).toThrow(new TokenizerTrainerError(`cannot read training file ${bad}: it is not valid UTF-8`));
    expect(() => trainTokenizer({ type: "bpe", files: [dir], vocabSize: 300 })).toThrow(`cannot read training file ${dir}`);
  });
});

describe("option errors", () => {
  const texts = ["some text\n"];
  it.each([
    [{ type: "bpe", texts, vocabSize: 100 }, /vocabSize 100 is smaller than the 257/],
    [{ type: "sentencepiece", texts, vocabSize: 100 }, /type must be one of bpe, wordpiece, unigram/],
    [{ type: "bpe", vocabSize: 300 }, /exactly one of files .* or texts/],
    [{ type: "bpe", texts, vocabSize: 0 }, /vocabSize must be an integer >= 1, got 0/],
    [{ type: "bpe", texts, vocabSize: 300, minFrequency: -1 }, /minFrequency must be an integer >= 0/],
    [{ type: "unigram", texts, vocabSize: 5 }, /vocabSize 5 cannot hold/],
    [{ type: "unigram", texts, vocabSize: 50, shrinkingFactor: 1.5 }, /shrinkingFactor must be in \(0, 1\)/],
    [{ type: "wordpiece", texts, vocabSize: 50, specialTokens: ["[UNK]", "[UNK]"] }, /specialTokens has duplicates/],
    [{ type: "bpe", files: ["/nonexistent/corpus.txt"], vocabSize: 300 }, /cannot read training file \/nonexistent\/corpus.txt/],
    [{ type: "bpe", texts: "one string", vocabSize: 300 }, /texts must be an iterable of strings, not one string/],
    [{ type: "unigram", texts, vocabSize: 50, minFrequency: 2 }, /minFrequency applies to type bpe or wordpiece, not unigram/],
    [{ type: "bpe", texts, vocabSize: 300, byteFallback: true }, /byteFallback applies to type unigram, not bpe/],
    [{ type: "wordpiece", texts: ["  \n", ""], vocabSize: 50 }, /hold no words to train on/],
  ])("%o", (options, message) => {
    expect(() => trainTokenizer(options as never)).toThrow(TokenizerTrainerError);
    expect(() => trainTokenizer(options as never)).toThrow(message);
  });
});
