// A Logger that keeps what it is told, for assertions.

import type { Logger } from "../../src/actor/logger.ts";

/** One logged line. */
export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

/** Collects log lines instead of printing them. */
export class CollectingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string): void {
    this.entries.push({ level: "debug", message });
  }
  info(message: string): void {
    this.entries.push({ level: "info", message });
  }
  warn(message: string): void {
    this.entries.push({ level: "warn", message });
  }
  error(message: string): void {
    this.entries.push({ level: "error", message });
  }
  /** Lines at `level` whose message matches `pattern`. */
  find(level: LogEntry["level"], pattern: RegExp): LogEntry[] {
    return this.entries.filter((e) => e.level === level && pattern.test(e.message));
  }
}
