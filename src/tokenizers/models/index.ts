import { asObject, unknownComponent } from "../errors.js";
import { BPE } from "./bpe.js";
import type { Model } from "./model.js";
import { Unigram } from "./unigram.js";
import { WordLevel } from "./wordlevel.js";
import { WordPiece } from "./wordpiece.js";

export type { Model, ModelToken } from "./model.js";
export { BPE } from "./bpe.js";
export { WordPiece } from "./wordpiece.js";
export { Unigram } from "./unigram.js";
export { WordLevel } from "./wordlevel.js";

export const MODEL_TYPES = ["BPE", "WordPiece", "WordLevel", "Unigram"] as const;

export function modelFromJSON(json: unknown): Model {
  const o = asObject(json, "model");
  // Files from old tokenizers versions may leave out `type`.
  const type = o.type ?? (Array.isArray(o.merges) ? "BPE" : Array.isArray(o.vocab) ? "Unigram" : "WordPiece");
  switch (type) {
    case "BPE":
      return BPE.fromJSON(o);
    case "WordPiece":
      return WordPiece.fromJSON(o);
    case "WordLevel":
      return WordLevel.fromJSON(o);
    case "Unigram":
      return Unigram.fromJSON(o);
    default:
      return unknownComponent("model", type, MODEL_TYPES);
  }
}
