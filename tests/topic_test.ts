/**
 * lib/wire/topic.ts: validation, matching (`$` rule included) and the coverage of filters by
 * permission patterns.
 */
import assert from "node:assert/strict";
import { checkTopic, covers, filterError, hasWildcard, topicMatches } from "../lib/wire/topic.ts";
import { MATCH_CASES } from "./_topic_cases.ts";

Deno.test("topicMatches - follows the MQTT matching rules", () => {
  for (const [filter, topic, expected] of MATCH_CASES) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
  }
});

Deno.test("topicMatches - a malformed filter matches nothing", () => {
  assert.equal(topicMatches("a/#/b", "a/x/b"), false);
  assert.equal(topicMatches("a/b+", "a/b+"), false);
});

const SUB = { wildcards: true, maxLength: 256, maxLevels: 8 };
const PUB = { wildcards: false, maxLength: 256, maxLevels: 8 };

Deno.test("checkTopic - accepts valid names and filters", () => {
  for (const topic of ["a", "a/b", "/a", "a/", "a//b", "用户", "$SYS/x"]) {
    assert.equal(checkTopic(topic, PUB), null, topic);
  }
  for (const filter of ["#", "+", "a/#", "a/+/c", "+/+", "/+", "+/#", "a/+/#"]) {
    assert.equal(checkTopic(filter, SUB), null, filter);
  }
  assert.equal(checkTopic("a".repeat(256), PUB), null);
  assert.equal(checkTopic("a/b/c/d/e/f/g/h", PUB), null);
});

Deno.test("checkTopic - rejects bad topics with a message that says why", () => {
  const cases: [unknown, typeof SUB, string][] = [
    ["", SUB, "Topic must be a non-empty string"],
    [42, SUB, "Topic must be a non-empty string"],
    [null, PUB, "Topic must be a non-empty string"],
    [["a"], PUB, "Topic must be a non-empty string"],
    ["a".repeat(257), PUB, "Topic is longer than 256 characters"],
    ["a/b/c/d/e/f/g/h/i", SUB, "Topic has more than 8 levels"],
    ["a/+", PUB, 'Wildcards are not allowed when publishing: "a/+"'],
    ["#", PUB, 'Wildcards are not allowed when publishing: "#"'],
    ["a/b+", PUB, 'Wildcards are not allowed when publishing: "a/b+"'],
    ["a/#/b", SUB, '"#" must be the last level of a topic filter: "a/#/b"'],
    ["#/a", SUB, '"#" must be the last level of a topic filter: "#/a"'],
    ["a/b+", SUB, '"+" must fill a whole level: "a/b+"'],
    ["a/+b", SUB, '"+" must fill a whole level: "a/+b"'],
    ["++", SUB, '"+" must fill a whole level: "++"'],
    ["a/b#", SUB, '"#" must fill a whole level: "a/b#"'],
    ["a/#b", SUB, '"#" must fill a whole level: "a/#b"'],
    ["a\0b", PUB, 'Topic must not contain the NUL character: "a\\u0000b"'],
    ["a\0b", SUB, 'Topic must not contain the NUL character: "a\\u0000b"'],
    ["a/\ud800", PUB, 'Topic must be well-formed Unicode: "a/\\ud800"'],
  ];
  for (const [topic, opts, message] of cases) {
    assert.equal(checkTopic(topic, opts), message, JSON.stringify(topic));
  }
});

Deno.test("filterError - checks structure only, not size", () => {
  assert.equal(filterError("a/".repeat(1000) + "#"), null);
  assert.equal(filterError("a/#/b"), '"#" must be the last level of a topic filter: "a/#/b"');
  assert.equal(filterError(""), "Topic must be a non-empty string");
});

Deno.test("hasWildcard - sees + and # anywhere", () => {
  assert.equal(hasWildcard("a/b"), false);
  assert.equal(hasWildcard("a/+"), true);
  assert.equal(hasWildcard("#"), true);
});

Deno.test("covers - a pattern covers a filter only when it matches every topic of it", () => {
  const cases: [string, string, boolean][] = [
    ["a/#", "a/+/c", true],
    ["a/#", "a/#", true],
    ["a/#", "a", true],
    ["a/#", "a/b/#", true],
    ["a/#", "b/#", false],
    ["a/#", "#", false],
    ["a/#", "+/b", false],
    ["a/+", "a/#", false],
    ["a/+", "a/+", true],
    ["a/+", "a/b", true],
    ["a/+", "a", false],
    ["a/+", "a/b/c", false],
    ["a/+", "a/+/c", false],
    ["a/b", "a/+", false],
    ["a/b", "a/b", true],
    ["+/b", "a/b", true],
    ["+/b", "+/b", true],
    ["+/b", "#", false],
    ["+/+", "a/+", true],
    ["a/+/#", "a/b", true],
    ["a/+/#", "a/#", false], // a/# matches "a", which a/+/# does not
    ["#", "#", true],
    ["#", "a/+/b/#", true],
    ["", "", true],
    ["", "+", false],
    ["+", "", true],
    ["a/", "a/", true],
    ["a/", "a", false],
  ];
  for (const [pattern, filter, expected] of cases) {
    assert.equal(covers(pattern, filter), expected, `"${pattern}" covering "${filter}"`);
  }
});

Deno.test("covers - a permission pattern ignores the $ rule: # allows every topic", () => {
  assert.equal(covers("#", "$SYS/x"), true);
  assert.equal(covers("+/x", "$a/x"), true);
  assert.equal(topicMatches("#", "$SYS/x"), false);
});

/** Every string of 1..depth levels taken from `levels`, `#` only as the last level. */
function spell(levels: string[], depth: number): string[] {
  const out: string[] = [];
  const grow = (prefix: string[]) => {
    if (prefix.length > 0) out.push(prefix.join("/"));
    if (prefix.length === depth || prefix.at(-1) === "#") return;
    for (const level of levels) grow([...prefix, level]);
  };
  grow([]);
  return out;
}

Deno.test("covers - agrees with matching on every small topic space", () => {
  const topics = spell(["a", "b", "c", ""], 4);
  const filters = spell(["a", "b", "", "+", "#"], 3).filter((f) => filterError(f) === null);
  const matched = new Map(filters.map((f) => [f, topics.map((t) => topicMatches(f, t))]));
  for (const pattern of filters) {
    const allowed = matched.get(pattern)!;
    for (const filter of filters) {
      const subset = matched.get(filter)!.every((m, i) => !m || allowed[i]);
      // Sound: never allows a topic the pattern does not match.
      if (covers(pattern, filter)) assert.ok(subset, `"${pattern}" covering "${filter}"`);
      // Complete, except for a filter ending in # that only a pattern # covers.
      else if (subset) assert.ok(filter.endsWith("#"), `"${pattern}" not covering "${filter}"`);
    }
    for (const topic of topics) {
      assert.equal(covers(pattern, topic), topicMatches(pattern, topic), `${pattern} ~ ${topic}`);
    }
  }
});
