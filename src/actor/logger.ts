/**
 * Logging.
 *
 * @module
 */

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/**
 * The logger interface casty writes to (`ctx.log`, system logs). Any object with these four
 * methods works, `console` included.
 *
 * @example
 * ```ts
 * import { ActorSystem, type Logger } from "@casty/casty";
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: () => {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m),
 * };
 * await using system = new ActorSystem({ logger });
 * ```
 */
export interface Logger {
  /** Debug detail. */
  debug(message: string, ...data: unknown[]): void;
  /** Normal operation. */
  info(message: string, ...data: unknown[]): void;
  /** Something unexpected that casty handled. */
  warn(message: string, ...data: unknown[]): void;
  /** A failure. */
  error(message: string, ...data: unknown[]): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * A console logger that drops messages below `level` and prefixes each line.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@casty/casty";
 * const log = consoleLogger("warn", "[demo]");
 * log.info("not printed");
 * ```
 */
export function consoleLogger(level: LogLevel = "info", prefix = "[casty]"): Logger {
  const min = ORDER[level];
  const noop = () => {};
  return {
    debug: min <= 0 ? (m, ...d) => console.debug(`${prefix} ${m}`, ...d) : noop,
    info: min <= 1 ? (m, ...d) => console.info(`${prefix} ${m}`, ...d) : noop,
    warn: min <= 2 ? (m, ...d) => console.warn(`${prefix} ${m}`, ...d) : noop,
    error: min <= 3 ? (m, ...d) => console.error(`${prefix} ${m}`, ...d) : noop,
  };
}

/** @internal A logger that prefixes every message with `prefix`. */
export function prefixedLogger(inner: Logger, prefix: string): Logger {
  return {
    debug: (m, ...d) => inner.debug(`${prefix} ${m}`, ...d),
    info: (m, ...d) => inner.info(`${prefix} ${m}`, ...d),
    warn: (m, ...d) => inner.warn(`${prefix} ${m}`, ...d),
    error: (m, ...d) => inner.error(`${prefix} ${m}`, ...d),
  };
}
