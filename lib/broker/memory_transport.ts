/**
 * The memory transport (`BROKER_URL=memory://`, the default): one node, no peers, so nothing
 * crosses. Local delivery is the hub's; this transport has nothing to do.
 *
 * @module
 */
import type { Target, Transport } from "./broker.ts";

/**
 * A transport for a single node: every method does nothing and it is always healthy.
 *
 * @example
 * ```ts
 * const transport = new MemoryTransport();
 * transport.publish("a/b", "{}"); // no other node to tell
 * ```
 */
export class MemoryTransport implements Transport {
  readonly kind = "memory";
  readonly healthy = true;
  readonly received = 0;
  readonly dropped = 0;

  subscribe(_filter: string): void {}
  unsubscribe(_filter: string): void {}
  publish(_topic: string, _text: string): void {}
  broadcast(_text: string): void {}
  sendTo(_target: Target, _text: string): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
