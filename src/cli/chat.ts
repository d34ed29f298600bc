import { createInterface } from "node:readline";
import type { Command } from "commander";
import { GenerationError, generateStream, generationOptionsFromConfig, type GenerateOptions } from "../generation/index.js";
import { LmforgeError } from "../errors.js";
import type { PreTrainedModel } from "../models/index.js";
import type { ChatMessage, Tokenizer } from "../tokenizers/index.js";
import { addGenerationFlags, checkGenerateOptions, flagAttribute, loadModelAndTokenizer, readGenerationFlags, renameOption } from "./generate.js";

const HELP = "commands: /reset (clear the history), /params (show settings), /set <option> <value>, /exit";

interface ChatFlags extends Record<string, unknown> {
  model: string;
  tokenizer?: string;
  revision?: string;
  system?: string;
}

export function register(program: Command): void {
  const command = program
    .command("chat")
    .description("Chat with a model interactively (its tokenizer's chat template; replies stream as they are generated)")
    .requiredOption("-m, --model <dir|hub id>", "model folder (config.json + safetensors) or hub id")
    .option("-t, --tokenizer <dir|file|hub id>", "tokenizer with a chat template (default: the model folder's)")
    .option("--revision <rev>", "hub revision when --model / --tokenizer is a hub id")
    .option("--system <text>", "system message that starts every conversation");
  addGenerationFlags(command).action(async (flags: ChatFlags) => {
    let options = readGenerationFlags(flags);
    const { model, tokenizer } = await loadModelAndTokenizer(flags);
    if (!tokenizer) throw new GenerationError(`chat needs a tokenizer with a chat template: ${flags.model} has no tokenizer.json; pass --tokenizer`);
    const system: ChatMessage[] = flags.system !== undefined ? [{ role: "system", content: flags.system }] : [];
    let history: ChatMessage[] = [];
    const interactive = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
    const say = (text: string): void => void process.stdout.write(`${text}\n`);
    if (interactive) {
      say(HELP);
      rl.setPrompt("> ");
      rl.prompt();
    }
    for await (const raw of rl) {
      const line = raw.trim();
      try {
        if (line === "") {
          // nothing to say
        } else if (line === "/exit" || line === "/quit") {
          break;
        } else if (line === "/reset") {
          history = [];
          say("(history cleared)");
        } else if (line === "/params") {
          say(JSON.stringify(settings(model, options)));
        } else if (line.startsWith("/set")) {
          options = setOption(options, line.slice(4).trim());
          say(JSON.stringify(settings(model, options)));
        } else if (line.startsWith("/")) {
          process.stderr.write(`unknown command ${line.split(/\s/)[0]}; ${HELP}\n`);
        } else {
          history.push({ role: "user", content: line });
          const ids = fitHistory(tokenizer, model, system, history, options);
          const stream = generateStream(model, tokenizer, [ids], { ...options, addSpecialTokens: false });
          for await (const piece of stream) process.stdout.write(piece);
          process.stdout.write("\n");
          history.push({ role: "assistant", content: (await stream.result()).text![0]! });
        }
      } catch (err) {
        if (!(err instanceof LmforgeError)) throw err;
        // A bad /set or a reply that cannot be generated ends nothing: say why and go on.
        if (history.at(-1)?.role === "user") history.pop();
        const e = renameOption(err) as LmforgeError;
        process.stderr.write(`lmforge: ${e.name}: ${e.message}\n`);
      }
      if (interactive) rl.prompt();
    }
    rl.close();
  });
}

/** The conversation's prompt ids; the oldest turns are dropped while prompt + new tokens exceed the context. */
function fitHistory(tokenizer: Tokenizer, model: PreTrainedModel, system: ChatMessage[], history: ChatMessage[], options: GenerateOptions): number[] {
  const context = model.maxPositionEmbeddings;
  const newTokens = options.maxNewTokens ?? 20;
  for (;;) {
    const ids = tokenizer.applyChatTemplate([...system, ...history], { addGenerationPrompt: true });
    if (context === null || ids.length + newTokens <= context || history.length <= 1) return ids;
    history.splice(0, history.length > 2 ? 2 : 1);
  }
}

/** The settings a reply is generated with: the model's generation_config.json under the ones set here. */
function settings(model: PreTrainedModel, options: GenerateOptions): GenerateOptions {
  return { ...(model.generationConfig ? generationOptionsFromConfig(model.generationConfig) : {}), ...options };
}

/** "/set temperature 0.7", "/set max-new-tokens 32", "/set do-sample true". */
function setOption(options: GenerateOptions, args: string): GenerateOptions {
  const [key, ...rest] = args.split(/\s+/);
  const value = rest.join(" ");
  if (!key || value === "") throw new GenerationError("usage: /set <option> <value>, e.g. /set temperature 0.7");
  const flag = key.replace(/^--/, "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const switches: Record<string, keyof GenerateOptions> = { "do-sample": "doSample", logprobs: "returnLogprobs", truncate: "truncate" };
  let update: GenerateOptions;
  if (switches[flag]) {
    if (value !== "true" && value !== "false") throw new GenerationError(`option --${flag}: expected true or false, got ${JSON.stringify(value)}`);
    update = { [switches[flag]]: value === "true" };
  } else if (flag === "stop") {
    update = { stopStrings: [value] };
  } else {
    update = readGenerationFlags({ [flagAttribute(flag)]: value });
    if (Object.keys(update).length === 0) throw new GenerationError(`unknown option ${JSON.stringify(key)}; options are the generate command's flags`);
  }
  // The combination must still be valid (numReturnSequences against numBeams, temperature 0 with sampling, ...).
  return checkGenerateOptions({ ...options, ...update });
}
