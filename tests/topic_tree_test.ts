import assert from "node:assert/strict";
import { TopicTree } from "../lib/pubsub/topic_tree.ts";
import { topicMatches } from "../lib/wire/topic.ts";
import { MATCH_CASES as CASES } from "./_topic_cases.ts";

/** Runs `match` and returns the visited values in order (duplicates kept, to catch them). */
function visited<T>(tree: TopicTree<T>, topic: string): T[] {
  const out: T[] = [];
  tree.match(topic, (value) => out.push(value));
  return out;
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

Deno.test("TopicTree.match - follows the MQTT matching rules", () => {
  for (const [filter, topic, expected] of CASES) {
    const tree = new TopicTree<string>();
    tree.add(filter, "v");
    assert.deepEqual(visited(tree, topic), expected ? ["v"] : [], `${filter} vs ${topic}`);
    assert.equal(tree.hasSubscribers(topic), expected, `hasSubscribers ${filter} vs ${topic}`);
  }
});

Deno.test("TopicTree.match - visits a value once when several of its filters match", () => {
  const tree = new TopicTree<string>();
  for (const filter of ["a/+", "a/#", "#", "a/b", "+/b", "+/+"]) tree.add(filter, "alice");
  tree.add("a/+", "bob");
  tree.add("a/#", "carol");
  tree.add("a/b", "carol");
  tree.add("c", "dave");
  assert.equal(tree.size, 10);
  assert.deepEqual(visited(tree, "a/b").sort(), ["alice", "bob", "carol"]);
  assert.deepEqual(visited(tree, "a").sort(), ["alice", "carol"]);
  assert.deepEqual(visited(tree, "c").sort(), ["alice", "dave"]);
  // A second publish must not be affected by the first one's dedup state.
  assert.deepEqual(visited(tree, "a/b").sort(), ["alice", "bob", "carol"]);
});

Deno.test("TopicTree.match - fans out to every subscriber of one filter", () => {
  const tree = new TopicTree<{ id: number }>();
  const clients = Array.from({ length: 1000 }, (_, id) => ({ id }));
  for (const client of clients) tree.add("room/1", client);
  tree.add("room/+", clients[0]);
  assert.equal(visited(tree, "room/1").length, 1000);
  assert.deepEqual(new Set(visited(tree, "room/1")), new Set(clients));
  assert.deepEqual(visited(tree, "room/2"), [clients[0]]);
  assert.deepEqual(visited(tree, "room"), []);
});

Deno.test("TopicTree.add - returns false for a pair that is already there", () => {
  const tree = new TopicTree<string>();
  assert.equal(tree.add("a/b", "x"), true);
  assert.equal(tree.add("a/b", "x"), false);
  assert.equal(tree.add("a/+", "x"), true);
  assert.equal(tree.add("a/+", "x"), false);
  assert.equal(tree.add("a/+", "y"), true);
  assert.equal(tree.size, 3);
  assert.deepEqual(visited(tree, "a/b").sort(), ["x", "y"]);
});

Deno.test("TopicTree.add - throws on a malformed filter", () => {
  const tree = new TopicTree<string>();
  assert.throws(() => tree.add("a/#/b", "x"), TypeError);
  assert.throws(() => tree.add("a/b+", "x"), TypeError);
  assert.throws(() => tree.add("", "x"), TypeError);
  assert.equal(tree.size, 0);
  assert.equal(tree.nodeCount, 0);
});

Deno.test("TopicTree.remove - stops delivery and prunes empty nodes", () => {
  const tree = new TopicTree<string>();
  tree.add("a/+/c", "x");
  tree.add("a/#", "x");
  tree.add("a/b/c", "y");
  assert.equal(tree.nodeCount, 3); // a, +, c
  assert.equal(tree.remove("a/+/c", "y"), false);
  assert.equal(tree.remove("a/+", "x"), false);
  assert.equal(tree.remove("a/+/c/d", "x"), false);
  assert.equal(tree.remove("a/+/c", "x"), true);
  assert.equal(tree.remove("a/+/c", "x"), false);
  assert.equal(tree.nodeCount, 1); // a stays for a/#
  assert.deepEqual(visited(tree, "a/b/c").sort(), ["x", "y"]);
  assert.equal(tree.remove("a/#", "x"), true);
  assert.equal(tree.nodeCount, 0);
  assert.deepEqual(visited(tree, "a/b/c"), ["y"]);
  assert.equal(tree.remove("a/b/c", "y"), true);
  assert.deepEqual(visited(tree, "a/b/c"), []);
  assert.equal(tree.hasSubscribers("a/b/c"), false);
  assert.equal(tree.size, 0);
});

Deno.test("TopicTree.remove - memory does not grow with subscribe churn", () => {
  const tree = new TopicTree<number>();
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 20; i++) tree.add(`r${round}/+/c${i}/#`, i);
    for (let i = 0; i < 20; i++) assert.equal(tree.remove(`r${round}/+/c${i}/#`, i), true);
    assert.equal(tree.nodeCount, 0);
  }
  assert.equal(tree.size, 0);
});

Deno.test("TopicTree.match - a visitor may publish again and unsubscribe", () => {
  const tree = new TopicTree<string>();
  for (const v of ["u", "v", "w"]) {
    tree.add("x/+", v);
    tree.add("x/#", v);
  }
  const outer: string[] = [];
  const inner: string[] = [];
  tree.match("x/a", (value) => {
    outer.push(value);
    tree.match("x/b", (nested) => inner.push(nested));
  });
  assert.deepEqual(outer.sort(), ["u", "v", "w"]);
  assert.equal(inner.length, 9);
  assert.deepEqual([...new Set(inner)].sort(), ["u", "v", "w"]);

  // Removing a value that has not been visited yet keeps it from being visited.
  const seen: string[] = [];
  tree.match("x/a", (value) => {
    seen.push(value);
    for (const other of ["u", "v", "w"]) {
      if (other === value) continue;
      tree.remove("x/+", other);
      tree.remove("x/#", other);
    }
  });
  assert.equal(seen.length, 1);
  assert.equal(tree.size, 2);
});

Deno.test("TopicTree.match - agrees with topicMatches on random filters and topics", () => {
  const random = prng(20240611);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const levels = ["a", "b", "", "$s"];
  const randomTopic = () => {
    const n = 1 + Math.floor(random() * 4);
    return Array.from({ length: n }, () => pick(levels)).join("/") || "a"; // "" is not a topic
  };
  const randomFilter = () => {
    const n = 1 + Math.floor(random() * 4);
    const parts = Array.from({ length: n }, () => random() < 0.3 ? "+" : pick(levels));
    if (random() < 0.3) parts[n - 1] = "#";
    return parts.join("/") || "a";
  };

  const tree = new TopicTree<number>();
  const pairs: [string, number][] = [];
  for (let i = 0; i < 400; i++) {
    const pair: [string, number] = [randomFilter(), Math.floor(random() * 50)];
    const isNew = !pairs.some(([f, v]) => f === pair[0] && v === pair[1]);
    assert.equal(tree.add(...pair), isNew);
    if (isNew) pairs.push(pair);
  }
  assert.equal(tree.size, pairs.length);

  const compare = (rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      const topic = randomTopic();
      const expected = new Set(pairs.filter(([f]) => topicMatches(f, topic)).map(([, v]) => v));
      const got = visited(tree, topic);
      assert.equal(got.length, new Set(got).size, `duplicate delivery for ${topic}`);
      assert.deepEqual(new Set(got), expected, `match ${topic}`);
      assert.equal(tree.hasSubscribers(topic), expected.size > 0, `hasSubscribers ${topic}`);
    }
  };
  compare(2000);

  // Remove a random half, then check again.
  for (let i = pairs.length - 1; i >= 0; i--) {
    if (random() < 0.5) continue;
    assert.equal(tree.remove(...pairs[i]), true);
    pairs.splice(i, 1);
  }
  assert.equal(tree.size, pairs.length);
  compare(1000);

  for (const pair of pairs) assert.equal(tree.remove(...pair), true);
  assert.equal(tree.size, 0);
  assert.equal(tree.nodeCount, 0);
});
