/**
 * The client's subscription registry, without I/O: which handlers want which filters, and how many
 * handlers use each filter, so the client sends `sub` for a filter's first handler and `unsub`
 * after its last.
 *
 * @module
 */
import { topicMatches } from "./topic_match.ts";
import type { Delivery, PresenceEvent } from "./types.ts";

/** A subscription handler. */
export type DeliveryHandler = (delivery: Delivery) => void;

/** One `subscribe` call: its filters and its handler. */
export interface Subscriber {
  readonly filters: readonly string[];
  readonly handler: DeliveryHandler;
  /** Join and leave events of its filters' presence topics, when it asked for them. */
  readonly joinLeave?: (event: PresenceEvent) => void;
}

/**
 * Handlers by filter, with reference counts.
 *
 * @example
 * ```ts
 * import { Subscriptions } from "./subscriptions.ts";
 *
 * const subs = new Subscriptions();
 * const { subscriber, added } = subs.add(["a/+"], (d) => console.log(d.topic));
 * added; // ["a/+"]: send a sub
 * subs.remove(subscriber); // ["a/+"]: send an unsub
 * ```
 */
export class Subscriptions {
  #subscribers = new Set<Subscriber>();
  #refs = new Map<string, number>();

  /** Every filter that at least one handler uses. */
  get filters(): string[] {
    return [...this.#refs.keys()];
  }

  /** The filters that at least one handler with `joinLeave` uses (`sub` with `join_leave`). */
  get watched(): string[] {
    const out = new Set<string>();
    for (const s of this.#subscribers) if (s.joinLeave) { for (const f of s.filters) out.add(f); }
    return [...out];
  }

  /**
   * Adds a handler.
   *
   * @param filters Its filters (duplicates are ignored).
   * @param handler Called with each delivery that matches any of them, once per delivery.
   * @param joinLeave Called with the join and leave events of those filters, if given.
   * @returns The subscriber, and the filters that no handler used before (to `sub`).
   */
  add(
    filters: readonly string[],
    handler: DeliveryHandler,
    joinLeave?: (event: PresenceEvent) => void,
  ): {
    subscriber: Subscriber;
    added: string[];
  } {
    const subscriber = { filters: [...new Set(filters)], handler, joinLeave };
    const added: string[] = [];
    for (const filter of subscriber.filters) {
      const n = this.#refs.get(filter) ?? 0;
      this.#refs.set(filter, n + 1);
      if (n === 0) added.push(filter);
    }
    this.#subscribers.add(subscriber);
    return { subscriber, added };
  }

  /**
   * Removes a handler; removing it twice does nothing.
   *
   * @param subscriber What `add` returned.
   * @returns The filters that no handler uses any more (to `unsub`).
   */
  remove(subscriber: Subscriber): string[] {
    if (!this.#subscribers.delete(subscriber)) return [];
    const removed: string[] = [];
    for (const filter of subscriber.filters) {
      const n = (this.#refs.get(filter) ?? 1) - 1;
      if (n > 0) this.#refs.set(filter, n);
      else {
        this.#refs.delete(filter);
        removed.push(filter);
      }
    }
    return removed;
  }

  /** Whether a handler is still registered. */
  has(subscriber: Subscriber): boolean {
    return this.#subscribers.has(subscriber);
  }

  /**
   * Calls every `joinLeave` callback with a filter that matches the event's topic.
   *
   * @param event The event.
   * @param onError Gets what a callback throws.
   */
  dispatchJoinLeave(event: PresenceEvent, onError: (err: unknown) => void): void {
    for (const subscriber of [...this.#subscribers]) {
      const callback = subscriber.joinLeave;
      if (!callback || !subscriber.filters.some((f) => topicMatches(f, event.topic))) continue;
      try {
        callback(event);
      } catch (err) {
        onError(err);
      }
    }
  }

  /**
   * Calls every handler with a filter that matches the delivery's topic.
   *
   * @param delivery A `pub` message from the server.
   * @param onError Gets what a handler throws, so one bad handler does not stop the others.
   * @returns How many handlers were called.
   */
  dispatch(delivery: Delivery, onError: (err: unknown) => void): number {
    let n = 0;
    for (const subscriber of [...this.#subscribers]) {
      if (!subscriber.filters.some((f) => topicMatches(f, delivery.topic))) continue;
      n++;
      try {
        subscriber.handler(delivery);
      } catch (err) {
        onError(err);
      }
    }
    return n;
  }
}
