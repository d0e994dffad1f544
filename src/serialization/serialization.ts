/**
 * Serialization of messages, events and snapshots: the {@linkcode Serializer} port and the
 * default {@linkcode TaggedJsonSerializer}.
 *
 * @module
 */

import { smallBuffersAreCostly } from "../runtime/select.ts";
import { type ActorRef, isActorRef } from "../actor/actor_ref.ts";
import { SerializationError } from "./errors.ts";

/**
 * Turns values into bytes and back. Implementations must round-trip every value they accept
 * and throw {@linkcode SerializationError} for anything else, never drop data silently.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Serializer, TaggedJsonSerializer } from "@casty/casty/remote";
 * const serializer: Serializer = new TaggedJsonSerializer();
 * const bytes = serializer.serialize({ type: "deposit", amount: 100n });
 * assert.equal((serializer.deserialize(bytes) as { amount: bigint }).amount, 100n);
 * ```
 */
export interface Serializer {
  /**
   * Encodes a value.
   *
   * @throws {SerializationError} when the value (or anything inside it) is not serializable.
   */
  serialize(value: unknown): Uint8Array;
  /**
   * Decodes bytes produced by {@linkcode Serializer.serialize}.
   *
   * @param bytes The encoded value.
   * @param resolveRef Turns an actor URI back into a ref; required when the value holds refs.
   * @throws {SerializationError} on malformed input or an unresolvable ref.
   */
  deserialize(bytes: Uint8Array, resolveRef?: (uri: string) => ActorRef<unknown>): unknown;
}

/** A class constructor that {@linkcode TaggedJsonSerializer} can register. */
// deno-lint-ignore no-explicit-any
export type SerializableClass = abstract new (...args: any[]) => object;

/** Options of {@linkcode TaggedJsonSerializer}. */
export interface TaggedJsonSerializerOptions {
  /**
   * User classes to register: an array (each registered under its `name`) or a record from
   * wire name to class.
   *
   * @default {[]}
   */
  classes?: readonly SerializableClass[] | Readonly<Record<string, SerializableClass>>;
  /**
   * Limits that keep the cost of decoding one value bounded whatever a peer sends; input
   * beyond one is refused with a {@linkcode SerializationError}.
   */
  limits?: DecodeLimits;
}

/**
 * Limits on what {@linkcode TaggedJsonSerializer.deserialize} accepts. Decoding a value within
 * them costs time roughly linear in its size: parsing a decimal bigint is quadratic in its
 * digits (a million digits take 100+ ms), and nesting costs stack.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TaggedJsonSerializer } from "@casty/casty/remote";
 * const serializer = new TaggedJsonSerializer({ limits: { maxBigIntDigits: 20 } });
 * const bytes = new TaggedJsonSerializer().serialize(10n ** 30n);
 * assert.throws(() => serializer.deserialize(bytes), { name: "SerializationError" });
 * ```
 */
export interface DecodeLimits {
  /**
   * Most nested containers (arrays, objects, maps, sets, class instances, errors).
   * @default {2048}
   */
  maxDepth?: number;
  /**
   * Most array items, object fields and map or set entries in one value, all containers
   * together (a 16 MiB frame holds at most about 8 million).
   * @default {4194304}
   */
  maxEntries?: number;
  /**
   * Most decimal digits in one `bigint`.
   * @default {10000}
   */
  maxBigIntDigits?: number;
}

const DEFAULT_LIMITS: Required<DecodeLimits> = {
  maxDepth: 2048,
  maxEntries: 4 * 1024 * 1024,
  maxBigIntDigits: 10_000,
};

function checkLimit(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Decode limit ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** The key that marks an encoded special value: `{ "$t": "date", "v": 0 }`. */
const TAG = "$t";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const BUILTIN_ERRORS: ReadonlyMap<string, ErrorConstructor> = new Map<string, ErrorConstructor>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
  ["AggregateError", AggregateError as unknown as ErrorConstructor],
]);

const UNDEFINED: JsonObject = Object.freeze({ [TAG]: "undefined" }) as JsonObject;
const NAN: JsonObject = Object.freeze({ [TAG]: "number", v: "NaN" }) as JsonObject;
const POS_INF: JsonObject = Object.freeze({ [TAG]: "number", v: "Infinity" }) as JsonObject;
const NEG_INF: JsonObject = Object.freeze({ [TAG]: "number", v: "-Infinity" }) as JsonObject;
const NEG_ZERO: JsonObject = Object.freeze({ [TAG]: "number", v: "-0" }) as JsonObject;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// Non-fatal decoding is much cheaper on Deno (its fatal path is a slower op) and a bit cheaper on
// Bun. It differs from fatal decoding only by putting U+FFFD where the input is invalid, so a
// result without U+FFFD is exactly what the fatal decoder returns; one with U+FFFD (invalid
// input, or a genuine U+FFFD in the data) is decoded again with the fatal decoder.
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array): string {
  const text = lenientDecoder.decode(bytes);
  return text.includes("\uFFFD") ? decoder.decode(bytes) : text;
}

// Allocating an ArrayBuffer costs Deno ~0.4-0.5 µs even for a few bytes (`TextEncoder.encode`,
// `new Uint8Array(n)`, `slice`), but a view of an existing buffer is cheap; so on Deno small
// texts are encoded into a shared pool and returned as exact-size views of it (as Node's
// `Buffer` pools small buffers). Bun allocates small arrays cheaply and its `encode` is fastest.
// Measured by bench/remote_serialize_micro.ts.
const POOL_SIZE = 16 * 1024;
/** Texts up to this many UTF-16 units (at most 3 bytes each) go to the pool. */
const POOL_MAX_TEXT = 2 * 1024;
const usePool = smallBuffersAreCostly();
let pool: Uint8Array | undefined;
let poolOffset = 0;

function encodeUtf8(text: string): Uint8Array {
  if (!usePool || text.length > POOL_MAX_TEXT) return encoder.encode(text);
  let offset = poolOffset;
  if (pool === undefined || offset + text.length * 3 > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    offset = 0;
  }
  const written = encoder.encodeInto(text, offset === 0 ? pool : pool.subarray(offset)).written;
  poolOffset = offset + written;
  return pool.subarray(offset, offset + written);
}

/** Ancestors at depths below this are checked by a linear scan, deeper ones with a Set. */
const SHALLOW = 32;

/** Thrown inside the walk; collects the path on the way out, then becomes a SerializationError. */
class PathFailure {
  readonly segments: string[] = [];
  constructor(readonly reason: string, readonly cause?: unknown) {}
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function formatPath(failure: PathFailure): string {
  return "value" + failure.segments.reverse().join("");
}

function describe(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "anonymous class";
  return name;
}

// Prefer the native ES2026 base64 methods (Deno, Bun); fall back to btoa/atob.
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: () => string }).toBase64;
const nativeFromBase64 = (Uint8Array as { fromBase64?: (s: string) => Uint8Array }).fromBase64;

function toBase64(bytes: Uint8Array): string {
  if (nativeToBase64) return nativeToBase64.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  if (nativeFromBase64) return nativeFromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment to "__proto__" would replace the prototype instead of adding a field.
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

let textOf: ((serializer: TaggedJsonSerializer, value: unknown) => string) | undefined;

/**
 * A registered class whose instances hold a string key and one value, such as
 * `ShardEnvelope(entityId, message)`, or a string key among more fields, such as
 * `ShardForward(type, entityId, message, hops, from)`: {@linkcode keyedParts} and
 * {@linkcode decodeKeyed} let a transport carry the key outside the JSON (see
 * `src/remote/_envelope_codec.ts`).
 */
export interface KeyedShape {
  /** The name the class is registered under. */
  readonly name: string;
  /** The string field (first in field order when there is no `fields`). */
  readonly key: string;
  /** The value field (second when there is no `fields`). */
  readonly value: string;
  /**
   * Every own field of an instance, in order, when there are more than `key` and `value`: the
   * text is then the JSON array of every field but the key, in that order.
   */
  readonly fields?: readonly string[];
}

let keyedPartsOf:
  | ((
    serializer: TaggedJsonSerializer,
    value: object,
    shapes: readonly KeyedShape[],
  ) => { key: string; text: string; shape: number } | undefined)
  | undefined;
let decodeKeyedOf:
  | ((
    serializer: TaggedJsonSerializer,
    shape: KeyedShape,
    key: string,
    bytes: Uint8Array,
    resolveRef: ((uri: string) => ActorRef<unknown>) | undefined,
  ) => unknown)
  | undefined;

/**
 * Whether `serializer` is a {@linkcode TaggedJsonSerializer} with neither `serialize` nor
 * `deserialize` overridden: only then are {@linkcode keyedParts} and {@linkcode decodeKeyed}
 * its exact equivalents.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDefaultJson, TaggedJsonSerializer } from "./serialization.ts";
 * assert.equal(isDefaultJson(new TaggedJsonSerializer()), true);
 * assert.equal(isDefaultJson({ serialize: () => new Uint8Array(), deserialize: () => 0 }), false);
 * ```
 */
export function isDefaultJson(serializer: Serializer): serializer is TaggedJsonSerializer {
  return serializer instanceof TaggedJsonSerializer &&
    serializer.serialize === TaggedJsonSerializer.prototype.serialize &&
    serializer.deserialize === TaggedJsonSerializer.prototype.deserialize;
}

/**
 * Splits an instance of the class `shape` names into its key and the JSON text of its value
 * (what `serializer.serialize` would write for the value alone), when `serializer` is the
 * default one ({@linkcode isDefaultJson}), the class is registered with it under
 * `shape.name`, and the instance holds exactly its two fields, the key a string; otherwise
 * `undefined` (the caller sends the full form).
 *
 * @throws {SerializationError} when the value cannot be serialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeKeyed, keyedParts, TaggedJsonSerializer } from "./serialization.ts";
 * class Envelope { constructor(readonly id: string, readonly body: unknown) {} }
 * const shape = { name: "demo.Envelope", key: "id", value: "body" };
 * const serializer = new TaggedJsonSerializer().register(Envelope, shape.name);
 * const parts = keyedParts(serializer, new Envelope("e1", { n: 1n }), shape)!;
 * assert.equal(parts.key, "e1");
 * const back = decodeKeyed(serializer, shape, parts.key, new TextEncoder().encode(parts.text));
 * assert.ok(back instanceof Envelope);
 * assert.deepEqual({ ...back }, { id: "e1", body: { n: 1n } });
 * assert.equal(keyedParts(serializer, { id: "e1", body: 1 }, shape), undefined);
 * ```
 */
export function keyedParts(
  serializer: Serializer,
  value: unknown,
  shape: KeyedShape,
): { key: string; text: string } | undefined {
  return keyedPartsOfAny(serializer, value, [shape]);
}

/**
 * Like {@linkcode keyedParts} for the first of several shapes that `value` is an instance of;
 * `shape` is its index in `shapes`.
 *
 * @throws {SerializationError} when the value cannot be serialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyedPartsOfAny, TaggedJsonSerializer } from "./serialization.ts";
 * class Hop { readonly kind = "hop"; constructor(readonly id: string, readonly body: unknown, readonly n: number) {} }
 * const shapes = [
 *   { name: "demo.Other", key: "id", value: "body" },
 *   // (class fields come after parameter properties)
 *   { name: "demo.Hop", key: "id", value: "body", fields: ["id", "body", "n", "kind"] },
 * ];
 * const serializer = new TaggedJsonSerializer().register(Hop, "demo.Hop");
 * assert.deepEqual(keyedPartsOfAny(serializer, new Hop("e1", [1], 2), shapes), {
 *   key: "e1",
 *   text: '[[1],2,"hop"]',
 *   shape: 1,
 * });
 * ```
 */
export function keyedPartsOfAny(
  serializer: Serializer,
  value: unknown,
  shapes: readonly KeyedShape[],
): { key: string; text: string; shape: number } | undefined {
  if (typeof value !== "object" || value === null || !isDefaultJson(serializer)) return undefined;
  return keyedPartsOf!(serializer, value, shapes);
}

/**
 * The bytes `serialize` writes for the instance {@linkcode keyedParts} split into `key` and a
 * value serialized as `value`: what a serializer other than the default one (a subclass that
 * counts or logs, say) is given when the keyed form reaches it.
 *
 * @param shape The class.
 * @param key The key field.
 * @param value The value's UTF-8 tagged JSON.
 * @returns The full tagged form's UTF-8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyedFullForm, TaggedJsonSerializer } from "./serialization.ts";
 * class Envelope { constructor(readonly id: string, readonly body: unknown) {} }
 * const shape = { name: "demo.Envelope", key: "id", value: "body" };
 * const serializer = new TaggedJsonSerializer().register(Envelope, shape.name);
 * const full = keyedFullForm(shape, "é", serializer.serialize([1n]));
 * assert.deepEqual(full, serializer.serialize(new Envelope("é", [1n])));
 * ```
 */
export function keyedFullForm(shape: KeyedShape, key: string, value: Uint8Array): Uint8Array {
  if (shape.fields !== undefined) return fieldsFullForm(shape, shape.fields, key, value);
  const head = encoder.encode(
    `{"${TAG}":"class","n":${JSON.stringify(shape.name)},"v":{${JSON.stringify(shape.key)}:${
      JSON.stringify(key)
    },${JSON.stringify(shape.value)}:`,
  );
  const out = new Uint8Array(head.length + value.length + 2);
  out.set(head, 0);
  out.set(value, head.length);
  out[out.length - 2] = 0x7d; // }
  out[out.length - 1] = 0x7d;
  return out;
}

/** The JSON value of UTF-8 bytes. @throws {SerializationError} when they are not that. */
function parseJson(bytes: Uint8Array): Json {
  try {
    return JSON.parse(decodeUtf8(bytes));
  } catch (err) {
    throw new SerializationError(
      `Cannot deserialize ${bytes.length} bytes: not valid UTF-8 JSON`,
      { cause: err },
    );
  }
}

/** The error for a keyed payload of `shape` whose value is not the array of its other fields. */
function notFields(shape: KeyedShape): SerializationError {
  return new SerializationError(
    `Cannot deserialize keyed "${shape.name}": its value is not an array of ${
      shape.fields!.length - 1
    } fields`,
  );
}

/**
 * `keyedFullForm` of a shape with `fields`: the array's items are the other fields' tagged JSON
 * as they are (JSON text that `JSON.stringify` wrote reads back and writes again unchanged).
 */
function fieldsFullForm(
  shape: KeyedShape,
  fields: readonly string[],
  key: string,
  value: Uint8Array,
): Uint8Array {
  const items = parseJson(value);
  if (!Array.isArray(items) || items.length !== fields.length - 1) throw notFields(shape);
  let j = 0;
  const parts = fields.map((f) =>
    `${JSON.stringify(f)}:${f === shape.key ? JSON.stringify(key) : JSON.stringify(items[j++])}`
  );
  return encoder.encode(
    `{"${TAG}":"class","n":${JSON.stringify(shape.name)},"v":{${parts.join(",")}}}`,
  );
}

/**
 * Rebuilds the instance {@linkcode keyedParts} split: an object of the class registered under
 * `shape.name`, its key field `key` and its value field decoded from `bytes` (the value's
 * serialized bytes), like `serializer.deserialize` of the full form, with the same limits
 * (the value counts one level deeper, as a field of the instance).
 *
 * @param serializer A serializer for which {@linkcode isDefaultJson} holds.
 * @param shape The class.
 * @param key The key field.
 * @param bytes The value's UTF-8 tagged JSON.
 * @param resolveRef Turns an actor URI into a ref, for refs inside the value.
 * @returns The instance.
 * @throws {SerializationError} when the class is not registered or the bytes do not decode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeKeyed, TaggedJsonSerializer } from "./serialization.ts";
 * const shape = { name: "demo.Unknown", key: "id", value: "body" };
 * assert.throws(
 *   () => decodeKeyed(new TaggedJsonSerializer(), shape, "e1", new TextEncoder().encode("1")),
 *   { name: "SerializationError" },
 * );
 * ```
 */
export function decodeKeyed(
  serializer: TaggedJsonSerializer,
  shape: KeyedShape,
  key: string,
  bytes: Uint8Array,
  resolveRef?: (uri: string) => ActorRef<unknown>,
): unknown {
  return decodeKeyedOf!(serializer, shape, key, bytes, resolveRef);
}

/**
 * The JSON text whose UTF-8 bytes `serializer.serialize(value)` returns, for a
 * {@linkcode TaggedJsonSerializer} whose `serialize` is not overridden; `undefined` for any
 * other serializer. Lets a caller that embeds the value in text (a SQL parameter) skip the
 * UTF-8 bytes. The text never holds a NUL or a lone surrogate (`JSON.stringify` escapes both).
 *
 * @throws {SerializationError} as `serialize` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serializedText, TaggedJsonSerializer } from "./serialization.ts";
 * const serializer = new TaggedJsonSerializer();
 * const text = serializedText(serializer, { n: 1n });
 * assert.deepEqual(new TextEncoder().encode(text), serializer.serialize({ n: 1n }));
 * assert.equal(serializedText({ serialize: () => new Uint8Array(), deserialize: () => 0 }, 1), undefined);
 * ```
 */
export function serializedText(serializer: Serializer, value: unknown): string | undefined {
  if (
    !(serializer instanceof TaggedJsonSerializer) ||
    serializer.serialize !== TaggedJsonSerializer.prototype.serialize
  ) return undefined;
  return textOf!(serializer, value);
}

/**
 * The default serializer: JSON with tagged objects (`{ "$t": "date", "v": 0 }`) for the
 * values JSON lacks. It round-trips plain objects, arrays, strings, numbers (including `NaN`,
 * `±Infinity` and `-0`), booleans, `null`, `undefined` (as a value and as a field), `bigint`,
 * `Date` (also invalid ones), `Uint8Array`, `Map`, `Set`, `Error` (name, message, stack,
 * cause, code and own fields; built-in error classes come back as themselves), actor refs (by
 * `address`, resolved on the way back) and registered classes (rebuilt from their prototype
 * without calling the constructor), nested arbitrarily. A plain object that happens to own a
 * `"$t"` key is escaped, so any value round-trips unambiguously.
 *
 * Functions, symbols, instances of unregistered classes and cycles throw a
 * {@linkcode SerializationError} naming the path of the offending value. Shared (acyclic)
 * references are copied, not preserved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TaggedJsonSerializer } from "@casty/casty/remote";
 *
 * class Deposited {
 *   constructor(readonly amount: number, readonly at: Date) {}
 * }
 * const serializer = new TaggedJsonSerializer({ classes: [Deposited] });
 * const bytes = serializer.serialize([new Deposited(100, new Date(0)), new Map([["k", 1n]])]);
 * const [event, map] = serializer.deserialize(bytes) as [Deposited, Map<string, bigint>];
 * assert.ok(event instanceof Deposited && event.at.getTime() === 0);
 * assert.equal(map.get("k"), 1n);
 * ```
 */
export class TaggedJsonSerializer implements Serializer {
  #nameByProto = new Map<object, string>();
  #protoByName = new Map<string, object>();
  /** The registered class of each keyed shape asked about (a name, once registered, stays). */
  #keyedProtos = new Map<KeyedShape, object>();
  // The objects being encoded, from the root down: a cycle is an object met again while it is
  // still on this path. The first SHALLOW are in an array, the rest (deep structures) in a Set.
  #stack: (object | undefined)[] = [];
  #deep: Set<object> | undefined;
  #depth = 0;
  #resolveRef: ((uri: string) => ActorRef<unknown>) | undefined;
  readonly #limits: Required<DecodeLimits>;
  // Decoding state of the value being decoded: nesting depth and entries seen so far.
  #decodeDepth = 0;
  #entries = 0;

  /**
   * Creates a TaggedJsonSerializer.
   *
   * @param options Classes to register up front.
   */
  constructor(options: TaggedJsonSerializerOptions = {}) {
    const limits = { ...DEFAULT_LIMITS };
    for (const [key, value] of Object.entries(options.limits ?? {})) {
      if (!(key in DEFAULT_LIMITS)) throw new TypeError(`Unknown decode limit "${key}"`);
      if (value !== undefined) limits[key as keyof DecodeLimits] = checkLimit(key, value);
    }
    this.#limits = limits;
    const classes = options.classes;
    if (Array.isArray(classes)) {
      for (const ctor of classes) this.register(ctor);
    } else if (classes) {
      for (const [name, ctor] of Object.entries(classes)) this.register(ctor, name);
    }
  }

  /**
   * Registers a class so its instances can be serialized under `name`. Its own enumerable
   * fields are encoded; decoding creates an object with the class's prototype and sets the
   * fields, without running the constructor. `#private` fields are not carried. Registering
   * the same class under the same name again does nothing.
   *
   * @param ctor The class.
   * @param name The wire name, the same on every node.
   * @default name `ctor.name`
   * @returns This serializer, for chaining.
   * @throws {TypeError} when the name is empty or already taken by another class, or the class
   * is already registered under another name.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TaggedJsonSerializer } from "@casty/casty/remote";
   * class Point { constructor(readonly x: number, readonly y: number) {} }
   * const serializer = new TaggedJsonSerializer().register(Point, "geo.Point");
   * const p = serializer.deserialize(serializer.serialize(new Point(1, 2)));
   * assert.ok(p instanceof Point);
   * ```
   */
  register(ctor: SerializableClass, name: string = ctor.name): this {
    if (typeof ctor !== "function" || typeof ctor.prototype !== "object") {
      throw new TypeError("Cannot register class: not a constructor");
    }
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Cannot register class: the name is empty");
    }
    const proto = ctor.prototype as object;
    const existingProto = this.#protoByName.get(name);
    const existingName = this.#nameByProto.get(proto);
    if (existingProto === proto && existingName === name) return this;
    if (existingProto !== undefined) {
      throw new TypeError(`Cannot register class "${name}": the name is taken by another class`);
    }
    if (existingName !== undefined) {
      throw new TypeError(
        `Cannot register class "${name}": the class is already registered as "${existingName}"`,
      );
    }
    this.#nameByProto.set(proto, name);
    this.#protoByName.set(name, proto);
    return this;
  }

  /**
   * Encodes a value as UTF-8 tagged JSON.
   *
   * @param value Any supported value.
   * @returns The encoded bytes. Small results may be views of a shared pooled buffer (mind
   * `byteOffset`; don't transfer or detach their `buffer`).
   * @throws {SerializationError} naming the path of the first unsupported value, such as
   * `Cannot serialize value at "value.replyTo.fn": functions are not serializable`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TaggedJsonSerializer } from "@casty/casty/remote";
   * const bytes = new TaggedJsonSerializer().serialize({ n: NaN });
   * assert.equal(new TextDecoder().decode(bytes), '{"n":{"$t":"number","v":"NaN"}}');
   * ```
   */
  serialize(value: unknown): Uint8Array {
    return encodeUtf8(this.#text(value));
  }

  static {
    textOf = (serializer, value) => serializer.#text(value);
  }

  // The JSON text whose UTF-8 bytes serialize returns.
  #text(value: unknown): string {
    let encoded: Json;
    try {
      encoded = this.#encode(value);
    } catch (err) {
      this.#stack.fill(undefined);
      this.#deep = undefined;
      this.#depth = 0;
      if (err instanceof PathFailure) {
        throw new SerializationError(
          `Cannot serialize value at "${formatPath(err)}": ${err.reason}`,
          err.cause === undefined ? undefined : { cause: err.cause },
        );
      }
      throw new SerializationError(`Cannot serialize value: ${String(err)}`, { cause: err });
    }
    return JSON.stringify(encoded);
  }

  /**
   * Decodes bytes produced by {@linkcode TaggedJsonSerializer.serialize}.
   *
   * @param bytes UTF-8 tagged JSON.
   * @param resolveRef Turns an actor URI into a ref; needed only when the value holds refs.
   * @returns The decoded value.
   * @throws {SerializationError} on invalid UTF-8 or JSON, an unknown tag, an unregistered
   * class name, a malformed tagged value, or a ref without `resolveRef`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TaggedJsonSerializer } from "@casty/casty/remote";
   * const s = new TaggedJsonSerializer();
   * const set = s.deserialize(s.serialize(new Set([1, 2]))) as Set<number>;
   * assert.ok(set.has(2));
   * ```
   */
  deserialize(bytes: Uint8Array, resolveRef?: (uri: string) => ActorRef<unknown>): unknown {
    if (!(bytes instanceof Uint8Array)) {
      throw new SerializationError("Cannot deserialize: input is not a Uint8Array");
    }
    return this.#deserialize(bytes, resolveRef, 0, 0);
  }

  static {
    keyedPartsOf = (serializer, value, shapes) => {
      const of = Object.getPrototypeOf(value);
      for (let i = 0; i < shapes.length; i++) {
        const shape = shapes[i];
        // Every message sent asks: the class found for a shape is kept.
        let proto = serializer.#keyedProtos.get(shape);
        if (proto === undefined) {
          proto = serializer.#protoByName.get(shape.name);
          if (proto === undefined) continue;
          serializer.#keyedProtos.set(shape, proto);
        }
        if (of !== proto) continue;
        // Only an instance holding exactly the shape's fields, in order: anything else keeps
        // the full form.
        const own = Object.keys(value);
        const fields = shape.fields;
        const record = value as Record<string, unknown>;
        const key = record[shape.key];
        if (typeof key !== "string") return undefined;
        if (fields === undefined) {
          if (own.length !== 2 || own[0] !== shape.key || own[1] !== shape.value) return undefined;
          return { key, text: serializer.#text(record[shape.value]), shape: i };
        }
        if (own.length !== fields.length) return undefined;
        const items: unknown[] = [];
        for (let f = 0; f < fields.length; f++) {
          if (own[f] !== fields[f]) return undefined;
          if (fields[f] !== shape.key) items.push(record[fields[f]]);
        }
        return { key, text: serializer.#text(items), shape: i };
      }
      return undefined;
    };
    decodeKeyedOf = (serializer, shape, key, bytes, resolveRef) => {
      const proto = serializer.#registeredProto(shape.name);
      const obj = Object.create(proto) as Record<string, unknown>;
      const fields = shape.fields;
      if (fields === undefined) {
        // The value sits where the full form has the instance's field: one level down, after
        // the instance's two fields (the same depth and entry counts as the full form).
        const value = serializer.#deserialize(bytes, resolveRef, 1, 2);
        defineField(obj, shape.key, key);
        defineField(obj, shape.value, value);
        return obj;
      }
      // The array stands where the full form has the instance: its items one level down, and
      // its length plus the key count as the instance's fields.
      const items = serializer.#deserialize(bytes, resolveRef, 0, 1);
      if (!Array.isArray(items) || items.length !== fields.length - 1) throw notFields(shape);
      let j = 0;
      for (const f of fields) defineField(obj, f, f === shape.key ? key : items[j++]);
      return obj;
    };
  }

  #deserialize(
    bytes: Uint8Array,
    resolveRef: ((uri: string) => ActorRef<unknown>) | undefined,
    depth: number,
    entries: number,
  ): unknown {
    const parsed = parseJson(bytes);
    const previous = this.#resolveRef;
    const previousDepth = this.#decodeDepth;
    const previousEntries = this.#entries;
    this.#resolveRef = resolveRef;
    this.#decodeDepth = depth;
    this.#entries = 0;
    try {
      if (entries > 0) this.#count(entries);
      return this.#decode(parsed);
    } catch (err) {
      if (err instanceof SerializationError) throw err;
      throw new SerializationError(`Cannot deserialize value: ${String(err)}`, { cause: err });
    } finally {
      // A ref resolver may decode another value with this serializer: restore, do not reset.
      this.#resolveRef = previous;
      this.#decodeDepth = previousDepth;
      this.#entries = previousEntries;
    }
  }

  // Returns the value itself when it is already plain JSON, so that JSON-only data is walked
  // once and never copied; containers are copied only from the first child that changed.
  #encode(value: unknown): Json {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value)) return value === 0 && 1 / value < 0 ? NEG_ZERO : value;
        return value !== value ? NAN : value > 0 ? POS_INF : NEG_INF;
      case "object":
        return value === null ? null : this.#encodeObject(value);
      case "undefined":
        return UNDEFINED;
      case "bigint":
        return { [TAG]: "bigint", v: value.toString() };
      case "function":
        throw new PathFailure("functions are not serializable");
      default:
        throw new PathFailure("symbols are not serializable");
    }
  }

  #encodeObject(obj: object): Json {
    const depth = this.#depth;
    const stack = this.#stack;
    const scan = depth < SHALLOW ? depth : SHALLOW;
    for (let i = 0; i < scan; i++) {
      if (stack[i] === obj) throw new PathFailure("cycle detected");
    }
    if (depth < SHALLOW) {
      stack[depth] = obj;
    } else {
      const deep = this.#deep ??= new Set();
      if (deep.has(obj)) throw new PathFailure("cycle detected");
      deep.add(obj);
    }
    this.#depth = depth + 1;
    let encoded: Json;
    if (Array.isArray(obj)) {
      encoded = this.#encodeArray(obj);
    } else {
      const proto = Object.getPrototypeOf(obj);
      encoded = (proto === Object.prototype || proto === null) && !isActorRef(obj)
        ? this.#encodePlain(obj as Record<string, unknown>)
        : this.#encodeOther(obj, proto);
    }
    this.#depth = depth;
    if (depth < SHALLOW) stack[depth] = undefined;
    else this.#deep!.delete(obj);
    return encoded;
  }

  // Everything but arrays and plain objects (which #encodeObject handles).
  #encodeOther(obj: object, proto: object | null): Json {
    if (isActorRef(obj)) return this.#encodeRef(obj);
    if (obj instanceof Date) {
      const time = obj.getTime();
      return { [TAG]: "date", v: time === time ? time : null };
    }
    if (obj instanceof Uint8Array) return { [TAG]: "bytes", v: toBase64(obj) };
    if (obj instanceof Map) {
      const entries: Json[] = [];
      let i = 0;
      for (const [k, v] of obj) {
        entries.push([
          this.#child(k, () => `[entry ${i}].key`),
          this.#child(v, () => typeof k === "string" ? `[${JSON.stringify(k)}]` : `[entry ${i}]`),
        ]);
        i++;
      }
      return { [TAG]: "map", v: entries };
    }
    if (obj instanceof Set) {
      const items: Json[] = [];
      let i = 0;
      for (const v of obj) {
        items.push(this.#child(v, () => `[entry ${i}]`));
        i++;
      }
      return { [TAG]: "set", v: items };
    }
    const name = this.#nameByProto.get(proto!);
    if (obj instanceof Error) return this.#encodeError(obj, name);
    if (name !== undefined) {
      return {
        [TAG]: "class",
        n: name,
        v: this.#encodeFields(obj as Record<string, unknown>),
      };
    }
    throw new PathFailure(
      `instances of ${describe(obj)} are not serializable (register the class with the serializer)`,
    );
  }

  #encodeArray(arr: unknown[]): Json {
    let out: Json[] | undefined;
    const n = arr.length;
    let i = 0;
    try {
      for (; i < n; i++) {
        const item = arr[i];
        const encoded = typeof item === "object" && item !== null
          ? this.#encodeObject(item)
          : typeof item === "string"
          ? item
          : this.#encode(item);
        if (out !== undefined) {
          out.push(encoded);
        } else if (encoded !== item) {
          out = arr.slice(0, i) as Json[];
          out.push(encoded);
        }
      }
    } catch (err) {
      if (err instanceof PathFailure) err.segments.push(`[${i}]`);
      throw err;
    }
    return out ?? (arr as Json[]);
  }

  // A plain object: returned as is unless a field changed or it owns the tag key.
  #encodePlain(obj: Record<string, unknown>): Json {
    const keys = Object.keys(obj);
    const n = keys.length;
    let out: JsonObject | undefined;
    let i = 0;
    try {
      for (; i < n; i++) {
        const key = keys[i];
        const item = obj[key];
        const encoded = typeof item === "object" && item !== null
          ? this.#encodeObject(item)
          : typeof item === "string"
          ? item
          : this.#encode(item);
        if (out !== undefined) {
          setOwn(out, key, encoded);
        } else if (encoded !== item) {
          out = {};
          for (let j = 0; j < i; j++) setOwn(out, keys[j], obj[keys[j]] as Json);
          setOwn(out, key, encoded);
        }
      }
    } catch (err) {
      if (err instanceof PathFailure) err.segments.push(propertySegment(keys[i]));
      throw err;
    }
    const fields = out ?? (obj as JsonObject);
    return Object.hasOwn(obj, TAG) ? { [TAG]: "object", v: fields } : fields;
  }

  // A registered class's own enumerable fields, always copied.
  #encodeFields(obj: Record<string, unknown>): JsonObject {
    const out: JsonObject = {};
    const keys = Object.keys(obj);
    let i = 0;
    try {
      for (; i < keys.length; i++) setOwn(out, keys[i], this.#encode(obj[keys[i]]));
    } catch (err) {
      if (err instanceof PathFailure) err.segments.push(propertySegment(keys[i]));
      throw err;
    }
    return out;
  }

  #child(value: unknown, segment: () => string): Json {
    try {
      return this.#encode(value);
    } catch (err) {
      if (err instanceof PathFailure) err.segments.push(segment());
      throw err;
    }
  }

  #encodeRef(ref: ActorRef<unknown>): Json {
    const address = ref.address;
    if (typeof address !== "string" || address === "") {
      throw new PathFailure("the actor ref has no address");
    }
    return { [TAG]: "ref", v: address };
  }

  #encodeError(err: Error, registeredName: string | undefined): Json {
    const out: JsonObject = {
      name: this.#child(err.name, () => ".name"),
      message: this.#child(err.message, () => ".message"),
    };
    if (registeredName !== undefined) out.cls = registeredName;
    if (typeof err.stack === "string") out.stack = err.stack;
    if (Object.hasOwn(err, "cause")) out.cause = this.#child(err.cause, () => ".cause");
    if (err instanceof AggregateError) out.errors = this.#child(err.errors, () => ".errors");
    const fields: JsonObject = {};
    let hasFields = false;
    for (const key of Object.keys(err)) {
      if (key === "message" || key === "stack" || key === "cause") continue;
      if (key === "errors" && err instanceof AggregateError) continue;
      setOwn(
        fields,
        key,
        this.#child((err as unknown as Record<string, unknown>)[key], () => propertySegment(key)),
      );
      hasFields = true;
    }
    if (hasFields) out.fields = fields;
    return { [TAG]: "error", v: out };
  }

  // Decodes in place: the parsed tree is fresh, so containers are reused, not copied.
  #decode(value: Json): unknown {
    if (typeof value !== "object" || value === null) return value;
    const depth = this.#decodeDepth;
    if (depth >= this.#limits.maxDepth) {
      throw new SerializationError(
        `Cannot deserialize value: nested deeper than the limit of ${this.#limits.maxDepth} ` +
          `(maxDepth)`,
      );
    }
    this.#decodeDepth = depth + 1;
    let out: unknown;
    if (Array.isArray(value)) {
      this.#count(value.length);
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (typeof item === "object" && item !== null) value[i] = this.#decode(item) as Json;
      }
      out = value;
    } else {
      const tag = value[TAG];
      out = tag === undefined ? this.#decodeFields(value) : this.#decodeTagged(tag, value);
    }
    this.#decodeDepth = depth;
    return out;
  }

  #count(n: number): void {
    if ((this.#entries += n) > this.#limits.maxEntries) {
      throw new SerializationError(
        `Cannot deserialize value: more than the limit of ${this.#limits.maxEntries} ` +
          `entries (maxEntries)`,
      );
    }
  }

  #decodeFields(obj: JsonObject): JsonObject {
    let n = 0;
    for (const key in obj) {
      n++;
      const item = obj[key];
      if (typeof item === "object" && item !== null) {
        const decoded = this.#decode(item) as Json;
        if (decoded !== item) setOwn(obj, key, decoded);
      }
    }
    this.#count(n);
    return obj;
  }

  #decodeTagged(tag: Json, node: JsonObject): unknown {
    const v = node.v;
    switch (tag) {
      case "undefined":
        return undefined;
      case "number":
        switch (v) {
          case "NaN":
            return NaN;
          case "Infinity":
            return Infinity;
          case "-Infinity":
            return -Infinity;
          case "-0":
            return -0;
        }
        break;
      case "bigint":
        if (typeof v === "string") {
          // Parsing decimal digits is quadratic: the length is checked before anything else.
          const digits = v.length - (v.startsWith("-") ? 1 : 0);
          if (digits > this.#limits.maxBigIntDigits) {
            throw new SerializationError(
              `Cannot deserialize bigint: ${digits} digits, more than the limit of ` +
                `${this.#limits.maxBigIntDigits} (maxBigIntDigits)`,
            );
          }
          if (/^-?\d+$/.test(v)) return BigInt(v);
        }
        break;
      case "date":
        if (v === null) return new Date(NaN);
        if (typeof v === "number") return new Date(v);
        break;
      case "bytes":
        if (typeof v === "string") {
          try {
            return fromBase64(v);
          } catch (err) {
            throw new SerializationError("Cannot deserialize bytes: invalid base64", {
              cause: err,
            });
          }
        }
        break;
      case "map":
        if (Array.isArray(v)) {
          const map = new Map<unknown, unknown>();
          this.#count(v.length);
          for (const entry of v) {
            if (!Array.isArray(entry) || entry.length !== 2) return malformed("map");
            map.set(this.#decode(entry[0]), this.#decode(entry[1]));
          }
          return map;
        }
        break;
      case "set":
        if (Array.isArray(v)) {
          const set = new Set<unknown>();
          this.#count(v.length);
          for (const item of v) set.add(this.#decode(item));
          return set;
        }
        break;
      case "object":
        if (isPlainJsonObject(v)) return this.#decodeFields(v);
        break;
      case "ref":
        if (typeof v === "string") return this.#decodeRef(v);
        break;
      case "class":
        if (typeof node.n === "string" && isPlainJsonObject(v)) return this.#decodeClass(node.n, v);
        break;
      case "error":
        if (isPlainJsonObject(v)) return this.#decodeError(v);
        break;
      default:
        throw new SerializationError(
          `Cannot deserialize value: unknown tag ${JSON.stringify(tag)}`,
        );
    }
    return malformed(String(tag));
  }

  #decodeRef(uri: string): ActorRef<unknown> {
    const resolve = this.#resolveRef;
    if (resolve === undefined) {
      throw new SerializationError(
        `Cannot deserialize actor ref "${uri}": no ref resolver was given`,
      );
    }
    const ref = resolve(uri);
    if (!isActorRef(ref)) {
      throw new SerializationError(
        `Cannot deserialize actor ref "${uri}": the resolver did not return an actor ref`,
      );
    }
    return ref;
  }

  /** The prototype of the class registered under `name`. */
  #registeredProto(name: string): object {
    const proto = this.#protoByName.get(name);
    if (proto === undefined) {
      throw new SerializationError(
        `Cannot deserialize instance of class "${name}": the class is not registered`,
      );
    }
    return proto;
  }

  #decodeClass(name: string, fields: JsonObject): object {
    const proto = this.#registeredProto(name);
    const obj = Object.create(proto) as Record<string, unknown>;
    let n = 0;
    for (const key in fields) {
      n++;
      const item = fields[key];
      // Scalars are themselves; only containers need the walk.
      defineField(obj, key, typeof item === "object" && item !== null ? this.#decode(item) : item);
    }
    this.#count(n);
    return obj;
  }

  #decodeError(v: JsonObject): Error {
    const name = this.#decode(v.name);
    const message = this.#decode(v.message);
    if (typeof name !== "string" || typeof message !== "string") return malformed("error");
    let proto: object;
    if (typeof v.cls === "string") {
      const registered = this.#protoByName.get(v.cls);
      if (registered === undefined) {
        throw new SerializationError(
          `Cannot deserialize error of class "${v.cls}": the class is not registered`,
        );
      }
      proto = registered;
    } else {
      proto = (BUILTIN_ERRORS.get(name) ?? Error).prototype;
    }
    const err = Object.create(proto) as Error;
    const hidden = (key: string, value: unknown): void => {
      Object.defineProperty(err, key, {
        value,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    };
    hidden("message", message);
    if (typeof v.stack === "string") hidden("stack", v.stack);
    if (Object.hasOwn(v, "cause")) hidden("cause", this.#decode(v.cause));
    if (Array.isArray(v.errors)) hidden("errors", this.#decode(v.errors));
    if ((err as Error).name !== name) hidden("name", name);
    const fields = v.fields;
    if (isPlainJsonObject(fields)) {
      for (const key in fields) {
        defineField(err as unknown as Record<string, unknown>, key, this.#decode(fields[key]));
      }
    }
    return err;
  }
}

function isPlainJsonObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Gives `target` an own enumerable data field `key`, whatever its prototype chain holds: a
 * plain assignment when no object of the chain (nor `target`) has the key, since it then creates
 * exactly that field and is much cheaper; `defineProperty` otherwise (`__proto__`, a key the
 * prototype has: a setter, a getter-only accessor, a read-only or any other field), so a
 * payload can neither call a setter nor replace a prototype.
 */
function defineField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (!(key in target)) {
    target[key] = value;
    return;
  }
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

function malformed(tag: string): never {
  throw new SerializationError(`Cannot deserialize value: malformed "${tag}" tagged value`);
}
