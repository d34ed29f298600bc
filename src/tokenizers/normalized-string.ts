/**
 * A piece of text after normalization, remembering for every UTF-16 unit which range of the original text it
 * came from (as Hugging Face tokenizers' NormalizedString does per byte). Every unit of one normalized character
 * carries that character's whole original range, so token offsets always land on original character boundaries.
 */
export class NormalizedString {
  private constructor(
    readonly normalized: string,
    /** Two ints per unit of `normalized`: original [start, end). Null means unit i maps to [base + i, base + i + 1). */
    private readonly align: Int32Array | null,
    private readonly base: number,
  ) {}

  static fromText(text: string, base = 0): NormalizedString {
    return new NormalizedString(text, null, base);
  }

  get length(): number {
    return this.normalized.length;
  }

  alignStart(unit: number): number {
    return this.align ? this.align[2 * unit]! : this.base + unit;
  }

  alignEnd(unit: number): number {
    return this.align ? this.align[2 * unit + 1]! : this.base + unit + 1;
  }

  /** Original [start, end) of the normalized units [start, end); an empty range maps to an empty range. */
  originalRange(start: number, end: number): [number, number] {
    if (end <= start) {
      const at = start < this.length ? this.alignStart(start) : this.length > 0 ? this.alignEnd(this.length - 1) : this.base;
      return [at, at];
    }
    return [this.alignStart(start), this.alignEnd(end - 1)];
  }

  slice(start: number, end: number): NormalizedString {
    if (start === 0 && end === this.length) return this;
    return new NormalizedString(
      this.normalized.slice(start, end),
      this.align ? this.align.subarray(2 * start, 2 * end) : null,
      this.base + start,
    );
  }

  /** Same alignment, new text of the same UTF-16 length (for 1:1 character maps). */
  withSameLength(text: string): NormalizedString {
    return new NormalizedString(text, this.align, this.base);
  }

  /**
   * Rebuilds the string character by character: `map` returns what each character becomes ("" removes it,
   * several characters insert); every unit produced carries the source character's original range.
   * Returns `this` when nothing changed.
   */
  mapChars(map: (ch: string, cp: number) => string): NormalizedString {
    const s = this.normalized;
    const b = new AlignedBuilder(s.length);
    let changed = false;
    for (let i = 0; i < s.length; ) {
      const cp = s.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      const ch = len === 1 ? s[i]! : s.slice(i, i + 2);
      const out = map(ch, cp);
      if (out !== ch) changed = true;
      if (out.length > 0) b.push(out, this.alignStart(i), this.alignEnd(i + len - 1));
      i += len;
    }
    return changed ? b.build() : this;
  }

  /**
   * Replaces the given non-overlapping ranges. Inserted text takes the original range of the last character
   * it replaces, as tokenizers' `replace` does.
   */
  replaceRanges(ranges: ReadonlyArray<readonly [number, number]>, content: string): NormalizedString {
    if (ranges.length === 0) return this;
    const s = this.normalized;
    if (content.length === 1 && ranges.every(([a, e]) => e - a === 1)) {
      // One unit for one unit keeps every alignment; avoids materializing them for huge inputs.
      let last = 0;
      const parts: string[] = [];
      for (const [a] of ranges) {
        parts.push(s.slice(last, a), content);
        last = a + 1;
      }
      parts.push(s.slice(last));
      return this.withSameLength(parts.join(""));
    }
    const b = new AlignedBuilder(s.length);
    let last = 0;
    for (const [a, e] of ranges) {
      this.copyTo(b, last, a);
      if (content.length > 0) {
        const lastChar = e >= 2 && isLowSurrogate(s.charCodeAt(e - 1)) && isHighSurrogate(s.charCodeAt(e - 2)) ? e - 2 : e - 1;
        b.push(content, this.alignStart(lastChar), this.alignEnd(e - 1));
      }
      last = e;
    }
    this.copyTo(b, last, s.length);
    return b.build();
  }

  /** Puts `text` in front; it takes the original range of the first character (nothing happens when empty). */
  prepend(text: string): NormalizedString {
    if (this.length === 0 || text.length === 0) return this;
    const firstLen = this.normalized.codePointAt(0)! > 0xffff ? 2 : 1;
    const b = new AlignedBuilder(this.length + text.length);
    const start = this.alignStart(0);
    const end = this.alignEnd(firstLen - 1);
    b.push(text, start, end);
    b.push(this.normalized.slice(0, firstLen), start, end);
    this.copyTo(b, firstLen, this.length);
    return b.build();
  }

  /**
   * Unicode normalization with alignments: each starter and the combining marks after it are normalized
   * together; output characters map to input characters in order, extra outputs repeat the last input's
   * range and surplus inputs are dropped (as tokenizers' transform with negative changes).
   */
  unicodeNormalize(form: "NFC" | "NFD" | "NFKC" | "NFKD"): NormalizedString {
    const s = this.normalized;
    if (s.normalize(form) === s) return this;
    const b = new AlignedBuilder(s.length + 16);
    let i = 0;
    while (i < s.length) {
      let j = i + (s.codePointAt(i)! > 0xffff ? 2 : 1);
      while (j < s.length) {
        const cp = s.codePointAt(j)!;
        if (!isCombining(cp)) break;
        j += cp > 0xffff ? 2 : 1;
      }
      const cluster = s.slice(i, j);
      const out = cluster.normalize(form);
      if (out === cluster) {
        this.copyTo(b, i, j);
      } else {
        const inStarts: number[] = [];
        for (let k = i; k < j; k += s.codePointAt(k)! > 0xffff ? 2 : 1) inStarts.push(k);
        const outChars = Array.from(out);
        for (let k = 0; k < outChars.length; k++) {
          const src = inStarts[Math.min(k, inStarts.length - 1)]!;
          const srcLen = s.codePointAt(src)! > 0xffff ? 2 : 1;
          b.push(outChars[k]!, this.alignStart(src), this.alignEnd(src + srcLen - 1));
        }
      }
      i = j;
    }
    return b.build();
  }

  private copyTo(b: AlignedBuilder, start: number, end: number): void {
    if (end <= start) return;
    if (this.align) b.pushAligned(this.normalized.slice(start, end), this.align.subarray(2 * start, 2 * end));
    else {
      const text = this.normalized.slice(start, end);
      for (let k = 0; k < text.length; ) {
        const len = text.codePointAt(k)! > 0xffff ? 2 : 1;
        b.push(text.slice(k, k + len), this.base + start + k, this.base + start + k + len);
        k += len;
      }
    }
  }

  /** Text with explicit alignments: two ints (original start, end) per UTF-16 unit. */
  static fromParts(text: string, align: Int32Array): NormalizedString {
    return new NormalizedString(text, align, 0);
  }
}

class AlignedBuilder {
  private parts: string[] = [];
  private align: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.align = new Int32Array(Math.max(16, 2 * capacity));
  }

  push(text: string, start: number, end: number): void {
    this.reserve(text.length);
    this.parts.push(text);
    const a = this.align;
    for (let k = 0; k < text.length; k++) {
      a[2 * this.n] = start;
      a[2 * this.n + 1] = end;
      this.n++;
    }
  }

  pushAligned(text: string, align: Int32Array): void {
    this.reserve(text.length);
    this.parts.push(text);
    this.align.set(align, 2 * this.n);
    this.n += text.length;
  }

  build(): NormalizedString {
    return NormalizedString.fromParts(this.parts.join(""), this.align.subarray(0, 2 * this.n));
  }

  private reserve(extra: number): void {
    if (2 * (this.n + extra) <= this.align.length) return;
    const next = new Int32Array(Math.max(2 * (this.n + extra), 2 * this.align.length));
    next.set(this.align.subarray(0, 2 * this.n));
    this.align = next;
  }
}

const COMBINING = /^[\p{M}\u1160-\u11ff]$/u;

function isCombining(cp: number): boolean {
  if (cp < 0x300) return false;
  return COMBINING.test(String.fromCodePoint(cp));
}

function isHighSurrogate(u: number): boolean {
  return u >= 0xd800 && u <= 0xdbff;
}

function isLowSurrogate(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}
