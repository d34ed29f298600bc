import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir, runCli } from "../helpers/cli.js";
import { writeByteLevelTokenizer } from "../generation/generate-helpers.js";

interface Case {
  input_ids: number[][];
  attention_mask?: number[][];
  max_new_tokens: number;
  output_ids: number[][];
}
const reference = (family: string): Record<string, Case> =>
  (JSON.parse(readFileSync(path.join(fixturesDir, family, "reference.json"), "utf8")) as { cases: Record<string, Case> }).cases;

let work: string;
let withTokenizer: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "lmforge-cli-generate-"));
  withTokenizer = path.join(work, "llama");
  cpSync(path.join(fixturesDir, "llama"), withTokenizer, { recursive: true });
  writeByteLevelTokenizer(withTokenizer);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("lmforge generate", () => {
  it.each(["gpt2", "llama"])("--input-ids --max-new-tokens 8 --json prints the %s fixture's greedy ids", (family) => {
    const c = reference(family).greedy!;
    const r = runCli(["generate", "--model", path.join(fixturesDir, family), "--input-ids", c.input_ids[0]!.join(","), "--max-new-tokens", String(c.max_new_tokens), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).ids).toEqual(c.output_ids);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("batches rows separated by ';' and runs beam search", () => {
    const c = reference("gpt2").beam3!;
    const r = runCli(["generate", "--model", path.join(fixturesDir, "gpt2"), "--input-ids", c.input_ids[0]!.join(","), "--num-beams", "3", "--max-new-tokens", "8", "--json"]);
    expect(JSON.parse(r.stdout).ids).toEqual(c.output_ids);
    const padded = reference("gpt2").left_padded_greedy!;
    // Rows of different lengths are left-padded (with --pad-token-id) and masked, as the fixture's batch.
    const rows = padded.input_ids.map((row, i) => row.filter((_, j) => padded.attention_mask![i]![j] === 1).join(","));
    const b = runCli(["generate", "--model", path.join(fixturesDir, "gpt2"), "--input-ids", rows.join(";"), "--pad-token-id", "0", "--max-new-tokens", "6", "--json"]);
    expect(JSON.parse(b.stdout).ids).toEqual(padded.output_ids);
  });

  it("generates text from a prompt with the model folder's tokenizer, streamed or not, same text", () => {
    const args = ["generate", "--model", withTokenizer, "--prompt", "Hello 👋", "--max-new-tokens", "12", "--do-sample", "--seed", "5", "--temperature", "1.5"];
    const plain = runCli(args);
    expect(plain.status).toBe(0);
    const streamed = runCli([...args, "--stream"]);
    expect(streamed.status).toBe(0);
    expect(streamed.stdout).toBe(plain.stdout);
    const json = JSON.parse(runCli([...args, "--json", "--logprobs"]).stdout);
    expect(`${json.text[0]}\n`).toBe(plain.stdout);
    expect(json.logprobs[0].length).toBeGreaterThan(0);
    expect(["length", "eos"]).toContain(json.finish_reason[0]);
  });

  it("builds few-shot and chat prompts", () => {
    const shots = path.join(work, "shots.jsonl");
    writeFileSync(shots, `${JSON.stringify({ input: "2+2", output: "4" })}\n${JSON.stringify({ input: "3+3", output: "6" })}\n`);
    const r = runCli(["generate", "--model", withTokenizer, "--prompt", "4+4", "--shots", shots, "--instruction", "Add.", "--max-new-tokens", "3", "--json"]);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    // The ids start with the few-shot prompt the qa template renders.
    const prompt = "Add.\n\nQuestion: 2+2\nAnswer: 4\n\nQuestion: 3+3\nAnswer: 6\n\nQuestion: 4+4\nAnswer:";
    const tokenized = JSON.parse(runCli(["tokenize", "--tokenizer", withTokenizer, "--json", prompt]).stdout).ids as number[];
    expect(out.ids[0].slice(0, tokenized.length)).toEqual(tokenized);
    const chat = runCli(["generate", "--model", withTokenizer, "--prompt", "hi", "--chat", "--system", "Be brief.", "--max-new-tokens", "3", "--json"]);
    const chatIds = JSON.parse(runCli(["tokenize", "--tokenizer", withTokenizer, "--json", "<s>system: Be brief.</s><s>user: hi</s><s>assistant:"]).stdout).ids as number[];
    expect(JSON.parse(chat.stdout).ids[0].slice(0, chatIds.length)).toEqual(chatIds);
  });

  it.each([
    [["--temperature", "hot"], /--temperature: expected a number/],
    [["--top-p", "1.5"], /option --top-p = 1.5/],
    [["--top-k", "2.5"], /--top-k: expected an integer/],
    [["--num-beams", "0"], /option --num-beams/],
    [["--no-repeat-ngram-size", "-1"], /option --no-repeat-ngram-size/],
    [["--early-stopping", "sometimes"], /--early-stopping: expected true, false or never/],
    [["--num-beams", "2", "--num-return-sequences", "3"], /option --num-return-sequences/],
    [["--max-new-tokens", "100"], /context window of 64/],
    [["--eos-token-id", "1,x"], /--eos-token-id: expected an integer/],
  ])("bad option %j is an error naming it", (args, message) => {
    const r = runCli(["generate", "--model", path.join(fixturesDir, "gpt2"), "--input-ids", "1,2,3", ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("a prompt longer than the context window is an error, or cut from the left with --truncate", () => {
    const ids = Array.from({ length: 60 }, (_, i) => 3 + i).join(",");
    const base = ["generate", "--model", path.join(fixturesDir, "gpt2"), "--input-ids", ids, "--max-new-tokens", "8", "--json"];
    const r = runCli(base);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/60 tokens.*context window of 64.*--truncate/);
    const cut = JSON.parse(runCli([...base, "--truncate"]).stdout).ids[0] as number[];
    expect(cut).toHaveLength(64);
    expect(cut.slice(0, 56)).toEqual(Array.from({ length: 56 }, (_, i) => 7 + i));
  });

  it("needs a prompt, and a tokenizer for text", () => {
    expect(runCli(["generate", "--model", path.join(fixturesDir, "gpt2")]).stderr).toMatch(/--prompt/);
    expect(runCli(["generate", "--model", path.join(fixturesDir, "gpt2"), "--prompt", "hi"]).stderr).toMatch(/needs a tokenizer/);
  });
});
