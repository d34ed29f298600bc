import { Template } from "@huggingface/jinja";
import { TokenizerError } from "./errors.js";

/** One chat turn; `content` may be a string or a list of parts as multimodal templates expect. */
export interface ChatMessage {
  role: string;
  content: string | Array<Record<string, unknown>>;
  [key: string]: unknown;
}

/** Picks the template: a string, or the named one (default "default") of a list of {name, template}. */
export function selectChatTemplate(value: unknown, name?: string): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const wanted = name ?? (value.some((t) => t?.name === "default") ? "default" : undefined);
    const found = value.find((t) => t?.name === wanted) ?? (wanted === undefined ? value[0] : undefined);
    if (found && typeof found.template === "string") return found.template;
    const names = value.map((t) => t?.name).join(", ");
    throw new TokenizerError(`tokenizer_config.json: chat_template has no template named "${wanted}"; it has: ${names}`);
  }
  throw new TokenizerError("tokenizer_config.json: no chat_template; pass one with the chatTemplate option");
}

const templates = new Map<string, Template>();

/**
 * Renders a chat template with the variables transformers passes: messages, add_generation_prompt, the special
 * tokens, tools and documents (None unless given), plus any extra ones (enable_thinking, ...). raise_exception
 * and strftime_now come with @huggingface/jinja; an exception raised by the template becomes a TokenizerError.
 */
export function renderChatTemplate(source: string, context: Record<string, unknown>): string {
  let template = templates.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (err) {
      throw new TokenizerError(`chat_template: cannot parse the template: ${(err as Error).message}`);
    }
    if (templates.size > 16) templates.clear();
    templates.set(source, template);
  }
  try {
    return template.render({ tools: null, documents: null, ...context });
  } catch (err) {
    throw new TokenizerError(`chat_template: ${(err as Error).message}`);
  }
}
