/**
 * The error of the serialization layer.
 *
 * @module
 */

import { CastyError, type CastyErrorOptions } from "../config/errors.ts";

/**
 * A value could not be serialized or deserialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SerializationError } from "@casty/casty";
 * assert.equal(new SerializationError("bad").code, "SERIALIZATION");
 * ```
 */
export class SerializationError extends CastyError {
  /**
   * Creates a SerializationError.
   *
   * @param message What could not be (de)serialized and why.
   * @param options Optional cause.
   */
  constructor(message: string, options?: CastyErrorOptions) {
    super("SERIALIZATION", message, options);
    this.name = "SerializationError";
  }
}
