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
 * tokens, raise_exception and strftime_now, plus any extra ones (tools, documents, enable_thinking, ...).
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
  const helpers = {
    raise_exception: (message: unknown): never => {
      throw new TokenizerError(`chat_template: ${String(message)}`);
    },
    strftime_now: (format: unknown): string => strftime(new Date(), String(format)),
  };
  try {
    return template.render({ ...helpers, ...context });
  } catch (err) {
    if (err instanceof TokenizerError) throw err;
    throw new TokenizerError(`chat_template: rendering failed: ${(err as Error).message}`);
  }
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** The strftime directives chat templates use (local time, as Python's datetime.now().strftime). */
export function strftime(date: Date, format: string): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  return format.replace(/%([a-zA-Z%])/g, (all, d: string) => {
    switch (d) {
      case "Y": return String(date.getFullYear());
      case "y": return pad(date.getFullYear() % 100);
      case "m": return pad(date.getMonth() + 1);
      case "d": return pad(date.getDate());
      case "e": return String(date.getDate()).padStart(2, " ");
      case "H": return pad(date.getHours());
      case "I": return pad(date.getHours() % 12 || 12);
      case "M": return pad(date.getMinutes());
      case "S": return pad(date.getSeconds());
      case "p": return date.getHours() < 12 ? "AM" : "PM";
      case "A": return DAYS[date.getDay()]!;
      case "a": return DAYS[date.getDay()]!.slice(0, 3);
      case "B": return MONTHS[date.getMonth()]!;
      case "b": case "h": return MONTHS[date.getMonth()]!.slice(0, 3);
      case "j": {
        const start = new Date(date.getFullYear(), 0, 1);
        return pad(Math.floor((date.getTime() - start.getTime()) / 86_400_000) + 1, 3);
      }
      case "%": return "%";
      default: return all;
    }
  });
}
