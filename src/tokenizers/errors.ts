import { LmforgeError } from "../errors.js";

/** A tokenizer.json, tokenizer_config.json or tokenizer option that lmforge cannot use as given. */
export class TokenizerError extends LmforgeError {}

/** Throws a TokenizerError for an unknown component `type`, listing the ones lmforge supports. */
export function unknownComponent(kind: string, type: unknown, supported: readonly string[]): never {
  throw new TokenizerError(
    `tokenizer.json: unknown ${kind} type ${JSON.stringify(type)}; supported: ${supported.join(", ")}`,
  );
}

/** Reads a JSON object field, throwing a TokenizerError naming the component when it is not an object. */
export function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TokenizerError(`tokenizer.json: ${where} must be an object, got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value as Record<string, unknown>;
}
