/**
 * The path probe: health that proves the path. Every interval a node publishes a probe through
 * Redis to itself (its own channel, on the command connection) and waits for it on its
 * subscriber connection. A probe not back by the next tick means the path stalled, even when
 * every connection looks up and Redis answers PING: the transport reports itself unhealthy with
 * the reason. After two missed ticks it asks for the subscriber connection to be replaced. A probe
 * that comes back clears the problem and gives the round trip.
 *
 * With the default interval of 5 s, a stall shows within 10 s and a healed path within 5 s.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

/** Options of {@linkcode PathProbe}. */
export interface PathProbeOptions {
  clock: Clock;
  /** The interval between probes (BROKER_PROBE_MS). */
  everyMs: number;
  /** Sends a probe with this token; false when it could not be sent (Redis known down). */
  send(token: string): boolean;
  /** Called after two missed ticks in a row: replace the subscriber connection. */
  stalled(): void;
}

/** Probes a node's own path through the broker. */
export class PathProbe {
  /** The last probe's round trip in milliseconds (0 before the first). */
  rttMs = 0;
  /** Probes that came back. */
  returned = 0;
  readonly #options: PathProbeOptions;
  readonly #sent = new Map<string, number>();
  #seq = 0;
  #missed = 0;
  #oldest: number | undefined;
  #timer: TimerId | undefined;
  #stopped = false;

  constructor(options: PathProbeOptions) {
    this.#options = options;
  }

  /** Why the path is not proven, or undefined when the last probe came back in time. */
  get problem(): string | undefined {
    if (this.#missed === 0 || this.#oldest === undefined) return undefined;
    const s = Math.round((this.#options.clock.now() - this.#oldest) / 1000);
    return `the probe through Redis has not come back for ${s} s`;
  }

  /** Starts probing (the first probe goes out at once). */
  start(): void {
    if (this.#timer === undefined && !this.#stopped) this.#tick();
  }

  /** Stops probing. */
  stop(): void {
    this.#stopped = true;
    this.#options.clock.clearTimeout(this.#timer);
  }

  /** A probe came back. */
  received(token: string): void {
    const at = this.#sent.get(token);
    if (at === undefined) return;
    this.rttMs = this.#options.clock.now() - at;
    this.returned++;
    this.#sent.clear();
    this.#oldest = undefined;
    this.#missed = 0;
  }

  /** Forgets the probes in flight (after replacing the connection they went through). */
  reset(): void {
    this.#sent.clear();
    this.#oldest = undefined;
    this.#missed = 0;
  }

  #tick(): void {
    const { clock, everyMs } = this.#options;
    if (this.#sent.size > 0) {
      this.#missed++;
      if (this.#missed >= 2 && this.#missed % 2 === 0) this.#options.stalled();
    }
    const token = (++this.#seq).toString(36);
    if (this.#options.send(token)) {
      const now = clock.now();
      this.#sent.set(token, now);
      this.#oldest ??= now;
    }
    this.#timer = clock.setTimeout(() => this.#tick(), everyMs);
  }
}
