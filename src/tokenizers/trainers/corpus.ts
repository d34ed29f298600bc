import { closeSync, openSync, readSync } from "node:fs";
import { TokenizerTrainerError } from "./errors.js";

const CHUNK_BYTES = 1 << 20;

/**
 * Yields the lines of text files with their line endings kept, as `tokenizers` does when it trains from files
 * (byte-level BPE learns `\n` as a token). Files are read in chunks, so a large corpus is never held whole.
 * Invalid UTF-8 is an error, as in tokenizers, rather than text silently turned into replacement characters.
 */
export function* readLines(files: readonly string[]): Generator<string> {
  for (const file of files) {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch (err) {
      throw new TokenizerTrainerError(`cannot read training file ${file}: ${(err as Error).message}`);
    }
    try {
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
      let pending = "";
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buffer, 0, CHUNK_BYTES, null);
          pending += decoder.decode(buffer.subarray(0, n), { stream: n > 0 });
        } catch (err) {
          const reason = err instanceof TypeError ? "it is not valid UTF-8" : (err as Error).message;
          throw new TokenizerTrainerError(`cannot read training file ${file}: ${reason}`);
        }
        let start = 0;
        for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n", start)) {
          yield pending.slice(start, nl + 1);
          start = nl + 1;
        }
        pending = pending.slice(start);
        if (n === 0) break;
      }
      if (pending.length > 0) yield pending;
    } finally {
      closeSync(fd);
    }
  }
}
