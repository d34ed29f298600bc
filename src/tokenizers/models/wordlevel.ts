import { TokenizerError } from "../errors.js";
import { type ModelToken, VocabModel, readVocabObject } from "./model.js";

/** One id per whole word, or the unknown token. */
export class WordLevel extends VocabModel {
  constructor(vocab: Map<string, number>, private readonly unkToken: string) {
    super(vocab);
  }

  static fromJSON(o: Record<string, unknown>): WordLevel {
    const vocab = readVocabObject(o.vocab);
    if (!vocab) throw new TokenizerError("tokenizer.json: model.vocab of a WordLevel model must map token strings to integer ids");
    return new WordLevel(vocab, typeof o.unk_token === "string" ? o.unk_token : "<unk>");
  }

  tokenize(word: string): ModelToken[] {
    if (word.length === 0) return [];
    const id = this.vocabMap.get(word);
    if (id !== undefined) return [{ id, value: word, start: 0, end: word.length }];
    const unk = this.vocabMap.get(this.unkToken);
    if (unk === undefined) throw new TokenizerError(`tokenizer.json: WordLevel unk_token "${this.unkToken}" is not in model.vocab`);
    return [{ id: unk, value: this.unkToken, start: 0, end: word.length }];
  }
}
