import { beforeAll, describe, expect, it } from "vitest";
import { type ChatMessage, Tokenizer, TokenizerError } from "../../src/tokenizers/index.js";
import { readFixture, tokenizerSources } from "./helpers.js";

interface ChatFixture {
  messages: ChatMessage[];
  rendered: Record<string, { with_generation_prompt: string; first_three_no_generation_prompt: string }>;
}

const fixture = readFixture<ChatFixture>("chat_templates.json");

describe.each(["llama3", "qwen3", "gemma3"])("%s chat template renders as transformers", (name) => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromFile(tokenizerSources[name]!);
  });

  it("with the generation prompt", () => {
    const text = tok.applyChatTemplate(fixture.messages, { addGenerationPrompt: true, tokenize: false });
    expect(text).toBe(fixture.rendered[name]!.with_generation_prompt);
  });

  it("first three messages without the generation prompt", () => {
    const text = tok.applyChatTemplate(fixture.messages.slice(0, 3), { tokenize: false });
    expect(text).toBe(fixture.rendered[name]!.first_three_no_generation_prompt);
  });

  it("tokenizes the rendered text without adding special tokens again", () => {
    const rendered = fixture.rendered[name]!.with_generation_prompt;
    const ids = tok.applyChatTemplate(fixture.messages, { addGenerationPrompt: true });
    expect(ids).toEqual(tok.encode(rendered, { addSpecialTokens: false }).ids);
    // The template's own BOS text becomes the BOS id exactly once.
    expect(ids.filter((id) => id === tok.bosTokenId).length).toBe(name === "qwen3" ? 0 : 1);
  });
});

describe("chat template helpers", () => {
  const tok = Tokenizer.fromJSON(
    { model: { type: "WordPiece", vocab: { "[UNK]": 0 } } },
    { chat_template: "{% if messages|length > 1 %}{{ raise_exception('only one message') }}{% endif %}{{ strftime_now('%Y') }}|{{ tools is none }}|{{ extra }}" },
  );

  it("raise_exception becomes a TokenizerError with the template's message", () => {
    const two = [{ role: "user", content: "a" }, { role: "user", content: "b" }];
    expect(() => tok.applyChatTemplate(two, { tokenize: false })).toThrow(/only one message/);
    expect(() => tok.applyChatTemplate(two, { tokenize: false })).toThrow(TokenizerError);
  });

  it("strftime_now formats the current date; extra variables reach the template; tools defaults to none", () => {
    const year = String(new Date().getFullYear());
    expect(tok.applyChatTemplate([{ role: "user", content: "a" }], { tokenize: false, extra: "x" })).toBe(`${year}|true|x`);
  });

  it("a tokenizer without a chat template says so", () => {
    const bare = Tokenizer.fromJSON({ model: { type: "WordPiece", vocab: { "[UNK]": 0 } } });
    expect(() => bare.applyChatTemplate([{ role: "user", content: "a" }], { tokenize: false })).toThrow(/no chat_template/);
  });
});
