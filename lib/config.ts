/**
 * Configuration: every limit and setting, from environment variables and command-line flags,
 * validated once at start. Flags win over the environment; `--max-clients 10` sets MAX_CLIENTS.
 * The defaults, and why each is what it is, are in docs/configuration.md.
 */
import { z } from "zod";
import { parseArgs } from "node:util";
import { StartupError } from "./wire/errors.ts";
import { filterError } from "./wire/topic.ts";
import { type HistoryRule, parseHistoryRules } from "./wire/history_rules.ts";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);
const list = z.string().transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));
// Rules already parsed pass as they are: createServer re-reads a parsed config.
const history = z.unknown().transform((v, ctx): HistoryRule[] => {
  if (Array.isArray(v)) return v as HistoryRule[];
  try {
    if (typeof v !== "string") throw new TypeError("expected filter=size[:ttl_seconds],…");
    return parseHistoryRules(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency || 2 : 2;

/** The schema of the settings, keyed by environment variable. */
export const configSchema = z.object({
  PORT: int(0, 65535).default(18887),
  HOST: z.string().min(1).default("0.0.0.0"),
  SERVER_SRC: z.string().min(1).max(64).default("control"),
  MAX_CLIENTS: int(1).default(2000),
  MAX_CLIENTS_PER_IP: int(0).default(0),
  MAX_MESSAGE_BYTES: int(64, 64 * 1024 * 1024).default(1024 * 1024),
  MAX_DEPTH: int(2, 1000).default(32),
  MAX_INFLIGHT: int(1, 100_000).default(64),
  MAX_SUBSCRIPTIONS: int(1).default(1000),
  MAX_TOPIC_LENGTH: int(1, 65536).default(256),
  MAX_TOPIC_LEVELS: int(1, 1000).default(16),
  MAX_RETAINED: int(0).default(10_000),
  HANDLER_TIMEOUT_MS: int(1).default(30_000),
  WORKERS: int(1, 256).default(Math.max(1, cores - 1)),
  WORKER_QUEUE: int(1).default(1000),
  WORKER_TIMEOUT_MS: int(1).default(30_000),
  WORKER_STUCK_LIMIT: int(1).default(2),
  BROKER_URL: z.string().regex(
    /^(memory|redis|rediss|redis\+sentinel|redis\+cluster):\/\//,
    "expected memory://, redis://, redis+sentinel:// or redis+cluster://",
  ).default("memory://"),
  BROKER_PROBE_MS: int(100, 60_000).default(5000),
  AUTH_TOKEN: z.string().regex(
    /^[\x21-\x7e]+$/,
    "must be printable ASCII without spaces (it is sent in an Authorization header)",
  ).optional(),
  JWT_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  ALLOWED_ORIGINS: list.default([]),
  RATE_LIMIT: int(0).default(5000),
  RATE_BURST: int(1).optional(),
  RATE_ABUSE_SECONDS: int(1).default(3),
  SEND_BUFFER_BYTES: int(1024).default(4 * 1024 * 1024),
  SLOW_CLIENT_MS: int(1).default(5000),
  IDLE_TIMEOUT_S: int(0, 3600).default(60),
  SHUTDOWN_GRACE_MS: int(0).default(5000),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["pretty", "json"]).default("pretty"),
  RESTART_URLS: list.default([]),
  RESTART_TIMEOUT_MS: int(1).default(10_000),
  IMAGES_DIR: z.string().min(1).optional(),
  REFRESH_NOTICE_S: int(0, 86_400).default(30),
  API_KEY: z.string().min(16, "must be at least 16 characters").regex(
    /^[\x21-\x7e]+$/,
    "must be printable ASCII without spaces (it is sent in an Authorization header)",
  ).optional(),
  PRESENCE: list.pipe(z.array(
    z.string().refine((f) => filterError(f) === null, {
      message: "each entry must be a topic filter such as panels/+ or line/#",
    }),
  )).default([]),
  PRESENCE_TTL_S: int(1, 86_400).default(60),
  HISTORY: history.default([]),
  HISTORY_MAX_RECOVER: int(1, 100_000).default(300),
});

/** The validated settings, keyed by environment variable name. */
export type Config = z.output<typeof configSchema>;
/** Settings as given: strings from the environment or typed values from code. */
export type ConfigInput = { [K in keyof Config]?: Config[K] | string };

/** The names of all settings. */
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof Config)[];

/**
 * Validates settings. Unknown keys are ignored (the environment holds much else).
 *
 * @param input Settings by name, strings or typed values.
 * @returns The complete settings with defaults filled in.
 * @throws {StartupError} One line naming the bad setting and the rule it breaks. The value is
 *   never in the message: it may be a secret (AUTH_TOKEN, JWT_SECRET, API_KEY, a password in
 *   BROKER_URL), and start-up errors end up in logs that many people read.
 */
export function parseConfig(input: ConfigInput | Record<string, unknown>): Config {
  const picked: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    let v = (input as Record<string, unknown>)[key];
    if (v === "" || v === undefined) continue;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) v = v.join(",");
    picked[key] = v;
  }
  const result = configSchema.safeParse(picked);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0]);
    throw new StartupError(`Invalid setting ${key}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Reads settings from the environment and flags (`--port 8080`, `--log-level=debug`).
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @param args The command-line arguments.
 * @returns The settings and the `--root` app folder if one was given.
 * @throws {StartupError} On an unknown flag or a bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  args: string[] = [],
): { config: Config; root?: string } {
  const options: Record<string, { type: "string" }> = { root: { type: "string" } };
  for (const key of CONFIG_KEYS) options[flagName(key)] = { type: "string" };
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args, options, allowPositionals: false }).values as typeof values;
  } catch (err) {
    throw new StartupError((err as Error).message.replaceAll("\n", " ").replace(/\.$/, ""));
  }
  const input: Record<string, unknown> = { ...env };
  for (const key of CONFIG_KEYS) {
    const v = values[flagName(key)];
    if (v !== undefined) input[key] = v;
  }
  return { config: parseConfig(input), root: values.root };
}

function flagName(key: string): string {
  return key.toLowerCase().replaceAll("_", "-");
}
