/**
 * The broker: what crosses between nodes and what every node must see alike. It has two parts,
 * each with a memory and a Redis implementation:
 *
 * - a {@linkcode Transport} moves serialised messages between nodes (publishes, broadcasts,
 *   `sendTo`) and hands other nodes' traffic to a {@linkcode TransportSink} (the hub);
 * - a {@linkcode Store} keeps state every node reads: retained values now, history and presence
 *   next.
 *
 * | engine | transport                                 | store                                   |
 * | ------ | ----------------------------------------- | --------------------------------------- |
 * | memory | memory_transport.ts (no peers: no-op)     | memory_store.ts (a trie, retained_trie) |
 * | redis  | redis_transport.ts (channels and globs)   | redis_store.ts (a hash, a Lua cap)      |
 *
 * The Redis pair shares its connections (redis_connection.ts); mod.ts picks the engine from
 * BROKER_URL. Local delivery is the hub's job: a node never receives its own traffic back
 * through a transport.
 *
 * A new engine must pass tests/broker_conformance_test.ts to exist: that file runs one table of
 * cases against every engine, and the new one is added to its list without skipping a case.
 *
 * @module
 */

/**
 * Who a `sendTo` message is for: every client with that role, one connection id, or every
 * connection of one user (the authenticated principal's id, a JWT's `sub`).
 */
export type Target = { src: string } | { id: string } | { user: string };

/** Where a transport hands what other nodes sent. */
export interface TransportSink {
  /** A publish from another node: deliver to local subscribers. */
  deliver(topic: string, text: string): void;
  /** A broadcast from another node: send to every local client. */
  broadcast(text: string): void;
  /** A `sendTo` from another node: send to the matching local clients. */
  sendTo(target: Target, text: string): void;
  /** A question from another node (see {@linkcode Peers}): this node's answer. */
  answer?(question: string): string | Promise<string>;
}

/**
 * Questions every other node answers (the backend API's `clients`, `send`, `disconnect`). Engines
 * without peers (memory) have none: the node is alone.
 */
export interface Peers {
  /** Asks every other node; resolves with the answers that came before a short deadline. */
  ask(question: string): Promise<string[]>;
  /** Stops asking and answering. */
  close(): Promise<void>;
}

/** Moves messages between nodes. Never blocks or throws on the local path. */
export interface Transport {
  /** For /healthz: `memory`, `redis`, … */
  readonly kind: string;
  /**
   * False while the path to the shared engine is down or not proven (local traffic keeps
   * working).
   */
  readonly healthy: boolean;
  /** Why it is not healthy (for /healthz), or undefined. Never holds a password. */
  readonly problem?: string;
  /** False while a publish cannot reach the other nodes: its ack says so (503). */
  readonly writable?: boolean;
  /** The last round trip of the probe a node sends itself through the engine, in ms. */
  readonly probeRttMs?: number;
  /** Messages received from other nodes (for /metrics). */
  readonly received: number;
  /** Messages not sent to other nodes because the engine was down or too slow (for /metrics). */
  readonly dropped: number;
  /**
   * Starts receiving other nodes' publishes that match this filter (first local subscriber). An
   * engine may also bring topics the filter does not match (the hub's index drops them), never
   * fewer, and brings each publish once however many of the node's filters match it.
   */
  subscribe(filter: string): void;
  /** Stops receiving them (last local subscriber gone). */
  unsubscribe(filter: string): void;
  /** Sends a serialised delivery to the other nodes. */
  publish(topic: string, text: string): void;
  /** Sends a serialised message to every client of the other nodes. */
  broadcast(text: string): void;
  /** Sends a serialised message to the matching clients of the other nodes. */
  sendTo(target: Target, text: string): void;
  /** Closes connections to the engine. */
  close(): Promise<void>;
}

/** State that every node reads alike: retained values (history and presence come next). */
export interface Store {
  /**
   * Sets (text) or clears (null) a topic's retained value. A store that answers later returns a
   * promise of its refusal (full, unavailable) or null.
   *
   * @throws {RangeError} When a store that answers at once is full (MAX_RETAINED).
   */
  retain(topic: string, text: string | null): void | Promise<string | null>;
  /** Visits the retained values whose topics match a filter. */
  retained(filter: string, visit: (topic: string, text: string) => void): void | Promise<void>;
  /** Closes connections to the engine. */
  close(): Promise<void>;
}

/** One connection present on a topic (docs/presence.md). */
export interface PresenceEntry {
  /** The connection id (unique across nodes). */
  client: string;
  /** The JWT `sub`, or null. */
  user: string | null;
  /** The client's role, or null. */
  src: string | null;
  /** The JWT `info` claim, or null. */
  info: unknown;
}

/** Told of every change the presence store made, on this node or another: once per change. */
export interface PresenceSink {
  change(kind: "join" | "leave", topic: string, entry: PresenceEntry): void;
  /** Other nodes' changes may have been missed (the link between nodes was down and is back). */
  gap?(): void;
}

/**
 * Who is present on which topic, across nodes. A change is reported to the sink by the node that
 * made it in the engine (a join that added an entry, a leave or an expiry that removed one), and
 * relayed to every other node's sink, so each change is reported once on every node.
 */
export interface PresenceStore {
  /** This node's entries (for /metrics). */
  readonly held: number;
  /** False while changes cannot be relayed between nodes (the engine is unreachable). */
  readonly healthy: boolean;
  /** Where changes go (the presence module; set once, after the store is made). */
  listen(sink: PresenceSink): void;
  /** Adds this node's entry for a client on a topic. */
  join(topic: string, entry: PresenceEntry): void;
  /** Removes this node's entry for a client on a topic, if it is there. */
  leave(topic: string, client: string): void;
  /** Everyone on a topic; rejects when the engine is unreachable. */
  entries(topic: string): PresenceEntry[] | Promise<PresenceEntry[]>;
  /** Stops its timers and closes connections to the engine. */
  close(): Promise<void>;
}

/** A topic's history limits (from its rule). */
export interface HistoryLimits {
  /** The most entries kept. */
  readonly size: number;
  /** How long entries are kept, in ms; a topic with no publication for that long is dropped. */
  readonly ttlMs: number;
}

/** One stored publication: its delivery text ends with `,"offset":n,"epoch":"e"}`. */
export interface HistoryEntry {
  readonly offset: number;
  /** When it was published (the publishing node's clock, ms). */
  readonly time: number;
  readonly text: string;
}

/** A new publication, as the store numbered it. */
export interface Appended extends HistoryEntry {
  readonly epoch: string;
}

/** What a history read asks for: entries after an offset, or stored at or after a time. */
export interface HistoryQuery {
  /** Entries with an offset above this one. */
  after?: number;
  /** Entries published at or after this time (ms). */
  since?: number;
}

/** What a history read found. */
export interface HistoryRead {
  /** The topic's top offset (0: nothing published, or its history is gone). */
  readonly offset: number;
  /** Its epoch ("" when it has no history). */
  readonly epoch: string;
  /** The stored entries the query asked for, oldest first, expired ones left out. */
  readonly entries: HistoryEntry[];
  /** The oldest offset still readable (offset + 1 when none). */
  readonly first: number;
  /** The time of the newest entry dropped by trimming or expiry (0: none). */
  readonly droppedAt: number;
}

/** History counts for /metrics. */
export interface HistoryStats {
  /** Topics with a history held. */
  topics: number;
  /** Entries held, across topics. */
  entries: number;
}

/**
 * Per-topic history: numbered, stored publications. The memory store answers at once and the
 * caller delivers what it appended; the Redis store numbers, stores and publishes in one script
 * (`relays`), so every node, this one included, delivers the entry when it comes back from Redis.
 */
export interface HistoryStore {
  /** True when `append` also delivers the entry to every node (the caller must not). */
  readonly relays: boolean;
  /**
   * Numbers and stores a publication.
   *
   * @param topic The topic.
   * @param body Its delivery text (a JSON object) without offset and epoch.
   * @param limits Its rule's size and ttl.
   * @param time Now (ms).
   */
  append(
    topic: string,
    body: string,
    limits: HistoryLimits,
    time: number,
  ): Appended | Promise<Appended>;
  /** Reads a topic's top and the entries a query asks for. */
  read(
    topic: string,
    query: HistoryQuery,
    limits: HistoryLimits,
  ): HistoryRead | Promise<HistoryRead>;
  /** The topics with a history that match a filter and had a publication at or after `since`. */
  topics(filter: string, since: number): string[] | Promise<string[]>;
  /** Counts for /metrics (the Redis store's are refreshed in the background). */
  stats(): HistoryStats;
  /** Stops timers and closes connections. */
  close(): Promise<void>;
}

/** A transport and a store of one engine, as BROKER_URL names it (and its peers, if any). */
export interface Broker {
  readonly transport: Transport;
  readonly store: Store;
  readonly peers?: Peers;
  /** Presence entries (lib/broker/memory_presence.ts, lib/broker/redis_presence.ts). */
  readonly presence: PresenceStore;
  /** Per-topic history (lib/broker/memory_history.ts, lib/broker/redis_history.ts). */
  readonly history: HistoryStore;
}
