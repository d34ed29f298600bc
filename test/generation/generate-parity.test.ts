import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generate } from "../../src/generation/index.js";
import { loadModel } from "../../src/models/index.js";
import { fixturesDir } from "../helpers/cli.js";

interface GenerationCase {
  input_ids: number[][];
  attention_mask?: number[][];
  pad_token_id?: number;
  num_beams?: number;
  max_new_tokens: number;
  output_ids: number[][];
}

const FAMILIES = ["gpt2", "llama", "qwen2", "qwen3", "gemma3", "t5", "flan-t5", "bart"];
const CASES = ["greedy", "beam3", "left_padded_greedy"];

// Every fixture case with generated ids: transformers 5 generate(do_sample=False) with the saved generation_config.json.
describe.each(FAMILIES)("generate() matches transformers on the %s fixture", (family) => {
  const reference = JSON.parse(readFileSync(path.join(fixturesDir, family, "reference.json"), "utf8")) as { cases: Record<string, GenerationCase> };
  const cases = CASES.filter((name) => reference.cases[name]);

  it("has generation cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
  });

  it.each(cases)("%s", async (name) => {
    const c = reference.cases[name]!;
    const model = await loadModel(path.join(fixturesDir, family));
    const out = await generate(model, null, c.input_ids, {
      maxNewTokens: c.max_new_tokens,
      doSample: false,
      ...(c.num_beams ? { numBeams: c.num_beams } : {}),
      ...(c.pad_token_id !== undefined ? { padTokenId: c.pad_token_id } : {}),
      ...(c.attention_mask ? { attentionMask: c.attention_mask } : {}),
    });
    expect(out.ids).toEqual(c.output_ids);
    expect(out.finishReason).toHaveLength(c.output_ids.length);
  });
});

describe("without generation_config.json", () => {
  it("takes the generation fields of config.json, as GenerationConfig.from_model_config (BART's forced EOS)", async () => {
    const c = (JSON.parse(readFileSync(path.join(fixturesDir, "bart", "reference.json"), "utf8")) as { cases: Record<string, GenerationCase> }).cases.greedy!;
    const model = await loadModel(path.join(fixturesDir, "bart"));
    model.generationConfig = null;
    const out = await generate(model, null, c.input_ids, { maxNewTokens: c.max_new_tokens, attentionMask: c.attention_mask! });
    expect(out.ids).toEqual(c.output_ids);
    // Without it, the rows do not end in EOS at the last step: the processor made the difference.
    const { forced_eos_token_id: _forced, ...raw } = model.config.raw;
    model.config.raw = raw;
    const free = await generate(model, null, c.input_ids, { maxNewTokens: c.max_new_tokens, attentionMask: c.attention_mask! });
    expect(free.ids).not.toEqual(c.output_ids);
  });
});
