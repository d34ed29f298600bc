import { progressBar } from "../io/progress.js";
import type { HubOptions } from "../io/hub.js";

/** Hub options for CLI commands: the revision asked for and a download progress bar on a terminal. */
export function cliHubOptions(revision?: string): HubOptions {
  return { ...(revision ? { revision } : {}), onProgress: progressBar() };
}
