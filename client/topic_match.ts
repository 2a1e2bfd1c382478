/**
 * MQTT topic-filter matching, with the same rules as the server (lib/pubsub/topic_tree.ts): levels are
 * separated by `/`, `+` matches exactly one level (an empty one too), `#` matches the rest including
 * the parent level (`a/#` matches `a`), and a filter starting with a wildcard does not match a topic
 * starting with `$`.
 *
 * @module
 */

/**
 * Whether a topic filter matches a topic.
 *
 * @param filter A subscription filter, possibly with `+` and `#`.
 * @param topic A published topic (no wildcards).
 * @returns True when a publish on `topic` reaches a subscriber of `filter`.
 *
 * @example
 * ```ts
 * import { topicMatches } from "./mod.ts";
 *
 * topicMatches("line/+/state", "line/3/state"); // true
 * topicMatches("line/#", "line"); // true
 * topicMatches("#", "$SYS/load"); // false
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split("/");
  const t = topic.split("/");
  if ((f[0] === "+" || f[0] === "#") && t[0].startsWith("$")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
