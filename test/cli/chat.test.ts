import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../src/generation/index.js";
import { loadModel } from "../../src/models/index.js";
import { loadTokenizer } from "../../src/tokenizers/index.js";
import { fixturesDir, runCli } from "../helpers/cli.js";
import { writeByteLevelTokenizer } from "../generation/generate-helpers.js";

let work: string;
let modelDir: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "lmforge-cli-chat-"));
  modelDir = path.join(work, "llama");
  cpSync(path.join(fixturesDir, "llama"), modelDir, { recursive: true });
  writeByteLevelTokenizer(modelDir);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("lmforge chat", () => {
  it("answers piped lines with the chat template, keeps history, and handles /params /set /reset /exit", async () => {
    const input = ["hello", "hello", "/params", "/set temperature 0.5", "/set top-p 7", "/reset", "hello", "/exit", "never read"].join("\n");
    const r = runCli(["chat", "--model", modelDir, "--system", "Be brief.", "--max-new-tokens", "6"], { input });
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");

    // The first reply is what generate gives for the rendered conversation.
    const model = await loadModel(modelDir);
    const tokenizer = await loadTokenizer(modelDir);
    const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "hello" }];
    const ids = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(ids.slice(0, 1)).toEqual([1]); // "<s>" is the template's own special token
    const first = (await generate(model, tokenizer, [ids], { maxNewTokens: 6 })).text![0]!;
    expect(lines[0]).toBe(first);

    // The second turn sees the first exchange in its prompt.
    const second = [...messages, { role: "assistant" as const, content: first }, { role: "user" as const, content: "hello" }];
    const secondIds = tokenizer.applyChatTemplate(second, { addGenerationPrompt: true });
    expect(lines[1]).toBe((await generate(model, tokenizer, [secondIds], { maxNewTokens: 6 })).text![0]);

    const params = JSON.parse(lines[2]!);
    expect(params.maxNewTokens).toBe(6);
    expect(params.eosTokenId).toBe(2);
    expect(JSON.parse(lines[3]!).temperature).toBe(0.5);
    expect(r.stderr).toMatch(/option --top-p = 7/);
    expect(lines[4]).toBe("(history cleared)");
    // After /reset the conversation starts over: the same first reply.
    expect(lines[5]).toBe(first);
    expect(lines.slice(6).join("")).toBe("");
  });

  it("needs a tokenizer", () => {
    const r = runCli(["chat", "--model", path.join(fixturesDir, "llama")], { input: "hi\n" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/chat needs a tokenizer/);
  });
});
