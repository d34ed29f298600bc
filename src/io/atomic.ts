import { open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";

/**
 * Writes through `write` into a temporary sibling of `target` and renames it into place, so a crash or an
 * error mid-write never leaves a truncated file where the user's file was.
 */
export async function writeFileAtomic(target: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await open(tmp, "w");
  try {
    await write(handle);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes all of `bytes` at the handle's current position (FileHandle.write may write less than asked). */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  // Chunked because one write call is limited to 2 GiB.
  const chunk = 1 << 30;
  for (let offset = 0; offset < bytes.byteLength; ) {
    const length = Math.min(chunk, bytes.byteLength - offset);
    const { bytesWritten } = await handle.write(bytes, offset, length);
    offset += bytesWritten;
  }
}
