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

/**
 * Checks hypotheses against reference streams and pairs each hypothesis with its non-null references.
 */
export function collectSegments(
  fn: string,
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
): [string, string[]][] {
  if (!Array.isArray(hypotheses) || hypotheses.length === 0) {
    throw new EvaluationError(`${fn}: hypotheses is empty; expected at least one hypothesis string`);
  }
  if (hypotheses.some((h) => typeof h !== "string")) throw new EvaluationError(`${fn}: every hypothesis must be a string`);
  if (!Array.isArray(references) || references.length === 0) {
    throw new EvaluationError(`${fn}: references is empty; expected at least one reference stream (string[] per reference set)`);
  }
  references.forEach((stream, k) => {
    if (!Array.isArray(stream)) {
      throw new EvaluationError(`${fn}: references[${k}] must be an array with one reference per hypothesis (a stream)`);
    }
    if (stream.length !== hypotheses.length) {
      throw new EvaluationError(
        `${fn}: references[${k}] has ${stream.length} entries but hypotheses has ${hypotheses.length}; expected the same count`,
      );
    }
  });
  return hypotheses.map((hyp, i) => {
    const refs: string[] = [];
    for (const stream of references) {
      const r = stream[i];
      if (r === null || r === undefined) continue;
      if (typeof r !== "string") throw new EvaluationError(`${fn}: references[..][${i}] must be a string or null`);
      refs.push(r);
    }
    if (refs.length === 0) throw new EvaluationError(`${fn}: hypothesis ${i} has no reference (every stream is null there)`);
    return [hyp, refs];
  });
}
