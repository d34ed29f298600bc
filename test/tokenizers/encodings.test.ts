import { beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/tokenizers/index.js";
import { codePointToUtf16, type EncodingsFixture, readFixture, tokenizerSources } from "./helpers.js";

const fixture = readFixture<EncodingsFixture>("encodings.json");

describe.each(Object.keys(tokenizerSources))("%s matches Hugging Face tokenizers on encodings.json", (name) => {
  const expected = fixture.tokenizers[name]!;
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromFile(tokenizerSources[name]!);
  });

  it("has the fixture's vocabulary size", () => {
    expect(expected.cases).toHaveLength(fixture.texts.length);
    expect(tok.vocabSize).toBe(expected.vocab_size);
  });

  it.each(fixture.texts.map((text, i) => [i, text] as const))("text %i %j", (i, text) => {
    const want = expected.cases[i]!;
    const withSpecial = tok.encode(text);
    expect(withSpecial.ids).toEqual(want.ids);
    expect(withSpecial.tokens).toEqual(want.tokens);
    expect(withSpecial.offsets).toEqual(codePointToUtf16(text, want.offsets));
    expect(withSpecial.attentionMask).toEqual(want.ids.map(() => 1));
    expect(tok.encode(text, { addSpecialTokens: false }).ids).toEqual(want.ids_no_special);
    expect(tok.decode(want.ids)).toBe(want.decoded);
    expect(tok.decode(want.ids, { skipSpecialTokens: true })).toBe(want.decoded_skip_special);
  });
});
