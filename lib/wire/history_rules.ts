/**
 * History rules: which topics keep a history, how many entries and for how long. `HISTORY` holds
 * comma-separated rules `filter=size[:ttl_seconds]`; a topic follows the first rule whose filter
 * matches it; topic files may declare a rule for their own topic (`defineTopic({ history })`),
 * which comes before the setting's rules. The lookup is cached per topic, and a server without
 * rules answers with one check, so topics without history cost nothing on the hot path.
 *
 * @module
 */
import { checkTopic, hasWildcard, topicMatches } from "./topic.ts";
import { StartupError } from "./errors.ts";

/** The ttl of a rule that gives none, in seconds. */
export const DEFAULT_HISTORY_TTL_SECONDS = 300;
/** Topics whose lookup is cached; the cache starts over when it is full. */
const CACHE_LIMIT = 10_000;

/** One history rule. */
export interface HistoryRule {
  /** A topic filter (wildcards allowed). */
  readonly filter: string;
  /** The most entries kept per topic. */
  readonly size: number;
  /** How long an entry is kept, in ms; a topic with no publication for that long holds nothing. */
  readonly ttlMs: number;
}

/**
 * Parses the `HISTORY` setting.
 *
 * @param text Comma-separated rules `filter=size[:ttl_seconds]`, e.g. `line/+/state=100:600`.
 * @returns The rules in order.
 * @throws {TypeError} Naming the first rule that does not parse (by position) and why.
 * @example
 * ```ts
 * parseHistoryRules("line/+/state=100:600,alarms/#=1000");
 * // [{ filter: "line/+/state", size: 100, ttlMs: 600000 }, { filter: "alarms/#", size: 1000, ttlMs: 300000 }]
 * ```
 */
export function parseHistoryRules(text: string): HistoryRule[] {
  const rules: HistoryRule[] = [];
  // Rules are named by position, never quoted: start-up lines never echo a setting's value.
  for (const [i, raw] of text.split(",").entries()) {
    const part = raw.trim();
    if (part === "") continue;
    const bad = (why: string) => new TypeError(`rule ${i + 1}: ${why}`);
    const eq = part.lastIndexOf("=");
    if (eq <= 0) throw bad("expected filter=size[:ttl_seconds]");
    const filter = part.slice(0, eq);
    const error = checkTopic(filter, { wildcards: true, maxLength: 65536, maxLevels: 1000 });
    if (error !== null) throw bad(error);
    const [sizeText, ttlText, extra] = part.slice(eq + 1).split(":");
    if (extra !== undefined) throw bad("expected filter=size[:ttl_seconds]");
    const size = Number(sizeText);
    if (!/^\d+$/.test(sizeText) || size < 1 || size > 1_000_000) {
      throw bad("size must be an integer from 1 to 1000000");
    }
    const ttl = ttlText === undefined ? DEFAULT_HISTORY_TTL_SECONDS : Number(ttlText);
    if (ttlText !== undefined && (!/^\d+$/.test(ttlText) || ttl < 1 || ttl > 30 * 86400)) {
      throw bad("ttl_seconds must be an integer from 1 to 2592000 (30 days)");
    }
    rules.push({ filter, size, ttlMs: ttl * 1000 });
  }
  return rules;
}

/**
 * Whether some topic matches both filters (a rule may apply under a wildcard subscription).
 *
 * @param a A topic filter.
 * @param b Another.
 * @returns True when their sets of topics overlap.
 */
export function overlaps(a: string, b: string): boolean {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === "#" || y[i] === "#") return true;
    if (x[i] === undefined || y[i] === undefined) return false;
    if (x[i] !== "+" && y[i] !== "+" && x[i] !== y[i]) return false;
  }
  return true;
}

/** The rules of one server, with a per-topic cache of the lookup. */
export class HistoryRules {
  /** True when any rule exists. */
  readonly active: boolean;
  readonly #rules: HistoryRule[];
  readonly #cache = new Map<string, HistoryRule | null>();

  /**
   * @param rules Topic files' rules first (exact topics), then the `HISTORY` setting's.
   */
  constructor(rules: HistoryRule[]) {
    this.#rules = rules;
    this.active = rules.length > 0;
  }

  /** Every rule, in order. */
  get all(): readonly HistoryRule[] {
    return this.#rules;
  }

  /**
   * The rule a topic follows.
   *
   * @param topic A topic name (no wildcards).
   * @returns The first matching rule, or null: no history.
   */
  ruleFor(topic: string): HistoryRule | null {
    if (!this.active) return null;
    let rule = this.#cache.get(topic);
    if (rule !== undefined) return rule;
    rule = this.#rules.find((r) => topicMatches(r.filter, topic)) ?? null;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(topic, rule);
    return rule;
  }

  /**
   * Whether a subscription filter may bring publications of a topic with history.
   *
   * @param filter A topic filter.
   * @returns For an exact topic, whether it has a rule; for a wildcard, whether any rule overlaps.
   */
  mayHaveHistory(filter: string): boolean {
    if (!this.active) return false;
    if (!hasWildcard(filter)) return this.ruleFor(filter) !== null;
    return this.#rules.some((r) => overlaps(r.filter, filter));
  }

  /**
   * The shortest ttl of the rules that may apply under a filter (for `since` recoveries).
   *
   * @param filter A topic filter.
   * @returns Milliseconds, or Infinity when no rule applies.
   */
  minTtlMs(filter: string): number {
    let min = Infinity;
    for (const r of this.#rules) if (overlaps(r.filter, filter)) min = Math.min(min, r.ttlMs);
    return min;
  }
}

/**
 * The rules topic files declare (`defineTopic({ history })`), checked like the setting's.
 *
 * @param topics Topic callbacks by topic.
 * @returns One exact rule per topic file with `history`.
 * @throws {TypeError} Naming the topic file whose history is invalid.
 */
export function topicFileRules(
  topics: Iterable<{ topic: string; history?: { size: number; ttlSeconds?: number } }>,
): HistoryRule[] {
  const rules: HistoryRule[] = [];
  for (const { topic, history } of topics) {
    if (history === undefined) continue;
    const ttl = history.ttlSeconds ?? DEFAULT_HISTORY_TTL_SECONDS;
    try {
      rules.push(...parseHistoryRules(`${topic}=${history.size}:${ttl}`));
    } catch (err) {
      throw new TypeError(`topics/${topic}.ts: invalid history (${(err as Error).message})`);
    }
  }
  return rules;
}

/**
 * The rules of a server: topic files' first, then the HISTORY setting's.
 *
 * @param setting The parsed HISTORY setting.
 * @param topics The topic callbacks.
 * @returns The rules.
 * @throws {StartupError} When a topic file declares an invalid history.
 */
export function loadHistoryRules(
  setting: HistoryRule[],
  topics: Iterable<{ topic: string; history?: { size: number; ttlSeconds?: number } }>,
): HistoryRules {
  try {
    return new HistoryRules([...topicFileRules(topics), ...setting]);
  } catch (err) {
    throw new StartupError(`Cannot load ${(err as Error).message}`);
  }
}
