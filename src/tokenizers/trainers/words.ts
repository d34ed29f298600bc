/**
 * The normalizers and pre-tokenizers a trainer needs to cut its corpus into counted words, written to give the
 * same words `tokenizers` gives for the configurations these trainers write into tokenizer.json (GPT-2 byte-level,
 * BERT, SentencePiece Metaspace), so the trained vocabulary fits what the saved pipeline will produce. They return
 * plain strings without the offset bookkeeping of the pipeline's NormalizedString, which makes counting the words of
 * a corpus several times faster; a test checks that both give the same words.
 */
import { BYTE_TO_CHAR, utf8Bytes } from "../byte-level.js";

export interface WordSplitter {
  /** Normalizes and pre-tokenizes one sequence into words. */
  split(sequence: string): string[];
  /** Maps a counted word into the model's symbols; run once per distinct word rather than per occurrence. */
  finish?(word: string): string;
}

/** Counts the words of every sequence; the map keeps first-seen order, which makes training deterministic. */
export function countWords(sequences: Iterable<string>, splitter: WordSplitter): Map<string, number> {
  const counts = new Map<string, number>();
  for (const sequence of sequences) {
    for (const word of splitter.split(sequence)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const finish = splitter.finish;
  if (!finish) return counts;
  const finished = new Map<string, number>();
  for (const [word, count] of counts) finished.set(finish(word), count);
  return finished;
}

const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** ByteLevel pre-tokenizer (add_prefix_space false, use_regex true): GPT-2's regex, then bytes as characters. */
export const byteLevelSplitter: WordSplitter = {
  split: (sequence) => sequence.match(GPT2_PATTERN) ?? [],
  finish(word) {
    let out = "";
    for (const byte of utf8Bytes(word)) out += BYTE_TO_CHAR[byte];
    return out;
  },
};

// BertNormalizer(clean_text, handle_chinese_chars, strip_accents = lowercase = true), in tokenizers' order.
const CONTROL = /[\p{Cc}\p{Cf}\p{Cn}\p{Co}\uFFFD]/gu;
const OTHER_WHITESPACE = /[\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g;
const CJK =
  /[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
const NONSPACING_MARK = /\p{Mn}/gu;
// BertPreTokenizer: whitespace separates words and is dropped; each punctuation character is a word of its own.
const BERT_WORD = /[^\s!-/:-@[-`{-~\p{P}]+|[!-/:-@[-`{-~\p{P}]/gu;

function bertNormalize(text: string): string {
  return text
    .replace(CONTROL, (c) => (c === "\t" || c === "\n" || c === "\r" ? " " : ""))
    .replace(OTHER_WHITESPACE, " ")
    .replace(CJK, " $& ")
    .normalize("NFD")
    .replace(NONSPACING_MARK, "")
    .toLowerCase();
}

export const bertSplitter: WordSplitter = {
  split: (sequence) => bertNormalize(sequence).match(BERT_WORD) ?? [],
};

// Sequence[Nmt, NFKC, Replace(" {2,}", " ")] then Metaspace(replacement "▁", prepend_scheme "always", split).
const NMT_DROP = /[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]/g;
const NMT_SPACE = /[\t\n\f\r\u1680\u200B-\u200F\u2028\u2029\u2581\uFEFF\uFFFD]/g;
const METASPACE = "\u2581";
const METASPACE_WORD = /\u2581[^\u2581]*|[^\u2581]+/g;

function sentencePieceNormalize(text: string): string {
  return text.replace(NMT_DROP, "").replace(NMT_SPACE, " ").normalize("NFKC").replace(/ {2,}/g, " ");
}

export const metaspaceSplitter: WordSplitter = {
  split(sequence) {
    const normalized = sentencePieceNormalize(sequence);
    if (normalized.length === 0) return [];
    let replaced = normalized.replaceAll(" ", METASPACE);
    if (!replaced.startsWith(METASPACE)) replaced = METASPACE + replaced;
    return replaced.match(METASPACE_WORD) ?? [];
  },
};
