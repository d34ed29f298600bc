/** Base class of every error lmforge raises on purpose; `instanceof LmforgeError` separates them from bugs. */
export class LmforgeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Wrong shapes, dtypes or arguments given to a tensor op. */
export class TensorError extends LmforgeError {}

/** A config.json or option that does not say what lmforge needs. */
export class ConfigError extends LmforgeError {}
