/**
 * A small leveled logger: pretty lines for people, JSON lines for machines (`LOG_FORMAT`).
 * Callers on hot paths check `log.enabled(level)` first, so a debug line that is off costs
 * no string building.
 */

/** The log levels, quietest last. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** A leveled logger. */
export interface Logger {
  enabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * Creates a logger that writes to stderr.
 *
 * @param level The quietest level written.
 * @param format `pretty` (one readable line) or `json` (one JSON object per line).
 * @param write Where lines go; stderr by default, injectable for tests.
 * @returns The logger.
 */
export function createLogger(
  level: LogLevel,
  format: "pretty" | "json",
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level: lvl, msg, ...fields }, errorReplacer));
      return;
    }
    let line = `${time} ${lvl.toUpperCase().padEnd(5)} ${msg}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (k === "stack" || v === undefined) continue;
        line += ` ${k}=${typeof v === "string" ? v : JSON.stringify(v, errorReplacer)}`;
      }
      if (typeof fields.stack === "string") line += `\n${fields.stack}`;
    }
    write(line);
  };
  return {
    enabled: (lvl) => RANK[lvl] >= min,
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
