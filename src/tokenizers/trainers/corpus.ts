import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { TokenizerTrainerError } from "./errors.js";

const CHUNK_BYTES = 1 << 20;

/**
 * Yields the lines of text files with their line endings kept, as `tokenizers` does when it trains from files
 * (byte-level BPE learns `\n` as a token). Files are read in chunks, so a large corpus is never held whole.
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
      const decoder = new StringDecoder("utf8");
      let pending = "";
      for (;;) {
        const n = readSync(fd, buffer, 0, CHUNK_BYTES, null);
        pending += n > 0 ? decoder.write(buffer.subarray(0, n)) : decoder.end();
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
