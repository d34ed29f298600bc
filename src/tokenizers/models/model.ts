/** One token a model produced, with [start, end) in UTF-16 units of the word it was given. */
export interface ModelToken {
  id: number;
  value: string;
  start: number;
  end: number;
}

/** The vocabulary-level step: turns one pre-tokenized word into tokens (returned arrays may be cached: read only). */
export interface Model {
  tokenize(word: string): ModelToken[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Every token string with its id. */
  vocab(): Map<string, number>;
}

/** A small cache of per-word results; cleared when full, which keeps memory bounded on huge inputs. */
export class WordCache<T> {
  private map = new Map<string, T>();

  constructor(private readonly capacity = 10_000, readonly maxWordLength = 256) {}

  get(word: string): T | undefined {
    return this.map.get(word);
  }

  set(word: string, value: T): void {
    if (word.length >= this.maxWordLength) return;
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(word, value);
  }
}

/** A {"token": id} object as a Map, or undefined when it is not one. */
export function readVocabObject(value: unknown): Map<string, number> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  const map = new Map<string, number>();
  // for-in rather than Object.entries: no pair array per token on vocabularies of 100k+ entries.
  for (const token in obj) {
    const id = obj[token];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) return undefined;
    map.set(token, id);
  }
  return map;
}

export function reverseVocab(vocab: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [token, id] of vocab) out[id] = token;
  return out;
}
