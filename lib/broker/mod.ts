/**
 * Picks the broker named by BROKER_URL.
 */
import type { Config } from "../config.ts";
import { StartupError } from "../errors.ts";
import type { Broker, BrokerSink } from "./broker.ts";
import { MemoryBroker } from "./memory.ts";

/**
 * Creates the broker for BROKER_URL.
 *
 * @param config The settings (BROKER_URL, MAX_RETAINED).
 * @param _sink Where a multi-node broker hands other nodes' traffic.
 * @returns The broker.
 * @throws {StartupError} For a broker this build does not have.
 */
export function createBroker(config: Config, _sink: BrokerSink): Broker {
  const scheme = config.BROKER_URL.slice(0, config.BROKER_URL.indexOf(":"));
  if (scheme === "memory") return new MemoryBroker(config.MAX_RETAINED);
  throw new StartupError(
    `Invalid setting BROKER_URL=${config.BROKER_URL}: the ${scheme} broker is not available yet (use memory://)`,
  );
}
