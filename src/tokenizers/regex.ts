import { TokenizerError } from "./errors.js";

/**
 * Translates an Oniguruma (Ruby syntax) pattern, as tokenizer.json files carry them, into a JS RegExp with the
 * `u` flag. Differences handled: `(?i:...)` groups (Node 20 has no inline modifiers) become explicit case
 * classes; atomic groups and possessive quantifiers become `(?=(?<n>X))\k<n>`, which matches the same text
 * without backtracking into X; `\s`, `\d`, `\w`, `\h` get their Unicode meanings; `^`/`$` are line anchors
 * as in Ruby; `\p{Han}`-style script names become `\p{Script=Han}`.
 */
export function translateRegex(pattern: string): RegExp {
  let source: string;
  try {
    source = new Translator(pattern).run();
    return new RegExp(source, "gmu");
  } catch (err) {
    throw new TokenizerError(
      `tokenizer.json: cannot translate regex ${JSON.stringify(pattern)} to JavaScript: ${(err as Error).message}`,
    );
  }
}

// Unicode White_Space, which Oniguruma's \s and Rust's char::is_whitespace use (JS's \s adds U+FEFF, lacks U+0085).
const SPACE_BODY = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WORD_BODY = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
const DIGIT_BODY = "\\p{Nd}";
const HEX_BODY = "0-9a-fA-F";

const GENERAL_CATEGORIES = new Set(
  (
    "L Lu Ll Lt Lm Lo LC M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn " +
    "Letter Mark Number Punctuation Symbol Separator Other Any ASCII Alphabetic White_Space Uppercase Lowercase " +
    "Emoji Emoji_Presentation Extended_Pictographic Ideographic"
  ).split(" "),
);

const SYNTAX_CHARS = new Set("^$\\.*+?()[]{}|/");

interface Group {
  /** Output index where the group's text (including its opening) starts. */
  start: number;
  close: string;
  ignoreCase: boolean;
}

class Translator {
  private out = "";
  private i = 0;
  private groups: Group[] = [];
  private ignoreCase = false;
  private lastAtomStart = -1;
  private atomicCount = 0;

  constructor(private readonly src: string) {}

  run(): string {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === "\\") this.atom(() => this.escape(false));
      else if (c === "[") this.atom(() => this.charClass());
      else if (c === "(") this.openGroup();
      else if (c === ")") this.closeGroup();
      else if (c === "*" || c === "+" || c === "?" || (c === "{" && /^\{\d*,?\d*\}/.test(s.slice(this.i)))) this.quantifier();
      else if (c === "|" || c === "^" || c === "$") {
        this.out += c;
        this.i++;
        this.lastAtomStart = -1;
      } else if (c === ".") this.atom(() => { this.out += "."; this.i++; });
      else this.atom(() => this.literal(c));
    }
    if (this.groups.length > 0) throw new Error("unclosed group");
    return this.out;
  }

  private atom(emit: () => void): void {
    this.lastAtomStart = this.out.length;
    emit();
  }

  private literal(c: string): void {
    const cp = this.src.codePointAt(this.i)!;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length;
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    if (this.ignoreCase && (lower !== ch || upper !== ch) && lower.length === 1 && upper.length === 1) {
      this.out += `[${escapeClassChar(lower)}${escapeClassChar(upper)}]`;
    } else {
      this.out += SYNTAX_CHARS.has(c) ? `\\${c}` : ch;
    }
  }

  private quantifier(): void {
    const s = this.src;
    let q: string;
    if (s[this.i] === "{") {
      const end = s.indexOf("}", this.i);
      q = s.slice(this.i, end + 1);
      if (q.startsWith("{,")) q = `{0${q.slice(1)}`;
      this.i = end + 1;
    } else {
      q = s[this.i]!;
      this.i++;
    }
    if (s[this.i] === "?") {
      q += "?";
      this.i++;
    } else if (s[this.i] === "+") {
      this.i++;
      if (this.lastAtomStart < 0) throw new Error("possessive quantifier without an atom");
      const atom = this.out.slice(this.lastAtomStart);
      const name = `atomic${this.atomicCount++}`;
      this.out = `${this.out.slice(0, this.lastAtomStart)}(?:(?=(?<${name}>${atom}${q}))\\k<${name}>)`;
      return;
    }
    this.out += q;
  }

  private openGroup(): void {
    const s = this.src;
    const start = this.out.length;
    const rest = s.slice(this.i);
    let m: RegExpMatchArray | null;
    if (rest.startsWith("(?>")) {
      const name = `atomic${this.atomicCount++}`;
      this.out += `(?:(?=(?<${name}>`;
      this.groups.push({ start, close: `))\\k<${name}>)`, ignoreCase: this.ignoreCase });
      this.i += 3;
    } else if ((m = rest.match(/^\(\?([imx]*)(?:-([imx]*))?([:)])/))) {
      const on = m[1]!;
      const off = m[2] ?? "";
      const flagIgnoreCase = on.includes("i") ? true : off.includes("i") ? false : this.ignoreCase;
      this.i += m[0].length;
      if (m[3] === ")") {
        // (?i) applies to the rest of the enclosing group.
        this.ignoreCase = flagIgnoreCase;
        return;
      }
      this.out += "(?:";
      this.groups.push({ start, close: ")", ignoreCase: this.ignoreCase });
      this.ignoreCase = flagIgnoreCase;
    } else if ((m = rest.match(/^\(\?(?::|=|!|<=|<!|<[A-Za-z_][A-Za-z0-9_]*>|P<[A-Za-z_][A-Za-z0-9_]*>)?/))) {
      let open = m[0];
      if (open.startsWith("(?P<")) open = `(?<${open.slice(4)}`;
      this.out += open;
      this.i += m[0].length;
      this.groups.push({ start, close: ")", ignoreCase: this.ignoreCase });
    }
    this.lastAtomStart = -1;
  }

  private closeGroup(): void {
    const group = this.groups.pop();
    if (!group) throw new Error("unbalanced ')'");
    this.out += group.close;
    this.i++;
    this.ignoreCase = group.ignoreCase;
    this.lastAtomStart = group.start;
  }

  private charClass(): void {
    const s = this.src;
    this.out += "[";
    this.i++;
    if (s[this.i] === "^") {
      this.out += "^";
      this.i++;
    }
    let first = true;
    while (this.i < s.length && (s[this.i] !== "]" || first)) {
      first = false;
      const c = s[this.i]!;
      if (c === "\\") this.escape(true);
      else if (c === "[") {
        if (s.startsWith("[:", this.i)) {
          const end = s.indexOf(":]", this.i);
          this.out += posixClass(s.slice(this.i + 2, end));
          this.i = end + 2;
        } else {
          this.out += "\\[";
          this.i++;
        }
      } else {
        const ch = String.fromCodePoint(s.codePointAt(this.i)!);
        this.i += ch.length;
        if (this.ignoreCase && ch.toLowerCase() !== ch.toUpperCase() && s[this.i] !== "-" && this.out.at(-1) !== "-") {
          this.out += escapeClassChar(ch.toLowerCase()) + escapeClassChar(ch.toUpperCase());
        } else {
          this.out += ch === "-" ? "-" : escapeClassChar(ch);
        }
      }
    }
    if (this.i >= s.length) throw new Error("unclosed character class");
    this.out += "]";
    this.i++;
  }

  private escape(inClass: boolean): void {
    const s = this.src;
    const c = s[this.i + 1];
    if (c === undefined) throw new Error("pattern ends with a backslash");
    this.i += 2;
    const set = (body: string, negated: boolean): void => {
      if (inClass) {
        if (negated) throw new Error(`\\${c} inside a character class is not supported`);
        this.out += body;
      } else {
        this.out += negated ? `[^${body}]` : `[${body}]`;
      }
    };
    switch (c) {
      case "s": return set(SPACE_BODY, false);
      case "S": return set(SPACE_BODY, true);
      case "d": return set(DIGIT_BODY, false);
      case "D": return set(DIGIT_BODY, true);
      case "w": return set(WORD_BODY, false);
      case "W": return set(WORD_BODY, true);
      case "h": return set(HEX_BODY, false);
      case "H": return set(HEX_BODY, true);
      case "A": this.out += inClass ? "A" : "(?<![\\s\\S])"; return;
      case "z": this.out += inClass ? "z" : "(?![\\s\\S])"; return;
      case "Z": this.out += inClass ? "Z" : "(?=\\n?(?![\\s\\S]))"; return;
      case "p":
      case "P": {
        const m = s.slice(this.i).match(/^\{(\^?)([A-Za-z_=]+)\}/);
        if (!m) throw new Error(`bad \\${c} escape`);
        this.i += m[0].length;
        const negated = (c === "P") !== (m[1] === "^");
        const name = m[2]!;
        const prop = GENERAL_CATEGORIES.has(name) || name.includes("=") ? name : `Script=${name}`;
        this.out += `\\${negated ? "P" : "p"}{${prop}}`;
        return;
      }
      case "x": {
        const m = s.slice(this.i).match(/^\{([0-9a-fA-F]+)\}/);
        if (m) {
          this.i += m[0].length;
          this.out += `\\u{${m[1]}}`;
        } else {
          this.out += "\\x";
        }
        return;
      }
      case "u": case "n": case "r": case "t": case "f": case "v": case "0":
        this.out += `\\${c}`;
        return;
      case "b": case "B": case "k":
        this.out += `\\${c}`;
        return;
      default:
        if (/[1-9]/.test(c)) this.out += `\\${c}`;
        else if (inClass) this.out += escapeClassChar(c);
        else if (SYNTAX_CHARS.has(c)) this.out += `\\${c}`;
        else {
          this.i -= 1;
          this.literal(c);
        }
    }
  }
}

function escapeClassChar(ch: string): string {
  return "\\^-[]/".includes(ch) ? `\\${ch}` : ch;
}

function posixClass(name: string): string {
  const table: Record<string, string> = {
    alpha: "\\p{L}\\p{M}", digit: "0-9", alnum: "\\p{L}\\p{M}\\p{Nd}", space: SPACE_BODY, upper: "\\p{Lu}",
    lower: "\\p{Ll}", punct: "\\p{P}", xdigit: HEX_BODY, word: WORD_BODY, cntrl: "\\p{Cc}",
  };
  const body = table[name];
  if (body === undefined) throw new Error(`POSIX class [:${name}:] is not supported`);
  return body;
}

/** Escapes text so that it matches literally in a JS RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}
