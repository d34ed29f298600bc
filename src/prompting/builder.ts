import { PromptError } from "./errors.js";
import { PROMPT_TEMPLATES, type FewShotExample, type PromptTemplate, type PromptTemplateName } from "./templates.js";

// A type alias, not an interface, so it fits chat message types that carry an index signature.
export type PromptMessage = {
  role: "system" | "user" | "assistant";
  content: string;
};

/**
 * What the builder needs from a tokenizer: token counting (`encode`, whose ids are what the model will see, special
 * tokens included), and for chat models a chat template rendered to text (lmforge's Tokenizer fits).
 */
export interface PromptTokenizer {
  encode(text: string): { ids: ArrayLike<number> } | ArrayLike<number>;
  applyChatTemplate?(messages: PromptMessage[], options: { addGenerationPrompt: boolean; tokenize: false }): string;
}

export interface BuildPromptOptions {
  /** Task description placed first (the system message in chat mode). */
  instruction?: string;
  /** Demonstrations, in the order they appear in the prompt; none = zero-shot. */
  examples?: readonly FewShotExample[];
  query: string;
  /** A built-in template name or your own; "qa" when unset. Chat mode leaves formatting to the chat template. */
  template?: PromptTemplateName | PromptTemplate;
  tokenizer: PromptTokenizer;
  /** The model's context size in tokens; prompt tokens + maxNewTokens must fit in it. */
  contextWindow: number;
  /** Tokens reserved for the answer. */
  maxNewTokens: number;
  /**
   * Build chat `messages` (system = instruction, then user/assistant turns per example, then the query as the
   * last user turn) and render them with `tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true,
   * tokenize: false })`.
   */
  chat?: boolean;
  /** When even the zero-shot prompt is too long, cut the query from the left instead of throwing. */
  truncate?: boolean;
}

export interface BuiltPrompt {
  /** The text to give the model (rendered by the chat template in chat mode). */
  prompt: string;
  /** Length of `tokenizer.encode(prompt)`. */
  tokenCount: number;
  examplesUsed: number;
  droppedExamples: number;
  warnings: string[];
  /** Chat mode only: the messages the prompt was rendered from. */
  messages?: PromptMessage[];
}

/**
 * Builds a zero-, one- or few-shot prompt that fits the context window: prompt tokens + maxNewTokens <=
 * contextWindow. When the examples do not all fit, the ones most distant from the query go first — the earliest
 * in the list, since examples precede the query in list order — and a warning says how many were dropped. If
 * even the zero-shot prompt does not fit, it throws a PromptError, or with `truncate: true` cuts the query from
 * the left (its end, next to where the answer goes, is kept).
 */
export function buildPrompt(options: BuildPromptOptions): BuiltPrompt {
  const { instruction, query, tokenizer, contextWindow, maxNewTokens, chat = false, truncate = false } = options;
  const examples = options.examples ?? [];
  validate(options, examples);
  const template = resolveTemplate(options.template);
  const budget = contextWindow - maxNewTokens;
  if (budget < 1) {
    throw new PromptError(`maxNewTokens (${maxNewTokens}) leaves no room for a prompt in contextWindow (${contextWindow})`);
  }

  const render = (used: readonly FewShotExample[], q: string): { prompt: string; messages?: PromptMessage[] } => {
    if (chat) {
      const messages: PromptMessage[] = [];
      if (instruction) messages.push({ role: "system", content: instruction });
      for (const e of used) messages.push({ role: "user", content: e.input }, { role: "assistant", content: e.output });
      messages.push({ role: "user", content: q });
      return { prompt: tokenizer.applyChatTemplate!(messages, { addGenerationPrompt: true, tokenize: false }), messages };
    }
    const blocks = instruction ? [instruction] : [];
    for (const e of used) blocks.push(template.format({ input: e.input, output: e.output }));
    blocks.push(template.format({ input: q }));
    return { prompt: blocks.join(template.separator ?? "\n\n") };
  };
  const count = (prompt: string): number => {
    const encoded = tokenizer.encode(prompt);
    const ids = "ids" in Object(encoded) ? (encoded as { ids: ArrayLike<number> }).ids : (encoded as ArrayLike<number>);
    if (typeof ids?.length !== "number") throw new PromptError("tokenizer.encode(text) must return ids or { ids }");
    return ids.length;
  };
  const attempt = (dropped: number, q = query) => {
    const rendered = render(examples.slice(dropped), q);
    return { ...rendered, tokenCount: count(rendered.prompt) };
  };

  const warnings: string[] = [];
  let best = attempt(0);
  let dropped = 0;
  if (best.tokenCount > budget) {
    // Fewest dropped examples that fit, by bisection (token counts shrink as examples go).
    let lo = 1;
    let hi = examples.length;
    let fit: ReturnType<typeof attempt> | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const tried = attempt(mid);
      if (tried.tokenCount <= budget) {
        fit = tried;
        dropped = mid;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    if (fit) {
      best = fit;
    } else {
      dropped = examples.length;
      best = truncateQuery(attempt, dropped, query, { budget, truncate, contextWindow, maxNewTokens }, warnings);
    }
    if (dropped > 0) {
      warnings.unshift(
        `dropped ${dropped} of ${examples.length} examples (the earliest in the list first) to fit ` +
          `${best.tokenCount} prompt tokens + maxNewTokens ${maxNewTokens} in contextWindow ${contextWindow}`,
      );
    }
  }
  return {
    prompt: best.prompt,
    tokenCount: best.tokenCount,
    examplesUsed: examples.length - dropped,
    droppedExamples: dropped,
    warnings,
    ...(best.messages ? { messages: best.messages } : {}),
  };
}

type Attempt = (dropped: number, query?: string) => { prompt: string; messages?: PromptMessage[]; tokenCount: number };

/** The zero-shot prompt with the query cut from the left just enough to fit, or a PromptError. */
function truncateQuery(
  attempt: Attempt,
  dropped: number,
  query: string,
  limits: { budget: number; truncate: boolean; contextWindow: number; maxNewTokens: number },
  warnings: string[],
): ReturnType<Attempt> {
  const { budget, truncate, contextWindow, maxNewTokens } = limits;
  const zeroShot = attempt(dropped);
  if (zeroShot.tokenCount <= budget) return zeroShot;
  if (!truncate) {
    throw new PromptError(
      `even the zero-shot prompt needs ${zeroShot.tokenCount} tokens + maxNewTokens ${maxNewTokens}, more than ` +
        `contextWindow ${contextWindow}; shorten the query or instruction, or pass truncate: true`,
    );
  }
  // Cut at code point boundaries, so no surrogate pair is split.
  const chars = Array.from(query);
  const empty = attempt(dropped, "");
  if (empty.tokenCount > budget) {
    throw new PromptError(
      `the prompt needs ${empty.tokenCount} tokens without any query + maxNewTokens ${maxNewTokens}, more than ` +
        `contextWindow ${contextWindow}; shorten the instruction or template`,
    );
  }
  let lo = 1;
  let hi = chars.length;
  let fit = empty;
  let cut = chars.length;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    // A cut inside whitespace would leave it dangling at the start of the query.
    const tried = attempt(dropped, chars.slice(mid).join("").trimStart());
    if (tried.tokenCount <= budget) {
      fit = tried;
      cut = mid;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  warnings.push(`query truncated from the left: removed ${cut} of ${chars.length} characters to fit contextWindow ${contextWindow}`);
  return fit;
}

function resolveTemplate(template: BuildPromptOptions["template"]): PromptTemplate {
  if (template === undefined) return PROMPT_TEMPLATES.qa;
  if (typeof template === "string") {
    const found = (PROMPT_TEMPLATES as Record<string, PromptTemplate>)[template];
    if (!found) {
      throw new PromptError(
        `template "${template}" is not a built-in template (expected one of ${Object.keys(PROMPT_TEMPLATES).join(", ")}, ` +
          "or an object with format(example))",
      );
    }
    return found;
  }
  if (typeof template?.format !== "function") {
    throw new PromptError("template must be a built-in template name or an object with format(example)");
  }
  return template;
}

function validate(options: BuildPromptOptions, examples: readonly FewShotExample[]): void {
  const { contextWindow, maxNewTokens, query, instruction, tokenizer, chat } = options;
  if (!Number.isInteger(contextWindow) || contextWindow < 1) {
    throw new PromptError(`contextWindow must be a positive integer, got ${String(contextWindow)}`);
  }
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new PromptError(`maxNewTokens must be an integer >= 0, got ${String(maxNewTokens)}`);
  }
  if (typeof query !== "string") throw new PromptError(`query must be a string, got ${typeof query}`);
  if (instruction !== undefined && typeof instruction !== "string") {
    throw new PromptError(`instruction must be a string, got ${typeof instruction}`);
  }
  if (!Array.isArray(examples)) throw new PromptError("examples must be an array of { input, output }");
  examples.forEach((e, i) => {
    for (const field of ["input", "output"] as const) {
      if (typeof e?.[field] !== "string") {
        throw new PromptError(`examples[${i}].${field} must be a string, got ${e === null ? "null" : typeof e?.[field]}`);
      }
    }
  });
  if (typeof tokenizer?.encode !== "function") throw new PromptError("tokenizer must have an encode(text) method");
  if (chat && typeof tokenizer.applyChatTemplate !== "function") {
    throw new PromptError("chat: true needs tokenizer.applyChatTemplate(messages, { addGenerationPrompt, tokenize: false }) to render the messages");
  }
}
