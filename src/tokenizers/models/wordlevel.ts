import { TokenizerError } from "../errors.js";
import { type Model, type ModelToken, readVocabObject, reverseVocab } from "./model.js";

/** One id per whole word, or the unknown token. */
export class WordLevel implements Model {
  private readonly vocabR: string[];

  constructor(private readonly vocabMap: Map<string, number>, private readonly unkToken: string) {
    this.vocabR = reverseVocab(vocabMap);
  }

  static fromJSON(o: Record<string, unknown>): WordLevel {
    const vocab = readVocabObject(o.vocab);
    if (!vocab) throw new TokenizerError("tokenizer.json: model.vocab of a WordLevel model must map token strings to integer ids");
    return new WordLevel(vocab, typeof o.unk_token === "string" ? o.unk_token : "<unk>");
  }

  tokenToId(token: string): number | undefined {
    return this.vocabMap.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocabR[id];
  }

  vocab(): Map<string, number> {
    return new Map(this.vocabMap);
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
