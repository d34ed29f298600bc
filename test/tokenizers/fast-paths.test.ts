import { beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/tokenizers/index.js";
import { WordCache } from "../../src/tokenizers/models/model.js";
import { codePointToUtf16, type EncodingsFixture, readFixture, tokenizerSources } from "./helpers.js";

const fixture = readFixture<EncodingsFixture>("encodings.json");

describe("WordCache keeps two generations", () => {
  it("a full generation becomes the old one; an old word found is moved to the new one", () => {
    const cache = new WordCache<number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3); // current {c}, old {a, b}
    expect(cache.get("a")).toBe(1); // moved: current {c, a}
    cache.set("d", 4); // current full: old {c, a}, current {d}
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe(1); // current {d, a}
    expect(cache.get("c")).toBe(3); // current full again: old {d, a}, current {c}
    expect(cache.get("d")).toBe(4);
  });

  it("does not keep words of maxWordLength units or more", () => {
    const cache = new WordCache<number>(10, 4);
    cache.set("abcd", 1);
    cache.set("abc", 2);
    expect(cache.get("abcd")).toBeUndefined();
    expect(cache.get("abc")).toBe(2);
  });
});

// Byte-level BPE without (GPT-2) and with ignore_merges (Llama 3): the word cache and the merge buffers reused
// across words must not change any id.
describe.each(["gpt2", "llama3"])("%s: cached words and reused merge buffers", (name) => {
  const expected = fixture.tokenizers[name]!;
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromFile(tokenizerSources[name]!);
  });

  const checkAll = (): void => {
    fixture.texts.forEach((text, i) => {
      const enc = tok.encode(text, { addSpecialTokens: false });
      expect(enc.ids, `text ${i}`).toEqual(expected.cases[i]!.ids_no_special);
    });
  };

  it("gives the fixture's ids when every word is already cached", () => {
    checkAll();
    checkAll();
  });

  it("after a word longer than the buffers keep (70000 letters), later words are still right", () => {
    const huge = "x".repeat(70_000);
    expect(tok.decode(tok.encode(huge, { addSpecialTokens: false }).ids)).toBe(huge);
    checkAll();
  });
});

describe("encodings are plain data", () => {
  it("spread, JSON round trip and deep equality see all six fields", async () => {
    const tok = await Tokenizer.fromFile(tokenizerSources.gpt2!);
    const text = fixture.texts[1]!;
    const want = fixture.tokenizers.gpt2!.cases[1]!;
    const enc = tok.encode(text);
    const n = want.ids.length;
    const plain = {
      ids: want.ids,
      tokens: want.tokens,
      offsets: codePointToUtf16(text, want.offsets),
      attentionMask: new Array(n).fill(1),
      typeIds: new Array(n).fill(0),
      specialTokensMask: new Array(n).fill(0),
    };
    expect(enc).toEqual(plain);
    expect({ ...enc }).toEqual(plain);
    expect(JSON.parse(JSON.stringify(enc))).toEqual(plain);
    expect(Object.keys(enc).sort()).toEqual(Object.keys(plain).sort());
  });
});

describe("added-token scan", () => {
  const tok = Tokenizer.fromJSON({
    model: { type: "WordLevel", vocab: { "<unk>": 0, q: 1 }, unk_token: "<unk>" },
    pre_tokenizer: { type: "WhitespaceSplit" },
    added_tokens: [
      { id: 10, content: "<a>", special: true, normalized: false },
      { id: 11, content: "<ab>", special: true, normalized: false },
      { id: 12, content: "\u{1F600}x", special: true, normalized: false },
    ],
  });

  it("finds tokens sharing a first unit (longest wins) and tokens starting with a surrogate pair", () => {
    const text = "q<ab><a<a>\u{1F600}x\u{1F600}y";
    const enc = tok.encode(text);
    expect(enc.ids).toEqual([1, 11, 0, 10, 12, 0]);
    expect(enc.offsets).toEqual([[0, 1], [1, 5], [5, 7], [7, 10], [10, 13], [13, 16]]);
  });

  it("text without any token's first unit is one plain piece", () => {
    expect(tok.encode("q q").ids).toEqual([1, 1]);
  });
});
