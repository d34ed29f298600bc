import { LmforgeError } from "../errors.js";

/** A prompt that cannot be built as asked (bad fields, or no room in the context window), or a bad shots file. */
export class PromptError extends LmforgeError {}
