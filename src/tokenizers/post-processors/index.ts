import { asObject, TokenizerError, unknownComponent } from "../errors.js";
import { isWhitespaceCode } from "../chars.js";
import { concatEncodings, type Encoding, specialEncoding, withTypeId } from "../encoding.js";

/**
 * Adds special tokens around one sequence or a pair and sets type ids. Works on the list of encodings (one, or
 * two for a pair, whose type ids are already 0 and 1) so that steps of a Sequence can leave them apart.
 */
export interface PostProcessor {
  processEncodings(encodings: Encoding[], addSpecialTokens: boolean): Encoding[];
}

/** Runs a post-processor (or none) and merges what is left into one encoding. */
export function postProcess(p: PostProcessor | null, a: Encoding, b: Encoding | null, add: boolean): Encoding {
  const list = b ? [a, b] : [a];
  return concatEncodings(p ? p.processEncodings(list, add) : list);
}

export const POST_PROCESSOR_TYPES = ["TemplateProcessing", "ByteLevel", "BertProcessing", "RobertaProcessing", "Sequence"] as const;

export function postProcessorFromJSON(json: unknown): PostProcessor | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, "post_processor");
  switch (o.type) {
    case "TemplateProcessing":
      return templateProcessing(o);
    case "ByteLevel": {
      const trim = o.trim_offsets !== false;
      const addPrefixSpace = o.add_prefix_space !== false;
      return { processEncodings: (list) => (trim ? list.map((e) => trimOffsets(e, addPrefixSpace)) : list) };
    }
    case "BertProcessing":
    case "RobertaProcessing": {
      const [sepToken, sepId] = readSpecial(o.sep, `post_processor ${o.type}.sep`);
      const [clsToken, clsId] = readSpecial(o.cls, `post_processor ${o.type}.cls`);
      const roberta = o.type === "RobertaProcessing";
      const trim = roberta && o.trim_offsets !== false;
      const addPrefixSpace = o.add_prefix_space !== false;
      return {
        processEncodings(list, add) {
          if (trim) list = list.map((e) => trimOffsets(e, addPrefixSpace));
          // RoBERTa gives every token type id 0, special tokens or not.
          if (roberta) list = list.map((e) => withTypeId(e, 0));
          if (!add) return list;
          const [a, b] = list as [Encoding, Encoding | undefined];
          const cls = (t: number) => specialEncoding([clsId], [clsToken], t);
          const sep = (t: number) => specialEncoding([sepId], [sepToken], t);
          const first = concatEncodings([cls(0), withTypeId(a, 0), sep(0)]);
          if (!b) return [first];
          const t = roberta ? 0 : 1;
          return [concatEncodings([first, ...(roberta ? [sep(0)] : []), withTypeId(b, t), sep(t)])];
        },
      };
    }
    case "Sequence": {
      const list = o.processors;
      if (!Array.isArray(list)) throw new TokenizerError("tokenizer.json: post_processor Sequence.processors must be an array");
      const steps = list.map((p) => postProcessorFromJSON(p)).filter((p): p is PostProcessor => p !== null);
      return { processEncodings: (list, add) => steps.reduce((acc, p) => p.processEncodings(acc, add), list) };
    }
    default:
      return unknownComponent("post_processor", o.type, POST_PROCESSOR_TYPES);
  }
}

function readSpecial(value: unknown, where: string): [string, number] {
  if (Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "number") return [value[0], value[1]];
  throw new TokenizerError(`tokenizer.json: ${where} must be [token, id], got ${JSON.stringify(value)}`);
}

type Piece = { kind: "sequence"; which: "A" | "B"; typeId: number } | { kind: "special"; name: string; typeId: number };

function templateProcessing(o: Record<string, unknown>): PostProcessor {
  const parse = (value: unknown, where: string): Piece[] => {
    const list = typeof value === "string" ? value.split(/\s+/).filter(Boolean) : value;
    if (!Array.isArray(list)) throw new TokenizerError(`tokenizer.json: post_processor TemplateProcessing.${where} must be an array`);
    return list.map((p): Piece => {
      if (typeof p === "string") {
        const [name, type] = p.split(":");
        const typeId = type === undefined ? 0 : Number(type);
        if (name === "$A" || name === "$B") return { kind: "sequence", which: name.slice(1) as "A" | "B", typeId };
        if (name === "$") return { kind: "sequence", which: "A", typeId };
        return { kind: "special", name: name!, typeId };
      }
      const obj = asObject(p, `post_processor TemplateProcessing.${where}[]`);
      if (obj.Sequence) {
        const s = asObject(obj.Sequence, "TemplateProcessing Sequence");
        return { kind: "sequence", which: s.id === "B" ? "B" : "A", typeId: Number(s.type_id ?? 0) };
      }
      if (obj.SpecialToken) {
        const s = asObject(obj.SpecialToken, "TemplateProcessing SpecialToken");
        return { kind: "special", name: String(s.id), typeId: Number(s.type_id ?? 0) };
      }
      throw new TokenizerError(`tokenizer.json: post_processor TemplateProcessing.${where} has an unknown piece ${JSON.stringify(p)}`);
    });
  };
  const single = parse(o.single, "single");
  const pair = parse(o.pair ?? o.single, "pair");
  const specials = new Map<string, { ids: number[]; tokens: string[] }>();
  for (const [name, value] of Object.entries(asObject(o.special_tokens ?? {}, "TemplateProcessing.special_tokens"))) {
    const s = asObject(value, `TemplateProcessing.special_tokens.${name}`);
    specials.set(name, { ids: (s.ids as number[]) ?? [], tokens: (s.tokens as string[]) ?? [] });
  }
  for (const piece of [...single, ...pair]) {
    if (piece.kind === "special" && !specials.has(piece.name)) {
      throw new TokenizerError(`tokenizer.json: TemplateProcessing uses "${piece.name}", which is missing from special_tokens`);
    }
  }
  return {
    processEncodings(list, add) {
      const [a, b] = list as [Encoding, Encoding | undefined];
      const parts: Encoding[] = [];
      for (const piece of b ? pair : single) {
        if (piece.kind === "sequence") {
          const seq = piece.which === "A" ? a : b;
          if (seq) parts.push(withTypeId(seq, piece.typeId));
        } else if (add) {
          const s = specials.get(piece.name)!;
          parts.push(specialEncoding(s.ids, s.tokens, piece.typeId));
        }
      }
      return [concatEncodings(parts)];
    },
  };
}

const BYTE_SPACE = 0x120;

/** ByteLevel's trim_offsets: offsets stop covering the spaces a token starts or ends with. */
function trimOffsets(e: Encoding, addPrefixSpace: boolean): Encoding {
  // Spaces are single UTF-16 units, so counting units counts characters; unchanged offsets keep their pair.
  const isSpace = (u: number): boolean => u === BYTE_SPACE || isWhitespaceCode(u);
  const offsets = e.offsets.map((pair, i): [number, number] => {
    const token = e.tokens[i]!;
    const n = token.length;
    let leading = 0;
    while (leading < n && isSpace(token.charCodeAt(leading))) leading++;
    if (leading === 0 && (n === 0 || !isSpace(token.charCodeAt(n - 1)))) return pair;
    let trailing = 0;
    while (trailing < n && isSpace(token.charCodeAt(n - 1 - trailing))) trailing++;
    let [start, end] = pair;
    if (leading > 0) {
      if ((i === 0 || start === 0) && addPrefixSpace && leading === 1) leading = 0;
      start = Math.min(start + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = Math.max(end - trailing, start);
    return start === pair[0] && end === pair[1] ? pair : [start, end];
  });
  return { ...e, offsets };
}
