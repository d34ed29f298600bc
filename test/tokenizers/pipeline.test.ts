import { describe, expect, it } from "vitest";
import { Tokenizer, TokenizerError } from "../../src/tokenizers/index.js";

/** A tokenizer.json with a WordLevel model: every piece the pipeline produces becomes one token. */
function wordLevel(vocab: string[], parts: Record<string, unknown> = {}): Tokenizer {
  return Tokenizer.fromJSON({
    model: { type: "WordLevel", vocab: Object.fromEntries(["<unk>", ...vocab].map((t, i) => [t, i])), unk_token: "<unk>" },
    ...parts,
  });
}

/** The original text under each token's offsets. */
const pieces = (tok: Tokenizer, text: string): string[] => tok.encode(text).offsets.map(([s, e]) => text.slice(s, e));

describe("Split pre-tokenizer behaviors (examples from the tokenizers documentation)", () => {
  const split = (behavior: string, invert = false) =>
    wordLevel([], { pre_tokenizer: { type: "Split", pattern: { String: "-" }, behavior, invert } });
  const text = "the-final--countdown";

  it.each([
    ["Removed", ["the", "final", "countdown"]],
    ["Isolated", ["the", "-", "final", "-", "-", "countdown"]],
    ["MergedWithPrevious", ["the-", "final-", "-", "countdown"]],
    ["MergedWithNext", ["the", "-final", "-", "-countdown"]],
    ["Contiguous", ["the", "-", "final", "--", "countdown"]],
  ])("%s", (behavior, want) => {
    expect(pieces(split(behavior), text)).toEqual(want);
  });

  it("invert keeps the matches and splits around the rest", () => {
    const tok = wordLevel([], { pre_tokenizer: { type: "Split", pattern: { Regex: "\\w+" }, behavior: "Removed", invert: true } });
    expect(pieces(tok, text)).toEqual(["the", "final", "countdown"]);
  });

  it("accepts the snake_case behavior names of older files", () => {
    expect(pieces(split("merged_with_previous"), text)).toEqual(["the-", "final-", "-", "countdown"]);
  });
});

describe("Oniguruma regexes", () => {
  const isolated = (regex: string) => wordLevel([], { pre_tokenizer: { type: "Split", pattern: { Regex: regex }, behavior: "Isolated" } });
  const removed = (regex: string) => wordLevel([], { pre_tokenizer: { type: "Split", pattern: { Regex: regex }, behavior: "Removed" } });

  it("(?i:...) groups are case-insensitive, the rest is not", () => {
    expect(pieces(isolated("(?i:'s|'t)|\\p{L}+| "), "IT'S it's")).toEqual(["IT", "'S", " ", "it", "'s"]);
    expect(pieces(removed("(?i:x)y"), "XyXY")).toEqual(["XY"]);
  });

  it("atomic groups do not backtrack into their alternatives", () => {
    // Backtracking would match all of "abc"; atomically "a" is taken, "c" fails, and only "b" matches.
    expect(pieces(isolated("(?>a|ab)c|b"), "abc")).toEqual(["a", "b", "c"]);
  });

  it("possessive quantifiers do not give characters back", () => {
    // a*+ eats every "a", so "a*+a" never matches; only "b" is removed.
    expect(pieces(removed("a*+a|b"), "aab")).toEqual(["aa"]);
    expect(pieces(removed("a*a|b"), "aab")).toEqual([]);
  });

  it("\\s is Unicode White_Space (U+0085 yes, U+FEFF no); \\p{Han} is a script", () => {
    expect(pieces(removed("\\s+"), "a\u0085b\ufeffc")).toEqual(["a", "b\ufeffc"]);
    expect(pieces(isolated("\\p{Han}+"), "ab漢字cd")).toEqual(["ab", "漢字", "cd"]);
  });

  it("$ is a line anchor, as in Ruby syntax", () => {
    expect(pieces(removed(" +$"), "a  \nb ")).toEqual(["a", "\nb"]);
  });
});

describe("pre-tokenizers", () => {
  it("Whitespace (documentation example)", () => {
    const tok = wordLevel([], { pre_tokenizer: { type: "Whitespace" } });
    const enc = tok.encode("Hey friend!     How are you?!?");
    expect(enc.offsets).toEqual([[0, 3], [4, 10], [10, 11], [16, 19], [20, 23], [24, 27], [27, 30]]);
  });

  it("WhitespaceSplit, BertPreTokenizer, Punctuation, CharDelimiterSplit", () => {
    const text = "Hey friend!  How are you?!?";
    expect(pieces(wordLevel([], { pre_tokenizer: { type: "WhitespaceSplit" } }), text)).toEqual(["Hey", "friend!", "How", "are", "you?!?"]);
    expect(pieces(wordLevel([], { pre_tokenizer: { type: "BertPreTokenizer" } }), text)).toEqual([
      "Hey", "friend", "!", "How", "are", "you", "?", "!", "?",
    ]);
    expect(pieces(wordLevel([], { pre_tokenizer: { type: "Punctuation" } }), "Hey, you!")).toEqual(["Hey", ",", " you", "!"]);
    expect(pieces(wordLevel([], { pre_tokenizer: { type: "CharDelimiterSplit", delimiter: "|" } }), "a|b||c")).toEqual(["a", "b", "c"]);
  });

  it("Digits, individual or contiguous", () => {
    const digits = (individual: boolean) => wordLevel([], { pre_tokenizer: { type: "Digits", individual_digits: individual } });
    expect(pieces(digits(true), "Call 123 please")).toEqual(["Call ", "1", "2", "3", " please"]);
    expect(pieces(digits(false), "Call 123 please")).toEqual(["Call ", "123", " please"]);
  });

  it("Sequence applies each pre-tokenizer to the pieces of the previous one", () => {
    const tok = wordLevel([], {
      pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Digits", individual_digits: true }] },
    });
    expect(pieces(tok, "ab12 c3")).toEqual(["ab", "1", "2", "c", "3"]);
  });

  it("ByteLevel maps bytes to printable characters and can add a prefix space", () => {
    const tok = wordLevel(["ĠHello", "Ġworld", "Ã©"], {
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, use_regex: true },
    });
    const enc = tok.encode("Hello world");
    expect(enc.tokens).toEqual(["ĠHello", "Ġworld"]);
    // The added space takes the first character's offsets.
    expect(enc.offsets).toEqual([[0, 5], [5, 11]]);
    // "é" is bytes C3 A9, which GPT-2's table writes as "Ã" and "©".
    const noPrefix = wordLevel(["Ã©"], { pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: false } });
    expect(noPrefix.encode("é").tokens).toEqual(["Ã©"]);
    expect(noPrefix.encode("é").offsets).toEqual([[0, 1]]);
  });

  describe("Metaspace", () => {
    const meta = (scheme: string, split = true) =>
      Tokenizer.fromJSON({
        model: { type: "WordLevel", vocab: { "<unk>": 0, "▁Hello": 1, "Hello": 2, "▁world": 3, world: 4, "<sep>": 5, "▁Hello▁world": 6 }, unk_token: "<unk>" },
        added_tokens: [{ id: 5, content: "<sep>", special: true, normalized: false }],
        pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: scheme, split },
      });

    it("replaces spaces and prepends ▁ by prepend_scheme", () => {
      expect(meta("always").encode("Hello<sep>world").tokens).toEqual(["▁Hello", "<sep>", "▁world"]);
      expect(meta("first").encode("Hello<sep>world").tokens).toEqual(["▁Hello", "<sep>", "world"]);
      expect(meta("never").encode("Hello<sep>world").tokens).toEqual(["Hello", "<sep>", "world"]);
    });

    it("offsets of ▁ are those of the space it replaces, or of the first character when prepended", () => {
      const enc = meta("always").encode("Hello world");
      expect(enc.tokens).toEqual(["▁Hello", "▁world"]);
      expect(enc.offsets).toEqual([[0, 5], [5, 11]]);
    });

    it("split: false keeps one piece", () => {
      expect(meta("always", false).encode("Hello world").tokens).toEqual(["▁Hello▁world"]);
    });
  });
});

describe("normalizers keep offsets on the original text", () => {
  const withNormalizer = (normalizer: unknown, vocab: string[], preTokenizer: unknown = { type: "WhitespaceSplit" }) =>
    wordLevel(vocab, { normalizer, pre_tokenizer: preTokenizer });

  it("NFKC expands a ligature; both letters point at it", () => {
    const tok = withNormalizer({ type: "NFKC" }, ["fine"]);
    const enc = tok.encode("ﬁne ①");
    expect(enc.tokens).toEqual(["fine", "<unk>"]);
    expect(enc.offsets).toEqual([[0, 3], [4, 5]]);
  });

  it("NFD + StripAccents + Lowercase", () => {
    const tok = withNormalizer({ type: "Sequence", normalizers: [{ type: "NFD" }, { type: "StripAccents" }, { type: "Lowercase" }] }, ["cafe"]);
    expect(tok.encode("Café").tokens).toEqual(["cafe"]);
    expect(tok.encode("Café").offsets).toEqual([[0, 4]]);
  });

  it("NFC composes a letter and a combining accent", () => {
    const tok = withNormalizer({ type: "NFC" }, ["é"]);
    expect(tok.encode("e\u0301").tokens).toEqual(["é"]);
  });

  it("Lowercase works per character (Rust's to_lowercase has no final-sigma rule)", () => {
    const tok = withNormalizer({ type: "Lowercase" }, ["σασ"]);
    expect(tok.encode("ΣΑΣ").tokens).toEqual(["σασ"]);
  });

  it("BertNormalizer drops control characters and spaces out CJK ideographs", () => {
    const tok = withNormalizer(
      { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      ["hello", "世", "界"],
      { type: "BertPreTokenizer" },
    );
    const enc = tok.encode("Héllo\u0000世界");
    expect(enc.tokens).toEqual(["hello", "世", "界"]);
    expect(enc.offsets).toEqual([[0, 5], [6, 7], [7, 8]]);
  });

  it("Replace: the replacement takes the offsets of the last character it replaces", () => {
    const tok = withNormalizer({ type: "Replace", pattern: { Regex: " {2,}" }, content: " " }, ["▁a", "▁b"], {
      type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true,
    });
    const enc = tok.encode("a   b");
    expect(enc.tokens).toEqual(["▁a", "▁b"]);
    expect(enc.offsets).toEqual([[0, 1], [3, 5]]);
  });

  it("Strip and Prepend", () => {
    const strip = withNormalizer({ type: "Strip", strip_left: true, strip_right: true }, ["hi"], null);
    expect(strip.encode("  hi  ").offsets).toEqual([[2, 4]]);
    const prepend = withNormalizer({ type: "Prepend", prepend: "▁" }, ["▁hi"], null);
    expect(prepend.encode("hi").tokens).toEqual(["▁hi"]);
    expect(prepend.encode("hi").offsets).toEqual([[0, 2]]);
  });
});

describe("models", () => {
  const bpe = (model: Record<string, unknown>) => Tokenizer.fromJSON({ model: { type: "BPE", ...model } });
  const vocab = (tokens: string[]) => Object.fromEntries(tokens.map((t, i) => [t, i]));

  it("BPE applies merges by rank, leftmost first on ties; merges may be 'a b' strings or pairs", () => {
    const v = vocab(["a", "b", "c", "ab", "bc", "abc", "aa"]);
    expect(bpe({ vocab: v, merges: ["a b", "b c", "ab c"] }).encode("abc").tokens).toEqual(["abc"]);
    expect(bpe({ vocab: v, merges: [["b", "c"], ["a", "b"], ["ab", "c"]] }).encode("abc").tokens).toEqual(["a", "bc"]);
    expect(bpe({ vocab: v, merges: [["a", "a"]] }).encode("aaa").tokens).toEqual(["aa", "a"]);
  });

  it("BPE byte_fallback, unk and fuse_unk", () => {
    const fb = bpe({ vocab: vocab(["a", "<0xC3>", "<0xA9>", "<unk>"]), merges: [], byte_fallback: true, unk_token: "<unk>" });
    const enc = fb.encode("aé");
    expect(enc.tokens).toEqual(["a", "<0xC3>", "<0xA9>"]);
    expect(enc.offsets).toEqual([[0, 1], [1, 2], [1, 2]]);
    const unk = (fuse: boolean) => bpe({ vocab: vocab(["a", "<unk>"]), merges: [], unk_token: "<unk>", fuse_unk: fuse });
    expect(unk(true).encode("xya").tokens).toEqual(["<unk>", "a"]);
    expect(unk(true).encode("xya").offsets).toEqual([[0, 2], [2, 3]]);
    expect(unk(false).encode("xya").tokens).toEqual(["<unk>", "<unk>", "a"]);
    // No unk_token: unknown characters are dropped; an unk_token missing from the vocabulary is an error.
    expect(bpe({ vocab: vocab(["a"]), merges: [] }).encode("xa").tokens).toEqual(["a"]);
    expect(() => bpe({ vocab: vocab(["a"]), merges: [], unk_token: "<unk>" }).encode("xa")).toThrow(/unk_token "<unk>" is not in model.vocab/);
  });

  it("BPE continuing_subword_prefix and end_of_word_suffix", () => {
    const tok = bpe({
      vocab: vocab(["a", "##b</w>", "ab</w>"]),
      merges: [["a", "##b</w>"]],
      continuing_subword_prefix: "##",
      end_of_word_suffix: "</w>",
    });
    expect(tok.encode("ab").tokens).toEqual(["ab</w>"]);
  });

  it("BPE ignore_merges takes a word that is in the vocabulary as it is", () => {
    const v = vocab(["a", "b", "ab", "abab"]);
    expect(bpe({ vocab: v, merges: ["a b"] }).encode("abab").tokens).toEqual(["ab", "ab"]);
    expect(bpe({ vocab: v, merges: ["a b"], ignore_merges: true }).encode("abab").tokens).toEqual(["abab"]);
  });

  it("WordPiece: greedy longest match with ## continuations (BERT's example)", () => {
    const tok = Tokenizer.fromJSON({
      model: { type: "WordPiece", vocab: vocab(["[UNK]", "un", "##aff", "##able"]), unk_token: "[UNK]", continuing_subword_prefix: "##" },
      pre_tokenizer: { type: "WhitespaceSplit" },
    });
    const enc = tok.encode("unaffable unx");
    expect(enc.tokens).toEqual(["un", "##aff", "##able", "[UNK]"]);
    expect(enc.offsets).toEqual([[0, 2], [2, 5], [5, 9], [10, 13]]);
  });

  describe("Unigram", () => {
    const pieces: Array<[string, number]> = [["<unk>", 0], ["a", -1], ["b", -2], ["ab", -2.5], ["abc", -10], ["c", -3], ["<0x64>", -20]];
    const unigram = (byteFallback: boolean) =>
      Tokenizer.fromJSON({ model: { type: "Unigram", vocab: pieces, unk_id: 0, byte_fallback: byteFallback } });

    it("takes the segmentation of highest total score", () => {
      // a+b+c = -6, ab+c = -5.5, abc = -10.
      expect(unigram(false).encode("abc").tokens).toEqual(["ab", "c"]);
    });

    it("fuses consecutive unknown characters into one token that keeps its text", () => {
      const enc = unigram(false).encode("abdd");
      expect(enc.ids).toEqual([3, 0]);
      expect(enc.tokens).toEqual(["ab", "dd"]);
      expect(enc.offsets).toEqual([[0, 2], [2, 4]]);
    });

    it("byte_fallback spells unknown pieces as bytes when it can", () => {
      expect(unigram(true).encode("abd").tokens).toEqual(["ab", "<0x64>"]);
      expect(unigram(true).encode("abx").tokens).toEqual(["ab", "x"]);
    });
  });
});

describe("post-processors", () => {
  const base = {
    model: { type: "WordLevel", vocab: { "<unk>": 0, a: 1, b: 2, "[CLS]": 3, "[SEP]": 4, "<s>": 5, "</s>": 6 }, unk_token: "<unk>" },
    pre_tokenizer: { type: "WhitespaceSplit" },
  };

  it("TemplateProcessing: single and pair templates with type ids", () => {
    const tok = Tokenizer.fromJSON({
      ...base,
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
        pair: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
          { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } },
        ],
        special_tokens: { "[CLS]": { id: "[CLS]", ids: [3], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [4], tokens: ["[SEP]"] } },
      },
    });
    const enc = tok.encode("a", { pair: "b" });
    expect(enc.ids).toEqual([3, 1, 4, 2, 4]);
    expect(enc.typeIds).toEqual([0, 0, 0, 1, 1]);
    expect(enc.specialTokensMask).toEqual([1, 0, 1, 0, 1]);
    expect(enc.offsets).toEqual([[0, 0], [0, 1], [0, 0], [0, 1], [0, 0]]);
    const plain = tok.encode("a", { pair: "b", addSpecialTokens: false });
    expect(plain.ids).toEqual([1, 2]);
    expect(plain.typeIds).toEqual([0, 1]);
    expect(tok.encode("a").ids).toEqual([3, 1, 4]);
  });

  it("BertProcessing and RobertaProcessing", () => {
    const bert = Tokenizer.fromJSON({ ...base, post_processor: { type: "BertProcessing", sep: ["[SEP]", 4], cls: ["[CLS]", 3] } });
    expect(bert.encode("a", { pair: "b" }).ids).toEqual([3, 1, 4, 2, 4]);
    expect(bert.encode("a", { pair: "b" }).typeIds).toEqual([0, 0, 0, 1, 1]);
    const roberta = Tokenizer.fromJSON({
      ...base,
      post_processor: { type: "RobertaProcessing", sep: ["</s>", 6], cls: ["<s>", 5], trim_offsets: true, add_prefix_space: false },
    });
    expect(roberta.encode("a", { pair: "b" }).ids).toEqual([5, 1, 6, 6, 2, 6]);
    expect(roberta.encode("a").ids).toEqual([5, 1, 6]);
    // tokenizers' roberta.rs: every type id is 0, with or without special tokens.
    expect(roberta.encode("a", { pair: "b" }).typeIds).toEqual([0, 0, 0, 0, 0, 0]);
    expect(roberta.encode("a", { pair: "b", addSpecialTokens: false }).typeIds).toEqual([0, 0]);
  });

  it("ByteLevel trim_offsets leaves out the leading space of a token", () => {
    const json = {
      model: { type: "WordLevel", vocab: { "<unk>": 0, Hello: 1, "Ġworld": 2 }, unk_token: "<unk>" },
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    };
    const trimmed = Tokenizer.fromJSON({ ...json, post_processor: { type: "ByteLevel", trim_offsets: true, add_prefix_space: false } });
    const kept = Tokenizer.fromJSON({ ...json, post_processor: { type: "ByteLevel", trim_offsets: false } });
    expect(trimmed.encode("Hello world").offsets).toEqual([[0, 5], [6, 11]]);
    expect(kept.encode("Hello world").offsets).toEqual([[0, 5], [5, 11]]);
  });
});

describe("decoders", () => {
  const decodeWith = (decoder: unknown, tokens: string[]): string => {
    const tok = Tokenizer.fromJSON({ model: { type: "WordLevel", vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), unk_token: tokens[0] }, decoder });
    return tok.decode(tokens.map((_, i) => i));
  };

  it("ByteFallback joins byte tokens into UTF-8, one U+FFFD per byte when invalid", () => {
    const chain = { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] };
    expect(decodeWith(chain, ["<0xE2>", "<0x82>", "<0xAC>", "x"])).toBe("€x");
    expect(decodeWith(chain, ["<0xE2>", "<0x82>", "y"])).toBe("\ufffd\ufffdy");
  });

  it("ByteLevel, Metaspace, WordPiece (with clean-up), BPEDecoder, Replace, Strip", () => {
    expect(decodeWith({ type: "ByteLevel" }, ["ĠHello", "Ġw", "Ã©"])).toBe(" Hello wé");
    expect(decodeWith({ type: "Metaspace", replacement: "▁", prepend_scheme: "always" }, ["▁Hey", "▁friend"])).toBe("Hey friend");
    expect(decodeWith({ type: "WordPiece", prefix: "##", cleanup: true }, ["hell", "##o", ",", "world", "do", "n't"])).toBe("hello, world don't");
    expect(decodeWith({ type: "BPEDecoder", suffix: "</w>" }, ["hel", "lo</w>", "wor", "ld</w>"])).toBe("hello world");
    expect(decodeWith({ type: "Replace", pattern: { String: "▁" }, content: " " }, ["▁a", "▁b"])).toBe(" a b");
    expect(decodeWith({ type: "Strip", content: " ", start: 1, stop: 0 }, [" a", "  b"])).toBe("a b");
  });

  it("without a decoder, tokens are joined by spaces", () => {
    expect(decodeWith(null, ["x", "y"])).toBe("x y");
  });
});

describe("added tokens", () => {
  const tok = Tokenizer.fromJSON({
    model: { type: "WordLevel", vocab: { "<unk>": 0, a: 1, b: 2, hello: 3 }, unk_token: "<unk>" },
    normalizer: { type: "Lowercase" },
    pre_tokenizer: { type: "WhitespaceSplit" },
    added_tokens: [
      { id: 10, content: "<mask>", special: true, lstrip: true, rstrip: false, normalized: false },
      { id: 11, content: "<R>", special: true, rstrip: true, normalized: false },
      { id: 12, content: "hi", special: false, single_word: true, normalized: true },
      { id: 13, content: "WORLD", special: false, normalized: true },
    ],
  });

  it("lstrip and rstrip take in the whitespace beside the token", () => {
    const enc = tok.encode("a <mask>b");
    expect(enc.tokens).toEqual(["a", "<mask>", "b"]);
    expect(enc.offsets).toEqual([[0, 1], [1, 8], [8, 9]]);
    expect(tok.encode("<R>  a").offsets).toEqual([[0, 5], [5, 6]]);
  });

  it("single_word tokens only match as whole words; normalized ones match after normalization", () => {
    expect(tok.encode("hi ahi hi").ids).toEqual([12, 0, 12]);
    expect(tok.encode("World").ids).toEqual([13]);
    expect(tok.encode("World").offsets).toEqual([[0, 5]]);
  });

  it("decode can skip special tokens; ids map both ways", () => {
    const ids = tok.encode("a <mask> b").ids;
    expect(tok.decode(ids)).toBe("a <mask> b");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("a b");
    expect(tok.tokenToId("<mask>")).toBe(10);
    expect(tok.idToToken(12)).toBe("hi");
    expect(tok.specialTokens).toEqual(["<mask>", "<R>"]);
    expect(tok.vocabSize).toBe(8);
  });
});

describe("encodeBatch padding and truncation", () => {
  const tok = Tokenizer.fromJSON(
    {
      model: { type: "WordLevel", vocab: { "<unk>": 0, "<pad>": 1, "<s>": 2, a: 3, b: 4, c: 5 }, unk_token: "<unk>" },
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<s>": { id: "<s>", ids: [2], tokens: ["<s>"] } },
      },
    },
    { pad_token: "<pad>" },
  );

  it("pads to the longest, on either side, to a multiple", () => {
    const [x, y] = tok.encodeBatch(["a b c", "a"], { padding: true });
    expect(x!.ids).toEqual([2, 3, 4, 5]);
    expect(y!.ids).toEqual([2, 3, 1, 1]);
    expect(y!.attentionMask).toEqual([1, 1, 0, 0]);
    expect(y!.specialTokensMask).toEqual([1, 0, 1, 1]);
    expect(tok.encodeBatch(["a"], { padding: "max_length", maxLength: 3, paddingSide: "left" })[0]!.ids).toEqual([1, 2, 3]);
    expect(tok.encodeBatch(["a b c"], { padding: true, padToMultipleOf: 3 })[0]!.ids).toEqual([2, 3, 4, 5, 1, 1]);
    expect(tok.padTokenId).toBe(1);
  });

  it("truncates to maxLength counting the special tokens", () => {
    expect(tok.encodeBatch(["a b c"], { truncation: true, maxLength: 3 })[0]!.ids).toEqual([2, 3, 4]);
    expect(tok.encodeBatch(["a b c"], { truncation: true, maxLength: 3, truncationSide: "left" })[0]!.ids).toEqual([2, 4, 5]);
  });

  it("asks for what it needs", () => {
    expect(() => tok.encodeBatch(["a"], { truncation: true })).toThrow(/maxLength/);
    const noPad = Tokenizer.fromJSON({ model: { type: "WordLevel", vocab: { "<unk>": 0 }, unk_token: "<unk>" } });
    expect(() => noPad.encodeBatch(["a", "a a"], { padding: true })).toThrow(/pad_token/);
  });
});

describe("bad tokenizer.json", () => {
  const model = { type: "WordLevel", vocab: { "<unk>": 0 }, unk_token: "<unk>" };

  it.each([
    ["normalizer", "NFC"],
    ["pre_tokenizer", "ByteLevel"],
    ["post_processor", "TemplateProcessing"],
    ["decoder", "ByteFallback"],
  ])("an unknown %s type names the kind and lists the supported ones", (kind, supported) => {
    const build = () => Tokenizer.fromJSON({ model, [kind]: { type: "Mystery" } });
    expect(build).toThrow(TokenizerError);
    expect(build).toThrow(new RegExp(`unknown ${kind} type "Mystery"; supported: .*${supported}`));
  });

  it("an unknown model type, a merge with a missing token, a missing model", () => {
    expect(() => Tokenizer.fromJSON({ model: { type: "Mystery" } })).toThrow(/unknown model type "Mystery"; supported: BPE, WordPiece/);
    expect(() => Tokenizer.fromJSON({ model: { type: "BPE", vocab: { a: 0 }, merges: ["a b"] } })).toThrow(/merges\[0\]/);
    expect(() => Tokenizer.fromJSON({})).toThrow(/missing "model"/);
  });

  it("missing files and invalid JSON name the file", async () => {
    await expect(Tokenizer.fromFile("/nonexistent/tokenizer.json")).rejects.toThrow(/\/nonexistent\/tokenizer.json/);
    await expect(Tokenizer.fromFile(new URL(import.meta.url).pathname)).rejects.toThrow(/not valid JSON/);
  });
});
