/**
 * MQTT topics: validation, matching and coverage, the one place these rules are written. The
 * subscription index, retained values, permissions, the Redis channel mapping and the client SDK
 * all use it, so this module imports nothing and runs in browsers too.
 *
 * Rules (MQTT 3.1.1 / 5): levels are separated by `/`, `+` matches exactly one level (an empty one
 * too), `#` matches the rest including the parent level (`a/#` matches `a`). A filter that starts
 * with `+` or `#` does not match a topic that starts with `$` (`$SYS/x` needs a filter such as
 * `$SYS/#`).
 *
 * @module
 */

const SLASH = 47; // "/"
const PLUS = 43; // "+"
const HASH = 35; // "#"

/** Limits for {@linkcode checkTopic}. */
export interface CheckTopicOptions {
  /** Whether `+` and `#` are allowed: true for subscriptions, false for publishes. */
  wildcards: boolean;
  /** The longest accepted topic, in UTF-16 code units. */
  maxLength: number;
  /** The most `/`-separated levels accepted. */
  maxLevels: number;
}

/**
 * Checks a topic name (`wildcards: false`) or a topic filter (`wildcards: true`).
 *
 * @param topic The value received from a client.
 * @param opts Whether wildcards are allowed, and the length and depth limits.
 * @returns `null` when the topic is valid, else an error message for the client.
 *
 * @example
 * ```ts
 * const limits = { wildcards: false, maxLength: 256, maxLevels: 16 };
 * checkTopic("a/+", limits); // 'Wildcards are not allowed when publishing: "a/+"'
 * ```
 */
export function checkTopic(topic: unknown, opts: CheckTopicOptions): string | null {
  if (typeof topic !== "string" || topic.length === 0) return "Topic must be a non-empty string";
  if (topic.length > opts.maxLength) return `Topic is longer than ${opts.maxLength} characters`;
  let levels = 1;
  let levelStart = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === SLASH) {
      levels++;
      levelStart = i + 1;
    } else if (c === 0) {
      return `Topic must not contain the NUL character: ${JSON.stringify(topic)}`;
    } else if (c === PLUS || c === HASH) {
      if (!opts.wildcards) {
        return `Wildcards are not allowed when publishing: ${JSON.stringify(topic)}`;
      }
      const last = i + 1 === topic.length;
      const whole = i === levelStart && (last || topic.charCodeAt(i + 1) === SLASH);
      const char = c === PLUS ? "+" : "#";
      if (!whole) return `"${char}" must fill a whole level: ${JSON.stringify(topic)}`;
      if (c === HASH && !last) {
        return `"#" must be the last level of a topic filter: ${JSON.stringify(topic)}`;
      }
    }
  }
  if (levels > opts.maxLevels) return `Topic has more than ${opts.maxLevels} levels`;
  // A lone surrogate would turn into U+FFFD on the wire and name another topic.
  if (!topic.isWellFormed()) return `Topic must be well-formed Unicode: ${JSON.stringify(topic)}`;
  return null;
}

const STRUCTURE: CheckTopicOptions = { wildcards: true, maxLength: Infinity, maxLevels: Infinity };

/**
 * The structural error of a filter (misplaced wildcard, NUL, empty), ignoring size limits.
 *
 * @param filter A topic filter or name.
 * @returns `null` when it is well formed, else why not.
 * @example
 * ```ts
 * filterError("a/#/b"); // '"#" must be the last level of a topic filter: "a/#/b"'
 * ```
 */
export function filterError(filter: unknown): string | null {
  return checkTopic(filter, STRUCTURE);
}

/**
 * Whether a (valid) filter contains a wildcard level.
 *
 * @param filter A topic filter.
 * @returns true when it has `+` or `#`.
 */
export function hasWildcard(filter: string): boolean {
  return filter.includes("+") || filter.includes("#");
}

/**
 * Whether one topic filter matches one topic name (MQTT rules, `$`-topic rule included).
 * A malformed filter (see {@linkcode filterError}) matches nothing.
 *
 * @param filter A topic filter, possibly with `+` and `#`.
 * @param topic A topic name.
 * @returns true if a subscription to `filter` receives publishes to `topic`.
 *
 * @example
 * ```ts
 * topicMatches("line/+/state", "line/3/state"); // true
 * topicMatches("line/#", "line"); // true
 * topicMatches("#", "$SYS/load"); // false
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (!hasWildcard(filter)) return filter === topic;
  if (filterError(filter) !== null) return false;
  if (topic.startsWith("$") && (filter[0] === "+" || filter[0] === "#")) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true; // also matches the parent level: t.length may equal i
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic `filter` can match is matched by `pattern`: a permission check, so allowed
 * `a/#` covers the filter `a/+/c`, allowed `a/+` does not cover `a/#`. For a concrete topic this is
 * plain matching, except that the `$` rule does not apply: a permission pattern names the topics
 * it allows, and `#` allows them all.
 *
 * It walks both strings by index and allocates nothing: it runs on every publish of a client with
 * permissions.
 *
 * @param pattern An allowed pattern (wildcards allowed).
 * @param filter The filter or topic a client asks for.
 * @returns true when the pattern covers the filter.
 * @example
 * ```ts
 * covers("vision/#", "vision/+/result"); // true
 * covers("vision/+", "vision/#"); // false
 * ```
 */
export function covers(pattern: string, filter: string): boolean {
  // Levels are walked by index; `p > pattern.length` means "no levels left".
  let p = 0;
  let f = 0;
  while (true) {
    if (p > pattern.length) return f > filter.length;
    const pEnd = levelEnd(pattern, p);
    if (isWildcard(pattern, p, pEnd, HASH)) return true;
    if (f > filter.length) return false;
    const fEnd = levelEnd(filter, f);
    // A filter `#` matches any depth: only a pattern `#` (handled above) covers that.
    if (isWildcard(filter, f, fEnd, HASH)) return false;
    if (!isWildcard(pattern, p, pEnd, PLUS)) {
      // A literal level covers only the same literal, never a filter `+`.
      if (pEnd - p !== fEnd - f) return false;
      for (let i = 0; i < pEnd - p; i++) {
        if (pattern.charCodeAt(p + i) !== filter.charCodeAt(f + i)) return false;
      }
    }
    p = pEnd + 1;
    f = fEnd + 1;
  }
}

function levelEnd(s: string, start: number): number {
  const i = s.indexOf("/", start);
  return i < 0 ? s.length : i;
}

function isWildcard(s: string, start: number, end: number, code: number): boolean {
  return end - start === 1 && s.charCodeAt(start) === code;
}
