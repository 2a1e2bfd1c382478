/** Topic matching cases shared by the tests of lib/wire/topic.ts and of the indexes built on it. */

/** [filter, topic, matches?] — MQTT 3.1.1 / 5 rules, `$`-topic rule included. */
export const MATCH_CASES: [string, string, boolean][] = [
  ["a/#", "a", true], // "#" matches the parent level
  ["a/#", "a/b", true],
  ["a/#", "a/b/c", true],
  ["a/#", "a/", true],
  ["a/#", "b", false],
  ["a/#", "ab", false],
  ["a/#", "b/a", false],
  ["#", "a", true],
  ["#", "a/b/c", true],
  ["#", "/a", true],
  ["#", "/", true],
  ["a/+", "a/b", true],
  ["a/+", "a/", true], // "+" matches an empty level
  ["a/+", "a", false],
  ["a/+", "a/b/c", false], // "+" never crosses "/"
  ["a/+/b", "a//b", true],
  ["a/+/b", "a/x/y/b", false],
  ["a/+/c", "a/b/c", true],
  ["a/+/c", "a/b/d", false],
  ["a/+/c", "a/c", false],
  ["+/+", "a/b", true],
  ["+/+", "/a", true],
  ["+/+", "/", true],
  ["+/+", "a", false],
  ["+/+", "a/b/c", false],
  ["+", "a", true],
  ["+", "/a", false],
  ["/a", "/a", true], // a leading empty level is a level
  ["/a", "a", false],
  ["a", "/a", false],
  ["+/a", "/a", true],
  ["/+", "/a", true],
  ["/#", "/a", true],
  ["/#", "a", false],
  ["a/b", "a/b", true],
  ["a/b", "a/b/", false],
  ["a/b", "A/b", false],
  ["a/+/#", "a", false],
  ["a/+/#", "a/b", true],
  ["a/+/#", "a/b/c/d", true],
  ["+/#", "a", true],
  ["+/b/#", "a/b", true],
  ["+/b/#", "a/c", false],
  ["#", "$SYS/x", false], // "$" topics are not matched by a leading wildcard
  ["+/x", "$SYS/x", false],
  ["+", "$SYS", false],
  ["$SYS/#", "$SYS/x", true],
  ["$SYS/+", "$SYS/x", true],
  ["a/#", "a/$x", true], // the rule is about the first level only
  ["+/$x", "a/$x", true],
  ["用户/+", "用户/订单", true],
];
