/**
 * The retained values of the memory store: the last value kept per topic, found by topic or by
 * filter without scanning every topic.
 *
 * Matching follows the rules of lib/wire/topic.ts (`topicMatches`), `$`-topic rule included.
 *
 * @module
 */

import { filterError, hasWildcard } from "../wire/topic.ts";

/** Options of {@linkcode RetainedTrie}. */
export interface RetainedTrieOptions {
  /** The most topics with a retained message; `set` on one more throws a `RangeError`. */
  maxTopics: number;
}

/** A trie node: one topic level. */
interface Node<M> {
  parent: Node<M> | null;
  key: string;
  children: Map<string, Node<M>> | null;
  /** The full topic when a message is retained here, else null. */
  topic: string | null;
  message: M | undefined;
}

function newNode<M>(parent: Node<M> | null, key: string): Node<M> {
  return { parent, key, children: null, topic: null, message: undefined };
}

/**
 * Keeps the last retained message per topic. Lookups by topic are a `Map` access; a wildcard
 * filter walks a trie of levels, so its cost follows the retained topics under the filter's
 * fixed prefix, not the store's size.
 *
 * @example
 * ```ts
 * const trie = new RetainedTrie<string>({ maxTopics: 10_000 });
 * trie.set("a/b", "hello");
 * trie.matching("a/+", (topic, message) => console.log(topic, message)); // a/b hello
 * ```
 */
export class RetainedTrie<M> {
  #byTopic = new Map<string, Node<M>>();
  #root: Node<M> = newNode(null, "");
  #maxTopics: number;

  /**
   * @param options `maxTopics`: the cap on retained topics, a non-negative integer.
   * @throws {RangeError} If `maxTopics` is not a non-negative integer.
   */
  constructor(options: RetainedTrieOptions) {
    const { maxTopics } = options;
    if (!Number.isInteger(maxTopics) || maxTopics < 0) {
      throw new RangeError(`maxTopics must be a non-negative integer: ${maxTopics}`);
    }
    this.#maxTopics = maxTopics;
  }

  /** The number of topics with a retained message. */
  get size(): number {
    return this.#byTopic.size;
  }

  /**
   * Retains `message` as the last value of `topic`, replacing any earlier one.
   *
   * @param topic A topic name; check it with `checkTopic` first.
   * @throws {TypeError} If the topic is empty or contains a wildcard.
   * @throws {RangeError} If `topic` is new and `maxTopics` topics are already retained.
   */
  set(topic: string, message: M): void {
    const existing = this.#byTopic.get(topic);
    if (existing !== undefined) {
      existing.message = message;
      return;
    }
    if (topic.length === 0 || hasWildcard(topic)) {
      throw new TypeError(`Cannot retain a message on a topic filter: ${JSON.stringify(topic)}`);
    }
    if (this.#byTopic.size >= this.#maxTopics) {
      throw new RangeError(
        `Cannot retain a message on ${
          JSON.stringify(topic)
        }: the limit of ${this.#maxTopics} retained topics is reached`,
      );
    }
    let node = this.#root;
    for (const level of topic.split("/")) {
      const children = node.children ??= new Map();
      let child = children.get(level);
      if (child === undefined) children.set(level, child = newNode(node, level));
      node = child;
    }
    node.topic = topic;
    node.message = message;
    this.#byTopic.set(topic, node);
  }

  /**
   * Forgets the retained message of `topic`.
   *
   * @returns true if there was one.
   */
  delete(topic: string): boolean {
    const node = this.#byTopic.get(topic);
    if (node === undefined) return false;
    this.#byTopic.delete(topic);
    node.topic = null;
    node.message = undefined;
    // Prune empty nodes bottom-up so churn does not grow memory.
    let current = node;
    while (current.parent !== null && current.topic === null && current.children === null) {
      const parent = current.parent;
      parent.children!.delete(current.key);
      if (parent.children!.size === 0) parent.children = null;
      current = parent;
    }
    return true;
  }

  /** The retained message of `topic`, or undefined. */
  get(topic: string): M | undefined {
    return this.#byTopic.get(topic)?.message;
  }

  /**
   * Calls `visit` for each retained message whose topic `filter` matches.
   *
   * @param filter A topic filter, possibly with `+` and `#`.
   * @param visit Called with each matching topic and its message, in no particular order.
   * @throws {TypeError} If the filter is malformed.
   */
  matching(filter: string, visit: (topic: string, message: M) => void): void {
    if (!hasWildcard(filter)) {
      const node = this.#byTopic.get(filter);
      if (node !== undefined) visit(filter, node.message as M);
      return;
    }
    const error = filterError(filter);
    if (error !== null) throw new TypeError(error);
    this.#walk(this.#root, filter.split("/"), 0, visit);
  }

  /** The number of trie nodes, for tests and metrics: 0 once the store is empty. */
  get nodeCount(): number {
    return this.#count(this.#root) - 1;
  }

  #count(node: Node<M>): number {
    let n = 1;
    if (node.children !== null) {
      for (const child of node.children.values()) n += this.#count(child);
    }
    return n;
  }

  /** Visits the matches of `levels[i..]` below `node` (reached after `i` levels). */
  #walk(node: Node<M>, levels: string[], i: number, visit: (t: string, m: M) => void): void {
    if (i === levels.length) {
      if (node.topic !== null) visit(node.topic, node.message as M);
      return;
    }
    const level = levels[i];
    if (level === "#") {
      // "#" matches the parent level too; the root has no topic, so no special case.
      if (node.topic !== null) visit(node.topic, node.message as M);
      this.#visitBelow(node, i === 0, visit);
      return;
    }
    if (node.children === null) return;
    if (level !== "+") {
      const child = node.children.get(level);
      if (child !== undefined) this.#walk(child, levels, i + 1, visit);
      return;
    }
    for (const child of node.children.values()) {
      if (i === 0 && child.key.startsWith("$")) continue;
      this.#walk(child, levels, i + 1, visit);
    }
  }

  #visitBelow(node: Node<M>, atRoot: boolean, visit: (t: string, m: M) => void): void {
    if (node.children === null) return;
    for (const child of node.children.values()) {
      if (atRoot && child.key.startsWith("$")) continue;
      if (child.topic !== null) visit(child.topic, child.message as M);
      this.#visitBelow(child, false, visit);
    }
  }
}
