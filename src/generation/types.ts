/**
 * The token ids so far, one array per row of the batch (prompt included, as transformers' `input_ids`). Rows of a
 * padded batch have equal lengths; the processors read each row's own length as its current length.
 */
export type TokenRows = readonly (readonly number[])[];

export interface DetokenizeOptions {
  skipSpecialTokens?: boolean;
}

/** The part of a tokenizer that generation needs to turn ids back into text. */
export interface Detokenizer {
  decode(ids: number[], options?: DetokenizeOptions): string;
}
