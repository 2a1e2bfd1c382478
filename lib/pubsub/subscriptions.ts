/**
 * The subscription index: who subscribes to what, the one place that holds it. The topic tree
 * answers "who wants this topic" on every publish; the filters of each subscriber answer "what
 * does this one hold" for acks and for cleaning up when it leaves. It reports the first
 * subscriber of a filter and the last one leaving, so the transport follows the node's interest.
 *
 * @module
 */
import { TopicTree } from "./topic_tree.ts";

/**
 * Told when a filter gains its first subscriber on this node or loses its last; optionally also
 * of every subscription made and ended (presence follows these).
 */
export interface InterestListener<S = unknown> {
  /** The first subscriber of `filter` on this node. */
  first(filter: string): void;
  /** The last subscriber of `filter` on this node left. */
  last(filter: string): void;
  /** `who` now holds `filter` (after `first`). */
  added?(who: S, filter: string): void;
  /** `who` no longer holds `filter` (before `last`), whether it unsubscribed or left. */
  removed?(who: S, filter: string): void;
}

/** Told of every subscription made and ended, however it ended (presence follows these). */
export type Membership<S> = Pick<InterestListener<S>, "added" | "removed">;

const NONE: ReadonlySet<string> = new Set();

/** Subscriptions of one node's subscribers (connections). */
export class Subscriptions<S> {
  readonly #tree = new TopicTree<S>();
  readonly #bySubscriber = new Map<S, Set<string>>();
  readonly #interest: InterestListener<S>;

  /** @param interest Told about the first and last subscriber of each filter. */
  constructor(interest: InterestListener<S>) {
    this.#interest = interest;
  }

  /** The number of (filter, subscriber) pairs. */
  get size(): number {
    return this.#tree.size;
  }

  /** The distinct filters with at least one subscriber. */
  *filters(): IterableIterator<string> {
    const seen = new Set<string>();
    for (const held of this.#bySubscriber.values()) {
      for (const filter of held) {
        if (seen.has(filter)) continue;
        seen.add(filter);
        yield filter;
      }
    }
  }

  /**
   * The filters a subscriber holds.
   *
   * @param who The subscriber.
   * @returns Its filters (a live view: do not change it).
   */
  of(who: S): ReadonlySet<string> {
    return this.#bySubscriber.get(who) ?? NONE;
  }

  /** How many subscribers hold exactly this filter. */
  count(filter: string): number {
    return this.#tree.count(filter);
  }

  /**
   * Subscribes `who` to a valid filter.
   *
   * @returns Whether it is new for this subscriber.
   */
  add(who: S, filter: string): boolean {
    if (!this.#tree.add(filter, who)) return false;
    let held = this.#bySubscriber.get(who);
    if (held === undefined) this.#bySubscriber.set(who, held = new Set());
    held.add(filter);
    if (this.#tree.count(filter) === 1) this.#interest.first(filter);
    this.#interest.added?.(who, filter);
    return true;
  }

  /**
   * Unsubscribes `who` from a filter.
   *
   * @returns Whether it held the filter.
   */
  remove(who: S, filter: string): boolean {
    const held = this.#bySubscriber.get(who);
    if (held === undefined || !held.delete(filter)) return false;
    if (held.size === 0) this.#bySubscriber.delete(who);
    this.#tree.remove(filter, who);
    this.#interest.removed?.(who, filter);
    if (this.#tree.count(filter) === 0) this.#interest.last(filter);
    return true;
  }

  /**
   * Removes every subscription of a subscriber that left.
   *
   * @returns The filters it held.
   */
  removeAll(who: S): string[] {
    const held = this.#bySubscriber.get(who);
    if (held === undefined) return [];
    const filters = [...held];
    for (const filter of filters) this.remove(who, filter);
    return filters;
  }

  /**
   * Calls `visit` once per subscriber with a filter matching `topic`.
   *
   * @param topic A topic name.
   * @param visit Called with each subscriber.
   */
  match(topic: string, visit: (who: S) => void): void {
    this.#tree.match(topic, visit);
  }
}
