/**
 * Picks the broker named by BROKER_URL.
 */
import type { Config } from "../config.ts";
import { StartupError } from "../wire/errors.ts";
import { createLogger, type Logger } from "../log.ts";
import type { Broker, Store, Transport, TransportSink } from "./broker.ts";
import { MemoryBroker } from "./memory.ts";
import { RedisBroker } from "./redis.ts";

/**
 * Creates the broker for BROKER_URL. A Redis broker connects in the background: it reports
 * `healthy: false` until it is connected, and the server starts either way.
 *
 * @param config The settings (BROKER_URL, MAX_RETAINED, LOG_LEVEL, LOG_FORMAT).
 * @param sink Where a multi-node broker hands other nodes' traffic.
 * @param log Where a multi-node broker reports connection problems (default: from the config).
 * @returns The broker.
 * @throws {StartupError} For a broker this build does not have, or a malformed Redis URL.
 */
export function createBroker(config: Config, sink: TransportSink, log?: Logger): Broker {
  const scheme = config.BROKER_URL.slice(0, config.BROKER_URL.indexOf(":"));
  if (scheme === "memory") return both(new MemoryBroker(config.MAX_RETAINED));
  if (scheme === "redis" || scheme === "rediss") {
    return both(
      new RedisBroker(config.BROKER_URL, sink, {
        maxRetained: config.MAX_RETAINED,
        log: log ?? createLogger(config.LOG_LEVEL, config.LOG_FORMAT),
      }),
    );
  }
  throw new StartupError(
    `Invalid setting BROKER_URL: the ${scheme} broker is not available (use memory:// or redis://)`,
  );
}

/** An engine whose one object is both the transport and the store. */
function both(engine: Transport & Store): Broker {
  return { transport: engine, store: engine };
}
