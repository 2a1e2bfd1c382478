/**
 * The memory history store (`BROKER_URL=memory://`): one ring of entries per topic, in this
 * process. Offsets count from 1 per topic; each topic's history gets a fresh epoch (this process's
 * random base and a counter), so a restart, or a topic dropped after its ttl and started again,
 * never continues an old numbering. A sweep on the injected clock drops the topics with no
 * publication for their ttl, so they hold no memory.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { numbered } from "../wire/history_messages.ts";
import { topicMatches } from "../wire/topic.ts";
import type {
  Appended,
  HistoryEntry,
  HistoryLimits,
  HistoryQuery,
  HistoryRead,
  HistoryStats,
  HistoryStore,
} from "./broker.ts";

/** How often expired topics are looked for, at most. */
const SWEEP_MS = 1000;

/** One topic's ring. */
class Ring {
  readonly epoch: string;
  /** The newest offset. */
  top = 0;
  /** Entries, oldest at `start` once the ring is full. */
  readonly entries: HistoryEntry[] = [];
  start = 0;
  /** The time of the last publication. */
  last = 0;
  droppedAt = 0;
  ttlMs: number;

  constructor(epoch: string, ttlMs: number) {
    this.epoch = epoch;
    this.ttlMs = ttlMs;
  }

  add(entry: HistoryEntry, size: number): void {
    const entries = this.entries;
    while (entries.length > size) this.#dropOldest(); // the rule shrank
    if (entries.length < size) {
      if (this.start !== 0) entries.push(...entries.splice(0, this.start)); // the rule grew
      this.start = 0;
      entries.push(entry);
    } else {
      this.droppedAt = entries[this.start].time;
      entries[this.start] = entry;
      this.start = (this.start + 1) % size;
    }
  }

  #dropOldest(): void {
    const oldest = this.entries.splice(this.start, 1)[0];
    this.droppedAt = oldest.time;
    if (this.start >= this.entries.length) this.start = 0;
  }

  /** The entries oldest first. */
  ordered(): HistoryEntry[] {
    const e = this.entries;
    return this.start === 0 ? e : [...e.slice(this.start), ...e.slice(0, this.start)];
  }
}

/**
 * Histories in this process.
 *
 * @example
 * ```ts
 * const history = new MemoryHistory(systemClock);
 * const entry = history.append("a", '{"topic":"a"}', { size: 10, ttlMs: 60_000 }, Date.now());
 * entry.text; // {"topic":"a","offset":1,"epoch":"…"}
 * await history.close();
 * ```
 */
export class MemoryHistory implements HistoryStore {
  readonly relays = false;
  readonly #clock: Clock;
  readonly #rings = new Map<string, Ring>();
  readonly #base = crypto.randomUUID().slice(0, 8);
  #epochs = 0;
  #sweep: TimerId | undefined;

  /** @param clock The server's clock: timestamps and the expiry sweep. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  append(topic: string, body: string, limits: HistoryLimits, time: number): Appended {
    let ring = this.#live(topic);
    if (ring === undefined) {
      ring = new Ring(this.#base + (++this.#epochs).toString(36), limits.ttlMs);
      this.#rings.set(topic, ring);
      this.#armSweep();
    }
    ring.ttlMs = limits.ttlMs;
    ring.last = time;
    const offset = ++ring.top;
    const entry = { offset, time, text: numbered(body, offset, ring.epoch), epoch: ring.epoch };
    ring.add(entry, limits.size);
    return entry;
  }

  read(topic: string, query: HistoryQuery, _limits?: HistoryLimits): HistoryRead {
    const ring = this.#live(topic);
    if (ring === undefined) return { offset: 0, epoch: "", entries: [], first: 1, droppedAt: 0 };
    const oldest = this.#clock.now() - ring.ttlMs;
    let droppedAt = ring.droppedAt;
    const entries: HistoryEntry[] = [];
    let first = ring.top + 1;
    for (const entry of ring.ordered()) {
      if (entry.time < oldest) {
        droppedAt = Math.max(droppedAt, entry.time);
        continue;
      }
      if (entry.offset < first) first = entry.offset;
      if (query.after !== undefined && entry.offset <= query.after) continue;
      if (query.since !== undefined && entry.time < query.since) continue;
      entries.push(entry);
    }
    return { offset: ring.top, epoch: ring.epoch, entries, first, droppedAt };
  }

  topics(filter: string, since: number): string[] {
    const out: string[] = [];
    for (const [topic, ring] of this.#rings) {
      if (ring.last >= since && topicMatches(filter, topic) && this.#live(topic)) out.push(topic);
    }
    return out;
  }

  stats(): HistoryStats {
    let entries = 0;
    for (const ring of this.#rings.values()) entries += ring.entries.length;
    return { topics: this.#rings.size, entries };
  }

  close(): Promise<void> {
    this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#rings.clear();
    return Promise.resolve();
  }

  /** The topic's ring unless it expired (then it is dropped). */
  #live(topic: string): Ring | undefined {
    const ring = this.#rings.get(topic);
    if (ring !== undefined && this.#clock.now() - ring.last >= ring.ttlMs) {
      this.#rings.delete(topic);
      return undefined;
    }
    return ring;
  }

  #armSweep(): void {
    if (this.#sweep !== undefined) return;
    this.#sweep = this.#clock.setTimeout(() => {
      this.#sweep = undefined;
      for (const topic of [...this.#rings.keys()]) this.#live(topic);
      if (this.#rings.size > 0) this.#armSweep();
    }, SWEEP_MS);
  }
}
