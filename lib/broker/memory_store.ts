/**
 * The memory store (`BROKER_URL=memory://`, the default): the node's own retained values, in a
 * trie (lib/broker/retained_trie.ts).
 *
 * @module
 */
import type { Store } from "./broker.ts";
import { RetainedTrie } from "./retained_trie.ts";

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** The most topics with a retained value (MAX_RETAINED). */
  maxRetained: number;
}

/**
 * Retained values in this process. It answers at once: `retain` throws a `RangeError` when a new
 * topic would pass MAX_RETAINED, and `retained` visits synchronously.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ maxRetained: 10_000 });
 * store.retain("a/b", "{}");
 * store.retained("a/+", (topic, text) => console.log(topic, text)); // a/b {}
 * ```
 */
export class MemoryStore implements Store {
  readonly #trie: RetainedTrie<string>;

  /**
   * @param options The retained-value cap.
   * @throws {RangeError} If `maxRetained` is not a non-negative integer.
   */
  constructor(options: MemoryStoreOptions) {
    this.#trie = new RetainedTrie<string>({ maxTopics: options.maxRetained });
  }

  /** @throws {RangeError} When `topic` is new and MAX_RETAINED topics are already retained. */
  retain(topic: string, text: string | null): void {
    if (text === null) this.#trie.delete(topic);
    else this.#trie.set(topic, text);
  }

  retained(filter: string, visit: (topic: string, text: string) => void): void {
    this.#trie.matching(filter, visit);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
