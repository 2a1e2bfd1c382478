/**
 * The subscription index: which values (clients) want a published topic. The topic rules (and
 * their validation) are in lib/wire/topic.ts; this trie implements the same matching, `$`-topic
 * rule included, so that a publish costs its depth, not the number of subscriptions.
 *
 * @module
 */

import { filterError, hasWildcard } from "../wire/topic.ts";

const DOLLAR = 36;

/** One subscribed value; shared by all its filters so a generation mark can dedupe cheaply. */
interface Entry<T> {
  readonly value: T;
  /** The generation of the last match that visited this value. */
  mark: number;
  /** How many filters hold this entry. */
  refs: number;
}

/** A trie node: the filters whose levels so far spell the path from the root to here. */
interface Node<T> {
  children: Map<string, Node<T>> | null;
  plus: Node<T> | null;
  /** Values of filters that end here with `/#` (or are `#` at the root). */
  hash: Set<Entry<T>> | null;
  /** Values of filters that end exactly here. */
  values: Set<Entry<T>> | null;
}

function newNode<T>(): Node<T> {
  return { children: null, plus: null, hash: null, values: null };
}

function isEmpty<T>(node: Node<T>): boolean {
  return node.children === null && node.plus === null && node.hash === null &&
    node.values === null;
}

/**
 * Maps topic filters to values (typically connections) and finds the values a topic reaches.
 * Wildcard-free filters live in a `Map` keyed by the whole filter; wildcard filters in a trie of
 * levels, so `match` costs the topic's depth plus the matching values, not the subscription count.
 *
 * @example
 * ```ts
 * const tree = new TopicTree<string>();
 * tree.add("a/+", "alice");
 * tree.add("a/#", "alice");
 * tree.match("a/b", (who) => console.log(who)); // "alice", once
 * ```
 */
export class TopicTree<T> {
  #exact = new Map<string, Set<Entry<T>>>();
  #root: Node<T> = newNode();
  #entries = new Map<T, Entry<T>>();
  #size = 0;
  #wildcardPairs = 0;
  #nodes = 0;
  #mark = 0;
  /** How many `match` calls are running (a visitor may publish again). */
  #depth = 0;
  /** Reused by the outermost `match` so a publish allocates no array. */
  #found: Set<Entry<T>>[] = [];

  /** The number of (filter, value) pairs. */
  get size(): number {
    return this.#size;
  }

  /** The number of trie nodes, for tests and metrics: 0 once every wildcard filter is removed. */
  get nodeCount(): number {
    return this.#nodes;
  }

  /**
   * Subscribes `value` to `filter`.
   *
   * @param filter A topic filter; check it with `checkTopic` first.
   * @param value The subscriber; values are compared with SameValueZero.
   * @returns true if the pair is new, false if it was already there.
   * @throws {TypeError} If the filter is malformed (a wildcard that does not fill a level, …).
   */
  add(filter: string, value: T): boolean {
    const error = filterError(filter);
    if (error !== null) throw new TypeError(error);
    let set: Set<Entry<T>> | null;
    if (!hasWildcard(filter)) {
      set = this.#exact.get(filter) ?? null;
      if (set === null) this.#exact.set(filter, set = new Set());
    } else {
      const levels = filter.split("/");
      const last = levels.length - 1;
      let node = this.#root;
      for (let i = 0; i < last; i++) node = this.#child(node, levels[i]);
      if (levels[last] === "#") set = node.hash ??= new Set();
      else set = (node = this.#child(node, levels[last])).values ??= new Set();
    }
    let entry = this.#entries.get(value);
    if (entry !== undefined && set.has(entry)) return false;
    if (entry === undefined) this.#entries.set(value, entry = { value, mark: 0, refs: 0 });
    entry.refs++;
    set.add(entry);
    this.#size++;
    if (hasWildcard(filter)) this.#wildcardPairs++;
    return true;
  }

  /**
   * Unsubscribes `value` from `filter`, pruning trie nodes left empty.
   *
   * @returns true if the pair existed.
   */
  remove(filter: string, value: T): boolean {
    const entry = this.#entries.get(value);
    if (entry === undefined) return false;
    if (!hasWildcard(filter)) {
      const set = this.#exact.get(filter);
      if (set === undefined || !set.delete(entry)) return false;
      if (set.size === 0) this.#exact.delete(filter);
    } else if (!this.#removeWildcard(filter, entry)) {
      return false;
    }
    if (--entry.refs === 0) this.#entries.delete(value);
    this.#size--;
    return true;
  }

  /**
   * How many values hold exactly this filter (0 when none).
   *
   * @param filter A topic filter.
   * @returns The number of values subscribed with this very filter.
   */
  count(filter: string): number {
    if (!hasWildcard(filter)) return this.#exact.get(filter)?.size ?? 0;
    const levels = filter.split("/");
    const last = levels.length - 1;
    const isHash = levels[last] === "#";
    let node: Node<T> | null | undefined = this.#root;
    for (let i = 0; i < (isHash ? last : levels.length) && node != null; i++) {
      node = levels[i] === "+" ? node.plus : node.children?.get(levels[i]);
    }
    if (node == null) return 0;
    return (isHash ? node.hash : node.values)?.size ?? 0;
  }

  /**
   * Calls `visit` once per distinct value with a filter that matches `topic`, however many of
   * its filters match. A visitor may call `match`, `add` or `remove`; values removed meanwhile
   * are not visited, values added meanwhile may be.
   *
   * @param topic A topic name (no wildcards).
   * @param visit Called with each matching value.
   */
  match(topic: string, visit: (value: T) => void): void {
    const exact = this.#exact.get(topic);
    if (this.#wildcardPairs === 0) {
      if (exact !== undefined) { for (const entry of exact) visit(entry.value); }
      return;
    }
    const found = this.#depth === 0 ? this.#found : [];
    if (exact !== undefined) found.push(exact);
    this.#collectRoot(topic, found);
    this.#depth++;
    try {
      if (found.length === 1) {
        for (const entry of found[0]) visit(entry.value);
      } else if (found.length > 1 && this.#depth === 1) {
        // Several filters matched: the generation mark skips values already visited.
        const mark = ++this.#mark;
        for (let i = 0; i < found.length; i++) {
          for (const entry of found[i]) {
            if (entry.mark === mark) continue;
            entry.mark = mark;
            visit(entry.value);
          }
        }
      } else if (found.length > 1) {
        // A nested match must not disturb the outer call's marks.
        const seen = new Set<Entry<T>>();
        for (const set of found) {
          for (const entry of set) {
            if (seen.has(entry)) continue;
            seen.add(entry);
            visit(entry.value);
          }
        }
      }
    } finally {
      this.#depth--;
      found.length = 0;
    }
  }

  /** True when at least one filter matches `topic`. */
  hasSubscribers(topic: string): boolean {
    if (this.#exact.has(topic)) return true;
    if (this.#wildcardPairs === 0) return false;
    const found = this.#depth === 0 ? this.#found : [];
    this.#collectRoot(topic, found);
    const any = found.length > 0;
    found.length = 0;
    return any;
  }

  #collectRoot(topic: string, found: Set<Entry<T>>[]): void {
    const root = this.#root;
    const levels = topic.split("/");
    if (topic.charCodeAt(0) !== DOLLAR) {
      if (root.hash !== null) found.push(root.hash);
      if (root.plus !== null) this.#collect(root.plus, levels, 1, found);
    }
    const child = root.children?.get(levels[0]);
    if (child !== undefined) this.#collect(child, levels, 1, found);
  }

  /** Pushes the sets of `node` (reached after `i` levels) and its matching descendants. */
  #collect(node: Node<T>, levels: string[], i: number, found: Set<Entry<T>>[]): void {
    if (node.hash !== null) found.push(node.hash);
    if (i === levels.length) {
      if (node.values !== null) found.push(node.values);
      return;
    }
    if (node.children !== null) {
      const child = node.children.get(levels[i]);
      if (child !== undefined) this.#collect(child, levels, i + 1, found);
    }
    if (node.plus !== null) this.#collect(node.plus, levels, i + 1, found);
  }

  #child(node: Node<T>, level: string): Node<T> {
    if (level === "+") {
      if (node.plus === null) this.#nodes++;
      return node.plus ??= newNode();
    }
    const children = node.children ??= new Map();
    let child = children.get(level);
    if (child === undefined) {
      children.set(level, child = newNode());
      this.#nodes++;
    }
    return child;
  }

  #removeWildcard(filter: string, entry: Entry<T>): boolean {
    const levels = filter.split("/");
    const last = levels.length - 1;
    const isHash = levels[last] === "#";
    const depth = isHash ? last : levels.length;
    const path: Node<T>[] = [this.#root];
    for (let i = 0; i < depth; i++) {
      const node = path[i];
      const next = levels[i] === "+" ? node.plus : node.children?.get(levels[i]);
      if (next == null) return false;
      path.push(next);
    }
    const target = path[depth];
    const set = isHash ? target.hash : target.values;
    if (set === null || !set.delete(entry)) return false;
    if (set.size === 0) {
      if (isHash) target.hash = null;
      else target.values = null;
    }
    // Prune empty nodes bottom-up so churn does not grow memory.
    for (let i = depth; i > 0 && isEmpty(path[i]); i--) {
      const parent = path[i - 1];
      if (levels[i - 1] === "+") parent.plus = null;
      else {
        parent.children!.delete(levels[i - 1]);
        if (parent.children!.size === 0) parent.children = null;
      }
      this.#nodes--;
    }
    this.#wildcardPairs--;
    return true;
  }
}
