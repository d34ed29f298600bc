import { TokenizerError } from "../errors.js";
import { type ModelToken, VocabModel, readVocabObject } from "./model.js";

/** BERT's WordPiece: greedy longest-match-first; a word with any unmatched part becomes one unknown token. */
export class WordPiece extends VocabModel {
  constructor(
    vocab: Map<string, number>,
    private readonly unkToken: string,
    private readonly prefix: string,
    private readonly maxInputCharsPerWord: number,
  ) {
    super(vocab);
  }

  static fromJSON(o: Record<string, unknown>): WordPiece {
    const vocab = readVocabObject(o.vocab);
    if (!vocab) throw new TokenizerError("tokenizer.json: model.vocab of a WordPiece model must map token strings to integer ids");
    return new WordPiece(
      vocab,
      typeof o.unk_token === "string" ? o.unk_token : "[UNK]",
      typeof o.continuing_subword_prefix === "string" ? o.continuing_subword_prefix : "##",
      typeof o.max_input_chars_per_word === "number" ? o.max_input_chars_per_word : 100,
    );
  }

  tokenize(word: string): ModelToken[] {
    if (word.length === 0) return [];
    const unk = (): ModelToken[] => {
      const id = this.vocabMap.get(this.unkToken);
      if (id === undefined) throw new TokenizerError(`tokenizer.json: WordPiece unk_token "${this.unkToken}" is not in model.vocab`);
      return [{ id, value: this.unkToken, start: 0, end: word.length }];
    };
    let chars = 0;
    for (let i = 0; i < word.length; i += word.codePointAt(i)! > 0xffff ? 2 : 1) chars++;
    if (chars > this.maxInputCharsPerWord) return unk();
    const out: ModelToken[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found: ModelToken | undefined;
      while (start < end) {
        const piece = start > 0 ? this.prefix + word.slice(start, end) : word.slice(start, end);
        const id = this.vocabMap.get(piece);
        if (id !== undefined) {
          found = { id, value: piece, start, end };
          break;
        }
        const low = word.charCodeAt(end - 1);
        end -= low >= 0xdc00 && low <= 0xdfff && end - 2 >= start ? 2 : 1;
      }
      if (!found) return unk();
      out.push(found);
      start = end;
    }
    return out;
  }
}
