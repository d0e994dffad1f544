// Validating readers for the tables of a parsed casty.toml. Each reader knows its dotted
// path, so every error names the full key the user wrote.
import { ConfigError } from "./errors.ts";

/** Largest delay timers honour: Node and Bun fire longer `setTimeout`s immediately. */
const MAX_TIMER_MS = 2_147_483_647;

/** A TOML table as the parser returns it (possibly with a null prototype). */
export type Table = Record<string, unknown>;

/** Whether `value` is a TOML table (not an array, not a date). */
export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/** A TOML key segment as it would be written: bare when possible, quoted otherwise. */
export function formatKeySegment(segment: string): string {
  return /^[A-Za-z0-9_-]+$/.test(segment) ? segment : JSON.stringify(segment);
}

/** Appends a key segment to a dotted path. */
export function joinKey(path: string, segment: string): string {
  const formatted = formatKeySegment(segment);
  return path === "" ? formatted : `${path}.${formatted}`;
}

/** How a value reads in an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (Array.isArray(value)) return "an array";
  if (isTable(value)) return "a table";
  return String(value);
}

/** Seconds to milliseconds, rounded to the microsecond to hide binary-float noise. */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1_000_000) / 1_000;
}

/** Options of the numeric readers. */
export interface RangeOptions {
  /** Whether zero is accepted (otherwise the value must be positive). */
  readonly allowZero?: boolean;
}

/**
 * Reads the keys of one table. Construction rejects keys outside `known`, so a typo is
 * reported before any value is looked at.
 */
export class TableReader {
  readonly path: string;
  #table: Table;

  constructor(value: unknown, path: string, known: readonly string[]) {
    if (!isTable(value)) throw new ConfigError(path, `expected a table, got ${describe(value)}`);
    this.path = path;
    this.#table = value;
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        throw new ConfigError(
          joinKey(path, key),
          `unknown key; expected one of ${known.join(", ")}`,
        );
      }
    }
  }

  /** The dotted path of `key` in this table. */
  key(key: string): string {
    return joinKey(this.path, key);
  }

  /** Whether the table sets `key`. */
  has(key: string): boolean {
    return this.#table[key] !== undefined;
  }

  /** The raw value of `key`. */
  raw(key: string): unknown {
    return this.#table[key];
  }

  /** A sub-table, or `undefined` when absent. */
  table(key: string, known: readonly string[]): TableReader | undefined {
    const value = this.#table[key];
    return value === undefined ? undefined : new TableReader(value, this.key(key), known);
  }

  string(key: string): string | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.trim() === "") {
      throw this.error(key, `expected a non-empty string, got ${describe(value)}`);
    }
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") {
      throw this.error(key, `expected true or false, got ${describe(value)}`);
    }
    return value;
  }

  integer(key: string, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      const expected = max !== Number.MAX_SAFE_INTEGER
        ? `an integer from ${min} to ${max}`
        : min === 1
        ? "a positive integer"
        : min === 0
        ? "a non-negative integer"
        : `an integer of at least ${min}`;
      throw this.error(key, `expected ${expected}, got ${describe(value)}`);
    }
    return value;
  }

  /** A finite number, positive (or non-negative with `allowZero`). */
  number(key: string, options: RangeOptions = {}): number | undefined {
    return this.#number(key, options, "", 1, Number.MAX_VALUE);
  }

  /** A duration written in seconds, returned in milliseconds. */
  seconds(key: string, options: RangeOptions = {}): number | undefined {
    return this.#number(key, options, "seconds", 1_000, MAX_TIMER_MS);
  }

  /** A duration written in milliseconds (a `_ms` key). */
  millis(key: string, options: RangeOptions = {}): number | undefined {
    return this.#number(key, options, "milliseconds", 1, MAX_TIMER_MS);
  }

  /** A number from 0 to 1. */
  fraction(key: string): number | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw this.error(key, `expected a number from 0 to 1, got ${describe(value)}`);
    }
    return value;
  }

  /** One of the file spellings in `choices`, mapped to its API spelling. */
  choice<T extends string>(key: string, choices: Readonly<Record<string, T>>): T | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || !Object.hasOwn(choices, value)) {
      const expected = Object.keys(choices).map((c) => JSON.stringify(c)).join(", ");
      throw this.error(key, `expected one of ${expected}, got ${describe(value)}`);
    }
    return choices[value];
  }

  /** An array of non-empty strings, each checked by `check` (which returns a reason or nothing). */
  strings(
    key: string,
    expected: string,
    check: (item: string) => string | undefined = () => undefined,
  ): string[] | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      throw this.error(key, `expected an array of ${expected}, got ${describe(value)}`);
    }
    return value.map((item, index) => {
      const problem = typeof item !== "string" || item.trim() === ""
        ? `expected ${expected}`
        : check(item);
      if (problem !== undefined) {
        throw this.error(key, `${problem}, got ${describe(item)} at index ${index}`);
      }
      return item as string;
    });
  }

  /** A `ConfigError` naming `key` of this table. */
  error(key: string, reason: string): ConfigError {
    return new ConfigError(this.key(key), reason);
  }

  #number(
    key: string,
    { allowZero = false }: RangeOptions,
    unit: "" | "seconds" | "milliseconds",
    scale: number,
    max: number,
  ): number | undefined {
    const value = this.#table[key];
    if (value === undefined) return undefined;
    const converted = typeof value === "number"
      ? (scale === 1 ? value : secondsToMs(value))
      : Number.NaN;
    if (!(Number.isFinite(converted) && (allowZero ? converted >= 0 : converted > 0))) {
      const sign = allowZero ? "non-negative" : "positive";
      const what = unit === "" ? "number" : `number of ${unit}`;
      throw this.error(key, `expected a ${sign} ${what}, got ${describe(value)}`);
    }
    if (converted > max) {
      throw this.error(key, `expected at most ${max / scale} ${unit}, got ${value}`);
    }
    return converted;
  }
}

/** Freezes plain objects and arrays recursively; leaves `RegExp`s alone. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !(value instanceof RegExp)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
