import assert from "node:assert/strict";
import { RetainedTrie } from "../lib/broker/retained_trie.ts";
import { topicMatches } from "../lib/wire/topic.ts";

/** Returns the topics `matching` visits, sorted, after checking each message is its own. */
function matched(store: RetainedTrie<string>, filter: string): string[] {
  const out: string[] = [];
  store.matching(filter, (topic, message) => {
    assert.equal(message, `m:${topic}`);
    out.push(topic);
  });
  return out.sort();
}

function storeOf(topics: string[]): RetainedTrie<string> {
  const store = new RetainedTrie<string>({ maxTopics: 1000 });
  for (const topic of topics) store.set(topic, `m:${topic}`);
  return store;
}

/** mulberry32: a small seeded PRNG so a failing run can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPICS = ["a", "a/b", "a/b/c", "a/", "a//b", "/a", "b", "b/a", "$SYS/x", "$SYS", "a/$x"];

Deno.test("RetainedTrie - set, get, replace and delete", () => {
  const store = new RetainedTrie<number>({ maxTopics: 10 });
  assert.equal(store.get("a"), undefined);
  store.set("a", 1);
  store.set("a/b", 2);
  store.set("a", 3);
  assert.equal(store.size, 2);
  assert.equal(store.get("a"), 3);
  assert.equal(store.get("a/b"), 2);
  assert.equal(store.delete("a"), true);
  assert.equal(store.delete("a"), false);
  assert.equal(store.get("a"), undefined);
  assert.equal(store.get("a/b"), 2);
  assert.equal(store.size, 1);
});

Deno.test("RetainedTrie.set - throws RangeError beyond maxTopics", () => {
  const store = new RetainedTrie<number>({ maxTopics: 2 });
  store.set("a", 1);
  store.set("b", 2);
  assert.throws(
    () => store.set("c", 3),
    new RangeError('Cannot retain a message on "c": the limit of 2 retained topics is reached'),
  );
  store.set("a", 4); // replacing at the cap is fine
  assert.equal(store.get("a"), 4);
  assert.equal(store.get("c"), undefined);
  assert.equal(store.size, 2);
  store.delete("b");
  store.set("c", 3);
  assert.equal(store.get("c"), 3);
});

Deno.test("RetainedTrie - rejects a bad maxTopics and wildcard topics", () => {
  assert.throws(() => new RetainedTrie({ maxTopics: -1 }), RangeError);
  assert.throws(() => new RetainedTrie({ maxTopics: 1.5 }), RangeError);
  assert.throws(() => new RetainedTrie({ maxTopics: NaN }), RangeError);
  const store = new RetainedTrie<number>({ maxTopics: 0 });
  assert.throws(() => store.set("a", 1), RangeError);
  const open = new RetainedTrie<number>({ maxTopics: 5 });
  assert.throws(() => open.set("a/+", 1), TypeError);
  assert.throws(() => open.set("", 1), TypeError);
  assert.throws(() => open.matching("a/#/b", () => {}), TypeError);
  assert.equal(open.size, 0);
});

Deno.test("RetainedTrie.matching - an exact filter finds its one topic", () => {
  const store = storeOf(TOPICS);
  assert.deepEqual(matched(store, "a/b"), ["a/b"]);
  assert.deepEqual(matched(store, "a/b/c/d"), []);
  assert.deepEqual(matched(store, "$SYS/x"), ["$SYS/x"]);
});

Deno.test("RetainedTrie.matching - follows the MQTT matching rules", () => {
  const store = storeOf(TOPICS);
  const expect = (filter: string, topics: string[]) =>
    assert.deepEqual(matched(store, filter), topics.sort(), filter);
  expect("#", ["a", "a/b", "a/b/c", "a/", "a//b", "/a", "b", "b/a", "a/$x"]);
  expect("a/#", ["a", "a/b", "a/b/c", "a/", "a//b", "a/$x"]);
  expect("a/+", ["a/b", "a/", "a/$x"]);
  expect("a/+/b", ["a//b"]);
  expect("a/+/c", ["a/b/c"]);
  expect("+", ["a", "b"]);
  expect("+/+", ["a/b", "a/", "/a", "b/a", "a/$x"]);
  expect("+/a", ["/a", "b/a"]);
  expect("/#", ["/a"]);
  expect("$SYS/#", ["$SYS", "$SYS/x"]);
  expect("$SYS/+", ["$SYS/x"]);
  expect("c/#", []);
  expect("a/b/c/+", []);
});

Deno.test("RetainedTrie.matching - agrees with topicMatches on random topics", () => {
  const random = prng(7);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const levels = ["a", "b", "", "$s"];
  const randomParts = () =>
    Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(levels));
  const store = new RetainedTrie<string>({ maxTopics: 1000 });
  for (let i = 0; i < 200; i++) {
    const topic = randomParts().join("/") || "a"; // "" is not a topic
    store.set(topic, `m:${topic}`);
  }
  const all: string[] = [];
  store.matching("#", (topic) => all.push(topic));
  store.matching("$s/#", (topic) => all.push(topic));
  assert.equal(all.length, store.size);
  for (let i = 0; i < 500; i++) {
    const parts = randomParts().map((level) => random() < 0.3 ? "+" : level);
    if (random() < 0.3) parts[parts.length - 1] = "#";
    const filter = parts.join("/") || "a";
    const expected = all.filter((topic) => topicMatches(filter, topic)).sort();
    assert.deepEqual(matched(store, filter), expected, filter);
  }
});

Deno.test("RetainedTrie.delete - prunes empty nodes", () => {
  const store = storeOf(["a/b/c", "a/b", "x/y"]);
  assert.equal(store.nodeCount, 5); // a, b, c, x, y
  store.delete("a/b/c");
  assert.equal(store.nodeCount, 4); // a/b still holds a message
  assert.deepEqual(matched(store, "a/#"), ["a/b"]);
  store.delete("a/b");
  store.delete("x/y");
  assert.equal(store.nodeCount, 0);
  assert.deepEqual(matched(store, "#"), []);
  assert.equal(store.size, 0);
});
