import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  corpusBleu,
  corpusChrf,
  evaluate,
  exactMatch,
  loadTask,
  loglikelihood,
  perplexity,
  rouge,
  squadF1,
  type EvalModel,
} from "../../src/evaluation/index.js";
import type { PreTrainedModel } from "../../src/models/index.js";
import { zeros, type Tensor } from "../../src/tensor/index.js";
import { fixtureModel } from "../helpers/parity.js";
import { tinyTokenizer } from "./harness-fixtures.js";

const tok = tinyTokenizer();
let gpt2: PreTrainedModel;
let llama: PreTrainedModel;
let t5: PreTrainedModel;
let bart: PreTrainedModel;

beforeAll(async () => {
  [gpt2, llama, t5, bart] = await Promise.all(["gpt2", "llama", "t5", "bart"].map(fixtureModel));
});

/** Writes a task file and its dataset into a fresh folder; returns the task file's path. */
function writeTask(yaml: string, files: Record<string, unknown[]>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "lmforge-harness-"));
  for (const [name, records] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }
  const file = path.join(dir, "task.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** log-softmax of one row, in float64, written out here rather than taken from lmforge. */
function logProb(row: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[id]! - max - Math.log(sum);
}

/** Σ log p(continuation tokens) from one forward pass over the whole causal sequence. */
function referenceLoglikelihood(model: PreTrainedModel, contextIds: number[], continuationIds: number[]): number {
  const all = [...contextIds, ...continuationIds];
  const logits = model.forward({ inputIds: [all] }).logits;
  const vocab = logits.shape[2]!;
  const data = logits.floatData;
  let ll = 0;
  continuationIds.forEach((id, k) => {
    const pos = contextIds.length - 1 + k; // the position whose logits predict continuation token k
    ll += logProb(data.subarray(pos * vocab, (pos + 1) * vocab), id);
  });
  return ll;
}

describe("loglikelihood", () => {
  const context = "Question: A cat says\nAnswer:";

  it("equals the log-softmax sum of the continuation tokens for a causal LM (GPT-2 and LLaMA fixtures)", () => {
    const contextIds = tok.encode(context, { addSpecialTokens: false }).ids;
    const continuationIds = tok.encode(" meow", { addSpecialTokens: false }).ids;
    // The pair splits cleanly here, so the hand-built split is the one lm-eval's difference rule finds.
    expect(tok.encode(context + " meow", { addSpecialTokens: false }).ids).toEqual([...contextIds, ...continuationIds]);
    for (const model of [gpt2, llama]) {
      const expected = referenceLoglikelihood(model, contextIds, continuationIds);
      const r = loglikelihood(model, tok, context, " meow");
      expect(r.tokens).toBe(continuationIds.length);
      expect(r.loglikelihood).toBeCloseTo(expected, 4);
      expect(r.loglikelihood).toBeLessThan(0);
    }
  });

  it("moves the context's trailing whitespace into the continuation, as lm-eval does", () => {
    const a = loglikelihood(gpt2, tok, context + " ", "meow");
    const b = loglikelihood(gpt2, tok, context, " meow");
    expect(a).toEqual(b);
  });

  it("scores an encoder-decoder's continuation as decoder labels (T5 fixture)", () => {
    const contextIds = tok.encode(context).ids;
    const continuationIds = tok.encode(" meow", { addSpecialTokens: false }).ids;
    const logits = t5.forward({ inputIds: [contextIds], labels: [continuationIds] }).logits;
    const vocab = logits.shape[2]!;
    let expected = 0;
    continuationIds.forEach((id, k) => (expected += logProb(logits.floatData.subarray(k * vocab, (k + 1) * vocab), id)));
    expect(loglikelihood(t5, tok, context, " meow").loglikelihood).toBeCloseTo(expected, 4);
  });

  it("rejects token ids beyond the model's vocabulary", () => {
    const big = { encode: (text: string) => ({ ids: text === "a" ? [5] : [5, 400] }) } as unknown as typeof tok;
    expect(() => loglikelihood(gpt2, big, "a", "b")).toThrow(/token id 400.*320 tokens/);
  });
});

describe("evaluate: multiple choice", () => {
  const records = [
    { question: "A cat says", options: ["moo", "meow", "quack"], answer: 1 },
    { question: "The sky on a clear day is", options: ["blue", "green", "loud"], answer: "blue" },
  ];
  const yaml = `name: mc\ntype: multiple_choice\ndataset: mc.jsonl\ntemplate: "Question: {{question}}\\nAnswer:"\nchoices: options\ntarget: answer\nmetrics: [accuracy, f1]\n`;

  it("picks the option with the highest log-likelihood and normalizes acc_norm by characters", async () => {
    const task = loadTask(writeTask(yaml, { "mc.jsonl": records }));
    const models: EvalModel[] = [{ name: "gpt2", model: gpt2, tokenizer: tok }, { name: "llama", model: llama, tokenizer: tok }];
    const result = await evaluate({ models, task });
    expect(result.metricNames).toEqual(["acc", "acc_norm", "f1"]);
    let differs = false;
    for (const m of result.models) {
      const accs: number[] = [];
      const norms: number[] = [];
      records.forEach((rec, i) => {
        const prompt = `Question: ${rec.question}\nAnswer:`;
        const gold = typeof rec.answer === "number" ? rec.answer : rec.options.indexOf(rec.answer);
        const contextIds = tok.encode(prompt, { addSpecialTokens: false }).ids;
        const lls = rec.options.map((o) => {
          const whole = tok.encode(`${prompt} ${o}`, { addSpecialTokens: false }).ids;
          return referenceLoglikelihood(models.find((x) => x.name === m.name)!.model, contextIds, whole.slice(contextIds.length));
        });
        const e = m.examples[i]!;
        e.choices!.forEach((c, k) => expect(c.loglikelihood).toBeCloseTo(lls[k]!, 4));
        const pick = lls.indexOf(Math.max(...lls));
        const normed = lls.map((ll, k) => ll / rec.options[k]!.length);
        const pickNorm = normed.indexOf(Math.max(...normed));
        if (pick !== pickNorm) differs = true;
        expect(e.prompt).toBe(prompt);
        expect(e.target).toBe(rec.options[gold]);
        expect(e.prediction).toBe(rec.options[pick]);
        expect(e.predictionNorm).toBe(rec.options[pickNorm]);
        accs.push(pick === gold ? 1 : 0);
        norms.push(pickNorm === gold ? 1 : 0);
      });
      expect(m.metrics.acc).toBe(accs.reduce((a, b) => a + b) / accs.length);
      expect(m.metrics.acc_norm).toBe(norms.reduce((a, b) => a + b) / norms.length);
    }
    // The fixtures give at least one example where raw and normalized picks differ, so both paths are exercised.
    expect(differs).toBe(true);
  });

  it("acc and acc_norm differ in a hand-computed case: uniform logits give ll = -tokens * ln(vocab)", async () => {
    // A model whose logits are all 0 gives every token log(1/320); an option's log-likelihood is then
    // -k ln 320 for its k tokens. "x" is one byte token (1 char); " the cafe" merges into fewer tokens than its
    // 8 characters (the delimiter is not counted, as lm-eval's len(choice)).
    const uniform = {
      config: { vocabSize: 320, bosTokenId: 1, eosTokenId: 2, padTokenId: 0 },
      isEncoderDecoder: false,
      maxPositionEmbeddings: null,
      forward: (inputs: { inputIds: number[][] }): { logits: Tensor } => ({ logits: zeros([1, inputs.inputIds[0]!.length, 320]) }),
    } as unknown as PreTrainedModel;
    const options = ["x", "the cafe"];
    const k = options.map((o) => tok.encode(`Answer: ${o}`, { addSpecialTokens: false }).ids.length - tok.encode("Answer:", { addSpecialTokens: false }).ids.length);
    expect(k[0]).toBe(2); // " " and "x"
    expect(k[1]! / 8).toBeLessThan(k[0]! / 1);
    const task = loadTask(writeTask(`name: u\ntype: multiple_choice\ndataset: u.jsonl\ntemplate: "Answer:"\nchoices: options\ntarget: answer\n`, {
      "u.jsonl": [{ options, answer: 1 }],
    }));
    const r = await evaluate({ models: [{ name: "uniform", model: uniform, tokenizer: tok }], task });
    const e = r.models[0]!.examples[0]!;
    expect(e.choices!.map((c) => c.loglikelihood)).toEqual(k.map((n) => expect.closeTo(-n * Math.log(320), 9)));
    // acc: fewer tokens wins ("x", wrong); acc_norm: -k1 ln320 / 8 > -k0 ln320 / 1 ("the cafe", right).
    expect(r.models[0]!.metrics).toEqual({ acc: 0, acc_norm: 1 });
  });
});

describe("evaluate: generation", () => {
  const records = [
    { dialogue: "A: Lunch at noon? B: Yes.", summary: "They meet for lunch." },
    { dialogue: "A: Is it done? B: Tomorrow.", summary: ["It is done tomorrow.", "Done tomorrow."] },
    { dialogue: "A: Feed the cat? B: Sure.", summary: "B will feed the cat." },
  ];
  const yaml = `name: sum\ntype: generate\ndataset: d.jsonl\ntemplate: "Dialogue: {{dialogue}}\\nSummary:"\ntarget: summary\nmetrics: [rouge, bleu, chrf, exact_match, f1]\ngeneration: { max_new_tokens: 6, stop: ["\\n"] }\n`;

  it("scores predictions with the metric functions", async () => {
    const task = loadTask(writeTask(yaml, { "d.jsonl": records }));
    const canned = ["They meet for lunch.", "done tomorrow", "the cat is fed"];
    const seen: string[] = [];
    const result = await evaluate({
      models: [{ name: "canned", model: gpt2, tokenizer: tok }],
      task,
      generate: (_m, _t, prompt, o) => {
        expect(o).toEqual({ maxNewTokens: 6, stop: ["\n"] });
        seen.push(prompt);
        return canned[seen.length - 1]!;
      },
    });
    expect(seen).toEqual(records.map((r) => `Dialogue: ${r.dialogue}\nSummary:`));
    const refs = records.map((r) => (typeof r.summary === "string" ? [r.summary] : r.summary));
    const m = result.models[0]!;
    const rg = rouge(canned, refs);
    expect(m.metrics.rouge1).toBe(rg.mean.rouge1!.fmeasure);
    expect(m.metrics.rougeL).toBe(rg.mean.rougeL!.fmeasure);
    expect(m.metrics.rougeLsum).toBe(rg.mean.rougeLsum!.fmeasure);
    expect(m.metrics.bleu).toBe(corpusBleu(canned, [refs.map((r) => r[0]!), refs.map((r) => r[1] ?? null)]).score);
    expect(m.metrics.chrf).toBe(corpusChrf(canned, [refs.map((r) => r[0]!), refs.map((r) => r[1] ?? null)]).score);
    expect(m.metrics.exact_match).toBe(exactMatch(canned, refs));
    expect(m.metrics.exact_match).toBeCloseTo(2 / 3, 12); // "They meet for lunch." and "done tomorrow" (SQuAD normalization)
    expect(m.metrics.f1).toBe(squadF1(canned, refs));
    expect(m.examples.map((e) => e.prediction)).toEqual(canned);
    expect(m.examples[1]!.target).toBe("It is done tomorrow.");
    expect(m.examples[2]!.scores.rouge1).toBe(rg.scores.rouge1![2]!.fmeasure);
  });

  it("greedy predictions (causal and encoder-decoder) equal an argmax loop without cache; empty predictions are reported", async () => {
    const task = loadTask(writeTask(yaml, { "d.jsonl": records }));
    const result = await evaluate({ models: [{ name: "gpt2", model: gpt2, tokenizer: tok }], task });
    records.forEach((r, i) => {
      const ids = tok.encode(`Dialogue: ${r.dialogue}\nSummary:`, { addSpecialTokens: false }).ids;
      const out: number[] = [];
      let text = "";
      for (let step = 0; step < 6; step++) {
        const logits = gpt2.forward({ inputIds: [[...ids, ...out]] }).logits;
        const vocab = logits.shape[2]!;
        const row = Array.from(logits.floatData.subarray((logits.shape[1]! - 1) * vocab));
        const next = row.indexOf(Math.max(...row));
        if (next === 2) break; // the fixture's eos_token_id
        out.push(next);
        text = tok.decode(out, { skipSpecialTokens: true });
        if (text.includes("\n")) {
          text = text.slice(0, text.indexOf("\n"));
          break;
        }
      }
      expect(result.models[0]!.examples[i]!.prediction).toBe(text);
    });
    expect(result.models[0]!.examples.some((e) => e.prediction.length > 0)).toBe(true);
    // BART: the prompt (with special tokens) goes to the encoder; the decoder starts from decoder_start_token_id 2,
    // and generation_config.json's forced_eos_token_id makes the 6th new token EOS, so at most 5 tokens of text.
    const bartResult = await evaluate({ models: [{ name: "bart", model: bart, tokenizer: tok }], task });
    const bartTexts = records.map((r) => {
      const encoderIds = tok.encode(`Dialogue: ${r.dialogue}\nSummary:`).ids;
      const out: number[] = [];
      for (let step = 0; step < 5; step++) {
        const logits = bart.forward({ inputIds: [encoderIds], decoderInputIds: [[2, ...out]] }).logits;
        const vocab = logits.shape[2]!;
        const row = Array.from(logits.floatData.subarray((logits.shape[1]! - 1) * vocab));
        const next = row.indexOf(Math.max(...row));
        if (next === 2) break; // BART's eos_token_id
        out.push(next);
      }
      const text = tok.decode(out, { skipSpecialTokens: true });
      return text.includes("\n") ? text.slice(0, text.indexOf("\n")) : text;
    });
    expect(bartResult.models[0]!.examples.map((e) => e.prediction)).toEqual(bartTexts);
    expect(bartTexts.some((t) => t.length > 0)).toBe(true);
    const empty = await evaluate({ models: [{ name: "mute", model: gpt2, tokenizer: tok }], task, generate: () => "" });
    expect(empty.models[0]!.warnings).toEqual(["mute: 3 of 3 predictions are empty"]);
  });
});

describe("evaluate: loglikelihood and perplexity tasks", () => {
  it("loglikelihood: perplexity = exp(-mean ll), acc = share of greedy targets", async () => {
    const records = [{ q: "A cat says", a: "meow" }, { q: "Ice is", a: "cold" }];
    const task = loadTask(writeTask(`name: ll\ntype: loglikelihood\ndataset: l.jsonl\ntemplate: "{{q}}"\ntarget: a\n`, { "l.jsonl": records }));
    const r = await evaluate({ models: [{ name: "llama", model: llama, tokenizer: tok }], task });
    const lls = records.map((x) => loglikelihood(llama, tok, x.q, ` ${x.a}`));
    expect(r.models[0]!.metrics.perplexity).toBeCloseTo(Math.exp(-(lls[0]!.loglikelihood + lls[1]!.loglikelihood) / 2), 9);
    expect(r.models[0]!.metrics.acc).toBe(lls.filter((l) => l.isGreedy).length / 2);
  });

  it("perplexity: pooled over every token, as perplexity() over all sequences", async () => {
    const records = [{ text: "They meet for lunch at the cafe." }, { text: "The keys are on the desk." }];
    const task = loadTask(writeTask(`name: p\ntype: perplexity\ndataset: p.jsonl\ntemplate: "{{text}}"\n`, { "p.jsonl": records }));
    const r = await evaluate({ models: [{ name: "gpt2", model: gpt2, tokenizer: tok }], task });
    const seqs = records.map((x) => tok.encode(x.text).ids);
    expect(r.models[0]!.metrics.perplexity).toBeCloseTo(perplexity(gpt2, seqs).perplexity, 6);
    expect(r.models[0]!.examples[1]!.scores.perplexity).toBeCloseTo(perplexity(gpt2, seqs[1]!).perplexity, 6);
    const t5Task = evaluate({ models: [{ name: "t5", model: t5, tokenizer: tok }], task });
    await expect(t5Task).rejects.toThrow(/t5: perplexity tasks need a causal LM/);
  });
});
