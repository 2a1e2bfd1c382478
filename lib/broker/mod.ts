/**
 * Picks the broker named by BROKER_URL: a transport and a store of one engine.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { StartupError } from "../wire/errors.ts";
import type { Broker, TransportSink } from "./broker.ts";
import { MemoryStore } from "./memory_store.ts";
import { MemoryPresence } from "./memory_presence.ts";
import { RedisPresence } from "./redis_presence.ts";
import { MemoryTransport } from "./memory_transport.ts";
import { RedisConnection } from "./redis_connection.ts";
import { RedisStore } from "./redis_store.ts";
import { RedisTransport } from "./redis_transport.ts";
import { RedisPeers } from "./redis_peers.ts";

/** The BROKER_URL schemes of the Redis broker: one Redis, Sentinel, Cluster. */
const REDIS_SCHEMES = new Set(["redis", "rediss", "redis+sentinel", "redis+cluster"]);
import { MemoryHistory } from "./memory_history.ts";
import { RedisHistory } from "./redis_history.ts";

/** Options of {@linkcode createBroker}. */
export interface BrokerOptions {
  /** Where a multi-node broker reports connection problems. */
  log: Logger;
  /** This node's id (non-empty, no space): a multi-node transport drops its own messages by it. */
  nodeId: string;
  /** The server's clock: presence timers, the path probe, history times (system clock by default). */
  clock?: Clock;
  /** The longest history ttl of any rule, in ms (default 300 s). */
  historyMaxTtlMs?: number;
}

/**
 * Creates the broker for BROKER_URL. A Redis broker connects in the background: its transport
 * reports `healthy: false` until it is connected, and the server starts either way. The Redis
 * transport and store share one command connection.
 *
 * @param config BROKER_URL, MAX_RETAINED, PRESENCE_TTL_S (default 60) and BROKER_PROBE_MS.
 * @param sink Where a multi-node transport hands other nodes' traffic.
 * @param options The logger, this node's id and the clock.
 * @returns The transport, the store, the presence store and the peers (Redis).
 * @throws {StartupError} For a broker this build does not have, or a malformed Redis URL.
 * @throws {TypeError} For a node id with a space in it.
 * @example
 * ```ts
 * const broker = createBroker(config, sink, { log, nodeId: crypto.randomUUID() });
 * broker.transport.subscribe("orders/+");
 * await Promise.all([broker.transport.close(), broker.store.close(), broker.presence.close()]);
 * ```
 */
export function createBroker(
  config:
    & Pick<Config, "BROKER_URL" | "MAX_RETAINED">
    & Partial<Pick<Config, "PRESENCE_TTL_S" | "BROKER_PROBE_MS">>,
  sink: TransportSink,
  options: BrokerOptions,
): Broker {
  const scheme = config.BROKER_URL.slice(0, config.BROKER_URL.indexOf(":"));
  if (scheme === "memory") {
    return {
      transport: new MemoryTransport(),
      store: new MemoryStore({ maxRetained: config.MAX_RETAINED }),
      presence: new MemoryPresence(),
      history: new MemoryHistory(options.clock ?? systemClock),
    };
  }
  if (REDIS_SCHEMES.has(scheme)) {
    const redis = new RedisConnection(config.BROKER_URL, { log: options.log });
    const { nodeId, clock } = options;
    const transport = new RedisTransport(redis, sink, {
      nodeId,
      clock,
      probeMs: config.BROKER_PROBE_MS,
    });
    return {
      transport,
      store: new RedisStore(redis, { maxRetained: config.MAX_RETAINED }),
      peers: new RedisPeers(redis, sink, { nodeId: options.nodeId }),
      history: new RedisHistory(redis, {
        clock: options.clock ?? systemClock,
        settled: () => transport.settled(),
        maxTtlMs: options.historyMaxTtlMs ?? 300_000,
        route: (topic) => transport.route(topic),
        fire: (topic, sender, seq, text) => transport.fire(topic, sender, seq, text),
      }),
      presence: new RedisPresence(redis, {
        nodeId: options.nodeId,
        ttlSeconds: config.PRESENCE_TTL_S ?? 60,
        clock: options.clock,
      }),
    };
  }
  throw new StartupError(
    `Invalid setting BROKER_URL: the ${scheme} broker is not available (use memory://, redis://, redis+sentinel:// or redis+cluster://)`,
  );
}
