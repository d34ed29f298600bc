import type { DownloadProgress } from "./hub.js";

function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export interface ProgressBarOptions {
  /** Default process.stderr. Nothing is drawn unless it is a TTY, so logs and pipes stay clean. */
  stream?: Pick<NodeJS.WriteStream, "write" | "isTTY" | "columns">;
  /** Minimum ms between redraws; default 100. */
  intervalMs?: number;
}

/**
 * A download progress callback for CLIs that draws one self-overwriting line per file on a terminal:
 * `config.json  [########----------]  42%  1.2 MB / 2.9 MB`.
 */
export function progressBar(options: ProgressBarOptions = {}): (progress: DownloadProgress) => void {
  const stream = options.stream ?? process.stderr;
  const interval = options.intervalMs ?? 100;
  let lastDraw = 0;
  let lastFile = "";
  return ({ file, loaded, total }) => {
    if (!stream.isTTY) return;
    const done = total !== null && loaded >= total;
    const now = Date.now();
    if (!done && file === lastFile && now - lastDraw < interval) return;
    lastDraw = now;
    lastFile = file;
    const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - file.length - 40));
    let line: string;
    if (total !== null && total > 0) {
      const fraction = Math.min(1, loaded / total);
      const filled = Math.round(fraction * width);
      line = `${file}  [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(loaded)} / ${formatBytes(total)}`;
    } else {
      line = `${file}  ${formatBytes(loaded)}`;
    }
    stream.write(`\r${line}\x1b[K${done ? "\n" : ""}`);
  };
}
