/**
 * The result of encoding one text (or pair). Offsets are [start, end) in UTF-16 code units of the input string,
 * so `text.slice(start, end)` gives a token's source text; Python's tokenizers reports code-point indices
 * instead (the two differ only after characters outside the BMP, such as emoji). Special tokens have [0, 0].
 */
export interface Encoding {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  attentionMask: number[];
  typeIds: number[];
  specialTokensMask: number[];
}

export function emptyEncoding(): Encoding {
  return { ids: [], tokens: [], offsets: [], attentionMask: [], typeIds: [], specialTokensMask: [] };
}

export function concatEncodings(parts: Encoding[]): Encoding {
  if (parts.length === 1) return parts[0]!;
  // Array.concat rather than push(...spread): encodings of huge texts would overflow the call stack.
  const join = <K extends keyof Encoding>(key: K): Encoding[K] =>
    ([] as Encoding[K][number][]).concat(...parts.map((p) => p[key] as Encoding[K][number][])) as Encoding[K];
  return {
    ids: join("ids"),
    tokens: join("tokens"),
    offsets: join("offsets"),
    attentionMask: join("attentionMask"),
    typeIds: join("typeIds"),
    specialTokensMask: join("specialTokensMask"),
  };
}

export function withTypeId(e: Encoding, typeId: number): Encoding {
  if (e.typeIds.every((t) => t === typeId)) return e;
  return { ...e, typeIds: e.typeIds.map(() => typeId) };
}

/**
 * Collects the encoding of one sequence. The result is a plain object with every field filled, so spreading,
 * JSON.stringify and deep equality see plain data, and V8 keeps one fast shape for every encoding (lazy
 * per-object accessors made encoding ~70% slower).
 */
export class SequenceEncoder {
  private readonly ids: number[] = [];
  private readonly tokens: string[] = [];
  private readonly offsets: [number, number][] = [];

  constructor(private readonly typeId: number) {}

  push(id: number, token: string, start: number, end: number): void {
    this.ids.push(id);
    this.tokens.push(token);
    this.offsets.push([start, end]);
  }

  build(): Encoding {
    const { ids, tokens, offsets } = this;
    const n = ids.length;
    return {
      ids,
      tokens,
      offsets,
      attentionMask: new Array<number>(n).fill(1),
      typeIds: new Array<number>(n).fill(this.typeId),
      specialTokensMask: new Array<number>(n).fill(0),
    };
  }
}

export function specialEncoding(ids: number[], tokens: string[], typeId: number): Encoding {
  return {
    ids: [...ids],
    tokens: [...tokens],
    offsets: ids.map((): [number, number] => [0, 0]),
    attentionMask: ids.map(() => 1),
    typeIds: ids.map(() => typeId),
    specialTokensMask: ids.map(() => 1),
  };
}

/** Keeps `length` tokens from the given side. */
export function truncateEncoding(e: Encoding, length: number, side: "left" | "right"): Encoding {
  if (e.ids.length <= length) return e;
  const from = side === "right" ? 0 : e.ids.length - length;
  const cut = <T>(a: T[]): T[] => a.slice(from, from + length);
  return {
    ids: cut(e.ids),
    tokens: cut(e.tokens),
    offsets: cut(e.offsets),
    attentionMask: cut(e.attentionMask),
    typeIds: cut(e.typeIds),
    specialTokensMask: cut(e.specialTokensMask),
  };
}

export function padEncoding(
  e: Encoding,
  length: number,
  pad: { id: number; token: string; typeId: number },
  side: "left" | "right",
): Encoding {
  const n = length - e.ids.length;
  if (n <= 0) return e;
  const fill = <T>(a: T[], v: () => T): T[] => {
    const extra = Array.from({ length: n }, v);
    return side === "right" ? [...a, ...extra] : [...extra, ...a];
  };
  return {
    ids: fill(e.ids, () => pad.id),
    tokens: fill(e.tokens, () => pad.token),
    offsets: fill(e.offsets, (): [number, number] => [0, 0]),
    attentionMask: fill(e.attentionMask, () => 0),
    typeIds: fill(e.typeIds, () => pad.typeId),
    specialTokensMask: fill(e.specialTokensMask, () => 1),
  };
}

/** Converts UTF-16 offsets of `text` into code-point offsets (Python's string indices). */
export function toCodePointOffsets(text: string, offsets: ReadonlyArray<readonly [number, number]>): [number, number][] {
  const map = new Int32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = cp;
    const u = text.charCodeAt(i);
    if (!(u >= 0xd800 && u <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00)) cp++;
  }
  map[text.length] = cp;
  return offsets.map(([s, e]): [number, number] => [map[s]!, map[e]!]);
}
