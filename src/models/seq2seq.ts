/**
 * What the encoder-decoder families (T5, BART) share: reading their inputs, the decoder inputs made from
 * labels, the sequence-to-sequence loss, and transformers' rule for tied embeddings that a checkpoint
 * stores twice.
 */
import { LmforgeError } from "../errors.js";
import { Parameter } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import { shiftTokensRight, toIds, type ModelInputs } from "./model.js";

/** Inputs an encoder-decoder model cannot run with (missing, or of the wrong shape). */
export class Seq2SeqInputError extends LmforgeError {}

export interface Seq2SeqIds {
  inputIds: Tensor | null;
  attentionMask: Tensor | null;
  decoderInputIds: Tensor;
  decoderAttentionMask: Tensor | null;
  labels: Tensor | null;
}

/**
 * Reads and checks the ids of a forward call. Decoder inputs are, in order of preference: decoderInputIds;
 * labels shifted right with decoder_start_token_id first; `fallback` (BART shifts the encoder inputs).
 */
export function readSeq2SeqInputs(
  inputs: ModelInputs,
  who: string,
  tokens: { padTokenId: number; decoderStartTokenId: number },
  fallback: ((inputIds: Tensor) => Tensor) | null = null,
): Seq2SeqIds {
  const inputIds = inputs.inputIds ? toIds(inputs.inputIds, "inputIds") : null;
  if (!inputIds && !inputs.encoderOutputs) throw new Seq2SeqInputError(`${who}.forward: give inputIds or encoderOutputs (the encoder's last hidden state)`);
  const attentionMask = inputs.attentionMask ? toIds(inputs.attentionMask, "attentionMask") : null;
  const labels = inputs.labels ? toIds(inputs.labels, "labels") : null;
  let decoderInputIds: Tensor;
  if (inputs.decoderInputIds) decoderInputIds = toIds(inputs.decoderInputIds, "decoderInputIds");
  else if (labels) decoderInputIds = shiftTokensRight(labels, tokens.padTokenId, tokens.decoderStartTokenId);
  else if (fallback && inputIds) decoderInputIds = fallback(inputIds);
  else throw new Seq2SeqInputError(`${who}.forward: give decoderInputIds or labels (decoder inputs are the labels shifted right)`);
  const decoderAttentionMask = inputs.decoderAttentionMask ? toIds(inputs.decoderAttentionMask, "decoderAttentionMask") : null;
  const batch = decoderInputIds.shape[0]!;
  const check = (t: Tensor | null, name: string, cols: number | null): void => {
    if (t && (t.shape[0] !== batch || (cols !== null && t.shape[1] !== cols))) {
      throw new Seq2SeqInputError(`${who}.forward: ${name} has shape [${t.shape.join(", ")}], expected [${batch}, ${cols ?? "…"}]`);
    }
  };
  const encoderLength = inputIds?.shape[1] ?? inputs.encoderOutputs?.shape[1] ?? null;
  check(inputIds, "inputIds", null);
  check(inputs.encoderOutputs ?? null, "encoderOutputs", encoderLength);
  check(attentionMask, "attentionMask", encoderLength);
  check(labels, "labels", decoderInputIds.shape[1]!);
  return { inputIds, attentionMask, decoderInputIds, decoderAttentionMask, labels };
}

/** Cross-entropy of every decoder position against its label (no shift: the labels are the targets); -100 ignored. */
export function seq2seqLoss(logits: Tensor, labels: Tensor): Tensor {
  const vocab = logits.shape[logits.ndim - 1]!;
  return F.crossEntropy(F.reshape(logits, [-1, vocab]), F.reshape(labels, [-1]));
}

/** True when the checkpoint stores `name`, with or without the base-model prefix. */
export function storesKey(keys: ReadonlySet<string>, name: string, prefix: string): boolean {
  if (keys.has(name)) return true;
  if (prefix && name.startsWith(prefix + ".")) return keys.has(name.slice(prefix.length + 1));
  return prefix !== "" && keys.has(`${prefix}.${name}`);
}

/** A parameter of its own holding a copy of `p`: the weights of a tie that the checkpoint breaks. */
export function untiedCopy(p: Parameter): Parameter {
  return new Parameter(new Tensor(p.data.slice(), p.shape, p.dtype));
}
