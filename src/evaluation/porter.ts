/**
 * Porter stemmer with the three modes of NLTK's `PorterStemmer`, so ROUGE with stemming gives the stems
 * rouge-score gets (it uses NLTK's default mode, NLTK_EXTENSIONS). Words are expected in lowercase ASCII.
 */
export type PorterMode = "NLTK_EXTENSIONS" | "MARTIN_EXTENSIONS" | "ORIGINAL_ALGORITHM";

type Condition = ((stem: string) => boolean) | null;
/** [suffix, replacement, condition]; the suffix "*d" means "ends in a double consonant". */
type Rule = [string, string, Condition];

// Irregular forms NLTK maps before (and instead of) running the algorithm.
const IRREGULAR_FORMS: Record<string, string[]> = {
  sky: ["sky", "skies"],
  die: ["dying"],
  lie: ["lying"],
  tie: ["tying"],
  news: ["news"],
  inning: ["innings", "inning"],
  outing: ["outings", "outing"],
  canning: ["cannings", "canning"],
  howe: ["howe"],
  proceed: ["proceed"],
  exceed: ["exceed"],
  succeed: ["succeed"],
};

const IRREGULAR_POOL = new Map<string, string>(
  Object.entries(IRREGULAR_FORMS).flatMap(([stem, forms]) => forms.map((form) => [form, stem] as [string, string])),
);

const VOWELS = new Set(["a", "e", "i", "o", "u"]);

export class PorterStemmer {
  readonly mode: PorterMode;

  constructor(mode: PorterMode = "NLTK_EXTENSIONS") {
    this.mode = mode;
  }

  /** Stems one word (lowercased first). */
  stem(word: string): string {
    let stem = word.toLowerCase();
    if (this.mode === "NLTK_EXTENSIONS") {
      const irregular = IRREGULAR_POOL.get(word);
      if (irregular !== undefined) return irregular;
    }
    // Outside the original algorithm, words of one or two letters are left alone.
    if (this.mode !== "ORIGINAL_ALGORITHM" && word.length <= 2) return stem;
    stem = this.step1a(stem);
    stem = this.step1b(stem);
    stem = this.step1c(stem);
    stem = this.step2(stem);
    stem = this.step3(stem);
    stem = this.step4(stem);
    stem = this.step5a(stem);
    stem = this.step5b(stem);
    return stem;
  }

  private isConsonant(word: string, i: number): boolean {
    const ch = word[i]!;
    if (VOWELS.has(ch)) return false;
    if (ch === "y") return i === 0 ? true : !this.isConsonant(word, i - 1);
    return true;
  }

  /** m in [C](VC)^m[V]: the number of vowel-to-consonant transitions. */
  private measure(stem: string): number {
    let m = 0;
    let previousVowel = false;
    for (let i = 0; i < stem.length; i++) {
      const consonant = this.isConsonant(stem, i);
      if (consonant && previousVowel) m++;
      previousVowel = !consonant;
    }
    return m;
  }

  private positiveMeasure = (stem: string): boolean => this.measure(stem) > 0;

  private containsVowel(stem: string): boolean {
    for (let i = 0; i < stem.length; i++) if (!this.isConsonant(stem, i)) return true;
    return false;
  }

  private endsDoubleConsonant(word: string): boolean {
    const n = word.length;
    return n >= 2 && word[n - 1] === word[n - 2] && this.isConsonant(word, n - 1);
  }

  /** Condition *o: ends consonant-vowel-consonant with the last not w, x or y (NLTK also accepts a 2-letter vc). */
  private endsCvc(word: string): boolean {
    const n = word.length;
    if (
      n >= 3 &&
      this.isConsonant(word, n - 3) &&
      !this.isConsonant(word, n - 2) &&
      this.isConsonant(word, n - 1) &&
      !"wxy".includes(word[n - 1]!)
    ) {
      return true;
    }
    return this.mode === "NLTK_EXTENSIONS" && n === 2 && !this.isConsonant(word, 0) && this.isConsonant(word, 1);
  }

  /** Applies the first rule whose suffix matches; a matching rule whose condition fails stops the search. */
  private applyRules(word: string, rules: Rule[]): string {
    for (const [suffix, replacement, condition] of rules) {
      if (suffix === "*d" && this.endsDoubleConsonant(word)) {
        const stem = word.slice(0, -2);
        return condition === null || condition(stem) ? stem + replacement : word;
      }
      if (word.endsWith(suffix)) {
        const stem = word.slice(0, word.length - suffix.length);
        return condition === null || condition(stem) ? stem + replacement : word;
      }
    }
    return word;
  }

  private step1a(word: string): string {
    // NLTK: 'flies' -> 'fli' but 'dies' -> 'die'.
    if (this.mode === "NLTK_EXTENSIONS" && word.endsWith("ies") && word.length === 4) return word.slice(0, -3) + "ie";
    return this.applyRules(word, [
      ["sses", "ss", null],
      ["ies", "i", null],
      ["ss", "ss", null],
      ["s", "", null],
    ]);
  }

  private step1b(word: string): string {
    // NLTK: 'spied' -> 'spi' but 'died' -> 'die'.
    if (this.mode === "NLTK_EXTENSIONS" && word.endsWith("ied")) {
      return word.slice(0, -3) + (word.length === 4 ? "ie" : "i");
    }
    if (word.endsWith("eed")) {
      const stem = word.slice(0, -3);
      return this.measure(stem) > 0 ? stem + "ee" : word;
    }
    let intermediate: string | null = null;
    for (const suffix of ["ed", "ing"]) {
      if (word.endsWith(suffix)) {
        const stem = word.slice(0, word.length - suffix.length);
        if (this.containsVowel(stem)) {
          intermediate = stem;
          break;
        }
      }
    }
    if (intermediate === null) return word;
    const last = intermediate[intermediate.length - 1]!;
    return this.applyRules(intermediate, [
      ["at", "ate", null],
      ["bl", "ble", null],
      ["iz", "ize", null],
      ["*d", last, () => !"lsz".includes(last)],
      ["", "e", (stem) => this.measure(stem) === 1 && this.endsCvc(stem)],
    ]);
  }

  private step1c(word: string): string {
    // NLTK: y -> i only after a consonant that is not the whole stem ('happy' -> 'happi', 'enjoy' stays).
    const condition =
      this.mode === "NLTK_EXTENSIONS"
        ? (stem: string) => stem.length > 1 && this.isConsonant(stem, stem.length - 1)
        : (stem: string) => this.containsVowel(stem);
    return this.applyRules(word, [["y", "i", condition]]);
  }

  private step2(word: string): string {
    const pos = this.positiveMeasure;
    if (this.mode === "NLTK_EXTENSIONS" && word.endsWith("alli") && pos(word.slice(0, -4))) {
      return this.step2(word.slice(0, -4) + "al");
    }
    const rules: Rule[] = [
      ["ational", "ate", pos],
      ["tional", "tion", pos],
      ["enci", "ence", pos],
      ["anci", "ance", pos],
      ["izer", "ize", pos],
      this.mode === "ORIGINAL_ALGORITHM" ? ["abli", "able", pos] : ["bli", "ble", pos],
      ["alli", "al", pos],
      ["entli", "ent", pos],
      ["eli", "e", pos],
      ["ousli", "ous", pos],
      ["ization", "ize", pos],
      ["ation", "ate", pos],
      ["ator", "ate", pos],
      ["alism", "al", pos],
      ["iveness", "ive", pos],
      ["fulness", "ful", pos],
      ["ousness", "ous", pos],
      ["aliti", "al", pos],
      ["iviti", "ive", pos],
      ["biliti", "ble", pos],
    ];
    if (this.mode === "NLTK_EXTENSIONS") {
      rules.push(["fulli", "ful", pos]);
      // The 'l' of 'logi' stays with the stem so short stems like 'geo', 'theo' behave like 'archaeo'.
      rules.push(["logi", "log", () => pos(word.slice(0, -3))]);
    } else if (this.mode === "MARTIN_EXTENSIONS") {
      rules.push(["logi", "log", pos]);
    }
    return this.applyRules(word, rules);
  }

  private step3(word: string): string {
    const pos = this.positiveMeasure;
    return this.applyRules(word, [
      ["icate", "ic", pos],
      ["ative", "", pos],
      ["alize", "al", pos],
      ["iciti", "ic", pos],
      ["ical", "ic", pos],
      ["ful", "", pos],
      ["ness", "", pos],
    ]);
  }

  private step4(word: string): string {
    const gt1 = (stem: string): boolean => this.measure(stem) > 1;
    return this.applyRules(word, [
      ["al", "", gt1],
      ["ance", "", gt1],
      ["ence", "", gt1],
      ["er", "", gt1],
      ["ic", "", gt1],
      ["able", "", gt1],
      ["ible", "", gt1],
      ["ant", "", gt1],
      ["ement", "", gt1],
      ["ment", "", gt1],
      ["ent", "", gt1],
      ["ion", "", (stem) => gt1(stem) && (stem.endsWith("s") || stem.endsWith("t"))],
      ["ou", "", gt1],
      ["ism", "", gt1],
      ["ate", "", gt1],
      ["iti", "", gt1],
      ["ous", "", gt1],
      ["ive", "", gt1],
      ["ize", "", gt1],
    ]);
  }

  private step5a(word: string): string {
    // Both rules ((m>1) E and (m=1 and not *o) E) are tried, unlike the first-match rule lists.
    if (!word.endsWith("e")) return word;
    const stem = word.slice(0, -1);
    const m = this.measure(stem);
    if (m > 1) return stem;
    if (m === 1 && !this.endsCvc(stem)) return stem;
    return word;
  }

  private step5b(word: string): string {
    return this.applyRules(word, [["ll", "l", () => this.measure(word.slice(0, -1)) > 1]]);
  }
}
