/**
 * The memory presence store (`BROKER_URL=memory://`, the default): one node's presence entries,
 * by topic, in this process. Every change is reported to the sink at once; there is no ttl (the
 * node that holds an entry is this one: when it dies, the entries die with it).
 *
 * @module
 */
import type { PresenceEntry, PresenceSink, PresenceStore } from "./broker.ts";

/**
 * Presence entries of a single node.
 *
 * @example
 * ```ts
 * const presence = new MemoryPresence();
 * presence.listen({ change: (kind, topic, entry) => console.log(kind, topic, entry.client) });
 * presence.join("panels/7", { client: "n1-1", user: "ann", src: "front", info: null });
 * presence.entries("panels/7"); // [{ client: "n1-1", … }]
 * ```
 */
export class MemoryPresence implements PresenceStore {
  readonly healthy = true;
  readonly #topics = new Map<string, Map<string, PresenceEntry>>();
  #sink: PresenceSink | undefined;
  #held = 0;

  get held(): number {
    return this.#held;
  }

  listen(sink: PresenceSink): void {
    this.#sink = sink;
  }

  join(topic: string, entry: PresenceEntry): void {
    let entries = this.#topics.get(topic);
    if (entries === undefined) this.#topics.set(topic, entries = new Map());
    if (entries.has(entry.client)) return;
    entries.set(entry.client, entry);
    this.#held++;
    this.#sink?.change("join", topic, entry);
  }

  leave(topic: string, client: string): void {
    const entries = this.#topics.get(topic);
    const entry = entries?.get(client);
    if (entries === undefined || entry === undefined) return;
    entries.delete(client);
    if (entries.size === 0) this.#topics.delete(topic);
    this.#held--;
    this.#sink?.change("leave", topic, entry);
  }

  entries(topic: string): PresenceEntry[] {
    return [...this.#topics.get(topic)?.values() ?? []];
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
