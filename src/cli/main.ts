#!/usr/bin/env node
import { Command } from "commander";
import { commands } from "./commands.js";
import { LmforgeError } from "../errors.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("lmforge")
    .description("A TypeScript toolkit for the whole life of a large language model.")
    .version("0.1.0");
  for (const register of commands) register(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof LmforgeError) {
      process.stderr.write(`lmforge: ${err.name}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

await main();
