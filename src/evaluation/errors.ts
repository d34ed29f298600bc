import { LmforgeError } from "../errors.js";

/** Bad input to a metric: empty or mismatched lists, unknown metric names, invalid options. */
export class EvaluationError extends LmforgeError {}

/** Checks that predictions and references are non-empty arrays of the same length. */
export function checkPairs(fn: string, predictions: readonly unknown[], references: readonly unknown[]): void {
  if (!Array.isArray(predictions)) throw new EvaluationError(`${fn}: predictions must be an array`);
  if (!Array.isArray(references)) throw new EvaluationError(`${fn}: references must be an array`);
  if (predictions.length === 0) throw new EvaluationError(`${fn}: predictions is empty; expected at least one example`);
  if (references.length === 0) throw new EvaluationError(`${fn}: references is empty; expected at least one example`);
  if (predictions.length !== references.length) {
    throw new EvaluationError(
      `${fn}: predictions has ${predictions.length} examples but references has ${references.length}; expected the same count`,
    );
  }
}
