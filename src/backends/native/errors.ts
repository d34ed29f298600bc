import { LmforgeError } from "../../errors.js";

/** A backend that was asked for (LMFORGE_BACKEND, setNumThreads, …) cannot be used as requested. */
export class BackendError extends LmforgeError {}
