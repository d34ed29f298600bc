import { cliHubOptions } from "./hub-options.js";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { GenerationError, generate, generateStream, validateGenerationOptions, type GenerateInput, type GenerateOptions, type GenerationOptions } from "../generation/index.js";
import { loadModel, type PreTrainedModel } from "../models/index.js";
import { buildPrompt, loadShots, PROMPT_TEMPLATES, type PromptTemplateName } from "../prompting/index.js";
import { loadTokenizer, type Tokenizer } from "../tokenizers/index.js";

/** Flag -> option, with how its value is read. Every generation option a user is likely to set on a command line. */
const FLAGS: { flag: string; option: keyof GenerationOptions; kind: "int" | "number" | "ids" | "early"; help: string }[] = [
  { flag: "max-new-tokens", option: "maxNewTokens", kind: "int", help: "tokens to generate at most" },
  { flag: "min-new-tokens", option: "minNewTokens", kind: "int", help: "EOS is suppressed before this many new tokens" },
  { flag: "temperature", option: "temperature", kind: "number", help: "sampling temperature" },
  { flag: "top-k", option: "topK", kind: "int", help: "sample among the k most likely tokens (0: off)" },
  { flag: "top-p", option: "topP", kind: "number", help: "nucleus sampling: smallest set with this probability mass" },
  { flag: "min-p", option: "minP", kind: "number", help: "drop tokens below min-p times the top probability" },
  { flag: "typical-p", option: "typicalP", kind: "number", help: "locally typical sampling mass" },
  { flag: "repetition-penalty", option: "repetitionPenalty", kind: "number", help: "penalty for tokens already present (> 1 discourages)" },
  { flag: "no-repeat-ngram-size", option: "noRepeatNgramSize", kind: "int", help: "never repeat an n-gram of this size" },
  { flag: "num-beams", option: "numBeams", kind: "int", help: "beam search with this many beams" },
  { flag: "length-penalty", option: "lengthPenalty", kind: "number", help: "beam scores are divided by length ** this" },
  { flag: "early-stopping", option: "earlyStopping", kind: "early", help: "beam search stopping: true, false or never" },
  { flag: "num-return-sequences", option: "numReturnSequences", kind: "int", help: "sequences per prompt (sampling or beams)" },
  { flag: "eos-token-id", option: "eosTokenId", kind: "ids", help: "end-of-sequence token id(s), comma-separated" },
  { flag: "pad-token-id", option: "padTokenId", kind: "int", help: "token that fills finished rows and pads prompts" },
  { flag: "seed", option: "seed", kind: "int", help: "seed of the sampling generator" },
];

/** commander's attribute name of a flag (a leading "no-" is commander's negation: the value lands without it). */
export function flagAttribute(flag: string): string {
  const name = flag.startsWith("no-") ? flag.slice(3) : flag;
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds the generation flags shared by `generate` and `chat`. */
export function addGenerationFlags(command: Command): Command {
  for (const f of FLAGS) command.option(`--${f.flag} <${f.kind === "ids" ? "ids" : f.kind === "early" ? "mode" : "n"}>`, f.help);
  return command
    .option("--do-sample", "sample instead of taking the most likely token")
    .option("--stop <text>", "stop when the text ends with this string (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--logprobs", "report each new token's log-probability (with --json)")
    .option("--truncate", "cut a prompt that does not fit the context window from the left instead of failing");
}

function fail(flag: string, expected: string, value: unknown): never {
  throw new GenerationError(`option --${flag}: expected ${expected}, got ${JSON.stringify(value)}`);
}

function parseInt10(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) fail(flag, "an integer", text);
  return Number(text);
}

/** Reads the generation flags into options; invalid values are errors naming the flag. */
export function readGenerationFlags(opts: Record<string, unknown>): GenerateOptions {
  const out: Record<string, unknown> = {};
  for (const f of FLAGS) {
    const raw = opts[flagAttribute(f.flag)];
    if (typeof raw !== "string") continue; // unset (commander gives a negated flag the default true)
    switch (f.kind) {
      case "int":
        out[f.option] = parseInt10(f.flag, raw);
        break;
      case "number": {
        const n = Number(raw);
        if (raw.trim() === "" || !Number.isFinite(n)) fail(f.flag, "a number", raw);
        out[f.option] = n;
        break;
      }
      case "ids": {
        const ids = raw.split(",").map((s) => parseInt10(f.flag, s));
        out[f.option] = ids.length === 1 ? ids[0] : ids;
        break;
      }
      case "early":
        if (raw !== "true" && raw !== "false" && raw !== "never") fail(f.flag, "true, false or never", raw);
        out[f.option] = raw === "never" ? "never" : raw === "true";
        break;
    }
  }
  if (opts.doSample) out.doSample = true;
  if (Array.isArray(opts.stop)) out.stopStrings = opts.stop;
  if (opts.logprobs) out.returnLogprobs = true;
  if (opts.truncate) out.truncate = true;
  return checkGenerateOptions(out as GenerateOptions);
}

/** Validates the generation options among `options`; errors name the flags. */
export function checkGenerateOptions(options: GenerateOptions): GenerateOptions {
  const { truncate: _truncate, addSpecialTokens: _add, ...generation } = options;
  try {
    validateGenerationOptions(generation);
  } catch (err) {
    throw renameOption(err);
  }
  return options;
}

/** A GenerationError names the camelCase option; on the command line the flag is what the user typed. */
export function renameOption(err: unknown): unknown {
  if (!(err instanceof GenerationError)) return err;
  const names: [string, string][] = [...FLAGS.map((f): [string, string] => [f.option, f.flag]), ["stopStrings", "stop"], ["doSample", "do-sample"]];
  let message = err.message.replace(/\boption (\w+)/g, (whole, name: string) => {
    const flag = names.find(([option]) => option === name)?.[1];
    return flag ? `option --${flag}` : whole;
  });
  for (const [option, flag] of names) if (/[A-Z]/.test(option)) message = message.replace(new RegExp(`\\b${option}\\b`, "g"), `--${flag}`);
  return message === err.message ? err : new GenerationError(message);
}

/** The model, and the tokenizer: --tokenizer, else the model folder's tokenizer.json, else none. */
export async function loadModelAndTokenizer(
  opts: { model: string; tokenizer?: string; revision?: string },
): Promise<{ model: PreTrainedModel; tokenizer: Tokenizer | null }> {
  const hub = cliHubOptions(opts.revision);
  const model = await loadModel(opts.model, hub);
  let tokenizer: Tokenizer | null = null;
  if (opts.tokenizer) tokenizer = await loadTokenizer(opts.tokenizer, hub);
  else if (isDirectory(opts.model)) {
    if (existsSync(path.join(opts.model, "tokenizer.json"))) tokenizer = await loadTokenizer(opts.model);
  } else {
    tokenizer = await loadTokenizer(opts.model, hub).catch(() => null);
  }
  return { model, tokenizer };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** "--input-ids 1,2,3" rows: the flag repeats, and one value may hold several rows separated by ";". */
function parseInputIds(values: string[]): number[][] {
  const rows = values.flatMap((v) => v.split(";")).map((r) => r.trim()).filter((r) => r.length > 0);
  if (rows.length === 0) fail("input-ids", "comma-separated token ids", values.join(" "));
  return rows.map((r) => r.split(/[\s,]+/).filter(Boolean).map((s) => parseInt10("input-ids", s)));
}

interface GenerateFlags extends Record<string, unknown> {
  model: string;
  tokenizer?: string;
  revision?: string;
  prompt?: string[];
  inputIds?: string[];
  shots?: string;
  instruction?: string;
  template?: string;
  chat?: boolean;
  system?: string;
  stream?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function register(program: Command): void {
  const command = program
    .command("generate")
    .description("Generate text (or token ids) with a model: greedy, sampling or beam search")
    .requiredOption("-m, --model <dir|hub id>", "model folder (config.json + safetensors) or hub id")
    .option("-p, --prompt <text>", "prompt text (repeatable: a batch)", collect)
    .option("--input-ids <ids>", 'prompt token ids "1,2,3" (repeatable, or rows separated by ";"), for models without a tokenizer', collect)
    .option("-t, --tokenizer <dir|file|hub id>", "tokenizer (default: the model folder's tokenizer.json)")
    .option("--revision <rev>", "hub revision when --model / --tokenizer is a hub id")
    .option("--shots <file.jsonl>", 'few-shot examples, one {"input", "output"} per line; the prompt is the query')
    .option("--instruction <text>", "task description placed before the examples (with --shots, or alone)")
    .option("--template <name>", `few-shot prompt template: ${Object.keys(PROMPT_TEMPLATES).join(", ")}`)
    .option("--chat", "wrap the prompt in the tokenizer's chat template (user turn, generation prompt)")
    .option("--system <text>", "system message (with --chat)")
    .option("--stream", "print the text as it is generated")
    .option("--json", 'print {"ids": [[...]], "text": [...], "finish_reason": [...]} on stdout');
  addGenerationFlags(command).action(async (opts: GenerateFlags) => {
    const options = readGenerationFlags(opts);
    if (opts.prompt && opts.inputIds) throw new GenerationError("give either --prompt or --input-ids, not both");
    if (!opts.prompt && !opts.inputIds) throw new GenerationError("give a prompt with --prompt, or token ids with --input-ids");
    if (opts.stream && opts.json) throw new GenerationError("--stream prints text as it comes; it cannot be combined with --json");
    if (opts.template !== undefined && !(opts.template in PROMPT_TEMPLATES)) {
      fail("template", `one of ${Object.keys(PROMPT_TEMPLATES).join(", ")}`, opts.template);
    }
    const { model, tokenizer } = await loadModelAndTokenizer(opts);
    let input: GenerateInput;
    if (opts.inputIds) {
      if (opts.shots || opts.chat || opts.instruction) throw new GenerationError("--shots, --instruction and --chat build text prompts; use them with --prompt");
      input = parseInputIds(opts.inputIds);
    } else {
      if (!tokenizer) throw new GenerationError(`--prompt needs a tokenizer: ${opts.model} has no tokenizer.json; pass --tokenizer, or give --input-ids`);
      input = await buildPrompts(opts, opts.prompt!, tokenizer, model, options);
      if (opts.chat) options.addSpecialTokens = false; // the chat template writes the special tokens itself
    }
    try {
      if (opts.stream) {
        if (!tokenizer) throw new GenerationError("--stream prints text and needs a tokenizer");
        const stream = generateStream(model, tokenizer, input, options);
        for await (const piece of stream) process.stdout.write(piece);
        process.stdout.write("\n");
        return;
      }
      const out = await generate(model, tokenizer, input, options);
      if (opts.json) {
        const json: Record<string, unknown> = { ids: out.ids };
        if (out.text) json.text = out.text;
        json.finish_reason = out.finishReason;
        if (out.logprobs) json.logprobs = out.logprobs;
        process.stdout.write(`${JSON.stringify(json)}\n`);
      } else if (out.text) {
        process.stdout.write(out.text.map((t) => `${t}\n`).join(out.text.length > 1 ? "---\n" : ""));
      } else {
        process.stdout.write(out.ids.map((row) => `${row.join(" ")}\n`).join(""));
      }
    } catch (err) {
      throw renameOption(err);
    }
  });
}

/** Text prompts: as given, or built with few-shot examples / an instruction / the chat template. */
async function buildPrompts(opts: GenerateFlags, prompts: string[], tokenizer: Tokenizer, model: PreTrainedModel, options: GenerateOptions): Promise<string[]> {
  const fewShot = opts.shots !== undefined || opts.instruction !== undefined || opts.template !== undefined;
  if (opts.system !== undefined && !opts.chat) throw new GenerationError("--system applies to --chat");
  if (!fewShot && !opts.chat) return prompts;
  const examples = opts.shots ? await loadShots(opts.shots) : [];
  const contextWindow = model.maxPositionEmbeddings ?? Number.MAX_SAFE_INTEGER;
  const instruction = opts.instruction ?? opts.system;
  return prompts.map((query) => {
    if (!fewShot) {
      const messages = [...(opts.system !== undefined ? [{ role: "system" as const, content: opts.system }] : []), { role: "user" as const, content: query }];
      return tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: false });
    }
    const built = buildPrompt({
      query,
      examples,
      tokenizer,
      contextWindow,
      maxNewTokens: options.maxNewTokens ?? 20,
      chat: opts.chat === true,
      truncate: options.truncate === true,
      ...(instruction !== undefined ? { instruction } : {}),
      ...(opts.template !== undefined ? { template: opts.template as PromptTemplateName } : {}),
    });
    for (const warning of built.warnings) process.stderr.write(`lmforge: ${warning}\n`);
    return built.prompt;
  });
}
