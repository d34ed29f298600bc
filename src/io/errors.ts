import { LmforgeError } from "../errors.js";

/** A .safetensors file (or sharded index) that is malformed, or a tensor that cannot be written as asked. */
export class SafetensorsError extends LmforgeError {}

/** A hub download or cache lookup that failed; `status` is the HTTP status when the hub gave one. */
export class HubError extends LmforgeError {
  readonly status: number | undefined;

  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}
