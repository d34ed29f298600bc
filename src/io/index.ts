export { SafetensorsError, HubError } from "./errors.js";
export {
  SafetensorsFile,
  parseSafetensors,
  serializeSafetensors,
  saveSafetensors,
  typedArrayFor,
  dtypeSize,
  isSafetensorsDtype,
  MAX_HEADER_SIZE,
} from "./safetensors.js";
export type { SafetensorsDtype, TensorInfo, TensorData, TensorsInput, SafetensorsTypedArray } from "./safetensors.js";
export {
  ShardedSafetensors,
  openCheckpoint,
  saveShardedSafetensors,
  parseSize,
  SAFE_WEIGHTS_NAME,
  SAFE_WEIGHTS_INDEX_NAME,
} from "./sharded.js";
export type { TensorReader, SaveShardedOptions, SavedCheckpoint } from "./sharded.js";
export { downloadFile, resolveRepoFile, fileExists, hubFileUrl } from "./hub.js";
export type { HubOptions, DownloadProgress } from "./hub.js";
export { defaultHubCacheDir, repoFolderName } from "./hub-cache.js";
export type { RepoType } from "./hub-cache.js";
export { progressBar } from "./progress.js";
export type { ProgressBarOptions } from "./progress.js";
