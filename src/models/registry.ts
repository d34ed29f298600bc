import { ConfigError } from "../errors.js";
import type { RawConfig } from "./config.js";
import type { PreTrainedModel } from "./model.js";

export interface ModelFamily {
  /** config.json's model_type values this family handles. */
  modelTypes: string[];
  /** transformers class names (config.json's architectures) -> a factory for that head. */
  architectures: Record<string, (config: RawConfig) => PreTrainedModel>;
  /** The architecture used when config.json names none. */
  defaultArchitecture: string;
  description: string;
}

const families: ModelFamily[] = [];

export function registerModelFamily(family: ModelFamily): void {
  families.push(family);
}

export function listModelFamilies(): readonly ModelFamily[] {
  return families;
}

export function supportedArchitectures(): string[] {
  return families.flatMap((f) => Object.keys(f.architectures));
}

/** Finds the class for a config.json from its architectures, then its model_type. */
export function resolveArchitecture(config: RawConfig, source = "config.json"): { family: ModelFamily; architecture: string } {
  const archs = Array.isArray(config.architectures) ? (config.architectures as unknown[]).filter((a): a is string => typeof a === "string") : [];
  for (const arch of archs) {
    const family = families.find((f) => arch in f.architectures);
    if (family) return { family, architecture: arch };
  }
  const modelType = config.model_type;
  const family = families.find((f) => typeof modelType === "string" && f.modelTypes.includes(modelType));
  if (family && archs.length === 0) return { family, architecture: family.defaultArchitecture };
  const what = archs.length > 0 ? `architectures ${JSON.stringify(archs)}` : `model_type ${JSON.stringify(modelType)}`;
  throw new ConfigError(
    `${source}: ${what} is not supported; supported architectures: ${supportedArchitectures().join(", ")} (model types: ${families.flatMap((f) => f.modelTypes).join(", ")})`,
  );
}
