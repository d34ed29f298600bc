import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LmforgeError } from "../../src/errors.js";
import {
  PROMPT_TEMPLATES,
  PromptError,
  buildPrompt,
  loadShots,
  parseShots,
  type PromptMessage,
  type PromptTokenizer,
} from "../../src/prompting/index.js";

/** One token per whitespace-separated word, plus one per newline: easy to count by hand. */
const wordTokenizer: PromptTokenizer = {
  encode: (text) => ({ ids: (text.match(/\S+|\n/g) ?? []).map((_, i) => i) }),
};
const tokens = (text: string): number => (text.match(/\S+|\n/g) ?? []).length;

const examples = [
  { input: "first movie was great", output: "positive" },
  { input: "second was awful", output: "negative" },
  { input: "third fine", output: "neutral" },
  { input: "fourth loved it", output: "positive" },
];

describe("buildPrompt", () => {
  it("renders instruction, examples and query with the built-in template (few-shot)", () => {
    const built = buildPrompt({
      instruction: "Classify the sentiment.",
      examples: examples.slice(0, 2),
      query: "new film rocks",
      template: "classification",
      tokenizer: wordTokenizer,
      contextWindow: 1000,
      maxNewTokens: 5,
    });
    expect(built.prompt).toBe(
      "Classify the sentiment.\n\n" +
        "Text: first movie was great\nLabel: positive\n\n" +
        "Text: second was awful\nLabel: negative\n\n" +
        "Text: new film rocks\nLabel:",
    );
    expect(built.tokenCount).toBe(tokens(built.prompt));
    expect(built).toMatchObject({ examplesUsed: 2, droppedExamples: 0, warnings: [] });
  });

  it("zero-shot and one-shot, and each built-in template's query form", () => {
    const zero = buildPrompt({ query: "2+2?", template: "qa", tokenizer: wordTokenizer, contextWindow: 50, maxNewTokens: 5 });
    expect(zero.prompt).toBe("Question: 2+2?\nAnswer:");
    const one = buildPrompt({
      examples: [{ input: "Bonjour", output: "Hello" }],
      query: "Merci",
      template: "translation",
      tokenizer: wordTokenizer,
      contextWindow: 50,
      maxNewTokens: 5,
    });
    expect(one.prompt).toBe("Source: Bonjour\nTranslation: Hello\n\nSource: Merci\nTranslation:");
    expect(PROMPT_TEMPLATES.summarization.format({ input: "a b" })).toBe("Article: a b\nSummary:");
  });

  it("accepts a custom template with its own separator, and encode returning a plain id array", () => {
    const built = buildPrompt({
      examples: [{ input: "a", output: "b" }],
      query: "c",
      template: { format: (e) => `${e.input} => ${e.output ?? ""}`.trimEnd(), separator: "\n" },
      tokenizer: { encode: (t) => Array.from(t, () => 0) },
      contextWindow: 100,
      maxNewTokens: 1,
    });
    expect(built.prompt).toBe("a => b\nc =>");
    expect(built.tokenCount).toBe(built.prompt.length);
  });

  it("drops the earliest examples first to respect the token budget, and warns", () => {
    const base = { instruction: "Classify.", examples, query: "the query text", template: "classification" as const, tokenizer: wordTokenizer };
    const full = buildPrompt({ ...base, contextWindow: 1000, maxNewTokens: 0 }).tokenCount;
    // Room for everything but one example's worth of tokens: the first example must go.
    const contextWindow = full - 1 + 10;
    const built = buildPrompt({ ...base, contextWindow, maxNewTokens: 10 });
    expect(built.tokenCount + 10).toBeLessThanOrEqual(contextWindow);
    expect(built.droppedExamples).toBe(1);
    expect(built.examplesUsed).toBe(3);
    expect(built.prompt).not.toContain("first movie");
    expect(built.prompt).toContain("second was awful");
    expect(built.prompt).toContain("fourth loved it");
    expect(built.warnings).toHaveLength(1);
    expect(built.warnings[0]).toMatch(/dropped 1 of 4 examples \(the earliest/);

    // For every window size, the budget holds and the kept examples are the last ones in the list.
    const zeroShot = buildPrompt({ ...base, examples: [], contextWindow: 1000, maxNewTokens: 0 }).tokenCount;
    for (let window = zeroShot + 10; window <= full + 10; window++) {
      const b = buildPrompt({ ...base, contextWindow: window, maxNewTokens: 10 });
      expect(b.tokenCount + 10).toBeLessThanOrEqual(window);
      expect(b.tokenCount).toBe(tokens(b.prompt));
      const kept = examples.filter((e) => b.prompt.includes(e.input));
      expect(kept).toEqual(examples.slice(examples.length - b.examplesUsed));
      expect(b.droppedExamples + b.examplesUsed).toBe(4);
      expect(b.warnings.length > 0).toBe(b.droppedExamples > 0);
    }
  });

  it("throws a PromptError when even the zero-shot prompt does not fit", () => {
    const run = () =>
      buildPrompt({
        examples,
        query: "a very long query with many many words in it",
        tokenizer: wordTokenizer,
        contextWindow: 12,
        maxNewTokens: 4,
      });
    expect(run).toThrow(PromptError);
    expect(run).toThrow(/zero-shot prompt needs \d+ tokens \+ maxNewTokens 4.*contextWindow 12/);
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(LmforgeError);
    }
  });

  it("with truncate: true, cuts the query from the left to fit", () => {
    const query = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12";
    const built = buildPrompt({ examples, query, tokenizer: wordTokenizer, contextWindow: 12, maxNewTokens: 4, truncate: true });
    expect(built.tokenCount + 4).toBeLessThanOrEqual(12);
    // "Question: <kept>\nAnswer:" costs 3 tokens around the query, so 5 words remain: the last ones.
    expect(built.prompt).toBe("Question: w8 w9 w10 w11 w12\nAnswer:");
    expect(built.droppedExamples).toBe(4);
    expect(built.warnings.some((w) => /query truncated from the left/.test(w))).toBe(true);
    expect(() =>
      buildPrompt({ instruction: "one two three four five six seven eight nine", query, tokenizer: wordTokenizer, contextWindow: 12, maxNewTokens: 4, truncate: true }),
    ).toThrow(/without any query/);
  });

  it("builds chat messages (system, alternating user/assistant, final user) and renders them", () => {
    const seen: { messages: PromptMessage[]; addGenerationPrompt: boolean }[] = [];
    const tokenizer: PromptTokenizer = {
      ...wordTokenizer,
      applyChatTemplate: (messages, { addGenerationPrompt }) => {
        seen.push({ messages, addGenerationPrompt });
        return messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + (addGenerationPrompt ? "<|assistant|>\n" : "");
      },
    };
    const built = buildPrompt({
      instruction: "Answer briefly.",
      examples: examples.slice(0, 2),
      query: "what now",
      tokenizer,
      contextWindow: 100,
      maxNewTokens: 8,
      chat: true,
    });
    expect(built.messages).toEqual([
      { role: "system", content: "Answer briefly." },
      { role: "user", content: "first movie was great" },
      { role: "assistant", content: "positive" },
      { role: "user", content: "second was awful" },
      { role: "assistant", content: "negative" },
      { role: "user", content: "what now" },
    ]);
    expect(seen.at(-1)!.addGenerationPrompt).toBe(true);
    expect(built.prompt.endsWith("<|assistant|>\n")).toBe(true);
    expect(built.tokenCount).toBe(tokens(built.prompt));

    // Dropping in chat mode removes whole user/assistant pairs, earliest first.
    const tight = buildPrompt({ instruction: "Answer briefly.", examples: examples.slice(0, 2), query: "what now", tokenizer, contextWindow: built.tokenCount + 8 - 1, maxNewTokens: 8, chat: true });
    expect(tight.messages!.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(tight.messages![1]!.content).toBe("second was awful");

    expect(() => buildPrompt({ query: "x", tokenizer: wordTokenizer, contextWindow: 10, maxNewTokens: 1, chat: true })).toThrow(/applyChatTemplate/);
  });

  it("names the bad field", () => {
    const ok = { query: "q", tokenizer: wordTokenizer, contextWindow: 10, maxNewTokens: 1 };
    expect(() => buildPrompt({ ...ok, contextWindow: 0 })).toThrow(/contextWindow/);
    expect(() => buildPrompt({ ...ok, maxNewTokens: -1 })).toThrow(/maxNewTokens/);
    expect(() => buildPrompt({ ...ok, maxNewTokens: 10 })).toThrow(/maxNewTokens \(10\) leaves no room/);
    expect(() => buildPrompt({ ...ok, examples: [{ input: "a", output: 3 as unknown as string }] })).toThrow(/examples\[0\]\.output/);
    expect(() => buildPrompt({ ...ok, template: "poetry" as never })).toThrow(/template "poetry"/);
  });
});

describe("loadShots", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-shots-"));

  it("reads one example per JSONL line, skipping blank lines", async () => {
    const file = path.join(dir, "shots.jsonl");
    writeFileSync(file, '{"input": "2+2", "output": "4", "id": 1}\r\n\n{"input": "3+3", "output": "6"}\n');
    expect(await loadShots(file)).toEqual([
      { input: "2+2", output: "4" },
      { input: "3+3", output: "6" },
    ]);
  });

  it("names the file and line of a bad record", async () => {
    const file = path.join(dir, "bad.jsonl");
    writeFileSync(file, '{"input": "a", "output": "b"}\n{"input": "a"}\n');
    await expect(loadShots(file)).rejects.toThrow(`${file}:2: field "output" must be a string`);
    expect(() => parseShots('{"input": "a", "output": "b"}\n{oops', "x.jsonl")).toThrow(/x\.jsonl:2: invalid JSON/);
    expect(() => parseShots("[1]", "y.jsonl")).toThrow(/y\.jsonl:1: expected an object/);
    await expect(loadShots(path.join(dir, "missing.jsonl"))).rejects.toThrow(PromptError);
  });
});
