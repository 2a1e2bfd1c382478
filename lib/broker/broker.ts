/**
 * The broker interface: what crosses between nodes. Local delivery is pubsub.ts's job; a broker
 * carries publishes, broadcasts, `sendTo` messages and retained values to the other nodes and
 * hands what they send to `BrokerSink`. The in-memory broker has no other nodes; a Redis broker
 * implements the same interface without touching the router or the handlers.
 */

/** Who a `sendTo` message is for: every client with that role, or one connection id. */
export type Target = { src: string } | { id: string };

/** Where a broker hands what other nodes sent. */
export interface BrokerSink {
  /** A publish from another node: deliver to local subscribers. */
  deliver(topic: string, text: string): void;
  /** A broadcast from another node: send to every local client. */
  broadcast(text: string): void;
  /** A `sendTo` from another node: send to the matching local clients. */
  sendTo(target: Target, text: string): void;
}

/** Carries traffic between nodes, and keeps retained values where every node can read them. */
export interface Broker {
  /** For /healthz: `memory`, `redis`, … */
  readonly kind: string;
  /** False while the connection to the shared engine is down (local traffic keeps working). */
  readonly healthy: boolean;
  /** Messages received from other nodes (for /metrics). */
  readonly received: number;
  /** Messages not sent to other nodes because the engine was down or too slow (for /metrics). */
  readonly dropped: number;
  /** Starts receiving other nodes' publishes that match this filter (first local subscriber). */
  subscribe(filter: string): void;
  /** Stops receiving them (last local subscriber gone). */
  unsubscribe(filter: string): void;
  /** Sends a serialised delivery to the other nodes. */
  publish(topic: string, text: string): void;
  /** Sends a serialised message to every client of the other nodes. */
  broadcast(text: string): void;
  /** Sends a serialised message to the matching clients of the other nodes. */
  sendTo(target: Target, text: string): void;
  /** Sets (text) or clears (null) a topic's retained value. */
  retain(topic: string, text: string | null): void;
  /** Visits the retained values whose topics match a filter. */
  retained(filter: string, visit: (topic: string, text: string) => void): void | Promise<void>;
  /** Closes connections to the engine. */
  close(): Promise<void>;
}
