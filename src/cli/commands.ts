import type { Command } from "commander";
import { register as evalMetrics } from "./eval-metrics.js";
import { register as evalCommand } from "./eval.js";
import { register as tokenize } from "./tokenize.js";
import { register as models } from "./models.js";
import { register as inspect } from "./inspect.js";
import { register as trainTokenizer } from "./train-tokenizer.js";
import { register as generate } from "./generate.js";
import { register as chat } from "./chat.js";

/** Each CLI command lives in its own file and registers itself on the program; add new ones here. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [evalMetrics, evalCommand, tokenize, models, inspect, trainTokenizer, generate, chat];
