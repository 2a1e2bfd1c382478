/**
 * Picks the broker named by BROKER_URL: a transport and a store of one engine.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { StartupError } from "../wire/errors.ts";
import type { Broker, TransportSink } from "./broker.ts";
import { MemoryStore } from "./memory_store.ts";
import { MemoryTransport } from "./memory_transport.ts";
import { RedisConnection } from "./redis_connection.ts";
import { RedisStore } from "./redis_store.ts";
import { RedisTransport } from "./redis_transport.ts";
import { MemoryHistory } from "./memory_history.ts";
import { RedisHistory } from "./redis_history.ts";
import { type Clock, systemClock } from "../clock.ts";

/** Options of {@linkcode createBroker}. */
export interface BrokerOptions {
  /** Where a multi-node broker reports connection problems. */
  log: Logger;
  /** This node's id (non-empty, no space): a multi-node transport drops its own messages by it. */
  nodeId: string;
  /** The server's clock (history times and expiry); the system clock by default. */
  clock?: Clock;
  /** The longest history ttl of any rule, in ms (default 300 s). */
  historyMaxTtlMs?: number;
}

/**
 * Creates the broker for BROKER_URL. A Redis broker connects in the background: its transport
 * reports `healthy: false` until it is connected, and the server starts either way. The Redis
 * transport and store share one command connection.
 *
 * @param config BROKER_URL and MAX_RETAINED.
 * @param sink Where a multi-node transport hands other nodes' traffic.
 * @param options The logger and this node's id.
 * @returns The transport and the store.
 * @throws {StartupError} For a broker this build does not have, or a malformed Redis URL.
 * @throws {TypeError} For a node id with a space in it.
 * @example
 * ```ts
 * const broker = createBroker(config, sink, { log, nodeId: crypto.randomUUID() });
 * broker.transport.subscribe("orders/+");
 * await Promise.all([broker.transport.close(), broker.store.close(), broker.history.close()]);
 * ```
 */
export function createBroker(
  config: Pick<Config, "BROKER_URL" | "MAX_RETAINED">,
  sink: TransportSink,
  options: BrokerOptions,
): Broker {
  const scheme = config.BROKER_URL.slice(0, config.BROKER_URL.indexOf(":"));
  if (scheme === "memory") {
    return {
      transport: new MemoryTransport(),
      store: new MemoryStore({ maxRetained: config.MAX_RETAINED }),
      history: new MemoryHistory(options.clock ?? systemClock),
    };
  }
  if (scheme === "redis" || scheme === "rediss") {
    const redis = new RedisConnection(config.BROKER_URL, { log: options.log });
    const transport = new RedisTransport(redis, sink, { nodeId: options.nodeId });
    return {
      transport,
      store: new RedisStore(redis, { maxRetained: config.MAX_RETAINED }),
      history: new RedisHistory(redis, {
        clock: options.clock ?? systemClock,
        settled: () => transport.settled(),
        maxTtlMs: options.historyMaxTtlMs ?? 300_000,
      }),
    };
  }
  throw new StartupError(
    `Invalid setting BROKER_URL: the ${scheme} broker is not available (use memory:// or redis://)`,
  );
}
