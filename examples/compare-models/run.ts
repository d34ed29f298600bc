/**
 * Compare two models side by side on two small tasks and write HTML reports.
 *
 *   npx tsx examples/compare-models/run.ts [output-dir]
 *
 * The models are derived from the tiny random-weight GPT-2 fixture (vocabulary 320): "base" is the fixture as
 * is; "tuned" is a copy fine-tuned for a few AdamW steps on the task data. Both get a byte-level BPE tokenizer
 * trained here to fit their 320 ids. The numbers show the mechanism, not the quality of any real model — and the
 * tuned model has seen the evaluation data, which a real comparison must never allow.
 */
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { evaluate, formatTable, loadTask, writeHtmlReport, type EvalModel } from "../../src/evaluation/index.js";
import { loadModel, type PreTrainedModel } from "../../src/models/index.js";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizers/index.js";
import { saveTokenizerJson, trainTokenizer } from "../../src/tokenizers/trainers/index.js";
import { AdamW } from "../../src/training/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? path.join(tmpdir(), "lmforge-compare-models"));
const fixture = path.join(here, "../../test/fixtures/hf/gpt2");
const STEPS = 120;

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(here, "data", file), "utf8")).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Training texts written the way the task templates render them, answer included, ending in </s>. */
async function trainingTexts(): Promise<string[]> {
  const dialogues = (await readJsonl("dialogues.jsonl")).map((r) => `Dialogue: ${r.dialogue}\nSummary: ${r.summary}</s>`);
  const choices = (await readJsonl("choices.jsonl")).map((r) => {
    const options = r.options as string[];
    return `Question: ${r.question}\nAnswer: ${options[r.answer as number]}</s>`;
  });
  return [...dialogues, ...choices];
}

/** AdamW steps over the texts in turn, one sequence per step, causal LM loss with labels = inputs. */
function fineTune(model: PreTrainedModel, tokenizer: Tokenizer, texts: string[]): number[] {
  const optimizer = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const ids = tokenizer.encode(texts[step % texts.length]!, { addSpecialTokens: false }).ids;
    optimizer.zeroGrad();
    const { loss } = model.forward({ inputIds: [ids], labels: [ids] });
    loss!.backward();
    optimizer.step();
    losses.push(loss!.item());
  }
  return losses;
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const texts = await trainingTexts();
  // 3 special tokens at the fixture's pad/bos/eos ids (0, 1, 2), the 256 bytes, then 61 merges.
  const tokenizerJson = trainTokenizer({ type: "bpe", texts, vocabSize: 320, specialTokens: ["<pad>", "<s>", "</s>"] });

  const dirs = { base: path.join(out, "base"), tuned: path.join(out, "tuned") };
  const base = await loadModel(fixture);
  await base.save(dirs.base);
  saveTokenizerJson(tokenizerJson, dirs.base);

  const tuned = await loadModel(fixture);
  const tokenizer = await loadTokenizer(dirs.base);
  const losses = fineTune(tuned, tokenizer, texts);
  console.log(`fine-tuned ${STEPS} steps: loss ${losses[0]!.toFixed(3)} -> ${losses[losses.length - 1]!.toFixed(3)}`);
  await tuned.save(dirs.tuned);
  saveTokenizerJson(tokenizerJson, dirs.tuned);

  // Load both back from disk, as `lmforge eval --model <dir>` would.
  const models: EvalModel[] = [];
  for (const [name, dir] of Object.entries(dirs)) models.push({ name, model: await loadModel(dir), tokenizer: await loadTokenizer(dir) });

  for (const taskFile of ["summarize.yaml", "choices.yaml"]) {
    const task = loadTask(path.join(here, taskFile));
    const result = await evaluate({ models, task });
    const report = path.join(out, `${task.name}.html`);
    await writeHtmlReport(result, report);
    console.log(`\n${task.name} (${task.type}, ${task.examples.length} examples)\n`);
    console.log(formatTable(result, { markdown: true }));
    console.log(`\nreport: ${report}`);
  }
  console.log(`\nsame comparison from the CLI:\n  lmforge eval --model ${dirs.base} --model ${dirs.tuned} --task ${path.join(here, "summarize.yaml")} --report report.html`);
}

await main();
