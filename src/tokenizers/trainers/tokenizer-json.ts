/**
 * The tokenizer.json that `tokenizers.Tokenizer.from_file` loads, with the key order `tokenizers` writes, for the
 * three styles the trainers produce (configurations as in GPT-2's, BERT's and SentencePiece-converted files).
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface TrainedTokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: JsonObject | null;
  pre_tokenizer: JsonObject | null;
  post_processor: JsonObject | null;
  decoder: JsonObject | null;
  model: JsonObject;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

function addedTokens(specialTokens: readonly string[], idOf: (token: string) => number): AddedTokenJson[] {
  return specialTokens.map((content) => ({
    id: idOf(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

function vocabObject(vocab: readonly string[]): JsonObject {
  const out: JsonObject = {};
  vocab.forEach((token, id) => (out[token] = id));
  return out;
}

type Parts = Pick<TrainedTokenizerJson, "added_tokens" | "normalizer" | "pre_tokenizer" | "model" | "post_processor" | "decoder">;

function assemble(parts: Parts): TrainedTokenizerJson {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: parts.added_tokens,
    normalizer: parts.normalizer,
    pre_tokenizer: parts.pre_tokenizer,
    post_processor: parts.post_processor,
    decoder: parts.decoder,
    model: parts.model,
  };
}

export function byteLevelBpeJson(
  vocab: readonly string[],
  merges: ReadonlyArray<[string, string]>,
  specialTokens: readonly string[],
): TrainedTokenizerJson {
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean): JsonObject => ({
    type: "ByteLevel",
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: true,
  });
  return assemble({
    added_tokens: addedTokens(specialTokens, (t) => vocab.indexOf(t)),
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject(vocab),
      merges: merges.map(([a, b]) => [a, b]),
    },
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
  });
}

export function wordPieceJson(
  vocab: readonly string[],
  specialTokens: readonly string[],
  unkToken: string,
  prefix: string,
): TrainedTokenizerJson {
  const idOf = (t: string): number => vocab.indexOf(t);
  return assemble({
    added_tokens: addedTokens(specialTokens, idOf),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    model: {
      type: "WordPiece",
      unk_token: unkToken,
      continuing_subword_prefix: prefix,
      max_input_chars_per_word: 100,
      vocab: vocabObject(vocab),
    },
    post_processor: specialTokens.includes("[CLS]") && specialTokens.includes("[SEP]") ? bertTemplate(idOf) : null,
    decoder: { type: "WordPiece", prefix, cleanup: true },
  });
}

/** `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B:1 [SEP]:1`, as BERT's tokenizer.json has it. */
function bertTemplate(idOf: (token: string) => number): JsonObject {
  const special = (id: string, typeId: number): JsonObject => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: string, typeId: number): JsonObject => ({ Sequence: { id, type_id: typeId } });
  const entry = (token: string): JsonObject => ({ id: token, ids: [idOf(token)], tokens: [token] });
  return {
    type: "TemplateProcessing",
    single: [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
    pair: [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0), sequence("B", 1), special("[SEP]", 1)],
    special_tokens: { "[CLS]": entry("[CLS]"), "[SEP]": entry("[SEP]") },
  };
}

export function unigramJson(
  pieces: ReadonlyArray<[string, number]>,
  specialTokens: readonly string[],
  unkToken: string,
  byteFallback: boolean,
): TrainedTokenizerJson {
  const idOf = (t: string): number => pieces.findIndex(([p]) => p === t);
  const metaspace: JsonObject = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true };
  return assemble({
    added_tokens: addedTokens(specialTokens, idOf),
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Nmt" }, { type: "NFKC" }, { type: "Replace", pattern: { Regex: " {2,}" }, content: " " }],
    },
    pre_tokenizer: metaspace,
    model: { type: "Unigram", unk_id: idOf(unkToken), vocab: pieces.map(([p, s]) => [p, s]), byte_fallback: byteFallback },
    post_processor: null,
    decoder: byteFallback ? { type: "Sequence", decoders: [{ type: "ByteFallback" }, metaspace] } : metaspace,
  });
}
