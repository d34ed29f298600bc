/** One demonstration for few-shot prompting. */
export interface FewShotExample {
  input: string;
  output: string;
}

/**
 * Renders examples and the query into text. `format({ input, output })` renders a demonstration;
 * `format({ input })` (no output) renders the query, ending where the model should continue — without a trailing
 * space, since BPE tokenizers attach the space to the next word.
 */
export interface PromptTemplate {
  format(example: { input: string; output?: string }): string;
  /** Between the instruction, each example and the query; "\n\n" when unset. */
  separator?: string;
}

function labelled(inputLabel: string, outputLabel: string): PromptTemplate {
  return {
    format: ({ input, output }) =>
      `${inputLabel}: ${input}\n${outputLabel}:` + (output === undefined ? "" : ` ${output}`),
  };
}

/**
 * The built-in templates (examples and query joined by a blank line):
 * - classification: `Text: {input}\nLabel: {output}`
 * - summarization:  `Article: {input}\nSummary: {output}`
 * - qa:             `Question: {input}\nAnswer: {output}`
 * - translation:    `Source: {input}\nTranslation: {output}`
 * The query is rendered the same way, ending after the output label's colon (e.g. `Question: …\nAnswer:`).
 */
export const PROMPT_TEMPLATES = {
  classification: labelled("Text", "Label"),
  summarization: labelled("Article", "Summary"),
  qa: labelled("Question", "Answer"),
  translation: labelled("Source", "Translation"),
} as const satisfies Record<string, PromptTemplate>;

export type PromptTemplateName = keyof typeof PROMPT_TEMPLATES;
