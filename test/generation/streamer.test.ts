import { describe, expect, it } from "vitest";
import { Generator } from "../../src/utils/rng.js";
import {
  IncrementalDecoder,
  TextIteratorStreamer,
  TextStreamer,
  streamText,
  type Detokenizer,
} from "../../src/generation/index.js";

const utf8 = new TextEncoder();

/** ids are bytes; decode is UTF-8 with replacement, like a byte-level BPE's final step. */
const byteTokenizer: Detokenizer = {
  decode: (ids) => new TextDecoder("utf-8").decode(Uint8Array.from(ids)),
};

/**
 * SentencePiece-like with byte fallback: ids 0-255 are byte tokens (<0xNN>), ids from 256 are pieces where "▁"
 * is a space; decode joins the bytes, turns "▁" into spaces and drops the leading space (Metaspace decoder).
 */
const pieces = ["▁Hello", "▁world", "▁über", ",", "▁", "ing"];
const sentencePiece: Detokenizer = {
  decode: (ids) => {
    const bytes: number[] = [];
    for (const id of ids) {
      if (id < 256) bytes.push(id);
      else bytes.push(...utf8.encode(pieces[id - 256]!.replace(/▁/g, " ")));
    }
    const text = new TextDecoder("utf-8").decode(Uint8Array.from(bytes));
    return text.startsWith(" ") ? text.slice(1) : text;
  },
};

const hard = "Hi 👋🏽 世界! café vs cafe\u0301 🇯🇵 👩‍👩‍👧 नमस्ते — ok\n日本語のテキスト ñ̃";

function chunked(ids: number[], generator: Generator): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; ) {
    const n = 1 + generator.randint(0, 3);
    out.push(ids.slice(i, i + n));
    i += n;
  }
  return out;
}

describe("IncrementalDecoder", () => {
  it("byte-level: one byte at a time, pieces concatenate to the full decode and never hold U+FFFD", () => {
    const ids = Array.from(utf8.encode(hard));
    const decoder = new IncrementalDecoder(byteTokenizer);
    const out: string[] = [];
    for (const id of ids) out.push(decoder.push(id));
    out.push(decoder.flush());
    expect(out.join("")).toBe(byteTokenizer.decode(ids));
    expect(out.join("")).toBe(hard);
    for (const piece of out) expect(piece).not.toContain("\uFFFD");
    // Multi-byte characters are held until complete, so some pushes yield nothing.
    expect(out.filter((p) => p === "").length).toBeGreaterThan(10);
  });

  it("byte-level: random chunk sizes", () => {
    const ids = Array.from(utf8.encode(hard));
    for (const seed of [1, 2, 3]) {
      const decoder = new IncrementalDecoder(byteTokenizer);
      const out = chunked(ids, new Generator(seed)).map((c) => decoder.push(c));
      out.push(decoder.flush());
      expect(out.join("")).toBe(hard);
      for (const piece of out) expect(piece).not.toContain("\uFFFD");
    }
  });

  it("keeps the spaces a SentencePiece decoder strips from the first token, and joins byte fallbacks", () => {
    const ids = [256, 257, 259, ...utf8.encode("世"), 260, ...utf8.encode("😀"), 261, 258];
    const expected = sentencePiece.decode(ids);
    expect(expected).toBe("Hello world,世 😀ing über");
    const decoder = new IncrementalDecoder(sentencePiece);
    const out = ids.map((id) => decoder.push(id));
    out.push(decoder.flush());
    expect(out.join("")).toBe(expected);
    expect(out[1]).toBe(" world");
    for (const piece of out) expect(piece).not.toContain("\uFFFD");
  });

  it("flush gives out an unfinished character as the full decode would", () => {
    const ids = [...utf8.encode("a"), 0xe4, 0xb8];
    const decoder = new IncrementalDecoder(byteTokenizer);
    const out = ids.map((id) => decoder.push(id)).join("") + decoder.flush();
    expect(out).toBe(byteTokenizer.decode(ids));
  });

  it("passes decode options through", () => {
    const seen: unknown[] = [];
    const tok: Detokenizer = { decode: (ids, opts) => (seen.push(opts), byteTokenizer.decode(ids)) };
    new IncrementalDecoder(tok, { skipSpecialTokens: true }).push(65);
    expect(seen.every((o) => (o as { skipSpecialTokens: boolean }).skipSpecialTokens === true)).toBe(true);
  });
});

describe("TextStreamer and async adapters", () => {
  it("skips the prompt and reports the end", () => {
    const got: [string, boolean][] = [];
    const streamer = new TextStreamer(byteTokenizer, { skipPrompt: true, onText: (t, end) => got.push([t, end]) });
    streamer.put(Array.from(utf8.encode("prompt ")));
    for (const b of utf8.encode("été")) streamer.put(b);
    streamer.end();
    expect(got.map(([t]) => t).join("")).toBe("été");
    expect(got[got.length - 1]![1]).toBe(true);
  });

  it("TextIteratorStreamer yields the pieces to a for-await loop", async () => {
    const streamer = new TextIteratorStreamer(byteTokenizer);
    const ids = Array.from(utf8.encode(hard));
    const producer = (async () => {
      for (const id of ids) {
        streamer.put(id);
        if (id % 7 === 0) await Promise.resolve();
      }
      streamer.end();
    })();
    const pieces: string[] = [];
    for await (const piece of streamer) pieces.push(piece);
    await producer;
    expect(pieces.join("")).toBe(hard);
    expect(pieces.some((p) => p.includes("\uFFFD"))).toBe(false);
  });

  it("TextIteratorStreamer surfaces a failure after the queued pieces", async () => {
    const streamer = new TextIteratorStreamer(byteTokenizer);
    streamer.put(65);
    streamer.fail(new Error("model crashed"));
    const pieces: string[] = [];
    await expect(
      (async () => {
        for await (const p of streamer) pieces.push(p);
      })(),
    ).rejects.toThrow("model crashed");
    expect(pieces).toEqual(["A"]);
  });

  it("streamText adapts an async stream of ids", async () => {
    async function* ids() {
      for (const b of utf8.encode(hard)) yield b;
    }
    const pieces: string[] = [];
    for await (const piece of streamText(ids(), byteTokenizer)) pieces.push(piece);
    expect(pieces.join("")).toBe(hard);
    expect(pieces.some((p) => p.includes("\uFFFD"))).toBe(false);
  });
});
