import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EvaluationError, buildTaskPrompt, loadTask } from "../../src/evaluation/index.js";

const mc = [
  { q: "A cat says", options: ["moo", "meow"], answer: 1 },
  { q: "Ice is", options: ["cold", "hot"], answer: "cold" },
  { q: "Two plus two", options: ["four", "five"], answer: 0 },
];

function setup(task: string, files: Record<string, string> = {}, name = "task.yaml"): string {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-task-"));
  writeFileSync(path.join(dir, "mc.jsonl"), mc.map((r) => JSON.stringify(r)).join("\n") + "\n");
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  const file = path.join(dir, name);
  writeFileSync(file, task);
  return file;
}

const base = `name: mc\ntype: multiple_choice\ndataset: mc.jsonl\ntemplate: "Q: {{q}}\\nA:"\nchoices: options\ntarget: answer\n`;

describe("loadTask", () => {
  it("reads YAML with defaults, and the same task as JSON", () => {
    const t = loadTask(setup(base));
    expect(t).toMatchObject({ name: "mc", type: "multiple_choice", metrics: ["accuracy"], targetDelimiter: " ", fewshotSeparator: "\n\n" });
    expect(t.examples).toEqual(mc);
    const json = loadTask(setup(JSON.stringify({ name: "mc", type: "multiple_choice", dataset: "mc.jsonl", template: "Q: {{q}}\nA:", choices: "options", target: "answer" }), {}, "task.json"));
    expect(json.examples).toEqual(t.examples);
    expect(json.template).toBe(t.template);
  });

  it("builds few-shot prompts from the first n records (which are then not evaluated) or a fewshot_dataset", () => {
    const t = loadTask(setup(base + "fewshot: 2\n"));
    expect(t.examples).toEqual([mc[2]]);
    expect(buildTaskPrompt(t, t.examples[0]!, "x")).toBe("Q: A cat says\nA: meow\n\nQ: Ice is\nA: cold\n\nQ: Two plus two\nA:");
    const shots = JSON.stringify({ q: "Sky", options: ["blue", "red"], answer: 0 }) + "\n";
    const s = loadTask(setup(base + 'fewshot: 1\nfewshot_dataset: shots.jsonl\nfewshot_separator: "\\n###\\n"\nlimit: 2\n', { "shots.jsonl": shots }));
    expect(s.examples).toEqual(mc.slice(0, 2));
    expect(buildTaskPrompt(s, s.examples[1]!, "x")).toBe("Q: Sky\nA: blue\n###\nQ: Ice is\nA:");
    expect(loadTask(setup(base), { limit: 1 }).examples).toEqual([mc[0]]);
  });

  it("accepts a target template and generation settings", () => {
    const dir = setup(`name: g\ntype: generate\ndataset: mc.jsonl\ntemplate: "{{q}}"\ntarget: "{{q}} {{answer}}"\ngeneration: { max_new_tokens: 4, stop: "." }\n`);
    const t = loadTask(dir);
    expect(t.generation).toEqual({ maxNewTokens: 4, stop: ["."] });
    expect(t.target).toBe("{{q}} {{answer}}");
  });

  const bad: [string, string, RegExp][] = [
    ["a missing dataset", base.replace("mc.jsonl", "nope.jsonl"), /field "dataset": cannot read .*nope\.jsonl \(ENOENT\)/],
    ["an unknown metric", base + "metrics: [accuracy, bleurt]\n", /field "metrics" has unknown metric "bleurt"; expected some of rouge, bleu/],
    ["a metric the type cannot compute", base + "metrics: [rouge]\n", /field "metrics" has rouge, which a multiple_choice task cannot compute/],
    ["a missing required field", base.replace(/template:.*\n/, ""), /field "template" is required/],
    ["an unknown field", base + "shots: 2\n", /field "shots" is not a task field/],
    ["an unknown type", base.replace("multiple_choice", "mcq"), /field "type" must be one of generate, multiple_choice, loglikelihood, perplexity, got "mcq"/],
    ["a bad generation field", base.replace("multiple_choice", "generate").replace(/choices:.*\n/, "") + "generation: { maxNewTokens: 4 }\n", /field "generation.maxNewTokens" is not a generation field; expected one of max_new_tokens, stop/],
    ["too many shots", base + "fewshot: 5\n", /field "fewshot" asks for 5 examples but the dataset has 3/],
    ["a bad limit", base + "limit: -1\n", /field "limit" must be a non-negative integer, got -1/],
    ["no examples left", base + "limit: 0\n", /no examples to evaluate/],
    ["a template field a record lacks", base.replace("{{q}}", "{{question}}"), /mc\.jsonl: example 1: the template uses \{\{question\}\} but the record has no field "question"/],
    ["a target outside the options", base.replace("target: answer", "target: q"), /example 1: target "A cat says" must be an index into "options" \(0\.\.1\) or one of its strings/],
    ["a missing choices field", base.replace("choices: options", "choices: empty"), /example 1: field "empty" must be a list of at least 2 non-empty strings, got undefined/],
    ["choices on another type", base.replace("multiple_choice", "generate"), /field "choices" is only for type multiple_choice/],
    ["invalid YAML", "name: [unclosed\n", /task file .*task\.yaml: not valid YAML/],
    ["a list at the top", "- 1\n", /expected a mapping of fields/],
  ];
  it.each(bad)("rejects %s with an error naming the file and field", (_, yaml, message) => {
    const file = setup(yaml);
    let err: unknown;
    try {
      loadTask(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EvaluationError);
    expect((err as Error).message).toMatch(message);
    if (!/example 1|cannot read/.test((err as Error).message)) expect((err as Error).message).toContain(file);
  });

  it("names the line of invalid JSONL", () => {
    const file = setup(base, {}, "task.yaml");
    writeFileSync(path.join(path.dirname(file), "mc.jsonl"), '{"q": "a", "options": ["x", "y"], "answer": 0}\n{oops\n');
    expect(() => loadTask(file)).toThrow(/mc\.jsonl:2: not valid JSON/);
  });

  it("names a missing task file", () => {
    expect(() => loadTask("/nonexistent/task.yaml")).toThrow(/task file \/nonexistent\/task\.yaml: cannot read it \(ENOENT\)/);
  });
});
