import { LmforgeError } from "../../errors.js";

/** Bad options or unreadable input given to a tokenizer trainer. */
export class TokenizerTrainerError extends LmforgeError {}
