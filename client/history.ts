/**
 * The client's history positions, without I/O: the last offset and epoch of every concrete topic
 * seen, the `time` of the last subscription ack, and the verdict on each numbered delivery —
 * hand it to the app, drop it (a duplicate), or recover (a gap: a delivery was dropped for a slow
 * client, or the topic's history lost continuity).
 *
 * @module
 */
import type { Ack, Delivery } from "./types.ts";

/** A position in a topic's history. */
export interface Position {
  offset: number;
  epoch: string;
}

/** What to do with a delivery. */
export type Verdict = "deliver" | "drop" | "gap";

/**
 * Positions per topic.
 *
 * @example
 * ```ts
 * import { HistoryPositions } from "./history.ts";
 *
 * const positions = new HistoryPositions();
 * const d = { mode: "pub_sub", action: "pub", topic: "a", code: 200, msg: "", offset: 1, epoch: "e" };
 * positions.check(d); // "deliver"
 * positions.check(d); // "drop": a duplicate
 * positions.check({ ...d, offset: 3 }); // "gap": offset 2 is missing
 * ```
 */
export class HistoryPositions {
  /** The `time` of the last subscription ack that had one. */
  time: number | undefined;
  readonly #positions = new Map<string, Position>();
  /** Per topic, the highest offset handed to the app (retained replays are checked against it). */
  readonly #seen = new Map<string, Position>();
  /** Topics with a recovery in flight: their live deliveries come again after its ack. */
  readonly #recovering = new Set<string>();
  /** The last recovery said `recovered: false`: its entries may skip offsets (trimmed, capped). */
  #lossReported = false;

  /** Whether there is anything to recover from. */
  get empty(): boolean {
    return this.#positions.size === 0 && this.time === undefined;
  }

  /** The `recover` field of a subscription: every position, and `since`. */
  recover(): { positions: Record<string, Position>; since?: number } {
    return { positions: Object.fromEntries(this.#positions), since: this.time };
  }

  /** The position of one topic, if known. */
  get(topic: string): Position | undefined {
    return this.#positions.get(topic);
  }

  /** Marks a topic as being recovered: its live deliveries are dropped until the ack. */
  recovering(topic: string): boolean {
    if (this.#recovering.has(topic)) return false;
    this.#recovering.add(topic);
    return true;
  }

  /**
   * Forgets the positions of topics no filter matches any more (after an unsubscribe).
   *
   * @param wanted Whether a topic is still subscribed to.
   */
  keep(wanted: (topic: string) => boolean): void {
    for (const topic of [...this.#positions.keys()]) {
      if (wanted(topic)) continue;
      this.#positions.delete(topic);
      this.#seen.delete(topic);
    }
  }

  /** Ends a topic's in-flight mark without an ack (the recovery failed or timed out). */
  abandon(topic: string): void {
    this.#recovering.delete(topic);
  }

  /**
   * Takes `time` and `positions` from a subscription ack.
   *
   * @param ack The ack.
   * @param recovery Whether it answers a recovery (its in-flight marks end).
   */
  ack(ack: Ack, recovery: boolean): void {
    if (typeof ack.time === "number") this.time = ack.time;
    const positions = ack.positions as Record<string, Position> | undefined;
    for (const [topic, pos] of Object.entries(positions ?? {})) {
      if (!this.#positions.has(topic) && pos.offset > 0) this.#positions.set(topic, pos);
    }
    if (recovery) {
      this.#recovering.clear();
      this.#lossReported = ack.recovered === false;
    }
  }

  /**
   * Judges a delivery and moves the topic's position when it is handed on.
   *
   * @param d A delivery (`action: "pub"`).
   * @returns `deliver`, `drop` (duplicate, or live while recovering), or `gap` (recover).
   */
  check(d: Delivery): Verdict {
    const { offset, epoch, topic } = d;
    if (typeof offset !== "number" || typeof epoch !== "string") return "deliver";
    const pos = this.#positions.get(topic);
    const same = pos !== undefined && pos.epoch === epoch;
    if (d.retained === true) {
      const seen = this.#seen.get(topic);
      if (seen !== undefined && seen.epoch === epoch && offset <= seen.offset) return "drop";
      if (!same || offset > pos.offset) this.#positions.set(topic, { offset, epoch });
      this.#seen.set(topic, { offset, epoch });
      return "deliver";
    }
    if (d.recovered !== true) {
      if (this.#recovering.has(topic)) return "drop";
      if (pos !== undefined && (!same || offset > pos.offset + 1)) return "gap";
    } else if (same && offset > pos.offset + 1 && !this.#lossReported) {
      return "gap"; // a recovered entry dropped on the way (this client is still slow)
    }
    if (same && offset <= pos.offset) return "drop";
    this.#positions.set(topic, { offset, epoch });
    this.#seen.set(topic, { offset, epoch });
    return "deliver";
  }
}
