import { ConfigError } from "../errors.js";

export type RawConfig = Record<string, unknown>;

/** Fields every family's config carries. The raw JSON is kept so `save` writes back what was read. */
export interface BaseConfig {
  raw: RawConfig;
  modelType: string;
  architectures: string[];
  vocabSize: number;
  tieWordEmbeddings: boolean;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  initializerRange: number;
}

/** Reads typed fields from config.json, with errors that name the file and the field. */
export class ConfigReader {
  constructor(readonly raw: RawConfig, readonly source = "config.json") {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${source}: expected a JSON object`);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private fail(key: string, expected: string): never {
    throw new ConfigError(`${this.source}: field "${key}" must be ${expected}, got ${JSON.stringify(this.raw[key])}`);
  }

  number(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, "a number (it is required)");
    }
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, "a finite number");
    return v;
  }

  int(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!Number.isInteger(v)) this.fail(key, "an integer");
    return v;
  }

  optionalNumber(key: string): number | null {
    return this.has(key) ? this.number(key) : null;
  }

  optionalInt(key: string): number | null {
    return this.has(key) ? this.int(key) : null;
  }

  string(key: string, fallback?: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, "a string (it is required)");
    }
    if (typeof v !== "string") this.fail(key, "a string");
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(key, "true or false");
    return v;
  }

  /** A token id or a list of them (eos_token_id may be either). */
  tokenIds(key: string): number | number[] | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x))) return v as number[];
    this.fail(key, "an integer token id or a list of them");
  }

  stringArray(key: string, fallback: string[]): string[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) this.fail(key, "a list of strings");
    return v as string[];
  }

  object(key: string): RawConfig | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.fail(key, "an object");
    return v as RawConfig;
  }

  /** The fields shared by all families. */
  base(defaults: { tieWordEmbeddings?: boolean; initializerRange?: number } = {}): BaseConfig {
    return {
      raw: this.raw,
      modelType: this.string("model_type"),
      architectures: this.stringArray("architectures", []),
      vocabSize: this.int("vocab_size"),
      tieWordEmbeddings: this.boolean("tie_word_embeddings", defaults.tieWordEmbeddings ?? true),
      padTokenId: this.optionalInt("pad_token_id"),
      bosTokenId: this.optionalInt("bos_token_id"),
      eosTokenId: this.tokenIds("eos_token_id"),
      initializerRange: this.number("initializer_range", defaults.initializerRange ?? 0.02),
    };
  }
}
