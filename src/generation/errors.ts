import { LmforgeError } from "../errors.js";

/** Invalid generation options, or logits that cannot be decoded from (NaN, everything filtered). */
export class GenerationError extends LmforgeError {}
