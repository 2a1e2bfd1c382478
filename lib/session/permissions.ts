/**
 * What a principal may do: call commands, publish to topics, subscribe to topic filters.
 *
 * Each list holds patterns. An absent list allows everything (so a bare shared token, or a JWT
 * without a `perms` claim, allows all); an empty list allows nothing. Command patterns are names,
 * matched case-insensitively like commands themselves, or `*` for all. Topic patterns use MQTT
 * wildcards: `+` is one level, `#` (last level only) is the rest, including the parent level, so
 * `a/#` matches `a`, `a/b` and `a/b/c`.
 *
 * Whether a pattern allows a topic or a filter is `covers` of lib/wire/topic.ts: "is every topic
 * this filter can match allowed?", answered without allocating, as it runs on every message.
 *
 * @module
 */
import { covers, filterError } from "../wire/topic.ts";

/** A principal's permissions; see the module doc for the pattern rules. */
export interface Permissions {
  /** Command names, or `*`. Absent: all commands. */
  commands?: readonly string[];
  /** Topic patterns a client may publish to. Absent: all topics. */
  publish?: readonly string[];
  /** Topic patterns that bound what a client may subscribe to. Absent: all filters. */
  subscribe?: readonly string[];
}

const KEYS = ["commands", "publish", "subscribe"] as const;

/**
 * Tells whether a principal may call a command.
 *
 * @param p The permissions; `undefined` allows everything.
 * @param name The command name as the client sent it.
 * @returns `true` when an entry is `*` or equals the name ignoring case.
 * @example
 * ```ts
 * canCallCommand({ commands: ["web", "Images"] }, "IMAGES"); // true
 * ```
 */
export function canCallCommand(p: Permissions | undefined, name: string): boolean {
  const list = p?.commands;
  if (list === undefined) return true;
  let lower: string | undefined;
  for (const entry of list) {
    if (entry === "*" || entry === name) return true;
    lower ??= name.toLowerCase();
    if (entry.toLowerCase() === lower) return true;
  }
  return false;
}

/**
 * Tells whether a principal may publish to a topic.
 *
 * @param p The permissions; `undefined` allows everything.
 * @param topic The concrete topic (publishing to a wildcard is refused elsewhere).
 * @returns `true` when an allowed pattern matches the topic.
 * @example
 * ```ts
 * canPublish({ publish: ["camera/+/status"] }, "camera/3/status"); // true
 * ```
 */
export function canPublish(p: Permissions | undefined, topic: string): boolean {
  return allowedBy(p?.publish, topic);
}

/**
 * Tells whether a principal may subscribe to a filter: only when one allowed pattern covers every
 * topic the filter can match. Allowed `a/#` covers `a/+/c`; allowed `a/+` does not cover `a/#`.
 *
 * @param p The permissions; `undefined` allows everything.
 * @param filter The subscription filter, wildcards allowed.
 * @returns `true` when one allowed pattern covers the filter.
 * @example
 * ```ts
 * canSubscribe({ subscribe: ["vision/#"] }, "vision/+/result"); // true
 * canSubscribe({ subscribe: ["vision/+"] }, "vision/#"); // false
 * ```
 */
export function canSubscribe(p: Permissions | undefined, filter: string): boolean {
  return allowedBy(p?.subscribe, filter);
}

/**
 * Reads permissions from a JWT's `perms` claim: `{ commands?, publish?, subscribe? }`, each an
 * array of strings. Unknown keys are refused: a typo such as `subscibe` would otherwise leave
 * `subscribe` absent, which means "all allowed".
 *
 * @param claims The verified claims.
 * @returns The permissions, or `undefined` (all allowed) when there is no `perms` claim.
 * @throws {TypeError} When the claim has the wrong shape or holds an invalid topic pattern.
 * @example
 * ```ts
 * permissionsFromClaims({ sub: "panel", perms: { commands: ["web"], subscribe: ["user"] } });
 * // { commands: ["web"], subscribe: ["user"] }
 * ```
 */
export function permissionsFromClaims(claims: Record<string, unknown>): Permissions | undefined {
  const perms = claims.perms;
  if (perms === undefined) return undefined;
  if (typeof perms !== "object" || perms === null || Array.isArray(perms)) {
    throw new TypeError('Invalid "perms" claim: expected an object');
  }
  for (const key of Object.keys(perms)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new TypeError(
        `Invalid "perms" claim: unknown key "${key}" (expected commands, publish or subscribe)`,
      );
    }
  }
  const out: { -readonly [K in keyof Permissions]: string[] } = {};
  for (const key of KEYS) {
    const list = (perms as Record<string, unknown>)[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
      throw new TypeError(`Invalid "perms" claim: "${key}" must be an array of strings`);
    }
    if (key !== "commands") {
      const bad = list.find((x) => !isValidPattern(x));
      if (bad !== undefined) {
        throw new TypeError(
          `Invalid "perms" claim: "${key}" has an invalid topic pattern "${bad}"`,
        );
      }
    }
    out[key] = [...list];
  }
  return out;
}

/**
 * Tells whether a topic pattern is well formed: `+` and `#` fill a whole level, `#` only as the
 * last one, no NUL character (the rules of `filterError`). The empty pattern is accepted: it
 * allows only the empty topic, which no client can use.
 *
 * @param pattern The pattern.
 * @returns `true` when it is valid.
 */
export function isValidPattern(pattern: string): boolean {
  return pattern === "" || filterError(pattern) === null;
}

function allowedBy(list: readonly string[] | undefined, filter: string): boolean {
  if (list === undefined) return true;
  for (const pattern of list) if (covers(pattern, filter)) return true;
  return false;
}
