import { describe, expect, it } from "vitest";
import {
  EosTokenCriteria,
  GenerationError,
  MaxLengthCriteria,
  StopStringCriteria,
  StoppingCriteriaList,
  buildStoppingCriteria,
  type Detokenizer,
} from "../../src/generation/index.js";

/** A word-piece vocabulary where tokens are plain strings and decode concatenates them. */
const vocab = ["<eos>", "The", " end", " E", "ND", "ENDless", " story", ".", "\n", "##", "#", " fin"];
const words: Detokenizer = { decode: (ids) => ids.map((id) => vocab[id]!).join("") };
const id = (piece: string): number => vocab.indexOf(piece);

const byteTokenizer: Detokenizer = { decode: (ids) => new TextDecoder("utf-8").decode(Uint8Array.from(ids)) };

describe("StopStringCriteria (semantics of transformers' StopStringCriteria)", () => {
  const stop = new StopStringCriteria(["END", "###"], words);

  it("matches a stop string that spans tokens and ends in the last token", () => {
    expect(stop.call([[id("The"), id(" E"), id("ND")]])).toEqual([true]);
    expect(stop.match([id("The"), id(" E"), id("ND")])).toBe("END");
    expect(stop.call([[id("The"), id("##"), id("#")]])).toEqual([true]);
  });

  it("matches when the last token runs past the end of the stop string", () => {
    expect(stop.call([[id("The"), id("ENDless")]])).toEqual([true]);
  });

  it("does not match a stop string that ended before the last token, or is not there", () => {
    expect(stop.call([[id(" E"), id("ND"), id(" story")]])).toEqual([false]);
    expect(stop.call([[id("The"), id(" end")]])).toEqual([false]);
    expect(stop.call([[id("The"), id(" E")]])).toEqual([false]);
  });

  it("works per row and on long rows", () => {
    const long = [...Array.from({ length: 300 }, () => id(" story")), id(" E"), id("ND")];
    expect(stop.call([long, [id("The"), id(".")], []])).toEqual([true, false, false]);
  });

  it("reads byte-level text, where tokens are parts of characters", () => {
    const s = new StopStringCriteria("終わり", byteTokenizer);
    const bytes = Array.from(new TextEncoder().encode("物語の終わり"));
    expect(s.call([bytes])).toEqual([true]);
    expect(s.call([bytes.slice(0, -1)])).toEqual([false]);
  });

  it("widens its window over tokens that decode to nothing", () => {
    const silent: Detokenizer = { decode: (ids) => ids.filter((i) => i !== 0).map((i) => vocab[i]!).join("") };
    const s = new StopStringCriteria("END", silent);
    expect(s.call([[id(" E"), ...new Array<number>(20).fill(0), id("ND")]])).toEqual([true]);
  });

  it("needs non-empty strings and a decode function", () => {
    expect(() => new StopStringCriteria([""], words)).toThrow(GenerationError);
    expect(() => new StopStringCriteria("x", {} as Detokenizer)).toThrow(/decode/);
  });
});

describe("StoppingCriteriaList and buildStoppingCriteria", () => {
  it("reports eos, stop and length per row, eos first when several apply", () => {
    const list = new StoppingCriteriaList([new MaxLengthCriteria(4), new EosTokenCriteria([0, 7]), new StopStringCriteria("END", words)]);
    expect(
      list.call([
        [1, 2, 0], // eos
        [1, 3, 4], // " E" "ND" -> stop
        [1, 2, 6, 6], // length
        [1, 2, 6, 7], // "." is an EOS id too, at max length -> eos
        [1, 2], // goes on
      ]),
    ).toEqual(["eos", "stop", "length", "eos", null]);
  });

  it("builds max length from promptLength + maxNewTokens, EOS from eosTokenId and stop strings from options", () => {
    const list = buildStoppingCriteria({ maxNewTokens: 3, eosTokenId: 0, stopStrings: "END" }, { promptLength: 2, tokenizer: words });
    expect(list.criteria.map((c) => c.constructor.name)).toEqual(["MaxLengthCriteria", "StopStringCriteria", "EosTokenCriteria"]);
    expect((list.criteria[0] as MaxLengthCriteria).maxLength).toBe(5);
    expect(buildStoppingCriteria({}, { promptLength: 2 }).criteria.map((c) => (c as MaxLengthCriteria).maxLength)).toEqual([20]);
    expect(() => buildStoppingCriteria({ stopStrings: ["x"] }, { promptLength: 1 })).toThrow(/stopStrings.*tokenizer/);
  });
});
