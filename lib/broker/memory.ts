/**
 * The in-memory broker: one node, so nothing crosses; it only keeps the retained values.
 */
import { RetainedStore } from "../pubsub/retained.ts";
import type { Store, Target, Transport } from "./broker.ts";

/** A broker for a single node (`BROKER_URL=memory://`, the default). */
export class MemoryBroker implements Transport, Store {
  readonly kind = "memory";
  readonly healthy = true;
  readonly received = 0;
  readonly dropped = 0;
  readonly #retained: RetainedStore<string>;

  /** @param maxRetained The most topics with a retained value (MAX_RETAINED). */
  constructor(maxRetained: number) {
    this.#retained = new RetainedStore<string>({ maxTopics: maxRetained });
  }

  subscribe(_filter: string): void {}
  unsubscribe(_filter: string): void {}
  publish(_topic: string, _text: string): void {}
  broadcast(_text: string): void {}
  sendTo(_target: Target, _text: string): void {}

  retain(topic: string, text: string | null): void {
    if (text === null) this.#retained.delete(topic);
    else this.#retained.set(topic, text);
  }

  retained(filter: string, visit: (topic: string, text: string) => void): void {
    this.#retained.matching(filter, visit);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
