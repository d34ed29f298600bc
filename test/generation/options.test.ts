import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir } from "../helpers/cli.js";
import {
  GENERATION_DEFAULTS,
  GenerationError,
  buildLogitsProcessors,
  generationOptionsFromConfig,
  mergeGenerationOptions,
  resolveMaxLength,
  validateGenerationOptions,
  type GenerationOptions,
} from "../../src/generation/index.js";
import { LmforgeError } from "../../src/errors.js";

const readConfig = (model: string): unknown =>
  JSON.parse(readFileSync(path.join(fixturesDir, model, "generation_config.json"), "utf8"));

describe("generationOptionsFromConfig", () => {
  it("reads BART's generation_config.json (snake_case) into camelCase options", () => {
    expect(generationOptionsFromConfig(readConfig("bart"))).toEqual({
      bosTokenId: 0,
      decoderStartTokenId: 2,
      eosTokenId: 2,
      forcedEosTokenId: 2,
      padTokenId: 1,
    });
  });

  it("reads T5's and ignores fields that do not steer decoding", () => {
    expect(generationOptionsFromConfig(readConfig("t5"))).toEqual({ decoderStartTokenId: 0, eosTokenId: 1, padTokenId: 0 });
  });

  it("maps sampling fields and lists", () => {
    const options = generationOptionsFromConfig({
      do_sample: true,
      top_k: 20,
      top_p: 0.8,
      temperature: 0.7,
      eos_token_id: [151645, 151643],
      repetition_penalty: 1.05,
      max_new_tokens: 64,
      stop_strings: ["###"],
      bad_words_ids: [[5, 6]],
      encoder_repetition_penalty: 1.0,
    });
    expect(options).toEqual({
      doSample: true,
      topK: 20,
      topP: 0.8,
      temperature: 0.7,
      eosTokenId: [151645, 151643],
      repetitionPenalty: 1.05,
      maxNewTokens: 64,
      stopStrings: ["###"],
      badWordsIds: [[5, 6]],
    });
  });

  it("names the file and field of a bad value, and refuses features lmforge lacks", () => {
    expect(() => generationOptionsFromConfig({ top_k: "50" }, "gen.json")).toThrow(/gen\.json: field "top_k".*integer/);
    expect(() => generationOptionsFromConfig({ eos_token_id: [1, -2] })).toThrow(/eos_token_id/);
    expect(() => generationOptionsFromConfig({ sequence_bias: [[[1], 2.0]] })).toThrow(/sequence_bias.*not supported/);
    expect(() => generationOptionsFromConfig([1])).toThrow(GenerationError);
  });
});

describe("mergeGenerationOptions and defaults", () => {
  it("later layers win, undefined does not erase", () => {
    const merged = mergeGenerationOptions(GENERATION_DEFAULTS, { topK: 20, temperature: 0.6 }, { temperature: 0.9, topK: undefined });
    expect(merged.topK).toBe(20);
    expect(merged.temperature).toBe(0.9);
    expect(merged.maxLength).toBe(20);
  });

  it("has transformers 5's defaults for unset values", () => {
    expect(GENERATION_DEFAULTS).toMatchObject({ maxLength: 20, topK: 50, topP: 1, temperature: 1, numBeams: 1, doSample: false });
  });

  it("resolves the length limit: maxNewTokens wins over maxLength", () => {
    expect(resolveMaxLength({ maxLength: 100, maxNewTokens: 5 }, 7)).toBe(12);
    expect(resolveMaxLength({ maxLength: 100 }, 7)).toBe(100);
    expect(resolveMaxLength({}, 7)).toBe(20);
  });
});

describe("validateGenerationOptions names the invalid option", () => {
  const cases: [GenerationOptions, RegExp][] = [
    [{ topP: 0 }, /option topP = 0: expected a number in \(0, 1\]/],
    [{ topP: 1.5 }, /option topP/],
    [{ temperature: -1 }, /option temperature = -1/],
    [{ temperature: 0, doSample: true }, /option temperature.*doSample/],
    [{ numBeams: 0 }, /option numBeams = 0/],
    [{ topK: -1 }, /option topK = -1/],
    [{ topK: 2.5 }, /option topK = 2.5: expected an integer/],
    [{ minP: 1.2 }, /option minP/],
    [{ typicalP: 0 }, /option typicalP/],
    [{ repetitionPenalty: 0 }, /option repetitionPenalty/],
    [{ maxNewTokens: 1.5 }, /option maxNewTokens = 1.5: expected an integer/],
    [{ maxNewTokens: 0 }, /option maxNewTokens = 0/],
    [{ numBeams: 2, numReturnSequences: 3 }, /option numReturnSequences = 3: expected at most numBeams \(2\)/],
    [{ numReturnSequences: 2 }, /option numReturnSequences.*greedy/],
    [{ eosTokenId: [] }, /option eosTokenId/],
    [{ stopStrings: [""] }, /option stopStrings/],
    [{ earlyStopping: "sometimes" as never }, /option earlyStopping/],
    [{ forcedEosTokenId: 2, suppressTokens: [2] }, /option forcedEosTokenId.*suppressTokens/],
  ];

  for (const [options, message] of cases) {
    it(JSON.stringify(options), () => {
      let error: unknown;
      try {
        validateGenerationOptions(options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GenerationError);
      expect(error).toBeInstanceOf(LmforgeError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it("points snake_case names to their camelCase option", () => {
    expect(() => validateGenerationOptions({ top_p: 0.9 } as GenerationOptions)).toThrow(/"top_p".*"topP"/);
  });

  it("accepts valid options, and buildLogitsProcessors validates too", () => {
    expect(() => validateGenerationOptions({ doSample: true, topP: 1, minP: 0, typicalP: 1, numBeams: 4, numReturnSequences: 4 })).not.toThrow();
    expect(() => buildLogitsProcessors({ topP: 2 }, { promptLength: 1 })).toThrow(/topP/);
  });
});
