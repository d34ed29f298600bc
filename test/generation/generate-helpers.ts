/** Test helpers for generation: a byte-level BPE tokenizer that fits the 320-token fixture models, and scripted models. */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { KVCache } from "../../src/models/cache.js";
import { PreTrainedModel, toIds, type ModelInputs, type ModelOutput } from "../../src/models/model.js";
import { Tensor, zeros } from "../../src/tensor/tensor.js";
import { fixturesDir } from "../helpers/cli.js";

/** GPT-2's byte -> printable character table (bytes_to_unicode in openai/gpt-2's encoder.py). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return table;
}

export const CHAT_TEMPLATE =
  "{% for m in messages %}<s>{{ m.role }}: {{ m.content }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant:{% endif %}";

/**
 * Writes tokenizer.json + tokenizer_config.json for a 320-token byte-level BPE: <pad>=0, <s>=1, </s>=2 (the
 * fixtures' pad/bos/eos), the 256 bytes at 3..258, and the first 61 of GPT-2's merges that apply to what is there.
 */
export function writeByteLevelTokenizer(dir: string): void {
  const gpt2 = JSON.parse(readFileSync(path.join(fixturesDir, "tokenizers/gpt2.tokenizer.json"), "utf8")) as { model: { merges: [string, string][] } };
  const vocab: Record<string, number> = { "<pad>": 0, "<s>": 1, "</s>": 2 };
  bytesToUnicode().forEach((c, b) => (vocab[c] = 3 + b));
  const merges: [string, string][] = [];
  for (const [a, b] of gpt2.model.merges) {
    if (Object.keys(vocab).length === 320) break;
    if (vocab[a] !== undefined && vocab[b] !== undefined && vocab[a + b] === undefined) {
      vocab[a + b] = Object.keys(vocab).length;
      merges.push([a, b]);
    }
  }
  const special = (id: number, content: string): Record<string, unknown> => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<pad>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(
    path.join(dir, "tokenizer_config.json"),
    JSON.stringify({ bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>", chat_template: CHAT_TEMPLATE }),
  );
}

/**
 * A decoder-only "model" whose next-token log-probabilities are a function of the row so far:
 * `next(ids)` returns logits over the vocabulary. It keeps a KV cache (one dummy layer) like a real model, so
 * generation feeds it one token per step and the position comes from the cache length.
 */
export class FunctionModel extends PreTrainedModel {
  calls: { rows: number; tokens: number }[] = [];
  private readonly histories = new Map<KVCache, number[][]>();

  constructor(vocabSize: number, readonly next: (ids: readonly number[]) => ArrayLike<number>, eosTokenId: number | null = null) {
    super({ raw: {}, modelType: "function", architectures: [], vocabSize, tieWordEmbeddings: false, padTokenId: null, bosTokenId: null, eosTokenId, initializerRange: 0.02 });
  }

  forward(inputs: ModelInputs): ModelOutput {
    const ids = toIds(inputs.inputIds!, "inputIds");
    const [b, t] = ids.shape as [number, number];
    this.calls.push({ rows: b, tokens: t });
    const cache = inputs.pastKeyValues ?? (inputs.useCache ? new KVCache() : null);
    // Rows seen so far live with the cache; a reorder (beam search) must be mirrored, so it is tracked through
    // the cache's own rows: each cached position stores its row's index in the key tensor.
    const past = cache && cache.seqLength > 0 ? this.rowsFromCache(cache) : Array.from({ length: b }, () => []);
    const data = ids.data as Int32Array;
    const rows = past.map((p, r) => [...p, ...Array.from(data.subarray(r * t, (r + 1) * t))]);
    if (cache) {
      const key = new Tensor(new Float32Array(b * t), [b, 1, t, 1], "f32");
      for (let r = 0; r < b; r++) for (let j = 0; j < t; j++) key.data[r * t + j] = rows[r]![past[r]!.length + j]!;
      cache.update(0, key, zeros([b, 1, t, 1]));
    }
    const V = this.config.vocabSize;
    const logits = new Float32Array(b * t * V);
    for (let r = 0; r < b; r++) {
      for (let j = 0; j < t; j++) logits.set(this.next(rows[r]!.slice(0, past[r]!.length + j + 1)), (r * t + j) * V);
    }
    return { logits: new Tensor(logits, [b, t, V], "f32"), ...(cache ? { pastKeyValues: cache } : {}) };
  }

  private rowsFromCache(cache: KVCache): number[][] {
    const key = cache.layers[0]!.key;
    const [b, , s] = key.shape as [number, number, number];
    return Array.from({ length: b }, (_, r) => Array.from(key.data.subarray(r * s, (r + 1) * s) as Float32Array));
  }

  initWeights(): void {}
}

/** Logits that make `token` the argmax by a wide margin. */
export function oneHot(vocabSize: number, token: number, high = 20): Float32Array {
  const out = new Float32Array(vocabSize);
  out[token] = high;
  return out;
}
