/**
 * BERT (Devlin et al., 2018): word + learned position + token-type embeddings and a layer norm, then post-norm
 * encoder layers of bidirectional self-attention and a feed-forward block, each followed by a residual add and
 * a layer norm. Heads: masked LM (a dense + norm transform, then a decoder tied to the word embeddings with its
 * own bias) and sequence classification (tanh pooler over the first token, then a linear classifier).
 * Parameter names follow transformers' BertForMaskedLM / BertForSequenceClassification.
 */
import { Module, ModuleList, Parameter } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { getActivation, type Activation } from "../nn/activations.js";
import { scaledDotProductAttention } from "../nn/attention.js";
import * as init from "../nn/init.js";
import { ConfigError, TensorError } from "../errors.js";
import { Tensor, arange, tensor, zeros } from "../tensor/tensor.js";
import * as F from "../tensor/ops.js";
import type { Generator } from "../utils/rng.js";
import { ConfigReader, type BaseConfig, type RawConfig } from "./config.js";
import { buildAttentionMask } from "./masks.js";
import { PreTrainedModel, toIds, type IdsInput, type ModelInputs, type ModelOutput } from "./model.js";
import { registerModelFamily } from "./registry.js";

export type BertProblemType = "regression" | "single_label_classification" | "multi_label_classification";
const PROBLEM_TYPES: readonly BertProblemType[] = ["regression", "single_label_classification", "multi_label_classification"];

export interface BertConfig extends BaseConfig {
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenAct: string;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  classifierDropout: number | null;
  /** From id2label when present (as transformers' PretrainedConfig), else num_labels, else 2. */
  numLabels: number;
  problemType: BertProblemType | null;
}

export function parseBertConfig(raw: RawConfig): BertConfig {
  const r = new ConfigReader(raw);
  const base = r.base();
  // BertConfig's pad_token_id defaults to 0; an explicit null means no padding row.
  if (!("pad_token_id" in raw)) base.padTokenId = 0;
  const hiddenSize = r.int("hidden_size", 768);
  const numAttentionHeads = r.int("num_attention_heads", 12);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new ConfigError(`config.json: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numAttentionHeads}`);
  }
  const positionType = r.string("position_embedding_type", "absolute");
  if (positionType !== "absolute") {
    throw new ConfigError(`config.json: field "position_embedding_type" must be "absolute" (relative_key variants are not supported), got "${positionType}"`);
  }
  const id2label = r.object("id2label");
  const numLabels = id2label ? Object.keys(id2label).length : r.int("num_labels", 2);
  if (id2label && r.has("num_labels") && r.int("num_labels") !== numLabels) {
    throw new ConfigError(`config.json: num_labels ${r.int("num_labels")} disagrees with id2label, which has ${numLabels} labels`);
  }
  const problemType = r.has("problem_type") ? r.string("problem_type") : null;
  if (problemType !== null && !(PROBLEM_TYPES as readonly string[]).includes(problemType)) {
    throw new ConfigError(`config.json: field "problem_type" must be one of ${PROBLEM_TYPES.join(", ")}, got "${problemType}"`);
  }
  return {
    ...base,
    hiddenSize,
    numHiddenLayers: r.int("num_hidden_layers", 12),
    numAttentionHeads,
    intermediateSize: r.int("intermediate_size", 3072),
    hiddenAct: r.string("hidden_act", "gelu"),
    hiddenDropoutProb: r.number("hidden_dropout_prob", 0.1),
    attentionProbsDropoutProb: r.number("attention_probs_dropout_prob", 0.1),
    maxPositionEmbeddings: r.int("max_position_embeddings", 512),
    typeVocabSize: r.int("type_vocab_size", 2),
    layerNormEps: r.number("layer_norm_eps", 1e-12),
    classifierDropout: r.optionalNumber("classifier_dropout"),
    numLabels,
    problemType: problemType as BertProblemType | null,
  };
}

class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(private readonly _config: BertConfig) {
    super();
    this.word_embeddings = new Embedding(_config.vocabSize, _config.hiddenSize, _config.padTokenId);
    this.position_embeddings = new Embedding(_config.maxPositionEmbeddings, _config.hiddenSize);
    this.token_type_embeddings = new Embedding(_config.typeVocabSize, _config.hiddenSize);
    this.LayerNorm = new LayerNorm(_config.hiddenSize, _config.layerNormEps);
    this.dropout = new Dropout(_config.hiddenDropoutProb);
  }

  forward(inputIds: Tensor, tokenTypeIds: Tensor, positionIds: Tensor): Tensor {
    const x = F.add(F.add(this.word_embeddings.forward(inputIds), this.token_type_embeddings.forward(tokenTypeIds)), this.position_embeddings.forward(positionIds));
    return this.dropout.forward(this.LayerNorm.forward(x));
  }
}

class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  private readonly _headDim: number;

  constructor(private readonly _config: BertConfig) {
    super();
    const h = _config.hiddenSize;
    this.query = new Linear(h, h);
    this.key = new Linear(h, h);
    this.value = new Linear(h, h);
    this._headDim = h / _config.numAttentionHeads;
  }

  forward(x: Tensor, mask: Tensor): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const heads = (y: Tensor): Tensor => F.transpose(F.reshape(y, [b, t, this._config.numAttentionHeads, this._headDim]), 1, 2);
    const y = scaledDotProductAttention(heads(this.query.forward(x)), heads(this.key.forward(x)), heads(this.value.forward(x)), {
      mask, dropout: this._config.attentionProbsDropoutProb, training: this.training,
    });
    return F.reshape(F.transpose(y, 1, 2), [b, t, this._config.hiddenSize]);
  }
}

/** dense → dropout → LayerNorm(· + residual): BERT's post-norm sub-layer output. */
class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(inFeatures: number, config: BertConfig) {
    super();
    this.dense = new Linear(inFeatures, config.hiddenSize);
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.dropout = new Dropout(config.hiddenDropoutProb);
  }

  forward(x: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(F.add(this.dropout.forward(this.dense.forward(x)), residual));
  }
}

class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertResidualOutput;

  constructor(config: BertConfig) {
    super();
    this.self = new BertSelfAttention(config);
    this.output = new BertResidualOutput(config.hiddenSize, config);
  }

  forward(x: Tensor, mask: Tensor): Tensor {
    return this.output.forward(this.self.forward(x, mask), x);
  }
}

class BertIntermediate extends Module {
  dense: Linear;
  private readonly _act: Activation;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.intermediateSize);
    this._act = getActivation(config.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return this._act(this.dense.forward(x));
  }
}

class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertResidualOutput;

  constructor(config: BertConfig) {
    super();
    this.attention = new BertAttention(config);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertResidualOutput(config.intermediateSize, config);
  }

  forward(x: Tensor, mask: Tensor): Tensor {
    const h = this.attention.forward(x, mask);
    return this.output.forward(this.intermediate.forward(h), h);
  }
}

class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;

  constructor(config: BertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config)));
  }

  forward(x: Tensor, mask: Tensor): Tensor {
    for (const layer of this.layer) x = layer.forward(x, mask);
    return x;
  }
}

/** tanh(dense(hidden state of the first token, [CLS])). */
class BertPooler extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
  }

  forward(hidden: Tensor): Tensor {
    const [b, , h] = hidden.shape as [number, number, number];
    return F.tanh(this.dense.forward(F.reshape(F.slice(hidden, 1, 0, 1), [b, h])));
  }
}

export class BertModel extends Module {
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(readonly _config: BertConfig, addPoolingLayer = true) {
    super();
    this.embeddings = new BertEmbeddings(_config);
    this.encoder = new BertEncoder(_config);
    this.pooler = addPoolingLayer ? new BertPooler(_config) : null;
  }

  /** The last hidden state [batch, seq, hidden]; padding keys (attention mask 0) are hidden from every query. */
  forward(inputs: ModelInputs): Tensor {
    if (!inputs.inputIds) throw new TensorError("BERT forward: inputIds is required");
    const ids = toIds(inputs.inputIds, "inputIds");
    const [b, t] = ids.shape as [number, number];
    if (t > this._config.maxPositionEmbeddings) {
      throw new TensorError(`BERT forward: sequence of ${t} tokens is longer than max_position_embeddings ${this._config.maxPositionEmbeddings}`);
    }
    const sameShape = (x: IdsInput | undefined, name: string): Tensor | null => {
      if (x === undefined) return null;
      const tt = toIds(x, name);
      if (tt.shape[0] !== b || tt.shape[1] !== t) throw new TensorError(`BERT forward: ${name} has shape [${tt.shape.join(", ")}], expected [${b}, ${t}] like inputIds`);
      return tt;
    };
    const tokenTypes = sameShape(inputs.tokenTypeIds, "tokenTypeIds") ?? zeros([b, t], { dtype: "i32" });
    const positions = sameShape(inputs.positionIds, "positionIds") ?? F.expand(F.unsqueeze(arange(0, t, 1, { dtype: "i32" }), 0), [b, t]);
    const attentionMask = sameShape(inputs.attentionMask, "attentionMask");
    const x = this.embeddings.forward(ids, tokenTypes, positions);
    const mask = buildAttentionMask({ batch: b, queryLength: t, keyLength: t, attentionMask, causal: false, dtype: x.dtype as "f32" | "f64" });
    return this.encoder.forward(x, mask);
  }
}

class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  private readonly _act: Activation;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this._act = getActivation(config.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(this._act(this.dense.forward(x)));
  }
}

class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform;
  // Declared before `decoder` so the shared bias is named cls.predictions.bias, as named_parameters() names it.
  bias: Parameter;
  decoder: Linear;

  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super();
    this.transform = new BertPredictionHeadTransform(config);
    this.bias = new Parameter(zeros([config.vocabSize]));
    this.decoder = new Linear(config.hiddenSize, config.vocabSize, { bias: false });
    // The decoder's bias is always this head's bias (cls.predictions.decoder.bias is not stored separately);
    // its weight is the word embeddings unless tie_word_embeddings is false.
    this.decoder.bias = this.bias;
    if (config.tieWordEmbeddings) this.decoder.weight = wordEmbeddings;
  }

  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(x));
  }
}

class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super();
    this.predictions = new BertLMPredictionHead(config, wordEmbeddings);
  }
}

/** Shared by both heads: base-model prefix, buffers to ignore, and transformers' BertPreTrainedModel._init_weights. */
abstract class BertPreTrainedModel extends PreTrainedModel<BertConfig> {
  abstract bert: BertModel;

  override get baseModelPrefix(): string {
    return "bert";
  }

  override get ignoredCheckpointKeys(): RegExp[] {
    // Buffers (position_ids, token_type_ids) and pre-training heads a fine-tuning class does not have.
    return [/embeddings\.position_ids$/, /embeddings\.token_type_ids$/, /^cls\.seq_relationship\./];
  }

  override get maxPositionEmbeddings(): number {
    return this.config.maxPositionEmbeddings;
  }

  /** Linear and embedding weights ~ N(0, initializer_range), biases and the MLM bias 0, layer norms 1/0, padding row 0. */
  initWeights(g: Generator): void {
    const std = this.config.initializerRange;
    const done = new Set<Parameter>();
    const once = (p: Parameter | null, fill: (p: Parameter) => void): void => {
      if (p && !done.has(p)) {
        fill(p);
        done.add(p);
      }
    };
    for (const [, m] of this.namedModules()) {
      if (m instanceof Linear) {
        once(m.weight, (p) => init.normal_(p, 0, std, g));
        once(m.bias, (p) => init.constant_(p, 0));
      } else if (m instanceof Embedding) {
        once(m.weight, (p) => {
          init.normal_(p, 0, std, g);
          if (m.paddingIdx !== null) p.floatData.fill(0, m.paddingIdx * m.embeddingDim, (m.paddingIdx + 1) * m.embeddingDim);
        });
      } else if (m instanceof LayerNorm) {
        once(m.weight, (p) => init.constant_(p, 1));
        once(m.bias, (p) => init.constant_(p, 0));
      } else if (m instanceof BertLMPredictionHead) {
        once(m.bias, (p) => init.constant_(p, 0));
      }
    }
  }
}

export class BertForMaskedLM extends BertPreTrainedModel {
  bert: BertModel;
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, false);
    this.cls = new BertOnlyMLMHead(config, this.bert.embeddings.word_embeddings.weight);
  }

  override get ignoredCheckpointKeys(): RegExp[] {
    // BertModel / BertForPreTraining checkpoints carry a pooler the MLM class does not have.
    return [...super.ignoredCheckpointKeys, /^(bert\.)?pooler\./];
  }

  /** Logits [batch, seq, vocab]; labels give the masked-LM loss: cross-entropy over every position, -100 ignored, no shift. */
  forward(inputs: ModelInputs): ModelOutput {
    const logits = this.cls.predictions.forward(this.bert.forward(inputs));
    const out: ModelOutput = { logits };
    if (inputs.labels !== undefined) {
      const labels = toIds(inputs.labels, "labels");
      if (labels.size * this.config.vocabSize !== logits.size) {
        throw new TensorError(`BertForMaskedLM: labels have shape [${labels.shape.join(", ")}], expected [${logits.shape.slice(0, 2).join(", ")}] like inputIds`);
      }
      out.loss = F.crossEntropy(F.reshape(logits, [-1, this.config.vocabSize]), F.reshape(labels, [-1]));
    }
    return out;
  }
}

/** Labels as a tensor: arrays of integers stay integer class ids, anything else (or a float tensor) is float. */
function labelsTensor(labels: IdsInput): Tensor {
  if (labels instanceof Tensor) return labels;
  const flat = (labels as (number | number[])[]).flat();
  const isInt = (labels as unknown[]).every((v) => typeof v === "number") && flat.every((v) => Number.isInteger(v));
  return tensor(labels, { dtype: isInt ? "i32" : "f32" });
}

export class BertForSequenceClassification extends BertPreTrainedModel {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, true);
    this.dropout = new Dropout(config.classifierDropout ?? config.hiddenDropoutProb);
    this.classifier = new Linear(config.hiddenSize, config.numLabels);
  }

  override get ignoredCheckpointKeys(): RegExp[] {
    return [...super.ignoredCheckpointKeys, /^cls\.predictions\./];
  }

  /**
   * Logits [batch, num_labels] from the pooled [CLS] state. With labels, the loss follows problem_type, or when
   * unset, as transformers infers it: one label → regression (MSE); integer class ids [batch] → cross-entropy;
   * float targets [batch, num_labels] → binary cross-entropy with logits (multi-label).
   */
  forward(inputs: ModelInputs): ModelOutput {
    const hidden = this.bert.forward(inputs);
    const logits = this.classifier.forward(this.dropout.forward(this.bert.pooler!.forward(hidden)));
    const out: ModelOutput = { logits };
    if (inputs.labels !== undefined) out.loss = this.loss(logits, labelsTensor(inputs.labels));
    return out;
  }

  private loss(logits: Tensor, labels: Tensor): Tensor {
    const [b, n] = logits.shape as [number, number];
    const integer = labels.dtype === "i32";
    const problem = this.config.problemType ?? (n === 1 ? "regression" : integer ? "single_label_classification" : "multi_label_classification");
    const fail = (expected: string): never => {
      throw new TensorError(`BertForSequenceClassification (${problem}): labels have shape [${labels.shape.join(", ")}] (${labels.dtype}), expected ${expected}`);
    };
    const asFloat = (t: Tensor): Tensor => (t.dtype === logits.dtype ? t : F.toDtype(t, logits.dtype));
    if (problem === "single_label_classification") {
      if (labels.size !== b) fail(`${b} class ids`);
      return F.crossEntropy(logits, F.reshape(integer ? labels : F.toDtype(labels, "i32"), [b]));
    }
    if (labels.size !== b * n) fail(`${b * n} values ([${b}, ${n}])`);
    const target = F.reshape(asFloat(labels), [b, n]);
    if (problem === "regression") return F.mean(F.square(F.sub(logits, target)));
    return F.binaryCrossEntropyWithLogits(logits, target);
  }
}

const build = <T extends PreTrainedModel>(cls: new (c: BertConfig) => T) => (raw: RawConfig): T => new cls(parseBertConfig(raw));

registerModelFamily({
  modelTypes: ["bert"],
  architectures: {
    BertForMaskedLM: build(BertForMaskedLM),
    BertForSequenceClassification: build(BertForSequenceClassification),
  },
  defaultArchitecture: "BertForMaskedLM",
  description: "BERT: bidirectional post-norm encoder; masked-LM head tied to the embeddings, or a pooled classifier",
});
